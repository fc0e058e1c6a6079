//! The promise ledger over a simulated day, KPIs, ratings and the status page.

use crate::fakes::FakeSmtp;
use crate::helpers::{spawn_app_with, utc, TestApp, TestDb};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn email_customer(app: &TestApp, name: &str) -> i64 {
    let email = format!("{}@example.test", name.to_lowercase().replace(' ', "."));
    app.post("/api/v1/customers", json!({"name": name, "email": email, "timezone": "America/New_York"})).await.id()
}

async fn promises(app: &TestApp, job: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"].as_array().unwrap().clone()
}

fn summary(ps: &[Value]) -> Vec<(String, String)> {
    ps.iter().map(|p| (p["kind"].as_str().unwrap().to_string(), p["outcome"].as_str().unwrap().to_string())).collect()
}

/// Ticks every five minutes, as the cron would, until `until`.
async fn run_until(app: &TestApp, until: DateTime<Utc>) {
    while kept::clock::Clock::now(&app.clock) < until {
        app.clock.advance(Duration::minutes(5));
        app.tick().await;
    }
}

#[tokio::test]
async fn a_simulated_day_one_crew_on_time_one_late_and_a_missed_call_back() {
    let smtp = FakeSmtp::start().await;
    let app = spawn_app_with(TestDb::new().await, &smtp.env()).await;
    app.post("/api/v1/staff", json!({"name": "Priya Raman", "role": "dispatcher", "email": "priya@example.test", "timezone": "America/New_York"})).await;
    app.clock.set(utc("2026-11-23T12:00:00Z")); // 07:00 in New York
    let a = email_customer(&app, "Nadia Brooks").await;
    let b = email_customer(&app, "Walter Kim").await;
    let job_a = app.job(a).await;
    let job_b = app.job(b).await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let visit_a = app.book(job_a, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let visit_b = app.book(job_b, &[tomas], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 60).await.id();
    // "We'll call you back by noon" — and nobody does.
    let r = app
        .post(
            &format!("/api/v1/jobs/{job_a}/promises"),
            json!({"kind": "callback_by", "due_at": "2026-11-23T12:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Lena is on her way at 08:50 and arrives at 09:30.
    run_until(&app, utc("2026-11-23T13:50:00Z")).await;
    app.post(&format!("/api/v1/visits/{visit_a}/status"), json!({"status": "en_route"})).await;
    run_until(&app, utc("2026-11-23T14:30:00Z")).await;
    app.post(&format!("/api/v1/visits/{visit_a}/status"), json!({"status": "arrived"})).await;
    // Tomas is not on his way 30 minutes before his window closes: the office hears it.
    let alerts = app.outbox("kind=dispatcher_alert").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["recipient"], "priya@example.test");
    assert!(alerts[0]["subject"].as_str().unwrap().contains("at risk"));
    let at_risk = app.get("/api/v1/promises?at_risk=true").await;
    assert_eq!(at_risk.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(at_risk.body["items"][0]["visit_id"], visit_b);

    // 10:00 passes: broken. 15 minutes later: an apology and a call-back promise.
    run_until(&app, utc("2026-11-23T15:20:00Z")).await;
    let late = app.outbox(&format!("kind=running_late&job_id={job_b}")).await;
    assert_eq!(late.len(), 1);
    let text = late[0]["body_text"].as_str().unwrap();
    assert!(text.contains("running late") && text.contains("That's on us"), "{text}");
    assert!(text.contains("We will call you by 10:"), "{text}");
    // The office sets a new window: the customer hears it, and it is recorded as a new promise.
    let r = app
        .patch(
            &format!("/api/v1/visits/{visit_b}"),
            json!({"window_start": "2026-11-23T11:30:00-05:00", "window_end": "2026-11-23T12:30:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let late = app.outbox(&format!("kind=running_late&job_id={job_b}")).await;
    assert_eq!(late.len(), 2);
    assert!(
        late[1]["body_text"].as_str().unwrap().contains("between 11:30 AM and 12:30 PM EST"),
        "{}",
        late[1]["body_text"]
    );
    run_until(&app, utc("2026-11-23T16:40:00Z")).await;
    app.post(&format!("/api/v1/visits/{visit_b}/status"), json!({"status": "arrived"})).await;
    run_until(&app, utc("2026-11-23T23:55:00Z")).await;

    let ledger_a = promises(&app, job_a).await;
    let s = |k: &str, o: &str| (k.to_string(), o.to_string());
    assert_eq!(
        summary(&ledger_a),
        vec![
            s("status_update", "kept"),
            s("arrival_window", "kept"),
            s("callback_by", "broken"),
            s("status_update", "kept")
        ]
    );
    assert_eq!(ledger_a[1]["evidence"]["visit_status"], "arrived");
    assert_eq!(ledger_a[1]["due_at_local"], "2026-11-23T11:00:00-05:00");
    let ledger_b = promises(&app, job_b).await;
    assert_eq!(
        summary(&ledger_b),
        vec![
            s("status_update", "kept"),
            s("arrival_window", "broken"),
            s("callback_by", "kept"),
            s("arrival_window", "kept"),
            s("status_update", "kept")
        ]
    );
    let broken_id = ledger_b[1]["id"].clone();
    assert_eq!(ledger_b[3]["renegotiates"], broken_id, "the new window renegotiates the missed one");
    assert_eq!(ledger_b[1]["evidence"]["reason"], "no arrival by the end of the window");

    // KPIs, computed by hand from the two ledgers above.
    let m = app.get("/api/v1/metrics/promises?from=2026-11-23T00:00:00-05:00&to=2026-11-24T00:00:00-05:00").await.body;
    assert_eq!(m["overall"]["total"], 9);
    assert_eq!(m["overall"]["kept"], 7);
    assert_eq!(m["overall"]["broken"], 2);
    assert_eq!(m["overall"]["kept_rate"], 0.7778);
    assert_eq!(m["by_kind"]["arrival_window"]["kept_rate"], 0.6667);
    assert_eq!(m["by_kind"]["status_update"]["kept_rate"], 1.0);
    assert_eq!(m["by_kind"]["callback_by"]["kept_rate"], 0.5);
    let by_staff: Vec<(String, Value)> = m["by_staff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["kept_rate"].clone()))
        .collect();
    assert!(by_staff.contains(&("Lena Okafor".into(), json!(1.0))), "{by_staff:?}");
    assert!(by_staff.contains(&("Tomas Reyes".into(), json!(0.5))), "{by_staff:?}");
    assert_eq!(m["arrivals"]["decided"], 3);
    assert_eq!(m["arrivals"]["on_time"], 2);
    assert_eq!(m["arrivals"]["late_by_minutes"], json!({"0-15": 0, "15-30": 0, "30+": 1}));
    assert_eq!(m["status_updates"]["on_time_rate"], 1.0);
}

#[tokio::test]
async fn arriving_late_is_bucketed_by_minutes_and_an_estimate_keeps_its_promise() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let c = email_customer(&app, "Oliver Grant").await;
    let job = app.job(c).await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let r = app.post(&format!("/api/v1/jobs/{job}/visits"), json!({"kind": "estimate", "staff_ids": [marcus], "window_start": "2026-11-23T09:00:00-05:00", "window_end": "2026-11-23T10:00:00-05:00", "duration_minutes": 60})).await;
    let v = r.id();
    app.clock.set(utc("2026-11-23T15:20:00Z")); // 20 minutes after the window
    app.post(&format!("/api/v1/visits/{v}/status"), json!({"status": "arrived"})).await;
    let ps = promises(&app, job).await;
    let arrival = ps.iter().find(|p| p["kind"] == "arrival_window").unwrap();
    assert_eq!((arrival["outcome"].as_str(), arrival["lateness_minutes"].as_i64()), (Some("broken"), Some(20)));
    let estimate_by = ps.iter().find(|p| p["kind"] == "estimate_by").unwrap();
    assert_eq!(estimate_by["due_at"], "2026-11-25T15:00:00Z", "48 hours after the visit window");
    let e = app.post(&format!("/api/v1/jobs/{job}/estimates"), json!({"lines": [{"kind": "fee", "description": "Inspection", "quantity": "1", "unit_price_minor": 15000}]})).await;
    app.clock.set(utc("2026-11-24T15:00:00Z"));
    app.post(&format!("/api/v1/estimates/{}/send", e.id()), json!({})).await;
    let ps = promises(&app, job).await;
    assert_eq!(ps.iter().find(|p| p["kind"] == "estimate_by").unwrap()["outcome"], "kept");
    let m = app.get("/api/v1/metrics/promises?from=2026-11-23T00:00:00Z&to=2026-11-26T00:00:00Z").await.body;
    assert_eq!(m["arrivals"]["late_by_minutes"]["15-30"], 1);
    assert_eq!(m["estimate_turnaround"]["average_hours"], 24.0);
}

#[tokio::test]
async fn a_low_rating_opens_a_follow_up_and_the_customer_hears_what_we_did() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let c = email_customer(&app, "Walter Kim").await;
    let job = app.job(c).await;
    app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    let thanks = app.outbox("kind=thank_you").await;
    assert_eq!(thanks.len(), 1);
    let body = thanks[0]["body_text"].as_str().unwrap();
    let i = body.find("/c/").unwrap() + 3;
    let token = &body[i..i + 40];
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = client.get(app.url(&format!("/c/{token}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("How did we do?"), "{page}");
    let r = client
        .post(app.url(&format!("/c/{token}/rating")))
        .form(&[("score", "2"), ("comment", "Left dust everywhere")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let again = client.post(app.url(&format!("/c/{token}/rating"))).form(&[("score", "5")]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT, "one rating per job");
    let tasks = app.get("/api/v1/tasks?status=open").await.body["items"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0]["note"].as_str().unwrap().contains("Left dust everywhere"));
    let alert = app.outbox("kind=dispatcher_alert").await;
    assert_eq!(alert.len(), 1);
    assert_eq!(alert[0]["recipient"], "owner@example.test", "the manager (admin) hears about it");
    let r = app.patch(&format!("/api/v1/tasks/{}", tasks[0]["id"]), json!({"status": "done", "resolution": "Lena came back on Tuesday and cleaned up; we refunded the disposal fee."})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let told = app.outbox("kind=follow_up_resolution").await;
    assert_eq!(told.len(), 1);
    assert!(told[0]["body_text"].as_str().unwrap().contains("refunded the disposal fee"));
    let m = app.get("/api/v1/metrics/promises?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z").await.body;
    assert_eq!((m["rating"]["count"].as_i64(), m["rating"]["average"].as_f64()), (Some(1), Some(2.0)));
    // A high rating opens nothing.
    let c2 = email_customer(&app, "Ananya Iyer").await;
    let job2 = app.job(c2).await;
    app.patch(&format!("/api/v1/jobs/{job2}"), json!({"status": "completed"})).await;
    let body = app.outbox(&format!("kind=thank_you&job_id={job2}")).await[0]["body_text"].as_str().unwrap().to_string();
    let i = body.find("/c/").unwrap() + 3;
    client.post(app.url(&format!("/c/{}/rating", &body[i..i + 40]))).form(&[("score", "5")]).send().await.unwrap();
    assert_eq!(app.get("/api/v1/tasks?status=open").await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_status_page_shows_this_customers_promises_and_nobody_elses() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let a = email_customer(&app, "Nadia Brooks").await;
    let b = email_customer(&app, "Walter Kim").await;
    let job_a = app.job(a).await;
    let r =
        app.post("/api/v1/jobs", json!({"customer_id": b, "title": "Secret attic project", "story": "private"})).await;
    let job_b = r.id();
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(job_a, &[lena], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await;
    app.book(job_b, &[lena], "2026-11-24T13:00:00-05:00", "2026-11-24T15:00:00-05:00", 60).await;
    app.tick().await;
    let intro = app.outbox(&format!("kind=introduction&job_id={job_a}")).await.remove(0);
    let body = intro["body_text"].as_str().unwrap();
    let i = body.find("/c/").unwrap() + 3;
    let token = body[i..i + 40].to_string();
    let page = reqwest::get(app.url(&format!("/c/{token}"))).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Our promises to you")
            && html.contains("Arrive Tuesday, November 24, between 9:00 AM and 11:00 AM EST"),
        "{html}"
    );
    assert!(html.contains("Lena Okafor") && html.contains("What we told you"), "{html}");
    for secret in ["Walter", "Secret attic", "1:00 PM"] {
        assert!(!html.contains(secret), "{secret} leaked into Nadia's page");
    }
    // Closed for more than 30 days: the link has expired. (A job with a
    // visit still booked cannot be completed; the office cancels it first.)
    let visit_a = app.get(&format!("/api/v1/jobs/{job_a}")).await.body["visits"][0]["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/visits/{visit_a}/status"), json!({"status": "cancelled"})).await;
    let done = app.patch(&format!("/api/v1/jobs/{job_a}"), json!({"status": "completed"})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    app.clock.advance(Duration::days(31));
    assert_eq!(reqwest::get(app.url(&format!("/c/{token}"))).await.unwrap().status(), StatusCode::NOT_FOUND);
}
