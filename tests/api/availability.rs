//! Suggested windows: every one books as it is, the rank is the one
//! documented, the times are the customer's, and a booking that loses its
//! window to someone else is offered the next ones.

use crate::helpers::{spawn_app, utc, TestApp};
use kept::domain::people::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_else(|| panic!("no items in {body}"))
}

/// Books an offered window as it is, for a `kind` visit of `minutes`.
async fn book_offer(
    app: &TestApp,
    token: &str,
    job: i64,
    offer: &Value,
    kind: &str,
    minutes: i64,
) -> crate::helpers::Reply {
    app.send_as(
        token,
        reqwest::Method::POST,
        &format!("/api/v1/jobs/{job}/visits"),
        &json!({"kind": kind, "staff_ids": offer["staff_ids"], "window_start": offer["window_start"],
                "window_end": offer["window_end"], "duration_minutes": minutes}),
    )
    .await
}

fn assert_ranked(offers: &[Value]) {
    let keys: Vec<(chrono::DateTime<chrono::Utc>, i64)> = offers
        .iter()
        .map(|o| (utc(o["window_start"].as_str().unwrap()), o["added_travel_minutes"].as_i64().unwrap()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "earliest first, then least added travel");
}

#[tokio::test]
async fn every_suggested_window_books_as_it_is_asked_again_after_each_booking() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/Los_Angeles").await;
    let ines = app.staff("Ines Duarte", "technician", "America/Chicago").await;
    // Promises already made, which the suggestions must keep.
    for (who, start, end, minutes) in [
        (lena, "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60),
        (lena, "2026-11-23T13:00:00-05:00", "2026-11-23T13:30:00-05:00", 90),
        (tomas, "2026-11-23T08:00:00-08:00", "2026-11-23T12:00:00-08:00", 180),
        (ines, "2026-11-24T08:00:00-06:00", "2026-11-24T08:00:00-06:00", 240),
    ] {
        let other = app.ny_job().await;
        let r = app.book(other, &[who], start, end, minutes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let ask = format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=90&window_minutes=60&from=2026-11-23&days=3&limit=12");
    for round in 0..10 {
        let r = app.get(&ask).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let offers = items(&r.body);
        assert_eq!(offers.len(), 12, "round {round}");
        assert_ranked(&offers);
        for o in &offers {
            let (start, end) = (utc(o["window_start"].as_str().unwrap()), utc(o["window_end"].as_str().unwrap()));
            assert_eq!((end - start).num_minutes(), 60, "{o}");
            assert_eq!(o["staff_ids"], json!([o["staff_id"]]));
            assert_eq!(o["timezone"], "America/New_York");
        }
        // Take a different one each round, and now and then several of one answer.
        let pick = &offers[(round * 5) % offers.len()];
        let booked = book_offer(&app, &app.token, job, pick, "work", 90).await;
        assert_eq!(booked.status, StatusCode::CREATED, "round {round}: {pick} -> {}", booked.body);
        assert_eq!(booked.body["window_start"], pick["window_start"]);
        assert_eq!(booked.body["staff_ids"], pick["staff_ids"]);
    }
    let visits = app.get(&format!("/api/v1/jobs/{job}/visits")).await;
    assert_eq!(visits.body["items"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn windows_keep_working_hours_the_buffer_and_the_clock() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    // Now is Friday 10:05 in New York: the first window opens at 10:30 on the grid.
    app.clock.set(utc("2026-11-20T15:05:00Z"));
    let r = app.get(&format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=60")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let offers = items(&r.body);
    assert_eq!(offers.len(), 20, "the default limit");
    assert_eq!(offers[0]["window_start"], "2026-11-20T15:30:00Z");
    assert_eq!(offers[0]["window_end"], "2026-11-20T17:30:00Z", "120 minutes by default");
    assert_eq!(offers[0]["added_travel_minutes"], 0, "an empty day");
    // A two-hour window and an hour's work end by 17:00: the last start is 14:00.
    let friday: Vec<&str> = offers
        .iter()
        .filter_map(|o| o["window_start_local"].as_str())
        .filter(|s| s.starts_with("2026-11-20"))
        .collect();
    assert_eq!(friday.last(), Some(&"2026-11-20T14:00:00-05:00"));
    // The weekend is off; Monday starts at 08:00.
    assert!(offers.iter().any(|o| o["window_start_local"] == "2026-11-23T08:00:00-05:00"));
    assert!(!offers.iter().any(|o| o["window_start_local"].as_str().unwrap().starts_with("2026-11-21")));

    // A visit on Monday at 08:00 (60 minutes on site): the next window is an
    // hour and a half later (work, then the 30-minute buffer), and adds travel.
    let other = app.ny_job().await;
    let r = app.book(other, &[lena], "2026-11-23T08:00:00-05:00", "2026-11-23T08:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .get(&format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=60&window_minutes=0&from=2026-11-23&days=1&limit=3"))
        .await;
    let offers = items(&r.body);
    let starts: Vec<&str> = offers.iter().map(|o| o["window_start_local"].as_str().unwrap()).collect();
    assert_eq!(starts, vec!["2026-11-23T09:30:00-05:00", "2026-11-23T10:00:00-05:00", "2026-11-23T10:30:00-05:00"]);
    assert!(offers.iter().all(|o| o["added_travel_minutes"] == 30), "{offers:?}");
    // A Saturday alone offers nothing.
    let r = app
        .get(&format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=60&from=2026-11-21&days=1"))
        .await;
    assert_eq!(r.body, json!({"items": []}));
}

#[tokio::test]
async fn the_people_asked_about_are_those_whose_role_makes_the_visit_unless_named() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let priya = app.staff("Priya Raman", "dispatcher", "America/New_York").await;
    let who = |body: &Value| {
        let mut ids: Vec<i64> = items(body).iter().map(|o| o["staff_id"].as_i64().unwrap()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let ask = |kind: &str, extra: &str| {
        format!(
            "/api/v1/availability?job_id={job}&kind={kind}&duration_minutes=60&from=2026-11-23&days=1&limit=40{extra}"
        )
    };
    assert_eq!(who(&app.get(&ask("estimate", "")).await.body), vec![marcus]);
    assert_eq!(who(&app.get(&ask("work", "")).await.body), vec![lena]);
    assert_eq!(who(&app.get(&ask("follow_up", "")).await.body), vec![lena]);
    let named = app.get(&ask("estimate", &format!("&staff_ids={priya},{lena}"))).await;
    assert_eq!(who(&named.body), vec![lena, priya]);
}

#[tokio::test]
async fn a_missing_or_wrong_parameter_is_422_naming_it() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let fields = |r: &crate::helpers::Reply| {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let mut f = r.fields();
        f.sort();
        f
    };
    let r = app.get("/api/v1/availability").await;
    assert_eq!(fields(&r), vec!["duration_minutes", "job_id", "kind"]);
    let r = app
        .get("/api/v1/availability?job_id=abc&kind=party&duration_minutes=0&window_minutes=-5&from=tomorrow&days=15&staff_ids=4,x&limit=101")
        .await;
    assert_eq!(
        fields(&r),
        vec!["days", "duration_minutes", "from", "job_id", "kind", "limit", "staff_ids", "window_minutes"]
    );
    for (extra, field) in [
        ("&duration_minutes=721", "duration_minutes"),
        ("&duration_minutes=60&days=0", "days"),
        ("&duration_minutes=60&limit=0", "limit"),
        ("&duration_minutes=60&staff_ids=", "staff_ids"),
        // The organization's maximum window is 240 minutes.
        ("&duration_minutes=60&window_minutes=241", "window_minutes"),
        ("&duration_minutes=60&staff_ids=99999", "staff_ids"),
    ] {
        let r = app.get(&format!("/api/v1/availability?job_id={job}&kind=work{extra}")).await;
        assert_eq!(fields(&r), vec![field.to_string()], "{extra}");
    }
    let r =
        app.get(&format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=60&window_minutes=240")).await;
    assert_eq!(r.status, StatusCode::OK, "the maximum itself is fine: {}", r.body);
}

#[tokio::test]
async fn another_organizations_job_is_not_found_and_a_closed_job_is_409() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    app.staff("Lena Okafor", "technician", "America/New_York").await;
    let ask = format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=60");
    let rival = app.rival_token().await;
    let r = app.get_as(&rival, &ask).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app.get("/api/v1/availability?job_id=987654&kind=work&duration_minutes=60").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "cancelled", "reason": "sold the house"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.get(&ask).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"], "job_closed");
}

#[tokio::test]
async fn the_office_asks_and_field_roles_are_refused() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let priya = app.staff("Priya Raman", "dispatcher", "America/New_York").await;
    let ask = format!("/api/v1/availability?job_id={job}&kind=estimate&duration_minutes=60&staff_ids={marcus}");
    let dispatcher = app.token_for(Role::Dispatcher, Some(priya)).await;
    assert_eq!(app.get_as(&dispatcher, &ask).await.status, StatusCode::OK);
    assert_eq!(app.get(&ask).await.status, StatusCode::OK, "admin");
    // Estimators and technicians cannot book, so they are not offered windows to book, even their own.
    for (role, id) in [(Role::Estimator, marcus), (Role::Technician, lena)] {
        let token = app.token_for(role, Some(id)).await;
        assert_eq!(app.get_as(&token, &ask).await.status, StatusCode::FORBIDDEN, "{role:?}");
    }
    let r = app.client.get(app.url(&ask)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_racing_for_one_window_one_books_and_the_other_is_offered_the_next() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let priya = app.staff("Priya Raman", "dispatcher", "America/New_York").await;
    let omar = app.staff("Omar Haddad", "dispatcher", "America/New_York").await;
    let (job_a, job_b) = (app.ny_job().await, app.ny_job().await);
    let tokens =
        [app.token_for(Role::Dispatcher, Some(priya)).await, app.token_for(Role::Dispatcher, Some(omar)).await];
    let r = app
        .get(&format!("/api/v1/availability?job_id={job_a}&kind=work&duration_minutes=120&from=2026-11-23&limit=1"))
        .await;
    let offer = items(&r.body).remove(0);
    assert_eq!(offer["staff_id"], lena);
    let body = json!({"kind": "work", "staff_ids": offer["staff_ids"], "window_start": offer["window_start"],
                      "window_end": offer["window_end"], "duration_minutes": 120});
    let requests = [(job_a, &tokens[0]), (job_b, &tokens[1])].map(|(job, token)| {
        let (client, url, token, body) =
            (app.client.clone(), app.url(&format!("/api/v1/jobs/{job}/visits")), token.clone(), body.clone());
        tokio::spawn(async move {
            let r = client.post(url).bearer_auth(token).json(&body).send().await.expect("response");
            (r.status(), r.json::<Value>().await.expect("JSON"), job)
        })
    });
    let mut answers: Vec<(StatusCode, Value, i64)> =
        futures::future::join_all(requests).await.into_iter().map(|r| r.expect("task")).collect();
    answers.sort_by_key(|a| a.0);
    let statuses: Vec<StatusCode> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, vec![StatusCode::CREATED, StatusCode::CONFLICT]);
    let (_, refused, loser_job) = &answers[1];
    assert_eq!(refused["error"], "schedule_conflict");
    assert_eq!(refused["staff_id"], lena);
    let alternatives = refused["alternatives"].as_array().expect("alternatives");
    assert!(!alternatives.is_empty() && alternatives.len() <= 5, "{refused}");
    assert_ranked(alternatives);
    for alt in alternatives {
        assert_eq!(alt["staff_ids"], json!([lena]));
        assert_ne!(alt["window_start"], offer["window_start"], "the window taken is not offered again");
        let (start, end) = (utc(alt["window_start"].as_str().unwrap()), utc(alt["window_end"].as_str().unwrap()));
        assert_eq!((end - start).num_minutes(), 120, "as wide as the window refused");
    }
    // The next one offered books, as it is.
    let r = book_offer(&app, &tokens[1], *loser_job, &alternatives[0], "work", 120).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn a_crews_refused_booking_is_offered_windows_the_whole_crew_can_take() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/Los_Angeles").await;
    let other = app.ny_job().await;
    let r = app.book(other, &[lena], "2026-11-23T12:00:00-05:00", "2026-11-23T12:00:00-05:00", 120).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app.book(job, &[lena, tomas], "2026-11-23T12:00:00-05:00", "2026-11-23T13:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let alternatives = r.body["alternatives"].as_array().expect("alternatives").clone();
    assert_eq!(alternatives.len(), 5);
    let mut ids = vec![lena, tomas];
    ids.sort();
    for alt in &alternatives {
        assert_eq!(alt["staff_ids"], json!(ids));
        assert_eq!(alt["staff_id"], ids[0]);
    }
    // Tomás starts at 08:00 in Los Angeles (11:00 in New York); Lena is busy
    // until 14:00 and then needs her buffer, so the first window they share
    // is 13:30–14:30 (she arrives at its end).
    let starts: Vec<&str> = alternatives.iter().map(|a| a["window_start_local"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        vec![
            "2026-11-23T13:30:00-05:00",
            "2026-11-23T14:00:00-05:00",
            "2026-11-23T14:30:00-05:00",
            "2026-11-23T15:00:00-05:00",
            "2026-11-24T11:00:00-05:00"
        ]
    );
    assert_eq!(alternatives[0]["added_travel_minutes"], 30, "Lena's day has a visit; Tomás's is empty");
    let r = book_offer(&app, &app.token, job, &alternatives[0], "work", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn local_times_are_the_customers_for_an_org_in_new_york_and_a_customer_in_los_angeles() {
    let app = spawn_app().await;
    let c = app.customer("Walter Kim", "America/Los_Angeles").await;
    let job = app.job(c).await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let r = app
        .get(&format!("/api/v1/availability?job_id={job}&kind=estimate&duration_minutes=90&window_minutes=60&from=2026-11-23&limit=2"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let offers = items(&r.body);
    assert_eq!(offers[0]["staff_id"], marcus);
    assert_eq!(offers[0]["timezone"], "America/Los_Angeles");
    // Marcus works from 08:00 in New York: 13:00 UTC, 05:00 for Walter.
    assert_eq!(offers[0]["window_start"], "2026-11-23T13:00:00Z");
    assert_eq!(offers[0]["window_start_local"], "2026-11-23T05:00:00-08:00");
    assert_eq!(offers[0]["window_end_local"], "2026-11-23T06:00:00-08:00");
    assert_eq!(offers[1]["window_start_local"], "2026-11-23T05:30:00-08:00");
    // Booked as it is, the visit shows the same local times.
    let booked = book_offer(&app, &app.token, job, &offers[0], "estimate", 90).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    assert_eq!(booked.body["window_start_local"], offers[0]["window_start_local"]);
}
