//! Live events (`GET /api/v1/events`): each change reaches the streams that
//! may see it within seconds, scoped by organization and role; a session
//! cookie opens it as a token does; on PostgreSQL, across replicas.

use crate::fakes::FakeTwilio;
use crate::helpers::{backend, spawn_app, spawn_app_on, spawn_app_with, utc, Backend, TestApp, TestDb};
use kept::domain::people::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long an event may take before the test gives up on it. The promise
/// is 2 seconds; the margin is for a loaded machine.
const ARRIVES: Duration = Duration::from_secs(5);

/// One open event stream, read as it comes.
struct Events {
    response: reqwest::Response,
    buffer: String,
    /// Event types seen while looking for another, for the failure message.
    seen: Vec<String>,
}

/// One SSE message: `event:` and the JSON in `data:`.
#[derive(Debug)]
struct Message {
    kind: String,
    id: Option<String>,
    data: Value,
}

impl Events {
    async fn open(request: reqwest::RequestBuilder) -> Events {
        let response = request.send().await.expect("the stream opens");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events { response, buffer: String::new(), seen: Vec::new() }
    }

    async fn bearer(app: &TestApp, token: &str) -> Events {
        Events::open(app.client.get(app.url("/api/v1/events")).bearer_auth(token)).await
    }

    /// The next message (comments skipped) within `wait`; `None` when the
    /// wait runs out, `Some(Err(()))` when the stream ended.
    async fn next_within(&mut self, wait: Duration) -> Option<Result<Message, ()>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut kind, mut id, mut data) = (String::from("message"), None, String::new());
                for line in block.lines() {
                    let field =
                        |name: &str| line.strip_prefix(name).map(|v| v.strip_prefix(' ').unwrap_or(v).to_string());
                    if let Some(v) = field("event:") {
                        kind = v;
                    } else if let Some(v) = field("data:") {
                        data.push_str(&v);
                    } else if let Some(v) = field("id:") {
                        id = Some(v);
                    }
                }
                if data.is_empty() {
                    continue; // a comment: the greeting or a keep-alive
                }
                let data = serde_json::from_str(&data).unwrap_or_else(|e| panic!("data is JSON ({e}): {data}"));
                return Some(Ok(Message { kind, id, data }));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => return Some(Err(())),
            }
        }
    }

    /// The next event of type `kind`, skipping others; fails after `ARRIVES`.
    async fn expect(&mut self, kind: &str) -> Value {
        let started = Instant::now();
        while let Some(left) = ARRIVES.checked_sub(started.elapsed()) {
            match self.next_within(left).await {
                Some(Ok(m)) if m.kind == kind => {
                    assert_eq!(m.data["type"], kind, "event: and data.type agree");
                    assert_eq!(m.id.as_deref(), m.data["id"].as_str(), "id: is the event's id");
                    eprintln!("{kind} arrived in {:?}", started.elapsed());
                    return m.data;
                }
                Some(Ok(m)) => self.seen.push(format!("{} {}", m.kind, m.data)),
                Some(Err(())) => panic!("the stream ended while waiting for {kind}; seen: {:?}", self.seen),
                None => break,
            }
        }
        panic!("no {kind} within {ARRIVES:?}; seen: {:?}", self.seen)
    }

    /// The very next event, whatever it is; fails after `ARRIVES`.
    async fn next(&mut self) -> Value {
        match self.next_within(ARRIVES).await {
            Some(Ok(m)) => m.data,
            Some(Err(())) => panic!("the stream ended"),
            None => panic!("no event within {ARRIVES:?}"),
        }
    }
}

fn ids(v: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = v.as_array().unwrap().iter().map(|i| i.as_i64().unwrap()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn booking_rescheduling_and_a_crews_tap_reach_the_office_stream() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let mut office = Events::bearer(&app, &app.token).await;

    let visit = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let e = office.expect("visit.booked").await;
    assert_eq!((e["organization_id"].as_i64(), e["job_id"].as_i64()), (Some(app.org_id), Some(job)));
    assert_eq!((e["visit_id"].as_i64(), e["status"].as_str()), (Some(visit), Some("scheduled")));
    assert_eq!(ids(&e["staff_ids"]), vec![lena]);

    let r = app
        .patch(
            &format!("/api/v1/visits/{visit}"),
            json!({"window_start": "2026-11-23T10:00:00-05:00", "window_end": "2026-11-23T12:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = office.expect("visit.changed").await;
    assert_eq!((e["visit_id"].as_i64(), e["job_id"].as_i64()), (Some(visit), Some(job)));

    // Reassigned: the event names who is on it now and who was taken off.
    app.patch(&format!("/api/v1/visits/{visit}"), json!({"staff_ids": [tomas]})).await;
    let e = office.expect("visit.changed").await;
    assert_eq!(ids(&e["staff_ids"]), vec![lena, tomas]);

    let crew = app.token_for(Role::Technician, Some(tomas)).await;
    let r = app
        .send_as(
            &crew,
            reqwest::Method::POST,
            &format!("/api/v1/visits/{visit}/status"),
            &json!({"status": "en_route"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = office.expect("visit.status").await;
    assert_eq!((e["visit_id"].as_i64(), e["status"].as_str()), (Some(visit), Some("en_route")));
    assert_eq!(ids(&e["staff_ids"]), vec![tomas]);

    // The messages those changes queued change state as the worker handles them.
    app.tick().await;
    let e = office.expect("message.state").await;
    let message = e["message_id"].as_i64().unwrap();
    let outbox = app.outbox("").await;
    let row = outbox.iter().find(|m| m["id"].as_i64() == Some(message)).expect("the message is in the outbox");
    assert_eq!(e["state"], row["state"]);
    assert_eq!(e["job_id"].as_i64(), Some(job));
}

#[tokio::test]
async fn cancelling_a_job_says_each_open_visit_is_cancelled() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let visit = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let mut office = Events::bearer(&app, &app.token).await;
    let r = app
        .patch(&format!("/api/v1/jobs/{job}"), json!({"status": "cancelled", "reason": "the customer fixed it"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = office.expect("visit.status").await;
    assert_eq!((e["visit_id"].as_i64(), e["status"].as_str()), (Some(visit), Some("cancelled")));
    assert_eq!(ids(&e["staff_ids"]), vec![lena]);
}

#[tokio::test]
async fn a_window_at_risk_is_an_event_for_the_office_and_the_crew() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let job = app.ny_job().await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let visit = app.book(job, &[tomas], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 60).await.id();
    let mut office = Events::bearer(&app, &app.token).await;
    let mut crew = Events::bearer(&app, &app.token_for(Role::Technician, Some(tomas)).await).await;
    // 09:45 in New York and nobody is on the way.
    app.clock.set(utc("2026-11-23T14:45:00Z"));
    app.tick().await;
    let promise = app.get("/api/v1/promises?at_risk=true").await.body["items"][0]["id"].as_i64().unwrap();
    for stream in [&mut office, &mut crew] {
        let e = stream.expect("promise.at_risk").await;
        assert_eq!((e["promise_id"].as_i64(), e["visit_id"].as_i64()), (Some(promise), Some(visit)));
        assert_eq!(e["job_id"].as_i64(), Some(job));
    }
}

#[tokio::test]
async fn a_technician_receives_only_the_events_of_visits_they_are_on() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let (job_a, job_b) = (app.ny_job().await, app.ny_job().await);
    let mut hers = Events::bearer(&app, &app.token_for(Role::Technician, Some(lena)).await).await;

    // Tomas's visit is booked and he is on his way: nothing of it for Lena.
    let his = app.book(job_b, &[tomas], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let r = app.post(&format!("/api/v1/visits/{his}/status"), json!({"status": "en_route"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Events arrive in order: if his were hers, they would come first.
    let mine = app.book(job_a, &[lena], "2026-11-23T13:00:00-05:00", "2026-11-23T15:00:00-05:00", 60).await.id();
    let e = hers.next().await;
    assert_eq!((e["type"].as_str(), e["visit_id"].as_i64()), (Some("visit.booked"), Some(mine)), "{e}");

    // Taken off her visit: she hears it (it leaves her day); after that, nothing of it.
    app.patch(&format!("/api/v1/visits/{mine}"), json!({"staff_ids": [tomas]})).await;
    let e = hers.next().await;
    assert_eq!((e["type"].as_str(), e["visit_id"].as_i64()), (Some("visit.changed"), Some(mine)), "{e}");
    app.post(&format!("/api/v1/visits/{mine}/status"), json!({"status": "en_route"})).await;
    let third = app.book(job_a, &[lena], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await.id();
    let e = hers.next().await;
    assert_eq!((e["type"].as_str(), e["visit_id"].as_i64()), (Some("visit.booked"), Some(third)), "{e}");
}

#[tokio::test]
async fn opening_and_cancelling_a_job_reach_the_office_and_not_the_crew() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let mut office = Events::bearer(&app, &app.token).await;
    let mut hers = Events::bearer(&app, &app.token_for(Role::Technician, Some(lena)).await).await;
    // A new job waits in the board's "not booked yet": the board hears of it.
    let job = app.ny_job().await;
    let e = office.expect("job.changed").await;
    assert_eq!((e["job_id"].as_i64(), &e["staff_ids"]), (Some(job), &json!([])), "{e}");
    let r =
        app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "cancelled", "reason": "fixed it himself"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = office.expect("job.changed").await;
    assert_eq!(e["job_id"].as_i64(), Some(job), "{e}");
    // Lena is on neither: the first thing she hears is her own booking.
    let other = app.ny_job().await;
    let mine = app.book(other, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let e = hers.next().await;
    assert_eq!((e["type"].as_str(), e["visit_id"].as_i64()), (Some("visit.booked"), Some(mine)), "{e}");
}

#[tokio::test]
async fn another_organizations_stream_receives_nothing_of_ours() {
    let app = spawn_app().await;
    let rival = app.rival_token().await;
    let mut theirs = Events::bearer(&app, &rival).await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let visit = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    app.post(&format!("/api/v1/visits/{visit}/status"), json!({"status": "en_route"})).await;

    // Their own job and booking are the first things they hear.
    async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> crate::helpers::Reply {
        let r = app.send_as(token, reqwest::Method::POST, path, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
        r
    }
    let crew = post(&app, &rival, "/api/v1/staff", json!({"name": "Rita Roofer", "role": "technician", "email": "rita@rival.example.test", "timezone": "America/Chicago"})).await.id();
    let customer = post(&app, &rival, "/api/v1/customers", json!({"name": "Carl Client", "phone": "+1 312 555 0100", "email": "carl@example.test", "timezone": "America/Chicago", "address": "2 Lake St"})).await.id();
    let their_job =
        post(&app, &rival, "/api/v1/jobs", json!({"customer_id": customer, "title": "Roof", "story": "Drips."}))
            .await
            .id();
    let r = post(&app, &rival, &format!("/api/v1/jobs/{their_job}/visits"), json!({"kind": "work", "staff_ids": [crew], "window_start": "2026-11-23T09:00:00-06:00", "window_end": "2026-11-23T11:00:00-06:00", "duration_minutes": 60})).await;
    let e = theirs.next().await;
    assert_eq!((e["type"].as_str(), e["job_id"].as_i64()), (Some("job.changed"), Some(their_job)), "{e}");
    let e = theirs.next().await;
    assert_eq!((e["type"].as_str(), e["visit_id"].as_i64()), (Some("visit.booked"), Some(r.id())), "{e}");
    assert_ne!(e["organization_id"].as_i64(), Some(app.org_id));
}

#[tokio::test]
async fn a_signed_in_page_opens_the_stream_with_its_session_cookie() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    // Lena signs in as the pages do; her session cookie is what the browser sends.
    let hash = kept::store::sessions::hash_password("correct horse battery").await.unwrap();
    {
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        kept::entities::staff::Entity::update_many()
            .col_expr(kept::entities::staff::Column::PasswordHash, Expr::value(hash))
            .filter(kept::entities::staff::Column::Id.eq(lena))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let (_, session, _) = kept::store::sessions::sign_in(
        &app.state.db,
        "lena.okafor@example.test",
        "correct horse battery",
        "127.0.0.1",
        utc(crate::helpers::DEFAULT_NOW),
    )
    .await
    .unwrap()
    .expect("signed in");
    let cookie = format!("kept_session={session}");
    let mut hers = Events::open(app.client.get(app.url("/api/v1/events")).header("cookie", &cookie)).await;
    let visit = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let e = hers.expect("visit.booked").await;
    assert_eq!(e["visit_id"].as_i64(), Some(visit));

    // Without a session, or with one that is not, the stream is refused.
    let refused = |c: Option<&str>| {
        let mut r = app.client.get(app.url("/api/v1/events"));
        if let Some(c) = c {
            r = r.header("cookie", c);
        }
        r.send()
    };
    assert_eq!(refused(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused(Some("kept_session=kept_not_a_session")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // The cookie opens only the stream: the rest of the API wants a token.
    let jobs = app.client.get(app.url(&format!("/api/v1/jobs/{job}"))).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(jobs.status(), StatusCode::UNAUTHORIZED);
    // A token, when sent, is what counts, cookie or not.
    let bad = app
        .client
        .get(app.url("/api/v1/events"))
        .header("cookie", &cookie)
        .bearer_auth("kept_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn texts_and_delivery_receipts_from_twilio_are_events() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-23T15:00:00Z")); // 10:00 in New York
    let c = app
        .post("/api/v1/customers", json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "email": "walter@example.test", "timezone": "America/New_York"}))
        .await
        .id();
    let job = app.job(c).await;
    let mut office = Events::bearer(&app, &app.token).await;
    let signed = |path: &str, params: &[(&str, &str)]| {
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let signature =
            kept::webhooks::twilio_signature(&twilio.token, &format!("https://kept.example.test{path}"), &owned);
        app.client.post(app.url(path)).header("X-Twilio-Signature", signature).form(&owned).send()
    };

    let r = signed(
        "/webhooks/twilio/inbound",
        &[("MessageSid", "SM1"), ("From", "+12135550178"), ("To", "+12065550100"), ("Body", "Is Tuesday still on?")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = office.expect("inbound.received").await;
    let inbound = app.get("/api/v1/inbound").await.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!((e["inbound_id"].as_i64(), e["job_id"].as_i64()), (Some(inbound), Some(job)));

    app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Yes, Tuesday at 9.", "channels": ["sms"]})).await;
    app.tick().await;
    let reply = app.outbox("kind=reply").await.remove(0);
    loop {
        let e = office.expect("message.state").await;
        if e["message_id"] == reply["id"] {
            assert_eq!(e["state"], "sent");
            break;
        }
    }
    let sid = reply["provider_id"].as_str().unwrap().to_string();
    let r = signed("/webhooks/twilio/status", &[("MessageSid", &sid), ("MessageStatus", "delivered")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Other messages' states may still be arriving (sends run side by side).
    let e = loop {
        let e = office.expect("message.state").await;
        if e["message_id"] == reply["id"] {
            break e;
        }
    };
    assert_eq!((e["state"].as_str(), e["provider_status"].as_str()), (Some("sent"), Some("delivered")));
}

#[tokio::test]
async fn stopping_the_server_ends_open_streams() {
    let app = spawn_app().await;
    let mut office = Events::bearer(&app, &app.token).await;
    drop(app);
    match office.next_within(ARRIVES).await {
        Some(Err(())) => {}
        other => panic!("the stream should end when the server stops, got {other:?}"),
    }
}

#[tokio::test]
async fn two_replicas_on_one_postgres_database_see_each_others_events() {
    if backend() == Backend::Sqlite {
        eprintln!("skipped: replicas share events through PostgreSQL's LISTEN/NOTIFY; SQLite is one process");
        return;
    }
    let one = spawn_app().await;
    let two = spawn_app_on(one.db.shared()).await;
    // The same organization's token works on both: they share the database.
    let mut on_two = Events::bearer(&two, &one.token).await;
    let mut on_one = Events::bearer(&one, &one.token).await;
    let job = one.ny_job().await;
    let lena = one.staff("Lena Okafor", "technician", "America/New_York").await;
    let visit = one.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let r = one.post(&format!("/api/v1/visits/{visit}/status"), json!({"status": "en_route"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for stream in [&mut on_two, &mut on_one] {
        assert_eq!(stream.expect("visit.booked").await["visit_id"].as_i64(), Some(visit));
        let e = stream.expect("visit.status").await;
        assert_eq!((e["visit_id"].as_i64(), e["status"].as_str()), (Some(visit), Some("en_route")));
    }
    // And the other way: a tap on the second reaches the first.
    let r = two
        .send_as(
            &one.token,
            reqwest::Method::POST,
            &format!("/api/v1/visits/{visit}/status"),
            &json!({"status": "arrived"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(on_one.expect("visit.status").await["status"], "arrived");
}

#[tokio::test]
async fn the_postgres_listener_reconnects_and_streams_resync() {
    if backend() == Backend::Sqlite {
        eprintln!("skipped: there is no database listener on SQLite");
        return;
    }
    let app = spawn_app().await;
    let mut office = Events::bearer(&app, &app.token).await;
    // Cut the listener's connection, as a database restart or a network blip would.
    use sea_orm::ConnectionTrait;
    let killed = app
        .state
        .db
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
        ))
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "one listener per process");
    // Streams are told they missed something, then events flow again.
    let started = Instant::now();
    let mut resynced = false;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let mut booked = Vec::new();
    let mut start = utc("2026-11-23T14:00:00Z");
    while started.elapsed() < Duration::from_secs(20) {
        let end = start + chrono::Duration::hours(2);
        booked.push(app.book(job, &[lena], &start.to_rfc3339(), &end.to_rfc3339(), 60).await.id());
        start += chrono::Duration::days(1);
        while let Some(Ok(m)) = office.next_within(Duration::from_millis(500)).await {
            if m.kind == "resync" {
                resynced = true;
            } else if m.kind == "visit.booked" && booked.contains(&m.data["visit_id"].as_i64().unwrap()) {
                assert!(resynced, "told to resync before events resumed");
                return;
            }
        }
    }
    panic!("no event after the listener's connection was cut (resync seen: {resynced})");
}

#[tokio::test]
async fn a_stream_the_client_closes_lets_go_of_its_subscription() {
    let app = spawn_app().await;
    let office = Events::bearer(&app, &app.token).await;
    assert_eq!(app.state.notify.live.subscribers(), 1);
    drop(office);
    let started = Instant::now();
    while app.state.notify.live.subscribers() > 0 {
        assert!(started.elapsed() < ARRIVES, "the subscription outlived its client");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
