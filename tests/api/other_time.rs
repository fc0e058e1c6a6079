//! The homeowner picks another time from their page: only times that keep
//! every promise already made, the office is told, and the promise is
//! renegotiated (agreed), not broken. The company can turn it off.

use crate::helpers::{spawn_app, utc, TestApp};
use reqwest::StatusCode;
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn link(app: &TestApp, job: i64) -> String {
    let messages = app.outbox(&format!("job_id={job}")).await;
    let body = messages.iter().filter_map(|m| m["body_text"].as_str()).find(|b| b.contains("/c/")).unwrap().to_string();
    let i = body.find("/c/").unwrap() + 3;
    format!("/c/{}", &body[i..i + 40])
}

/// The `window` values of the page's "Need another time?" buttons.
fn offered(html: &str) -> Vec<String> {
    html.split("name=\"window\" value=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_customer_moves_their_visit_to_an_offered_time_and_the_office_hears_of_it() {
    let app = spawn_app().await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let job = app.ny_job().await;
    let visit = app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let page = link(&app, job).await;
    let html = client().get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Need another time?"), "{html}");
    let times = offered(&html);
    assert!(!times.is_empty() && times.len() <= 4, "{times:?}");
    let (start, end) = times[0].split_once('|').unwrap();
    let (start, end) = (start.parse::<i64>().unwrap(), end.parse::<i64>().unwrap());
    assert_ne!(start, utc("2026-11-23T09:00:00-05:00").timestamp(), "not the time it already has");
    assert_eq!(end - start, 2 * 3600, "the same width of window");

    // A time the page did not offer is refused, and nothing moves.
    let r = client()
        .post(app.url(&format!("{page}/visits/{visit}/reschedule")))
        .form(&[("window", "1795435200|1795442400")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let before = app.get(&format!("/api/v1/visits/{visit}")).await.body;
    assert_eq!(utc(before["window_start"].as_str().unwrap()), utc("2026-11-23T09:00:00-05:00"));

    let r = client()
        .post(app.url(&format!("{page}/visits/{visit}/reschedule")))
        .form(&[("window", times[0].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), page);
    let moved = app.get(&format!("/api/v1/visits/{visit}")).await.body;
    assert_eq!(utc(moved["window_start"].as_str().unwrap()).timestamp(), start);
    // The office is told; the old promise was renegotiated, not broken.
    let alerts = app.outbox("kind=dispatcher_alert").await;
    assert!(
        alerts.iter().any(|m| m["body_text"].as_str().unwrap_or("").contains("moved their work visit to")),
        "{alerts:?}"
    );
    let promises = app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"].as_array().unwrap().clone();
    let arrivals: Vec<&serde_json::Value> = promises.iter().filter(|p| p["kind"] == "arrival_window").collect();
    assert!(arrivals.iter().any(|p| p["outcome"] == "renegotiated"), "{promises:?}");
    assert!(!arrivals.iter().any(|p| p["outcome"] == "broken"), "{promises:?}");
    assert!(arrivals.iter().any(|p| p["outcome"] == "pending"), "the new window is promised: {promises:?}");
}

#[tokio::test]
async fn a_company_that_takes_changes_by_phone_turns_it_off() {
    let app = spawn_app().await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let job = app.ny_job().await;
    let visit = app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let page = link(&app, job).await;
    let times = offered(&client().get(app.url(&page)).send().await.unwrap().text().await.unwrap());
    assert!(!times.is_empty());
    let r = app.patch("/api/v1/organization", json!({"customers_may_reschedule": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["customers_may_reschedule"], false);
    let html = client().get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("Need another time?"));
    let r = client()
        .post(app.url(&format!("{page}/visits/{visit}/reschedule")))
        .form(&[("window", times[0].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("call"), "says how to change it instead");
    let still = app.get(&format!("/api/v1/visits/{visit}")).await.body;
    assert_eq!(utc(still["window_start"].as_str().unwrap()), utc("2026-11-23T09:00:00-05:00"));
}
