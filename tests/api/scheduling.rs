//! The booking rule that keeps promises, and a person's day.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn booking_an_overlapping_visit_returns_409_naming_the_conflict() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let first = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T09:30:00-05:00", 120).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let r = app.book(job, &[tech], "2026-11-23T10:00:00-05:00", "2026-11-23T10:30:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"], "schedule_conflict");
    assert_eq!(r.body["staff_id"], tech);
    assert_eq!(r.body["conflicting_visit_ids"], json!([first.id()]));
    assert_eq!(r.body["conflicting_visits"][0]["window_start_local"], "2026-11-23T09:00:00-05:00");
    assert!(r.body["message"].as_str().unwrap().contains("Lena Okafor"), "{}", r.body);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}/visits")).await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_travel_buffer_is_respected_to_the_minute() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    // Done by 10:00 at the latest; with 30 minutes of travel the next arrival is 10:30.
    assert_eq!(
        app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T09:00:00-05:00", 60).await.status,
        StatusCode::CREATED
    );
    let r = app.book(job, &[tech], "2026-11-23T10:00:00-05:00", "2026-11-23T10:29:00-05:00", 30).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = app.book(job, &[tech], "2026-11-23T10:00:00-05:00", "2026-11-23T10:30:00-05:00", 30).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // With the buffer at 0, a visit that fits only without travel is accepted.
    let r = app.patch("/api/v1/organization", json!({"travel_buffer_minutes": 0})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.book(job, &[tech], "2026-11-23T11:00:00-05:00", "2026-11-23T11:00:00-05:00", 15).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn a_day_that_only_works_in_a_different_order_is_accepted() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    // An 8:00-10:30 window, then a fixed 8:30 appointment: feasible only as 8:30, then the wide one.
    assert_eq!(
        app.book(job, &[tech], "2026-11-23T08:00:00-05:00", "2026-11-23T10:30:00-05:00", 60).await.status,
        StatusCode::CREATED
    );
    let r = app.book(job, &[tech], "2026-11-23T08:30:00-05:00", "2026-11-23T08:30:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Now the day is full: 8:30-9:30, travel, 10:00-11:00; a third 60-minute visit closing at 11:15 cannot fit.
    let r = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:15:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}

#[tokio::test]
async fn cancelled_visits_free_the_day_and_other_people_are_not_affected() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let v = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T09:30:00-05:00", 120).await.id();
    assert_eq!(
        app.book(job, &[tomas], "2026-11-23T09:00:00-05:00", "2026-11-23T09:30:00-05:00", 120).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.book(job, &[lena, tomas], "2026-11-23T09:15:00-05:00", "2026-11-23T09:30:00-05:00", 30).await.status,
        StatusCode::CONFLICT
    );
    app.post(&format!("/api/v1/visits/{v}/status"), json!({"status": "cancelled"})).await;
    let r = app.book(job, &[lena], "2026-11-23T09:15:00-05:00", "2026-11-23T09:30:00-05:00", 30).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn rescheduling_or_reassigning_into_a_conflict_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let a = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T09:30:00-05:00", 60).await.id();
    let b = app.book(job, &[lena], "2026-11-23T13:00:00-05:00", "2026-11-23T13:30:00-05:00", 60).await.id();
    let t = app.book(job, &[tomas], "2026-11-23T13:00:00-05:00", "2026-11-23T13:00:00-05:00", 60).await.id();
    // Moving b onto a is refused...
    let r = app
        .patch(
            &format!("/api/v1/visits/{b}"),
            json!({"window_start": "2026-11-23T09:00:00-05:00", "window_end": "2026-11-23T09:15:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["conflicting_visit_ids"], json!([a]));
    // ...and so is handing it to Tomas, who is busy at 13:00.
    let r = app.patch(&format!("/api/v1/visits/{b}"), json!({"staff_ids": [tomas]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["conflicting_visit_ids"], json!([t]));
    let unchanged = app.get(&format!("/api/v1/visits/{b}")).await;
    assert_eq!(unchanged.body["window_start"], "2026-11-23T18:00:00Z");
    assert_eq!(unchanged.body["staff_ids"], json!([lena]));
    // Moving a visit within its own old slot never conflicts with itself.
    let r = app.patch(&format!("/api/v1/visits/{b}"), json!({"window_end": "2026-11-23T13:45:00-05:00"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_schedule_is_the_persons_local_day_in_order_even_on_a_dst_day() {
    let app = spawn_app().await;
    let c = app.customer("Walter Kim", "America/Los_Angeles").await;
    let job = app.job(c).await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    // 2026-03-08: New York springs forward at 02:00. The local day runs 05:00Z to 04:00Z.
    let early = app.book(job, &[tech], "2026-03-08T00:30:00-05:00", "2026-03-08T01:00:00-05:00", 30).await.id();
    let late = app.book(job, &[tech], "2026-03-08T23:00:00-04:00", "2026-03-08T23:30:00-04:00", 30).await.id();
    let mid = app.book(job, &[tech], "2026-03-08T09:00:00-04:00", "2026-03-08T10:00:00-04:00", 30).await.id();
    let before = app.book(job, &[tech], "2026-03-07T23:00:00-05:00", "2026-03-07T23:10:00-05:00", 10).await.id();
    let after = app.book(job, &[tech], "2026-03-09T01:00:00-04:00", "2026-03-09T01:00:00-04:00", 10).await.id();
    for id in [early, late, mid, before, after] {
        assert!(id > 0);
    }
    let day = app.get(&format!("/api/v1/staff/{tech}/schedule?date=2026-03-08")).await;
    assert_eq!(day.status, StatusCode::OK, "{}", day.body);
    assert_eq!(day.body["day_start"], "2026-03-08T05:00:00Z");
    assert_eq!(day.body["day_end"], "2026-03-09T04:00:00Z");
    let ids: Vec<i64> =
        day.body["visits"].as_array().unwrap().iter().map(|v| v["visit"]["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![early, mid, late]);
    let first = &day.body["visits"][0];
    assert_eq!(first["window_start_staff_local"], "2026-03-08T00:30:00-05:00");
    assert_eq!(first["visit"]["window_start_local"], "2026-03-07T21:30:00-08:00", "the customer sees Los Angeles time");
    assert_eq!(first["job"]["story"], "Water under the sink.");
    assert_eq!(first["customer"]["address"], "1 Main St");
    assert_eq!(app.get(&format!("/api/v1/staff/{tech}/schedule?date=08-03-2026")).await.fields(), vec!["date"]);
}

#[tokio::test]
async fn a_kolkata_crews_day_starts_at_half_past_six_utc_the_evening_before() {
    let app = spawn_app().await;
    let c = app.customer("Ananya Iyer", "Asia/Kolkata").await;
    let job = app.job(c).await;
    let tech = app.staff("Ravi Menon", "technician", "Asia/Kolkata").await;
    let in_day = app.book(job, &[tech], "2026-11-22T18:30:00Z", "2026-11-22T19:00:00Z", 30).await.id();
    let day_before = app.book(job, &[tech], "2026-11-22T18:00:00Z", "2026-11-22T18:00:00Z", 15).await.id();
    assert!(day_before > 0);
    let day = app.get(&format!("/api/v1/staff/{tech}/schedule?date=2026-11-23")).await;
    assert_eq!(day.body["day_start"], "2026-11-22T18:30:00Z");
    let ids: Vec<i64> =
        day.body["visits"].as_array().unwrap().iter().map(|v| v["visit"]["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![in_day]);
    assert_eq!(day.body["visits"][0]["window_start_staff_local"], "2026-11-23T00:00:00+05:30");
}

#[tokio::test]
async fn the_offices_day_takes_each_persons_day_in_their_own_zone() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let kenji = app.staff("Kenji Sato", "technician", "Asia/Tokyo").await;
    // Monday, Nov 23, for each of them: 10:00 in Tokyo is still Sunday in
    // New York, and 19:00 in New York is already Tuesday in Tokyo.
    let kenjis_monday = app.book(job, &[kenji], "2026-11-23T10:00:00+09:00", "2026-11-23T12:00:00+09:00", 60).await;
    let lenas_monday = app.book(job, &[lena], "2026-11-23T19:00:00-05:00", "2026-11-23T21:00:00-05:00", 60).await;
    // 09:00 on Tuesday in Tokyo falls inside Monday in New York, but it is Kenji's Tuesday.
    let kenjis_tuesday = app.book(job, &[kenji], "2026-11-24T09:00:00+09:00", "2026-11-24T11:00:00+09:00", 60).await;
    for r in [&kenjis_monday, &lenas_monday, &kenjis_tuesday] {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let people = kept::store::staff::all(&app.state.db, app.org_id).await.unwrap();
    assert_eq!(people.len(), 3, "the owner and the two technicians");
    let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let day = kept::store::visits::days_of(&app.state.db, app.org_id, &people, monday).await.unwrap();
    let ids: Vec<i64> = day.iter().map(|e| e.visit.visit.id).collect();
    assert_eq!(ids, vec![kenjis_monday.id(), lenas_monday.id()], "in window order, each in its person's day");
    // The same as reading each person's day on its own.
    let mut one_by_one = Vec::new();
    for p in &people {
        let (_, _, _, entries) = kept::store::visits::day_of(&app.state.db, app.org_id, p, monday).await.unwrap();
        one_by_one.extend(entries.into_iter().map(|e| e.visit.visit.id));
    }
    one_by_one.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(one_by_one, sorted);
}
