//! N simultaneous bookings that only fit one at a time: exactly one wins.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_bookings_for_one_person_end_with_exactly_one_success() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    // Different jobs (and so different rows) all wanting Lena at 9:00 for two hours.
    let mut jobs = Vec::new();
    for _ in 0..12 {
        jobs.push(app.ny_job().await);
    }
    for round in 0..3 {
        let day = 23 + round;
        let requests = jobs.iter().map(|job| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/v1/jobs/{job}/visits"));
            let token = app.token.clone();
            let body = json!({"kind": "work", "staff_ids": [tech],
                "window_start": format!("2026-11-{day}T09:00:00-05:00"), "window_end": format!("2026-11-{day}T10:00:00-05:00"), "duration_minutes": 120});
            tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await.map(|r| r.status()) })
        });
        let statuses: Vec<StatusCode> = futures::future::join_all(requests)
            .await
            .into_iter()
            .map(|r| r.expect("task").expect("response"))
            .collect();
        let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
        let conflicts = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
        assert_eq!((created, conflicts), (1, jobs.len() - 1), "round {round}: {statuses:?}");
        let day = app.get(&format!("/api/v1/staff/{tech}/schedule?date=2026-11-{day}")).await;
        assert_eq!(day.body["visits"].as_array().unwrap().len(), 1, "exactly one visit stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_reschedules_onto_one_slot_end_with_exactly_one_success() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    let mut visits = Vec::new();
    for hour in [7, 10, 13, 16, 19] {
        let start = format!("2026-11-23T{hour:02}:00:00-05:00");
        let r = app.book(job, &[tech], &start, &start, 60).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        visits.push(r.id());
    }
    let moves = visits.iter().map(|v| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/visits/{v}"));
        let token = app.token.clone();
        let body = json!({"window_start": "2026-11-24T09:00:00-05:00", "window_end": "2026-11-24T09:00:00-05:00"});
        tokio::spawn(async move { client.patch(url).bearer_auth(token).json(&body).send().await.map(|r| r.status()) })
    });
    let statuses: Vec<StatusCode> =
        futures::future::join_all(moves).await.into_iter().map(|r| r.expect("task").expect("response")).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), visits.len() - 1, "{statuses:?}");
}
