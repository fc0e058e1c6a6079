//! Delivery over real protocols: lettre speaking SMTP to a server the test
//! starts, reqwest speaking Twilio's wire format to a server the test starts.

use crate::fakes::{FakeSmtp, FakeTwilio, Twilio};
use crate::helpers::{spawn_app_with, utc, TestApp, TestDb};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;

async fn app_with(twilio: Option<&FakeTwilio>, smtp: Option<&FakeSmtp>) -> TestApp {
    let mut env = Vec::new();
    if let Some(t) = twilio {
        env.extend(t.env());
    }
    if let Some(s) = smtp {
        env.extend(s.env());
    }
    spawn_app_with(TestDb::new().await, &env).await
}

async fn customer(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/api/v1/customers", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

/// Books one visit for a customer, which introduces the technician.
async fn book_for(app: &TestApp, customer: i64) -> i64 {
    let job = app.job(customer).await;
    let tech = app.staff(&format!("Lena {customer}"), "technician", "America/New_York").await;
    let r = app.book(job, &[tech], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    job
}

async fn only(app: &TestApp, query: &str) -> Value {
    let mut all = app.outbox(query).await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[tokio::test]
async fn sms_and_email_go_out_over_twilio_and_smtp() {
    let twilio = FakeTwilio::start().await;
    let smtp = FakeSmtp::start().await;
    let app = app_with(Some(&twilio), Some(&smtp)).await;
    let c = customer(&app, json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "email": "nadia@example.test"}))
        .await;
    book_for(&app, c).await;
    let (_, delivered) = app.tick().await;
    assert_eq!(delivered.sent, 2, "{delivered:?}");

    let sms = twilio.accepted();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["To"], "+12125550142");
    assert_eq!(sms[0]["From"], "+12065550100");
    assert!(sms[0]["Body"].contains("https://kept.example.test/c/"));
    assert_eq!(sms[0]["StatusCallback"], "https://kept.example.test/webhooks/twilio/status");
    let m = only(&app, "channel=sms&kind=introduction").await;
    assert_eq!(m["state"], "sent");
    assert!(m["provider_id"].as_str().unwrap().starts_with("SM"));

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["nadia@example.test"]);
    assert_eq!(mails[0].from, "office@harborpine.example.test");
    let data = &mails[0].data;
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/plain") && data.contains("text/html"), "{data}");
    assert!(data.contains("Subject:"), "{data}");
    let e = app.outbox("kind=introduction").await.into_iter().find(|m| m["channel"] == "email").unwrap();
    assert_eq!(e["state"], "sent");
    assert!(e["provider_id"].as_str().unwrap().contains("queued as"), "{e}");

    // Nothing is sent twice.
    app.tick().await;
    assert_eq!((twilio.accepted().len(), smtp.mails().len()), (1, 1));
}

#[tokio::test]
async fn a_500_then_success_is_delivered_exactly_once() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Error(500, 20500)]);
    let app = app_with(Some(&twilio), None).await;
    let c =
        customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/Los_Angeles"}))
            .await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    book_for(&app, c).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.retried, 1);
    let m = only(&app, "").await;
    assert_eq!(m["state"], "retry");
    assert!(m["last_error"].as_str().unwrap().contains("500"));
    let retry_at = utc(m["next_attempt_at"].as_str().unwrap());
    assert!(
        retry_at > utc("2026-11-20T18:00:00Z") && retry_at <= utc("2026-11-20T18:00:45Z"),
        "backoff with jitter: {retry_at}"
    );
    app.tick().await;
    assert_eq!(twilio.received().len(), 1, "not before the backoff");
    app.clock.advance(Duration::minutes(2));
    app.tick().await;
    let m = only(&app, "").await;
    assert_eq!(m["state"], "sent");
    assert_eq!(m["attempts"], 2);
    assert_eq!(twilio.accepted().len(), 1);
    assert_eq!(twilio.received().len(), 2);
}

#[tokio::test]
async fn a_timeout_after_sending_is_uncertain_and_not_resent() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Slow(StdDuration::from_millis(2500))]);
    let app = app_with(Some(&twilio), None).await;
    let c =
        customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/Los_Angeles"}))
            .await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    book_for(&app, c).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.uncertain, 1, "{d:?}");
    let m = only(&app, "").await;
    assert_eq!(m["state"], "uncertain");
    for _ in 0..3 {
        app.clock.advance(Duration::hours(1));
        app.tick().await;
    }
    tokio::time::sleep(StdDuration::from_millis(1700)).await;
    assert_eq!(twilio.received().len(), 1, "never resent blindly");
    assert_eq!(only(&app, "").await["state"], "uncertain");
}

#[tokio::test]
async fn an_opted_out_number_is_suppressed_and_flagged() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Error(400, 21610)]);
    let app = app_with(Some(&twilio), None).await;
    let c =
        customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/Los_Angeles"}))
            .await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let job = book_for(&app, c).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.failed, 1);
    let m = only(&app, "").await;
    assert_eq!(m["state"], "failed");
    assert!(m["last_error"].as_str().unwrap().contains("21610"));
    let cust = app.get(&format!("/api/v1/customers/{c}")).await;
    assert_eq!(cust.body["sms_opted_out"], true);
    // Nothing more is sent to that number; the next update shows as suppressed.
    app.clock.set(utc("2026-11-21T00:31:00Z")); // 16:31 in Los Angeles
    app.tick().await;
    let update = only(&app, &format!("job_id={job}&kind=status_update")).await;
    assert_eq!(update["state"], "suppressed");
    assert_eq!(twilio.received().len(), 1);
}

#[tokio::test]
async fn an_invalid_number_and_a_refused_mailbox_fail_and_flag_the_channel() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Error(400, 21211)]);
    let smtp = FakeSmtp::start().await;
    smtp.reject("gone@example.test");
    let app = app_with(Some(&twilio), Some(&smtp)).await;
    let c =
        customer(&app, json!({"name": "Oliver Grant", "phone": "+61 491 570 156", "email": "gone@example.test"})).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    book_for(&app, c).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.failed, 2, "{d:?}");
    let all = app.outbox("").await;
    assert!(all.iter().all(|m| m["state"] == "failed"), "{all:?}");
    let email = all.iter().find(|m| m["channel"] == "email").unwrap();
    assert!(email["last_error"].as_str().unwrap().contains("550"), "{email}");
    assert!(smtp.mails().is_empty());
    let row = kept::store::customers::get(&app.state.db, app.org_id, c).await.unwrap();
    assert_eq!(row.sms_problem.as_deref(), Some("invalid phone number"));
    assert!(row.email_problem.unwrap().contains("550"));
}

#[tokio::test]
async fn quiet_hours_hold_an_sms_at_21_01_until_08_00_but_not_at_20_59() {
    let twilio = FakeTwilio::start().await;
    let app = app_with(Some(&twilio), None).await;
    let r = app.patch("/api/v1/organization", json!({"update_times": ["20:59", "21:01"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock.set(utc("2026-11-24T04:00:00Z")); // 20:00 in Los Angeles
    let c =
        customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/Los_Angeles"}))
            .await;
    app.job(c).await;
    app.clock.set(utc("2026-11-24T04:59:00Z")); // 20:59
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1, "20:59 is inside the sending hours");
    app.clock.set(utc("2026-11-24T05:01:00Z")); // 21:01
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1);
    let held = app.outbox("state=held").await;
    assert_eq!(held.len(), 1, "held, not dropped");
    assert_eq!(held[0]["next_attempt_at"], "2026-11-24T16:00:00Z", "08:00 in Los Angeles");
    assert_eq!(held[0]["attempts"], 0, "holding is not an attempt");
    app.clock.set(utc("2026-11-24T15:59:00Z"));
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1);
    app.clock.set(utc("2026-11-24T16:00:00Z"));
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 2);
    assert_eq!(app.outbox("state=sent").await.len(), 2);
}

#[tokio::test]
async fn an_update_that_could_not_go_out_before_the_next_slot_is_superseded() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&vec![Twilio::Error(503, 20503); 40]);
    let app = app_with(Some(&twilio), None).await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let c = customer(&app, json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142"})).await;
    app.job(c).await;
    let mut t = utc("2026-11-23T13:30:00Z");
    while t < utc("2026-11-23T21:40:00Z") {
        app.clock.set(t);
        app.tick().await;
        t += Duration::minutes(10);
    }
    let updates = app.outbox("kind=status_update").await;
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["state"], "superseded", "{:?}", updates[0]);
    assert_ne!(updates[1]["state"], "superseded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_send_each_message_exactly_once() {
    let twilio = FakeTwilio::start().await;
    let app = app_with(Some(&twilio), None).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    for i in 0..40 {
        let c = customer(&app, json!({"name": format!("C{i}"), "phone": format!("+1 212 555 01{:02}", i % 100)})).await;
        let job = app.job(c).await;
        app.post(&format!("/api/v1/jobs/{job}/notes"), json!({"text": "x"})).await;
    }
    app.clock.set(utc("2026-11-20T21:31:00Z"));
    kept::notify::planner::tick(&app.state.db, &app.state.notify, utc("2026-11-20T21:31:00Z")).await.unwrap();
    assert_eq!(app.outbox("state=pending").await.len(), 40);
    let workers = (0..4).map(|_| {
        let db = app.state.db.clone();
        let transports = app.state.transports.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let r = kept::notify::worker::deliver_once(
                    &db,
                    &transports,
                    &kept::live::Bus::new(),
                    utc("2026-11-20T21:31:00Z"),
                    3,
                )
                .await
                .unwrap();
                sent += r.sent;
                if r.claimed == 0 {
                    return sent;
                }
            }
        })
    });
    let sent: usize = futures::future::join_all(workers).await.into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(sent, 40);
    let bodies: std::collections::BTreeSet<String> = twilio.accepted().iter().map(|f| f["Body"].clone()).collect();
    assert_eq!(twilio.accepted().len(), 40, "each message once");
    assert_eq!(bodies.len(), 40);
    assert_eq!(app.outbox("state=sent").await.len(), 40);
}

#[tokio::test]
async fn a_crashed_workers_claim_comes_back_after_the_lease() {
    let twilio = FakeTwilio::start().await;
    let app = app_with(Some(&twilio), None).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let c = customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178"})).await;
    book_for(&app, c).await;
    // A worker claims the message and dies before sending.
    let claimed = kept::notify::worker::claim(&app.state.db, utc("2026-11-20T18:00:00Z"), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    app.tick().await;
    assert_eq!(twilio.received().len(), 0, "still leased");
    app.clock.set(utc("2026-11-20T18:06:00Z"));
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1);
    assert_eq!(only(&app, "").await["state"], "sent");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_retried_later() {
    // Nothing listens on port 9 of loopback: the connection is refused.
    let env = vec![
        ("KEPT_TWILIO_ACCOUNT_SID", "AC1".to_string()),
        ("KEPT_TWILIO_AUTH_TOKEN", "t".to_string()),
        ("KEPT_TWILIO_FROM", "+12065550100".to_string()),
        ("KEPT_TWILIO_BASE_URL", "http://127.0.0.1:9".to_string()),
    ];
    let app = spawn_app_with(TestDb::new().await, &env).await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let c = customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178"})).await;
    book_for(&app, c).await;
    let (_, d) = app.tick().await;
    assert_eq!(d.retried, 1, "{d:?}");
    let m = only(&app, "").await;
    assert_eq!(m["state"], "retry");
    assert!(m["last_error"].as_str().unwrap().contains("could not connect"), "{m}");
}

#[tokio::test]
async fn two_replicas_share_one_sms_pace_per_sender() {
    use kept::notify::transport::Pacer;
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    // Two processes on one database: each has its own Pacer for the same number.
    let a = Pacer::per_second(10.0, "twilio:AC1:+15550100");
    let b = Pacer::per_second(10.0, "twilio:AC1:+15550100");
    let other_number = Pacer::per_second(10.0, "twilio:AC1:+15550111");
    let now = 1_795_000_000_000_000i64;
    let takes = (0..20).map(|i| {
        let (p, db) = (if i % 2 == 0 { &a } else { &b }, &app.state.db);
        async move { p.take(db, now).await.unwrap() }
    });
    let mut slots = futures::future::join_all(takes).await;
    slots.sort();
    let expected: Vec<i64> = (0..20).map(|i| now + i * 100_000).collect();
    assert_eq!(slots, expected, "twenty sends at 10/s take two seconds, whichever replica sends them");
    assert_eq!(other_number.take(&app.state.db, now).await.unwrap(), now, "another number has its own pace");
    // An idle sender saves up no burst: after a quiet minute the next send goes now, the one after 100 ms later.
    let later = now + 60_000_000;
    assert_eq!(
        (a.take(&app.state.db, later).await.unwrap(), b.take(&app.state.db, later).await.unwrap()),
        (later, later + 100_000)
    );
}

/// A stored zone that is not one (a hand edit, a bad restore) is a broken
/// invariant: the text is not sent at a guessed hour, it fails naming the
/// row, and the API refuses to show times in a zone it cannot read.
#[tokio::test]
async fn a_customer_whose_stored_zone_is_not_one_gets_no_text_at_a_guessed_hour() {
    use sea_orm::ConnectionTrait;
    let twilio = FakeTwilio::start().await;
    let app = app_with(Some(&twilio), None).await;
    let c =
        customer(&app, json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/Los_Angeles"}))
            .await;
    app.clock.set(utc("2026-11-20T18:00:00Z"));
    let job = book_for(&app, c).await;
    app.state
        .db
        .execute_unprepared(&format!("UPDATE customers SET timezone = 'Mars/Olympus' WHERE id = {c}"))
        .await
        .expect("break the zone");

    let d = kept::notify::deliver(&app.state.notifier()).await.expect("the run goes on");
    assert_eq!((d.sent, d.failed), (0, 1), "{d:?}");
    assert!(twilio.received().is_empty(), "nothing reached Twilio");
    let m = only(&app, "").await;
    assert_eq!(m["state"], "failed");
    let why = m["last_error"].as_str().expect("why");
    assert!(why.contains(&format!("customer {c}")) && why.contains("Mars/Olympus"), "{why}");

    let r = app.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "not shown in UTC instead: {}", r.body);
}

/// The status-update promises of a job, as (outcome, evidence state).
async fn update_promises(app: &TestApp, job: i64) -> Vec<(String, String)> {
    let r = app.get(&format!("/api/v1/jobs/{job}/promises")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "status_update")
        .map(|p| {
            (p["outcome"].as_str().unwrap().to_string(), p["evidence"]["state"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

#[tokio::test]
async fn an_updates_promise_is_recorded_once_when_its_message_settles_and_one_retrying_holds_only_itself() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Error(500, 20500)]);
    let app = app_with(Some(&twilio), None).await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let a = customer(&app, json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "timezone": "America/New_York"}))
        .await;
    let b = customer(&app, json!({"name": "Omar Haddad", "phone": "+1 212 555 0143", "timezone": "America/New_York"}))
        .await;
    let (job_a, job_b) = (app.job(a).await, app.job(b).await);
    // Planning alone promises nothing yet: the promise is the message's to keep.
    app.clock.set(utc("2026-11-23T13:31:00Z"));
    kept::notify::plan(&app.state.notifier()).await.unwrap();
    assert_eq!(update_promises(&app, job_a).await.len() + update_promises(&app, job_b).await.len(), 0);
    // One text is refused (500, retried later), the other goes out.
    let (_, d) = app.tick().await;
    assert_eq!((d.sent, d.retried), (1, 1), "{d:?}");
    let (pa, pb) = (update_promises(&app, job_a).await, update_promises(&app, job_b).await);
    let kept = vec![("kept".to_string(), "sent".to_string())];
    assert!(
        (pa == kept && pb.is_empty()) || (pa.is_empty() && pb == kept),
        "the one sent is kept, the one retrying not yet decided: {pa:?} {pb:?}"
    );
    // The retry goes out: now both are kept, each recorded once, however
    // many watches pass.
    app.clock.advance(Duration::minutes(2));
    app.tick().await;
    app.clock.advance(Duration::minutes(1));
    app.tick().await;
    assert_eq!(update_promises(&app, job_a).await, kept);
    assert_eq!(update_promises(&app, job_b).await, kept);
    use sea_orm::EntityTrait;
    let slots = kept::entities::update_slot::Entity::find().all(app.state.db.connection()).await.unwrap();
    let ny: Vec<_> = slots.iter().filter(|s| s.slot == utc("2026-11-23T13:30:00Z")).collect();
    assert_eq!(ny.len(), 1, "{slots:?}");
    assert!(ny[0].decided_at.is_some() && ny[0].decided_through == ny[0].last_message_id, "{:?}", ny[0]);
    // Two days on, a slot whose promises are all recorded is cleared away.
    app.clock.advance(Duration::days(3));
    app.tick().await;
    let slots = kept::entities::update_slot::Entity::find().all(app.state.db.connection()).await.unwrap();
    assert!(slots.iter().all(|s| s.slot > utc("2026-11-24T00:00:00Z")), "{slots:?}");
    assert!(!slots.is_empty(), "today's slot is there");
    assert_eq!(update_promises(&app, job_a).await.len(), 2, "the promises stay: the old slot's and today's");
}
