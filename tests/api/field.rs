//! From the field: *Running late* (the apology out at once over real SMTP
//! and the Twilio wire format, the ledger's broken and new promise, a double
//! tap changing nothing) and notes on a visit (news for the customer's next
//! update, or for the office only).

use crate::fakes::{FakeSmtp, FakeTwilio};
use crate::helpers::{spawn_app, spawn_app_with, utc, TestApp, TestDb};
use kept::domain::people::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A New York customer's job, a Chicago technician on a visit today
/// (Friday, November 20, 11:00 AM–12:00 PM EST; the clock says 10:00 AM EST),
/// and the technician's token.
async fn late_setup(app: &TestApp) -> (i64, i64, i64, String) {
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "email": "nadia@example.test",
                   "timezone": "America/New_York", "address": "12 Harbor Rd, Brooklyn, NY"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let job = app.job(c.id()).await;
    let tech = app.staff("Sam Ruiz", "technician", "America/Chicago").await;
    let r = app.book(job, &[tech], "2026-11-20T11:00:00-05:00", "2026-11-20T12:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = app.token_for(Role::Technician, Some(tech)).await;
    (job, r.id(), tech, token)
}

async fn late(app: &TestApp, token: &str, visit: i64, body: Value) -> crate::helpers::Reply {
    app.send_as(token, Method::POST, &format!("/api/v1/visits/{visit}/late"), &body).await
}

async fn arrival_promises(app: &TestApp, job: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/jobs/{job}/promises")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().iter().filter(|p| p["kind"] == "arrival_window").cloned().collect()
}

#[tokio::test]
async fn running_late_tells_the_customer_at_once_and_the_ledger_records_it() {
    let twilio = FakeTwilio::start().await;
    let smtp = FakeSmtp::start().await;
    let env: Vec<_> = twilio.env().into_iter().chain(smtp.env()).collect();
    let app = spawn_app_with(TestDb::new().await, &env).await;
    let (job, visit, _, token) = late_setup(&app).await;
    app.tick().await; // the introductions go out first
    let (sms_before, mail_before) = (twilio.accepted().len(), smtp.mails().len());

    let r = late(&app, &token, visit, json!({"new_arrival": "2026-11-20T11:40:00-06:00"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changed"], true);
    assert_eq!(r.body["new_arrival"], "2026-11-20T17:40:00Z");
    assert_eq!(r.body["new_arrival_local"], "2026-11-20T12:40:00-05:00", "in the customer's zone");

    // Delivered before the answer, with no tick: one text, one email, the
    // new time in the customer's zone (the technician typed Chicago time).
    let sms = twilio.accepted();
    assert_eq!(sms.len(), sms_before + 1, "{sms:?}");
    let text = &sms.last().unwrap()["Body"];
    assert!(text.contains("running late") && text.contains("That's on us"), "{text}");
    assert!(text.contains("New arrival time: 12:40 PM EST today"), "{text}");
    assert!(text.contains("11:00 AM and 12:00 PM EST"), "the window we will not keep: {text}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), mail_before + 1);
    assert!(mails.last().unwrap().data.contains("12:40 PM EST today"), "{}", mails.last().unwrap().data);
    let out = app.outbox("kind=running_late").await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.iter().all(|m| m["state"] == "sent"), "{out:?}");

    // The ledger: the window broken, the new arrival pending in its place.
    let promises = arrival_promises(&app, job).await;
    assert_eq!(promises.len(), 2, "{promises:?}");
    let (old, new) = (&promises[0], &promises[1]);
    assert_eq!((old["outcome"].as_str(), old["due_at"].as_str()), (Some("broken"), Some("2026-11-20T17:00:00Z")));
    assert_eq!(old["lateness_minutes"], 40);
    assert_eq!((new["outcome"].as_str(), new["due_at"].as_str()), (Some("pending"), Some("2026-11-20T17:40:00Z")));
    assert_eq!(new["renegotiates"], old["id"]);

    // The same tap again (a flaky signal): nothing changes, nothing is sent.
    let again = late(&app, &token, visit, json!({"new_arrival": "2026-11-20T17:40:00Z"})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["changed"], false);
    assert_eq!(arrival_promises(&app, job).await, promises);
    assert_eq!(app.outbox("kind=running_late").await.len(), 2);
    assert_eq!((twilio.accepted().len(), smtp.mails().len()), (sms_before + 1, mail_before + 1));
    let timeline = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let lates: Vec<&Value> =
        timeline.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "running_late").collect();
    assert_eq!(lates.len(), 1, "{lates:?}");

    // Arriving by the new time keeps the new promise.
    app.clock.set(utc("2026-11-20T17:30:00Z"));
    for status in ["en_route", "arrived"] {
        let r = app
            .send_as(&token, Method::POST, &format!("/api/v1/visits/{visit}/status"), &json!({"status": status}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let promises = arrival_promises(&app, job).await;
    assert_eq!((promises[0]["outcome"].as_str(), promises[1]["outcome"].as_str()), (Some("broken"), Some("kept")));
    // And once there, nobody can be late any more.
    let r = late(&app, &token, visit, json!({"new_arrival": "2026-11-20T18:30:00Z"})).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::CONFLICT, Some("visit_not_open")), "{}", r.body);
}

#[tokio::test]
async fn running_late_refuses_bad_times_and_other_peoples_visits_and_changes_nothing() {
    let app = spawn_app().await;
    let (job, visit, _, token) = late_setup(&app).await;
    let other = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let other_token = app.token_for(Role::Technician, Some(other)).await;
    let cases = [
        (json!({}), "new_arrival", "is required"),
        (json!({"new_arrival": "soon"}), "new_arrival", ""),
        (json!({"new_arrival": "2026-11-20T09:50:00-05:00"}), "new_arrival", "later than now"),
        (json!({"new_arrival": "2026-11-20T11:50:00-05:00"}), "new_arrival", "not later than the arrival we promised"),
        (json!({"new_arrival": "2026-11-21T11:50:00-05:00"}), "new_arrival", "reschedule the visit instead"),
    ];
    for (body, field, words) in cases {
        let r = late(&app, &token, visit, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert_eq!(r.fields(), vec![field.to_string()], "{body}: {}", r.body);
        assert!(r.body.to_string().contains(words), "{body}: {}", r.body);
    }
    let r = late(&app, &token, visit, json!({"new_arrival": "2026-11-20T12:30:00-05:00", "why": "traffic"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {}", r.body);
    let r = late(&app, &other_token, visit, json!({"new_arrival": "2026-11-20T12:30:00-05:00"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = late(&app, &token, 999_999, json!({"new_arrival": "2026-11-20T12:30:00-05:00"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let promises = arrival_promises(&app, job).await;
    assert_eq!(promises.len(), 1);
    assert_eq!(promises[0]["outcome"], "pending");
    assert!(app.outbox("kind=running_late").await.is_empty());

    // The office may say it for the crew (a dispatcher on the phone with them).
    let r = late(&app, &app.token.clone(), visit, json!({"new_arrival": "2026-11-20T12:30:00-05:00"})).await;
    assert_eq!((r.status, r.body["changed"].as_bool()), (StatusCode::OK, Some(true)), "{}", r.body);
    // A later time again is a second broken promise, and a second apology.
    let r = late(&app, &token, visit, json!({"new_arrival": "2026-11-20T13:00:00-05:00"})).await;
    assert_eq!((r.status, r.body["changed"].as_bool()), (StatusCode::OK, Some(true)), "{}", r.body);
    let outcomes: Vec<String> =
        arrival_promises(&app, job).await.iter().map(|p| p["outcome"].as_str().unwrap().to_string()).collect();
    assert_eq!(outcomes, ["broken", "broken", "pending"]);
    assert_eq!(app.outbox("kind=running_late&channel=sms").await.len(), 2);
}

#[tokio::test]
async fn a_field_note_reaches_the_next_update_unless_it_is_for_the_office_only() {
    let app = spawn_app().await;
    let (job, visit, _, token) = late_setup(&app).await;
    let note = |text: &'static str, internal: bool| {
        let (app, token) = (&app, token.clone());
        async move {
            app.send_as(
                &token,
                Method::POST,
                &format!("/api/v1/visits/{visit}/notes"),
                &json!({"text": text, "internal": internal}),
            )
            .await
        }
    };
    let public = note("Found a second leak behind the dishwasher", false).await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.body);
    assert_eq!((public.body["kind"].as_str(), public.body["visit_id"].as_i64()), (Some("note"), Some(visit)));
    let again = note("Found a second leak behind the dishwasher", false).await;
    assert_eq!(
        (again.status, again.body["id"].clone()),
        (StatusCode::CREATED, public.body["id"].clone()),
        "a double tap"
    );
    let internal = note("Gate code is 4411; dog is friendly", true).await;
    assert_eq!(internal.status, StatusCode::CREATED, "{}", internal.body);
    assert_eq!(internal.body["kind"], "internal_note");

    for (body, field) in [
        (json!({"internal": true}), "text"),
        (json!({"text": "   "}), "text"),
        (json!({"text": "x".repeat(2001)}), "text"),
        (json!({"text": "ok", "internal": "yes"}), "internal"),
    ] {
        let r = app.send_as(&token, Method::POST, &format!("/api/v1/visits/{visit}/notes"), &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert_eq!(r.fields(), vec![field.to_string()], "{}", r.body);
    }
    let other = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let other_token = app.token_for(Role::Technician, Some(other)).await;
    let r =
        app.send_as(&other_token, Method::POST, &format!("/api/v1/visits/{visit}/notes"), &json!({"text": "hi"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    let timeline = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let kinds: Vec<&str> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note" || e["kind"] == "internal_note")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["note", "internal_note"]);

    // The afternoon update (4:30 PM in New York) carries the news, not the gate code.
    app.clock.set(utc("2026-11-20T21:30:00Z"));
    app.tick().await;
    let updates = app.outbox("kind=status_update").await;
    assert!(!updates.is_empty());
    for m in &updates {
        let body = m["body_text"].as_str().unwrap();
        assert!(body.contains("Found a second leak behind the dishwasher"), "{body}");
        assert!(!body.contains("4411"), "an internal note reached the customer: {body}");
    }
}
