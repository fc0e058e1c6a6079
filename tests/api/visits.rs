use crate::helpers::{spawn_app, utc};
use kept::domain::people::Role;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_booked_visit_comes_back_in_utc_and_in_the_customers_zone() {
    let app = spawn_app().await;
    let c = app.customer("Ananya Iyer", "Asia/Kolkata").await;
    let job = app.job(c).await;
    let tech = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let r = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["window_start"], "2026-11-23T14:00:00Z");
    assert_eq!(r.body["window_end"], "2026-11-23T16:00:00Z");
    assert_eq!(r.body["timezone"], "Asia/Kolkata");
    assert_eq!(r.body["window_start_local"], "2026-11-23T19:30:00+05:30");
    assert_eq!(r.body["window_end_local"], "2026-11-23T21:30:00+05:30");
    assert_eq!(r.body["status"], "scheduled");
    assert_eq!(r.body["staff_ids"], json!([tech]));
    let fetched = app.get(&format!("/api/v1/visits/{}", r.id())).await;
    assert_eq!(fetched.body["window_start_local"], "2026-11-23T19:30:00+05:30");
}

#[tokio::test]
async fn bad_windows_are_refused_with_the_field_and_nothing_is_booked() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let r = app.book(job, &[tech], "2026-11-23T11:00:00-05:00", "2026-11-23T09:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["window_end"]);
    // The organization's default maximum window is 4 hours.
    let r = app.book(job, &[tech], "2026-11-23T08:00:00-05:00", "2026-11-23T12:01:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["message"].as_str().unwrap().contains("240 minutes"), "{}", r.body);
    let r = app.book(job, &[tech], "2026-11-23T09:00:00", "tomorrow", 0).await;
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["duration_minutes", "window_end", "window_start"]);
    let r = app.book(job, &[], "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z", 30).await;
    assert_eq!(r.fields(), vec!["staff_ids"]);
    let r = app.book(job, &[tech, 99999], "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z", 30).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["staff_ids"]);
    let r = app.post(&format!("/api/v1/jobs/{job}/visits"), json!({"kind": "party", "staff_ids": [tech]})).await;
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["duration_minutes", "kind", "window_end", "window_start"]);
    let visits = app.get(&format!("/api/v1/jobs/{job}/visits")).await;
    assert_eq!(visits.body["items"], json!([]));
    let booked = app.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(booked.body["status"], "new", "a refused booking changes nothing");
}

#[tokio::test]
async fn a_visit_moves_through_its_day_and_impossible_moves_are_refused() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let v = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let status = |s: &'static str| json!({"status": s});
    let path = format!("/api/v1/visits/{v}/status");

    let r = app.post(&path, status("completed")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"], "invalid_transition");
    assert_eq!(r.body["allowed"], json!(["en_route", "arrived", "cancelled", "missed"]));

    app.clock.set(utc("2026-11-23T13:40:00Z"));
    assert_eq!(app.post(&path, status("en_route")).await.body["en_route_at"], "2026-11-23T13:40:00Z");
    app.clock.set(utc("2026-11-23T14:20:00Z"));
    assert_eq!(app.post(&path, status("arrived")).await.body["arrived_at"], "2026-11-23T14:20:00Z");
    assert_eq!(app.post(&path, status("en_route")).await.status, StatusCode::CONFLICT);
    app.clock.set(utc("2026-11-23T15:30:00Z"));
    let done = app.post(&path, status("completed")).await;
    assert_eq!(done.body["status"], "completed");
    assert_eq!(app.post(&path, status("cancelled")).await.status, StatusCode::CONFLICT);
    assert_eq!(app.post(&path, status("teleported")).await.fields(), vec!["status"]);

    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let arrived = tl.body["items"].as_array().unwrap().iter().find(|e| e["data"]["to"] == "arrived").unwrap().clone();
    assert_eq!(arrived["data"]["on_time"], true);
}

#[tokio::test]
async fn technicians_move_only_their_own_visits_and_cannot_book() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let v = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let tomas_token = app.token_for(Role::Technician, Some(tomas)).await;
    let lena_token = app.token_for(Role::Technician, Some(lena)).await;
    let body = json!({"status": "en_route"});
    let path = format!("/api/v1/visits/{v}/status");
    let r = app.send_as(&tomas_token, reqwest::Method::POST, &path, &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.send_as(&lena_token, reqwest::Method::POST, &path, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let book = json!({"kind": "work", "staff_ids": [lena], "window_start": "2026-11-24T09:00:00Z", "window_end": "2026-11-24T10:00:00Z", "duration_minutes": 30});
    let r = app.send_as(&lena_token, reqwest::Method::POST, &format!("/api/v1/jobs/{job}/visits"), &book).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rescheduling_and_reassigning_are_recorded() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let v = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let r = app
        .patch(&format!("/api/v1/visits/{v}"), json!({"window_start": "2026-11-24T13:00:00-05:00", "window_end": "2026-11-24T15:00:00-05:00", "staff_ids": [tomas]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["window_start"], "2026-11-24T18:00:00Z");
    assert_eq!(r.body["staff_ids"], json!([tomas]));
    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let kinds: Vec<&str> = tl.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| *k != "message")
        .collect();
    assert!(kinds.ends_with(&["visit_rescheduled", "visit_reassigned"]), "{kinds:?}");
    let r = app.patch(&format!("/api/v1/visits/{v}"), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.patch(&format!("/api/v1/visits/{v}"), json!({"window_end": "2026-11-24T12:00:00-05:00"})).await;
    assert_eq!(r.fields(), vec!["window_end"], "end before the stored start");
    app.post(&format!("/api/v1/visits/{v}/status"), json!({"status": "cancelled"})).await;
    let r = app.patch(&format!("/api/v1/visits/{v}"), json!({"duration_minutes": 30})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"], "visit_not_scheduled");
}
