//! Nothing we show the customer contradicts itself: early with an ETA is
//! not "broken", a closed job has nothing "next", the demo without a
//! provider does not count its unsent updates as broken promises.

use crate::fakes::FakeSmtp;
use crate::helpers::{spawn_app, spawn_app_with, utc, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn email_customer(app: &TestApp, name: &str) -> i64 {
    let email = format!("{}@example.test", name.to_lowercase().replace(' ', "."));
    app.post("/api/v1/customers", json!({"name": name, "email": email, "timezone": "America/New_York"})).await.id()
}

async fn arrival(app: &TestApp, job: i64) -> Value {
    let ps = app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"].as_array().unwrap().clone();
    ps.into_iter().find(|p| p["kind"] == "arrival_window").expect("an arrival promise")
}

/// The customer's page, from the link in the first message on `job`.
async fn page(app: &TestApp, job: i64) -> String {
    let m = app.outbox(&format!("job_id={job}")).await.remove(0);
    let body = m["body_text"].as_str().unwrap();
    let i = body.find("/c/").expect("a link") + 3;
    let r = reqwest::get(app.url(&format!("/c/{}", &body[i..i + 40]))).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

#[tokio::test]
async fn arriving_early_after_telling_the_customer_our_eta_is_kept_and_counted_apart() {
    let smtp = FakeSmtp::start().await;
    let app = spawn_app_with(TestDb::new().await, &smtp.env()).await;
    app.clock.set(utc("2026-11-23T12:00:00Z")); // 07:00 in New York
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let told = app.job(email_customer(&app, "Nadia Brooks").await).await;
    let untold = app.job(email_customer(&app, "Walter Kim").await).await;
    let v_told = app.book(told, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 30).await.id();
    let v_untold = app.book(untold, &[lena], "2026-11-23T11:00:00-05:00", "2026-11-23T12:00:00-05:00", 30).await.id();

    // 08:30: On my way, ETA 20 minutes; the email goes out; 08:50: arrived, ten minutes early.
    app.clock.set(utc("2026-11-23T13:30:00Z"));
    let r =
        app.post(&format!("/api/v1/visits/{v_told}/status"), json!({"status": "en_route", "eta_minutes": 20})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.tick().await;
    assert_eq!(app.outbox("kind=on_my_way").await[0]["state"], "sent");
    app.clock.set(utc("2026-11-23T13:50:00Z"));
    app.post(&format!("/api/v1/visits/{v_told}/status"), json!({"status": "arrived"})).await;
    let p = arrival(&app, told).await;
    assert_eq!(p["outcome"], "kept", "{p}");
    assert_eq!(p["evidence"]["early"], "you were told", "{p}");
    assert_eq!(p["evidence"]["minutes_early"], 10);
    assert!(page(&app, told).await.contains("early, you were told"));

    // Early without a word to the customer is still a broken promise.
    app.post(&format!("/api/v1/visits/{v_told}/status"), json!({"status": "completed"})).await;
    app.clock.set(utc("2026-11-23T15:10:00Z")); // 10:10, fifty minutes before the 11:00 window
    app.post(&format!("/api/v1/visits/{v_untold}/status"), json!({"status": "arrived"})).await;
    assert_eq!(arrival(&app, untold).await["outcome"], "broken");

    let m = app.get("/api/v1/metrics/promises?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z").await.body;
    assert_eq!(m["arrivals"]["decided"], 2, "{m}");
    assert_eq!(m["arrivals"]["early_told"], 1, "{m}");
    assert_eq!(m["arrivals"]["on_time"], 0, "{m}");
    assert_eq!(m["by_kind"]["arrival_window"]["early_told"], 1, "{m}");
    assert_eq!(m["by_kind"]["arrival_window"]["kept"], 1, "{m}");
}

#[tokio::test]
async fn a_completed_jobs_page_shows_nothing_next_and_nobody_coming() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    let visit = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let r = app
        .post(
            &format!("/api/v1/jobs/{job}/promises"),
            json!({"kind": "callback_by", "due_at": "2026-11-25T12:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let open = page(&app, job).await;
    assert!(open.contains("Next:") && open.contains("Who is coming"), "{open}");
    assert!(open.contains("A call from us by"), "customer wording for a call-back: {open}");
    assert!(!open.contains("Call the customer"), "office wording: {open}");

    app.clock.set(utc("2026-11-23T14:30:00Z"));
    for s in ["en_route", "arrived", "completed"] {
        let r = app.post(&format!("/api/v1/visits/{visit}/status"), json!({"status": s})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let closed = page(&app, job).await;
    assert!(closed.contains("this job is <strong>completed</strong>"), "{closed}");
    assert!(!closed.contains("Next:"), "nothing is next on a completed job: {closed}");
    assert!(!closed.contains("Who is coming"), "nobody is coming: {closed}");
}

#[tokio::test]
async fn a_window_that_passed_without_us_is_not_shown_as_coming() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert!(page(&app, job).await.contains("Who is coming"));
    app.clock.set(utc("2026-11-23T16:30:00Z")); // 11:30, the window closed half an hour ago
    assert!(!page(&app, job).await.contains("Who is coming"));
}

#[tokio::test]
async fn without_a_provider_status_updates_are_not_sent_rather_than_broken() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T13:00:00Z")); // 08:00 in New York
    let job = app.job(email_customer(&app, "Nadia Brooks").await).await;
    app.clock.set(utc("2026-11-23T13:31:00Z")); // the 08:30 update
    app.tick().await;
    app.clock.set(utc("2026-11-23T13:40:00Z"));
    app.tick().await;
    let updates = app.outbox("kind=status_update").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["state"], "not_sent_no_provider");
    let ps = app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"].as_array().unwrap().clone();
    let update = ps.iter().find(|p| p["kind"] == "status_update").expect("the update slot's promise");
    assert_eq!(update["outcome"], "not_sent", "{update}");
    let m = app.get("/api/v1/metrics/promises?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z").await.body;
    assert_eq!(m["overall"]["broken"], 0, "{m}");
    assert_eq!(m["overall"]["not_sent"], 1, "{m}");
    assert_eq!(m["by_kind"]["status_update"]["kept_rate"], Value::Null, "nothing decided either way: {m}");
    assert!(page(&app, job).await.contains("not sent (no provider)"));
}

/// A customer with both an email and a phone, in New York.
async fn both_channels(app: &TestApp) -> i64 {
    app.post(
        "/api/v1/customers",
        json!({"name": "Nadia Brooks", "phone": "+1 212 555 0199", "email": "nadia@example.test", "timezone": "America/New_York"}),
    )
    .await
    .id()
}

#[tokio::test]
async fn a_status_update_after_a_move_tells_it_as_news_instead_of_no_news() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z")); // 07:00 in New York
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.job(both_channels(&app).await).await;
    let visit = app.book(job, &[lena], "2026-11-24T11:00:00-05:00", "2026-11-24T12:00:00-05:00", 30).await.id();
    app.clock.set(utc("2026-11-23T13:31:00Z"));
    app.tick().await;
    let morning = app.outbox("kind=status_update&channel=email").await;
    assert!(morning[0]["body_text"].as_str().unwrap().contains("No news yet"), "nothing happened yet");

    app.clock.set(utc("2026-11-23T15:00:00Z")); // 10:00: the office moves the visit
    let r = app
        .patch(
            &format!("/api/v1/visits/{visit}"),
            json!({"window_start": "2026-11-24T14:00:00-05:00", "window_end": "2026-11-24T15:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock.set(utc("2026-11-23T21:31:00Z")); // the 16:30 update
    app.tick().await;
    let updates = app.outbox("kind=status_update&channel=email").await;
    assert_eq!(updates.len(), 2);
    let text = updates[1]["body_text"].as_str().unwrap();
    assert!(!text.contains("No news yet"), "a move is news: {text}");
    assert!(
        text.contains("We moved your work visit to Tuesday, November 24, between 2:00 PM and 3:00 PM EST"),
        "the move, once though it went by SMS and email: {text}"
    );
    assert_eq!(text.matches("We moved your").count(), 1, "{text}");
}

#[tokio::test]
async fn the_greeting_fits_the_hour_and_the_wording_follows_the_companys_update_times() {
    let app = spawn_app().await;
    let r = app.patch("/api/v1/organization", json!({"update_times": ["08:30", "12:00", "16:30", "19:58"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock.set(utc("2026-11-23T23:00:00Z")); // 18:00 in New York
    app.job(both_channels(&app).await).await;
    app.clock.set(utc("2026-11-24T00:58:30Z")); // 19:58:30
    app.tick().await;
    let sms = app.outbox("kind=status_update&channel=sms").await;
    assert_eq!(sms.len(), 1);
    let text = sms[0]["body_text"].as_str().unwrap();
    assert!(text.contains("Good evening"), "not 'Good afternoon' at 7:58 PM: {text}");
    let email = app.outbox("kind=status_update&channel=email").await;
    let text = email[0]["body_text"].as_str().unwrap();
    assert!(text.contains("four times a day") && !text.contains("twice a day"), "{text}");
    assert_eq!(email[0]["subject"].as_str().unwrap().split(':').next(), Some("Your evening update"));
}

#[tokio::test]
async fn a_question_about_the_estimate_is_acknowledged_at_once_with_when_we_will_answer() {
    let app = spawn_app().await;
    let job = app.job(email_customer(&app, "Nadia Brooks").await).await;
    let e = app
        .post(
            &format!("/api/v1/jobs/{job}/estimates"),
            json!({"tax_rate_bp": 825, "lines": [{"kind": "labor", "description": "Dry-out", "quantity": "2", "unit": "h", "unit_price_minor": 8500}]}),
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.body);
    let id = e.id();
    assert_eq!(app.post(&format!("/api/v1/estimates/{id}/send"), json!({})).await.status, StatusCode::OK);
    let m = app.outbox(&format!("kind=pricing_breakdown&job_id={job}")).await.remove(0);
    let body = m["body_text"].as_str().unwrap();
    let i = body.find("/c/").unwrap() + 3;
    let token = body[i..i + 40].to_string();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client
        .post(app.url(&format!("/c/{token}/estimates/{id}/question")))
        .form(&[("comment", "Does the price include moving the fridge?")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let html = client.get(app.url(&format!("/c/{token}"))).send().await.unwrap().text().await.unwrap();
    // Asked at 10:00 AM on Friday, November 20: answered within a day.
    assert!(html.contains("We have your question"), "{html}");
    assert!(html.contains("We'll answer by <strong>Saturday, November 21, 10:00 AM EST</strong>"), "{html}");
    let ps = app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"].as_array().unwrap().clone();
    let answer = ps.iter().find(|p| p["kind"] == "callback_by").expect("a promise to answer");
    assert_eq!(
        (answer["outcome"].as_str(), answer["due_at"].as_str()),
        (Some("pending"), Some("2026-11-21T15:00:00Z"))
    );

    // The office answers by message: the promise is kept.
    let r =
        app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Yes, moving the fridge is included."})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ps = app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"].as_array().unwrap().clone();
    let answer = ps.iter().find(|p| p["kind"] == "callback_by").unwrap();
    assert_eq!(answer["outcome"], "kept", "{answer}");
}
