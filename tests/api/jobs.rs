use crate::helpers::{spawn_app, utc};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_job_keeps_the_customers_story_and_starts_its_timeline() {
    let app = spawn_app().await;
    let c = app.customer("Nadia Brooks", "America/New_York").await;
    let story = "Water came up through the floor drain overnight. The first company never showed up.";
    let r = app.post("/api/v1/jobs", json!({"customer_id": c, "title": "Basement flooded", "story": story})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "new");
    let job = app.get(&format!("/api/v1/jobs/{}", r.id())).await;
    assert_eq!(job.body["story"], story);
    assert_eq!(job.body["customer"]["name"], "Nadia Brooks");
    assert_eq!(job.body["visits"], json!([]));
    let tl = app.get(&format!("/api/v1/jobs/{}/timeline", r.id())).await;
    assert_eq!(tl.body["items"][0]["kind"], "job_created");
    // 15:00Z is 10:00 in New York on 2026-11-20.
    assert_eq!(tl.body["items"][0]["at_local"], "2026-11-20T10:00:00-05:00");
}

#[tokio::test]
async fn a_job_needs_a_customer_of_our_own_and_a_title() {
    let app = spawn_app().await;
    let r = app.post("/api/v1/jobs", json!({"customer_id": 999, "title": "Leak"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["customer_id"]);
    let r = app.post("/api/v1/jobs", json!({})).await;
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["customer_id", "title"]);
}

#[tokio::test]
async fn booking_then_working_moves_the_job_and_everything_lands_on_the_timeline() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let v = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 120).await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.body);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "scheduled");

    let note = app.post(&format!("/api/v1/jobs/{job}/notes"), json!({"text": "Parts ordered"})).await;
    assert_eq!(note.status, StatusCode::CREATED);
    app.clock.set(utc("2026-11-23T14:05:00Z"));
    let r = app.post(&format!("/api/v1/visits/{}/status", v.id()), json!({"status": "en_route"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "in_progress");

    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let kinds: Vec<&str> = tl.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| *k != "message")
        .collect();
    assert_eq!(kinds, vec!["job_created", "visit_booked", "job_status", "note", "visit_status", "job_status"]);
    let messages = tl.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "message").count();
    assert_eq!(messages, 4, "introduction and on-my-way, by sms and email");

    let done = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(done.body["status"], "completed");
    let closed = app.book(job, &[tech], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await;
    assert_eq!(closed.status, StatusCode::CONFLICT);
    assert_eq!(closed.body["error"], "job_closed");
}

#[tokio::test]
async fn jobs_can_be_listed_by_status_and_customer() {
    let app = spawn_app().await;
    let a = app.customer("A", "UTC").await;
    let b = app.customer("B", "UTC").await;
    let ja = app.job(a).await;
    app.job(b).await;
    let r = app.get(&format!("/api/v1/jobs?customer_id={a}")).await;
    let ids: Vec<i64> = r.body["items"].as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![ja]);
    assert_eq!(app.get("/api/v1/jobs?status=new").await.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(app.get("/api/v1/jobs?status=bogus").await.fields(), vec!["status"]);
}
