//! The dispatcher's board: every field person's day side by side, and
//! visits moved by the same exact rule as the API, a refusal explained in
//! plain words.

use crate::helpers::{spawn_app, utc, TestApp};
use kept::clock::Clock;
use reqwest::header::{ACCEPT, COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

struct Day {
    marcus: i64,
    lena: i64,
    first: i64,
    second: i64,
    unbooked: i64,
}

/// Marcus (estimator) has 9–10 at 48 Linden Street and 1–2 PM on Monday,
/// 90 minutes each, Lena (technician) nothing; one job is not booked yet.
async fn a_day(app: &TestApp) -> Day {
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let nadia = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "timezone": "America/New_York", "address": "48 Linden St, Brooklyn"}),
        )
        .await
        .id();
    let job = app.job(nadia).await;
    let first = app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 90).await.id();
    let walter = app.customer("Walter Kim", "America/New_York").await;
    let job2 = app.job(walter).await;
    let second = app.book(job2, &[marcus], "2026-11-23T13:00:00-05:00", "2026-11-23T14:00:00-05:00", 90).await.id();
    let rosa = app.customer("Rosa Delgado", "America/New_York").await;
    let unbooked =
        app.post("/api/v1/jobs", json!({"customer_id": rosa, "title": "Sump pump alarm keeps going off"})).await.id();
    Day { marcus, lena, first, second, unbooked }
}

async fn admin_session(app: &TestApp) -> (String, String) {
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    app.session_for(admin).await
}

#[tokio::test]
async fn the_board_shows_each_field_persons_day_side_by_side() {
    let app = spawn_app().await;
    let day = a_day(&app).await;
    let (cookie, _) = admin_session(&app).await;
    let r = client().get(app.url("/app/board?date=2026-11-23")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let policy = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("script-src 'self'") && !policy.contains("http"), "only our own script: {policy}");
    let html = r.text().await.unwrap();
    // One lane per field person, estimators first; the admin has none.
    let m = html.find(&format!("data-staff=\"{}\"", day.marcus));
    let l = html.find(&format!("data-staff=\"{}\"", day.lena));
    assert!(m.is_some() && l.is_some() && m < l, "Marcus's lane, then Lena's");
    assert_eq!(html.matches("class=\"lane\"").count(), 2, "no lane for the office");
    // Each visit where it is planned, with its window, place and state.
    for (id, window) in [(day.first, "9:00 AM–10:00 AM"), (day.second, "1:00 PM–2:00 PM")] {
        let at = html.find(&format!("id=\"visit-{id}\"")).unwrap_or_else(|| panic!("visit {id} drawn"));
        let block = &html[at..at + 1500];
        assert!(block.contains(window), "{block}");
        assert!(block.contains("scheduled"), "{block}");
    }
    assert!(html.contains("48 Linden St, Brooklyn"));
    // The job nobody booked waits in the side list.
    assert!(
        html.contains(&format!("data-job=\"{}\"", day.unbooked)) && html.contains("Sump pump alarm keeps going off")
    );
    // Day navigation.
    assert!(html.contains("/app/board?date=2026-11-22") && html.contains("/app/board?date=2026-11-24"));
    assert!(html.contains("Monday, November 23"));

    // The script is Kept's own.
    let js = client().get(app.url("/assets/board.js")).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));

    // A bad day is a clear refusal; the crew has its own home page.
    let bad = client().get(app.url("/app/board?date=23/11/2026")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (crew, _) = app.session_for(day.lena).await;
    let r = client().get(app.url("/app/board")).header(COOKIE, &crew).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn move_visit(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    visit: i64,
    staff: i64,
    start: &str,
) -> (StatusCode, Value) {
    let r = client()
        .post(app.url(&format!("/app/visits/{visit}/move")))
        .header(COOKIE, cookie)
        .header(ACCEPT, "application/json")
        .form(&[("csrf", csrf), ("staff_id", &staff.to_string()), ("date", "2026-11-23"), ("start", start)])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_move_into_a_conflict_is_explained_and_changes_nothing_and_a_fitting_one_moves_the_visit() {
    let app = spawn_app().await;
    let day = a_day(&app).await;
    let (cookie, csrf) = admin_session(&app).await;
    let before = app.get(&format!("/api/v1/visits/{}", day.second)).await.body;
    let outbox_before = app.outbox("").await.len();

    // 9:15 on Marcus's day: whichever he did first, he could not keep the
    // other window (90 minutes of work and 30 of travel).
    let (status, body) = move_visit(&app, &cookie, &csrf, day.second, day.marcus, "09:15").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let text = body["message"].as_str().unwrap();
    assert_eq!(body["ok"], false);
    assert!(
        text.starts_with("Marcus could no longer reach 48 Linden St, Brooklyn between 9:00 and 10:00 AM"),
        "names the person, the place and the window: {text}"
    );
    assert!(text.ends_with("Nothing was changed."), "{text}");
    assert_eq!(app.get(&format!("/api/v1/visits/{}", day.second)).await.body, before, "nothing changed");
    assert_eq!(app.outbox("").await.len(), outbox_before, "nobody was told anything");

    // 11:30 fits: the window keeps its length (an hour) and the customer is told.
    let (status, body) = move_visit(&app, &cookie, &csrf, day.second, day.marcus, "11:30").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let moved = app.get(&format!("/api/v1/visits/{}", day.second)).await.body;
    assert_eq!(utc(moved["window_start"].as_str().unwrap()), utc("2026-11-23T11:30:00-05:00"));
    assert_eq!(utc(moved["window_end"].as_str().unwrap()), utc("2026-11-23T12:30:00-05:00"));
    assert_eq!(moved["staff_ids"], json!([day.marcus]));
    assert_eq!(
        app.outbox("kind=visit_rescheduled").await.len(),
        2,
        "the customer hears of the new window, by text and email"
    );

    // Another lane: Lena takes it at the same time.
    let (status, body) = move_visit(&app, &cookie, &csrf, day.second, day.lena, "11:30").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.get(&format!("/api/v1/visits/{}", day.second)).await.body["staff_ids"], json!([day.lena]));

    // Without the script, the form posts and the board comes back.
    let r = client()
        .post(app.url(&format!("/app/visits/{}/move", day.first)))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("staff_id", &day.marcus.to_string()),
            ("date", "2026-11-23"),
            ("start", "08:30"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/app/board?date=2026-11-23");

    // A form from elsewhere (no CSRF token) moves nothing.
    let r = client()
        .post(app.url(&format!("/app/visits/{}/move", day.first)))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "forged"), ("staff_id", &day.marcus.to_string()), ("date", "2026-11-23"), ("start", "10:00")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let first = app.get(&format!("/api/v1/visits/{}", day.first)).await.body;
    assert_eq!(utc(first["window_start"].as_str().unwrap()), utc("2026-11-23T08:30:00-05:00"));
    assert!(app.clock.now() < utc("2026-11-23T00:00:00Z"));
}

#[tokio::test]
async fn the_boards_one_move_form_names_the_visit_and_keeps_the_crew_when_no_one_is_chosen() {
    let app = spawn_app().await;
    let day = a_day(&app).await;
    let (cookie, csrf) = admin_session(&app).await;
    let page = client().get(app.url("/app/board?date=2026-11-23")).header(COOKIE, &cookie).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("action=\"/app/board/move\"").count(), 1, "one move form, not one per visit");
    assert!(html.contains(&format!("<option value=\"{}\">", day.second)), "the form lists the day's visits");

    let post = |fields: Vec<(&'static str, String)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let r = client()
                .post(app.url("/app/board/move"))
                .header(COOKIE, &cookie)
                .header(ACCEPT, "application/json")
                .form(&fields)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    // No visit named, or one that is not ours: nothing moves.
    let before = app.get(&format!("/api/v1/visits/{}", day.second)).await.body;
    let (status, body) =
        post(vec![("csrf", csrf.clone()), ("date", "2026-11-23".into()), ("start", "11:30".into())]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = post(vec![
        ("csrf", csrf.clone()),
        ("visit_id", "999999".into()),
        ("date", "2026-11-23".into()),
        ("start", "11:30".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/visits/{}", day.second)).await.body, before, "nothing changed");

    // "The same person": only the time changes.
    let (status, body) = post(vec![
        ("csrf", csrf.clone()),
        ("visit_id", day.second.to_string()),
        ("staff_id", String::new()),
        ("date", "2026-11-23".into()),
        ("start", "11:30".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let moved = app.get(&format!("/api/v1/visits/{}", day.second)).await.body;
    assert_eq!(utc(moved["window_start"].as_str().unwrap()), utc("2026-11-23T11:30:00-05:00"));
    assert_eq!(moved["staff_ids"], before["staff_ids"], "the same crew");
}

#[tokio::test]
async fn a_board_served_again_carries_each_sessions_token_and_shows_a_change_at_once() {
    let app = spawn_app().await;
    let day = a_day(&app).await;
    let (cookie, csrf) = admin_session(&app).await;
    let (cookie2, csrf2) = admin_session(&app).await;
    let get = |cookie: String| {
        let url = app.url("/app/board?date=2026-11-23");
        async move { client().get(url).header(COOKIE, cookie).send().await.unwrap().text().await.unwrap() }
    };
    let first = get(cookie.clone()).await;
    let again = get(cookie.clone()).await;
    assert_eq!(first, again, "the same page for the same person");
    assert!(first.contains(&format!("value=\"{csrf}\"")) && !first.contains("kept-csrf-slot"));
    let other = get(cookie2.clone()).await;
    assert!(other.contains(&format!("value=\"{csrf2}\"")) && !other.contains(&csrf), "each session its own token");

    // A booking made now is on the very next page, not a moment later.
    let walter = app.customer("Walter Kim", "America/New_York").await;
    let job = app.job(walter).await;
    let r = app.book(job, &[day.lena], "2026-11-23T15:00:00-05:00", "2026-11-23T16:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let visit = r.id();
    let after = get(cookie.clone()).await;
    assert!(after.contains(&format!("id=\"visit-{visit}\"")), "the new visit is drawn at once");
    // A move too.
    let r = app
        .patch(
            &format!("/api/v1/visits/{visit}"),
            json!({"window_start": "2026-11-23T16:00:00-05:00", "window_end": "2026-11-23T17:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let moved = get(cookie).await;
    assert!(moved.contains("4:00 PM–5:00 PM") && !moved.contains("3:00 PM–4:00 PM"), "the move is drawn at once");
}

/// The value of the hidden input `name` in a form's HTML.
fn input<'a>(form: &'a str, name: &str) -> &'a str {
    let at = form.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("{name} in {form}"));
    let rest = &form[at + name.len() + 15..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test]
async fn the_board_offers_a_jobs_free_windows_in_each_lane_and_one_tap_books_one_on_the_offices_clock() {
    let app = spawn_app().await;
    let day = a_day(&app).await;
    // A customer in Los Angeles: the board's times are still New York's.
    let ana = app.customer("Ana Ruiz", "America/Los_Angeles").await;
    let job =
        app.post("/api/v1/jobs", json!({"customer_id": ana, "title": "Deck boards soft near the stairs"})).await.id();
    let (cookie, csrf) = admin_session(&app).await;
    let page = |q: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let r = client().get(app.url(&format!("/app/board?{q}"))).header(COOKIE, &cookie).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let html = page(format!("date=2026-11-23&job={job}")).await;
    assert!(html.contains("Free windows for “Deck boards soft near the stairs”"), "{html}");
    // The same windows the API suggests for that day, each in its person's
    // lane: an estimate is Marcus's (the estimator), none in Lena's.
    let api = app
        .get(&format!("/api/v1/availability?job_id={job}&kind=estimate&duration_minutes=60&from=2026-11-23&days=1"))
        .await;
    let items = api.body["items"].as_array().unwrap().clone();
    assert!(!items.is_empty() && items.iter().all(|i| i["staff_id"] == day.marcus), "{}", api.body);
    let lane = |id: i64| {
        let at = html.find(&format!("<div class=\"lane offering\" data-staff=\"{id}\"")).map(|at| &html[at..]);
        at.map(|l| &l[..l[1..].find("<div class=\"lane").map_or(l.len(), |e| e + 1)])
    };
    let marcus = lane(day.marcus).expect("Marcus's lane offers windows");
    assert!(lane(day.lena).is_none(), "a technician is not offered an estimate");
    let offers: Vec<&str> = marcus.split("<form class=\"offer\"").skip(1).collect();
    assert!((1..=3).contains(&offers.len()), "{marcus}");
    let first = items[0]["window_start"].as_str().unwrap();
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let first_ny = chrono::DateTime::parse_from_rfc3339(first).unwrap().with_timezone(&ny);
    assert_eq!(input(offers[0], "start"), first_ny.format("%H:%M").to_string(), "the earliest first, New York time");
    assert_eq!(input(offers[0], "times_in"), "office");

    // One tap books it, at that very instant, and the board comes back.
    let form = offers[0];
    let fields: Vec<(&str, String)> = ["kind", "staff_ids", "times_in", "date", "start", "end", "duration", "back"]
        .into_iter()
        .map(|n| (n, input(form, n).replace("&#x2f;", "/").replace("&amp;", "&")))
        .chain([("csrf", csrf.clone())])
        .collect();
    let r = client()
        .post(app.url(&format!("/app/jobs/{job}/visits")))
        .header(COOKIE, &cookie)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/app/board?date=2026-11-23");
    let visits = app.get(&format!("/api/v1/jobs/{job}/visits")).await;
    let booked = &visits.body["items"][0];
    assert_eq!(kept_utc(booked["window_start"].as_str().unwrap()), kept_utc(first), "{}", visits.body);
    assert_eq!(booked["staff_ids"], json!([day.marcus]));

    // A day nobody works, and a job that is not there, say so plainly.
    let sunday = page(format!("date=2026-11-22&job={}", day.unbooked)).await;
    assert!(sunday.contains("No one can take “Sump pump alarm keeps going off” on this day"), "{sunday}");
    assert!(sunday.contains(&format!("/app/board?date=2026-11-23&amp;job={}", day.unbooked)), "try the next day");
    let missing = page("date=2026-11-23&job=999999".into()).await;
    assert!(missing.contains("There is no job 999999 in your company."));
    assert!(!missing.contains("class=\"offer\""));
}

fn kept_utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc)
}
