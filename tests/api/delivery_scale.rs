//! Delivery at scale, in one process (SQLite and PostgreSQL): the delivery
//! loop woken by the outbox, Twilio's "too many requests", a send whose
//! worker died mid-send checked with the provider, stable Message-IDs, and
//! `/metrics`.

use crate::fakes::{FakeSmtp, FakeTwilio, Twilio};
use crate::helpers::{backend, spawn_app_with, utc, Backend, TestApp, TestDb};
use chrono::Duration;
use kept::clock::Clock;
use kept::domain::messaging::MessageState;
use kept::entities::message;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use std::time::{Duration as StdDuration, Instant};

async fn text_customer(app: &TestApp, name: &str) -> i64 {
    // One number per name, so two customers in a test are two recipients.
    let phone = format!("+1 212 555 01{:02}", name.len() + name.bytes().map(usize::from).sum::<usize>() % 50);
    let r = app.post("/api/v1/customers", json!({"name": name, "phone": phone})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

/// Books a visit for the customer, which queues the crew's introduction.
async fn book(app: &TestApp, customer: i64) {
    let job = app.job(customer).await;
    let tech = app.staff(&format!("Lena {customer}"), "technician", "America/New_York").await;
    let r = app.book(job, &[tech], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn the_message(app: &TestApp) -> message::Model {
    let mut all = message::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_by_a_request_goes_out_at_once_not_at_the_next_minute() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    // The delivery loop of `kept serve`, without the minute tick: only the
    // outbox's announcement can wake it before a minute has passed.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    if backend() != Backend::Sqlite {
        kept::notify::wake::listen(&app.db.url, stopping.clone()).await.unwrap();
    }
    let delivery = kept::notify::spawn_delivery(app.state.notifier(), stopping);
    tokio::time::sleep(StdDuration::from_millis(300)).await; // asleep, with nothing due
    let c = text_customer(&app, "Nadia Brooks").await;
    let queued = Instant::now();
    book(&app, c).await;
    while twilio.accepted().is_empty() {
        assert!(queued.elapsed() < StdDuration::from_secs(10), "not delivered until the minute");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    let m = the_message(&app).await;
    let started = Instant::now();
    while the_message(&app).await.state != MessageState::Sent {
        assert!(started.elapsed() < StdDuration::from_secs(5), "{m:?}");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(StdDuration::from_secs(5), delivery).await.expect("the loop stops").unwrap();
}

#[tokio::test]
async fn too_many_requests_slows_the_sender_and_retries_never_fails() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Error(429, 20429), Twilio::Error(429, 20429), Twilio::Error(429, 20429)]);
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let c = text_customer(&app, "Walter Kim").await;
    book(&app, c).await;
    for round in 0..3 {
        let (_, d) = app.tick().await;
        assert_eq!((d.throttled, d.failed, d.retried), (1, 0, 0), "round {round}: {d:?}");
        let m = the_message(&app).await;
        assert_eq!(m.state, MessageState::Retry);
        assert_eq!(m.attempts, 0, "asked to slow down is not an attempt");
        assert!(m.last_error.as_deref().unwrap_or("").contains("20429"), "{m:?}");
        assert!(m.next_attempt_at <= app.clock.now() + Duration::seconds(1), "again shortly, not after a backoff");
        let due = kept::notify::worker::next_due(&app.state.db).await.unwrap();
        assert_eq!(due, Some(m.next_attempt_at), "the delivery loop sleeps until then, not a minute");
        app.clock.advance(Duration::seconds(1));
    }
    let (_, d) = app.tick().await;
    assert_eq!(d.sent, 1, "{d:?}");
    assert_eq!(twilio.received().len(), 4);
    assert_eq!(twilio.accepted().len(), 1);
}

/// A worker claimed the message, started sending, and died: its lease runs out.
async fn die_mid_send(app: &TestApp) -> message::Model {
    let now = app.clock.now();
    let claimed =
        kept::notify::worker::claim_for(&app.state.db, now, 10, Duration::seconds(30), "4242-dead").await.unwrap();
    assert_eq!(claimed.len(), 1);
    message::Entity::update_many()
        .col_expr(message::Column::SendStartedAt, Expr::value(chrono::Utc::now()))
        .filter(message::Column::Id.eq(claimed[0].id))
        .exec(&app.state.db)
        .await
        .unwrap();
    let (_, d) = app.tick().await;
    assert_eq!(d.claimed, 0, "still leased to the dead worker");
    app.clock.advance(Duration::seconds(31));
    claimed[0].clone()
}

#[tokio::test]
async fn a_send_twilio_accepted_before_its_worker_died_is_recorded_with_its_sid_not_resent() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let c = text_customer(&app, "Nadia Brooks").await;
    book(&app, c).await;
    let m = die_mid_send(&app).await;
    // What the dead worker's request did before it died: Twilio accepted it.
    let accepted = app.state.transports.twilio.as_ref().unwrap().send(&m.recipient, &m.body_text).await;
    let kept::notify::transport::Outcome::Sent { provider_id } = accepted else { panic!("{accepted:?}") };
    let (_, d) = app.tick().await;
    assert_eq!((d.sent, d.recovered), (1, 1), "{d:?}");
    let m = the_message(&app).await;
    assert_eq!(m.state, MessageState::Sent);
    assert_eq!(m.provider_id.as_deref(), Some(provider_id.as_str()), "recorded with the SID Twilio gave it");
    assert_eq!(twilio.accepted().len(), 1, "not sent again");
    assert_eq!(twilio.list_reads(), 1);
}

#[tokio::test]
async fn a_send_twilio_never_received_is_sent_and_one_twilio_cannot_tell_us_about_is_uncertain() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let c = text_customer(&app, "Nadia Brooks").await;
    book(&app, c).await;
    die_mid_send(&app).await;
    let (_, d) = app.tick().await;
    assert_eq!((d.sent, d.recovered), (1, 0), "{d:?}");
    assert_eq!(twilio.accepted().len(), 1);
    assert_eq!(twilio.list_reads(), 1, "asked first");

    let other = text_customer(&app, "Walter Kim").await;
    book(&app, other).await;
    twilio.list_down(true);
    let now = app.clock.now();
    let claimed =
        kept::notify::worker::claim_for(&app.state.db, now, 10, Duration::seconds(30), "4243-dead").await.unwrap();
    assert_eq!(claimed.len(), 1);
    message::Entity::update_many()
        .col_expr(message::Column::SendStartedAt, Expr::value(chrono::Utc::now()))
        .filter(message::Column::Id.eq(claimed[0].id))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(31));
    let (_, d) = app.tick().await;
    assert_eq!(d.uncertain, 1, "{d:?}");
    let m = message::Entity::find_by_id(claimed[0].id).one(&app.state.db).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Uncertain);
    assert!(m.last_error.as_deref().unwrap_or("").contains("could not ask Twilio"), "{m:?}");
    assert_eq!(twilio.accepted().len(), 1, "never resent blindly");
    // The office sees it as uncertain in the outbox.
    let shown = app.outbox("state=uncertain").await;
    assert_eq!(shown.len(), 1, "{shown:?}");
}

#[tokio::test]
async fn an_email_carries_the_same_message_id_on_every_attempt() {
    let smtp = FakeSmtp::start().await;
    let app = spawn_app_with(TestDb::new().await, &smtp.env()).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let r = app.post("/api/v1/customers", json!({"name": "Ada Park", "email": "ada@example.test"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    book(&app, r.id()).await;
    let m = die_mid_send(&app).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.sent, 1, "{d:?}");
    let expected = format!("Message-ID: <kept-message-{}@", m.id);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].data.contains(&expected), "{}", mails[0].data);
    // Sent again by hand (as a second worker would): the same Message-ID.
    let s = app.state.transports.smtp.as_ref().unwrap();
    let again = s.send(m.id, &m.recipient, "again", "again", None).await;
    assert!(matches!(again, kept::notify::transport::Outcome::Sent { .. }), "{again:?}");
    assert!(smtp.mails()[1].data.contains(&expected));
}

#[tokio::test]
async fn metrics_are_prometheus_text_behind_a_bearer_token() {
    let twilio = FakeTwilio::start().await;
    let mut env = twilio.env();
    env.push(("KEPT_METRICS_TOKEN", "metrics-token-for-tests".into()));
    let app = spawn_app_with(TestDb::new().await, &env).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let c = text_customer(&app, "Nadia Brooks").await;
    book(&app, c).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.sent, 1);
    let client = reqwest::Client::new();
    let url = app.url("/metrics");
    assert_eq!(client.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(client.get(&url).bearer_auth("wrong-token-of-some-length").send().await.unwrap().status(), 401);
    let r = client.get(&url).bearer_auth("metrics-token-for-tests").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text exposition");
    let named = |name: &str| scrape.samples.iter().filter(|s| s.metric == name).collect::<Vec<_>>();
    let sent = named("kept_messages_total");
    assert!(
        sent.iter().any(|s| s.labels.get("kind") == Some("introduction")
            && s.labels.get("channel") == Some("sms")
            && s.labels.get("state") == Some("sent")),
        "{text}"
    );
    // The parser folds each histogram's buckets, sum and count into one sample.
    for histogram in [
        "kept_provider_latency_seconds",
        "kept_claim_to_send_seconds",
        "kept_due_to_sent_seconds",
        "kept_tick_duration_seconds",
        "kept_http_request_duration_seconds",
    ] {
        let found = named(histogram);
        assert!(!found.is_empty(), "{histogram} missing:\n{text}");
        assert!(
            found.iter().all(|s| matches!(s.value, prometheus_parse::Value::Histogram(_))),
            "{histogram} is a histogram"
        );
    }
    assert!(!named("kept_sends_in_flight").is_empty(), "{text}");
    assert!(!named("kept_tick_rows_planned_total").is_empty(), "{text}");
    let http = named("kept_http_request_duration_seconds");
    assert!(
        http.iter().any(|s| s.labels.get("route") == Some("/api/v1/customers")
            && s.labels.get("method") == Some("POST")
            && s.labels.get("status") == Some("201")),
        "requests are labelled by route pattern and status:\n{text}"
    );
    // Routes are patterns: a customer's link shows as `/c/{token}`, never the token itself.
    for s in &http {
        let route = s.labels.get("route").unwrap_or("");
        assert!(!route.starts_with("/c/") || route.starts_with("/c/{"), "a raw path in the labels: {route}");
    }

    // Without a token, /metrics is not served on the main address at all.
    let plain = spawn_app_with(TestDb::new().await, &[]).await;
    assert_eq!(client.get(plain.url("/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
