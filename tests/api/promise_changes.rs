//! Every change to a promise the customer holds reaches the customer: a
//! move, a cancellation, a change of crew, a cancelled job. One message of
//! the right kind per change, in the customer's zone, with the old and new
//! facts; the ledger says the customer was told.

use crate::helpers::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The customer's messages of `kind` (one per channel: SMS and email).
async fn sent(app: &TestApp, kind: &str) -> Vec<Value> {
    app.outbox(&format!("kind={kind}")).await
}

/// A New York customer's job with one visit booked with `staff`, 9–11 AM on Monday, November 23.
async fn booked(app: &TestApp, staff: &[i64]) -> (i64, i64) {
    let job = app.ny_job().await;
    let r = app.book(job, staff, "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (job, r.id())
}

async fn promises(app: &TestApp, job: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/jobs/{job}/promises")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_reschedule_tells_the_customer_the_old_and_new_window_and_why_once() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (job, visit) = booked(&app, &[tech]).await;
    let change = json!({"window_start": "2026-11-24T13:00:00-05:00", "window_end": "2026-11-24T15:00:00-05:00",
                        "reason": "The replacement valve arrives Tuesday morning."});
    let r = app.patch(&format!("/api/v1/visits/{visit}"), change.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same request again changes nothing and sends nothing.
    assert_eq!(app.patch(&format!("/api/v1/visits/{visit}"), change).await.status, StatusCode::OK);

    let messages = sent(&app, "visit_rescheduled").await;
    let channels: Vec<&str> = messages.iter().map(|m| m["channel"].as_str().unwrap()).collect();
    assert_eq!(channels.len(), 2, "one per channel: {channels:?}");
    assert!(channels.contains(&"sms") && channels.contains(&"email"));
    for m in &messages {
        let body = m["body_text"].as_str().unwrap();
        assert!(body.contains("Monday, November 23, between 9:00 AM and 11:00 AM EST"), "old window: {body}");
        assert!(body.contains("Tuesday, November 24, between 1:00 PM and 3:00 PM EST"), "new window: {body}");
        assert!(body.contains("The replacement valve arrives Tuesday morning."), "the reason: {body}");
        assert_eq!(m["visit_id"], visit);
    }
    // Moving a visit is not a new booking: no second introduction.
    assert_eq!(sent(&app, "introduction").await.len(), 2);

    let ledger = promises(&app, job).await;
    let old = ledger
        .iter()
        .find(|p| p["kind"] == "arrival_window" && p["outcome"] == "renegotiated")
        .unwrap_or_else(|| panic!("the old window is renegotiated: {ledger:?}"));
    assert_eq!(old["evidence"]["customer_told"]["message"], "visit_rescheduled", "{old}");
    assert_eq!(old["evidence"]["customer_told"]["at"], "2026-11-20T15:00:00Z", "{old}");
    assert!(ledger.iter().any(|p| p["kind"] == "arrival_window" && p["outcome"] == "pending"));
}

#[tokio::test]
async fn a_cancelled_visit_tells_the_customer_and_promises_a_call_about_a_new_time() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (job, visit) = booked(&app, &[tech]).await;
    let r = app
        .post(
            &format!("/api/v1/visits/{visit}/status"),
            json!({"status": "cancelled", "reason": "Lena is unwell today."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let messages = sent(&app, "visit_cancelled").await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    for m in &messages {
        let body = m["body_text"].as_str().unwrap();
        assert!(body.contains("Monday, November 23, between 9:00 AM and 11:00 AM EST"), "{body}");
        assert!(body.contains("Lena is unwell today."), "{body}");
        // 24 hours after 10:00 AM in New York on Friday the 20th.
        assert!(body.contains("by Saturday, November 21, 10:00 AM EST"), "what happens next: {body}");
    }
    let ledger = promises(&app, job).await;
    let arrival = ledger.iter().find(|p| p["kind"] == "arrival_window").unwrap();
    assert_eq!(arrival["outcome"], "cancelled");
    assert_eq!(arrival["evidence"]["customer_told"]["message"], "visit_cancelled");
    let call = ledger.iter().find(|p| p["kind"] == "callback_by").expect("a call-back promise");
    assert_eq!(call["outcome"], "pending");
    assert_eq!(call["due_at"], "2026-11-21T15:00:00Z");
}

#[tokio::test]
async fn a_cancelled_visit_names_the_next_visit_still_planned() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (job, first) = booked(&app, &[tech]).await;
    let r = app.book(job, &[tech], "2026-11-25T09:00:00-05:00", "2026-11-25T10:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.post(&format!("/api/v1/visits/{first}/status"), json!({"status": "cancelled"})).await;
    let sms = sent(&app, "visit_cancelled&channel=sms").await;
    assert_eq!(sms.len(), 1);
    let body = sms[0]["body_text"].as_str().unwrap();
    assert!(
        body.contains("Your next visit is still Wednesday, November 25, between 9:00 AM and 10:00 AM EST"),
        "{body}"
    );
    assert!(!promises(&app, job).await.iter().any(|p| p["kind"] == "callback_by"));
}

#[tokio::test]
async fn a_reassignment_introduces_who_is_coming_now_and_says_who_is_not() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let marcus = app.staff("Marcus Hale", "technician", "America/New_York").await;
    let (_, visit) = booked(&app, &[lena]).await;
    let r = app.patch(&format!("/api/v1/visits/{visit}"), json!({"staff_ids": [marcus]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let messages = sent(&app, "visit_reassigned").await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    for m in &messages {
        let body = m["body_text"].as_str().unwrap();
        assert!(body.contains("Marcus Hale, our technician, is coming"), "{body}");
        assert!(body.contains("Lena Okafor won't be"), "{body}");
        assert!(body.contains("Monday, November 23, between 9:00 AM and 11:00 AM EST"), "{body}");
    }
    // Only Lena's introduction from the booking; Marcus is introduced by the change itself.
    let intros = sent(&app, "introduction").await;
    assert!(intros.iter().all(|m| m["body_text"].as_str().unwrap().contains("Lena")), "{intros:?}");
}

#[tokio::test]
async fn cancelling_a_job_cancels_its_visits_and_promises_and_tells_the_customer_once() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (job, visit) = booked(&app, &[tech]).await;
    let r = app
        .patch(
            &format!("/api/v1/jobs/{job}"),
            json!({"status": "cancelled", "reason": "You found the leak was covered by your building."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let messages = sent(&app, "job_cancelled").await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    let body = messages[0]["body_text"].as_str().unwrap();
    assert!(body.contains("Monday, November 23, between 9:00 AM and 11:00 AM EST"), "{body}");
    assert!(body.contains("covered by your building"), "{body}");
    assert!(sent(&app, "visit_cancelled").await.is_empty(), "one message for the whole change");
    assert_eq!(app.get(&format!("/api/v1/visits/{visit}")).await.body["status"], "cancelled");
    let ledger = promises(&app, job).await;
    assert!(ledger.iter().all(|p| p["outcome"] != "pending"), "{ledger:?}");
    assert!(ledger.iter().any(|p| p["evidence"]["customer_told"]["message"] == "job_cancelled"));
}

#[tokio::test]
async fn completing_a_job_with_visits_still_to_come_asks_the_office_first() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (job, visit) = booked(&app, &[tech]).await;
    let r = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"], "open_visits");
    assert_eq!(r.body["open_visit_ids"], json!([visit]));
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "scheduled", "nothing changed");
    app.post(&format!("/api/v1/visits/{visit}/status"), json!({"status": "cancelled"})).await;
    let r = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn an_overlong_reason_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (_, visit) = booked(&app, &[tech]).await;
    let r = app
        .patch(
            &format!("/api/v1/visits/{visit}"),
            json!({"window_start": "2026-11-24T13:00:00-05:00", "window_end": "2026-11-24T15:00:00-05:00", "reason": "x".repeat(301)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["reason"]);
    assert!(sent(&app, "visit_rescheduled").await.is_empty());
    assert_eq!(app.get(&format!("/api/v1/visits/{visit}")).await.body["window_start"], "2026-11-23T14:00:00Z");
}
