//! Staff sign-in: sessions, CSRF, brute force, resets, and the audit log.

use crate::helpers::{spawn_app_with, TestApp, TestDb};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn cookie_from(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..].split('"').next().unwrap().to_string()
}

/// A form page's (csrf cookie, csrf field).
async fn form(app: &TestApp, path: &str) -> (String, String) {
    let r = client().get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let c = cookie_from(&r, "kept_csrf").expect("a csrf cookie");
    (c, hidden_csrf(&r.text().await.unwrap()))
}

async fn login(app: &TestApp, email: &str, pw: &str) -> (StatusCode, Option<String>) {
    let (c, f) = form(app, "/login").await;
    let r = client()
        .post(app.url("/login"))
        .header(COOKIE, c)
        .form(&[("email", email), ("password", pw), ("csrf", &f)])
        .send()
        .await
        .unwrap();
    let s = cookie_from(&r, "kept_session");
    (r.status(), s)
}

/// Sets a password through the emailed invitation link.
async fn set_password_by_invite(app: &TestApp, staff_id: i64, pw: &str) {
    let r = app.post(&format!("/api/v1/staff/{staff_id}/invite"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let mail = app.outbox("kind=password_reset").await.pop().unwrap();
    let body = mail["body_text"].as_str().unwrap();
    let i = body.find("/reset/").unwrap() + 7;
    let token: String = body[i..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    let (c, f) = form(app, &format!("/reset/{token}")).await;
    let r = client()
        .post(app.url(&format!("/reset/{token}")))
        .header(COOKIE, c.clone())
        .form(&[("password", pw), ("csrf", &f)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The link works once.
    let again = client()
        .post(app.url(&format!("/reset/{token}")))
        .header(COOKIE, c)
        .form(&[("password", "another long one"), ("csrf", &f)])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

async fn admin_id(app: &TestApp) -> i64 {
    app.get("/api/v1/staff").await.body["items"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_session_survives_a_restart_and_dies_at_logout() {
    let db = TestDb::new().await;
    let app = spawn_app_with(db.shared(), &[]).await;
    let admin_token = app.token.clone();
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    let (status, session) = login(&app, "owner@example.test", "correct horse battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = session.expect("a session cookie");
    let page = client().get(app.url("/app")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // Restart: a new server process on the same database.
    drop(app);
    let again = spawn_app_with(db.shared(), &[]).await;
    let page = client().get(again.url("/app")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the session survived the restart");
    let html = page.text().await.unwrap();
    assert!(html.contains("Test Restoration") && html.contains("Olive Owner"), "{html}");
    let csrf = hidden_csrf(&html);
    // Logging out needs the session's CSRF token.
    let forged =
        client().post(again.url("/logout")).header(COOKIE, &session).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(client().get(again.url("/app")).header(COOKIE, &session).send().await.unwrap().status(), StatusCode::OK);
    let out = client()
        .post(again.url("/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = client().get(again.url("/app")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "dead after logout");
    assert_eq!(after.headers()["location"], "/login");
    let audit = again.get_as(&admin_token, "/api/v1/audit").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(audit, vec!["staff_invited", "password_set", "sign_in", "sign_out"]);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    let no_cookie = client()
        .post(app.url("/login"))
        .form(&[("email", "owner@example.test"), ("password", "correct horse battery"), ("csrf", "abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
    let (c, _) = form(&app, "/login").await;
    let mismatched = client()
        .post(app.url("/login"))
        .header(COOKIE, c)
        .form(&[("email", "owner@example.test"), ("password", "correct horse battery"), ("csrf", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatched.status(), StatusCode::FORBIDDEN);
    assert!(cookie_from(&mismatched, "kept_session").is_none());
}

#[tokio::test]
async fn brute_force_sign_in_gets_429_with_retry_after() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    for _ in 0..5 {
        assert_eq!(login(&app, "owner@example.test", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    let (c, f) = form(&app, "/login").await;
    let r = client()
        .post(app.url("/login"))
        .header(COOKIE, c)
        .form(&[("email", "owner@example.test"), ("password", "correct horse battery"), ("csrf", f.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 900, "{wait}");
    let failures = app.get("/api/v1/audit").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "sign_in_failed")
        .count();
    assert_eq!(failures, 5);
    // Another account from the same address is not locked out yet.
    assert_eq!(login(&app, "someone@example.test", "x").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn six_good_sign_ins_in_a_row_all_succeed_and_failures_still_lock_the_account() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    for i in 0..6 {
        let (status, session) = login(&app, "owner@example.test", "correct horse battery").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "sign-in {} of 6", i + 1);
        assert!(session.is_some(), "sign-in {} of 6 opens a session", i + 1);
    }
    for _ in 0..5 {
        assert_eq!(login(&app, "owner@example.test", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login(&app, "owner@example.test", "correct horse battery").await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "five failures still lock the account"
    );
}

#[tokio::test]
async fn a_good_sign_in_clears_the_accounts_earlier_failures() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    for _ in 0..4 {
        assert_eq!(login(&app, "owner@example.test", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&app, "owner@example.test", "correct horse battery").await.0, StatusCode::SEE_OTHER);
    // The count starts over: five more failures are heard, the sixth attempt waits.
    for _ in 0..5 {
        assert_eq!(login(&app, "owner@example.test", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&app, "owner@example.test", "guess").await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn many_failures_from_one_address_lock_it_out_but_good_sign_ins_do_not() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    // More good sign-ins than the address may fail (20).
    for _ in 0..21 {
        assert_eq!(login(&app, "owner@example.test", "correct horse battery").await.0, StatusCode::SEE_OTHER);
    }
    // Twenty failures, one per made-up account so no account limit is reached.
    for i in 0..20 {
        let email = format!("guess{i}@example.test");
        assert_eq!(login(&app, &email, "guess").await.0, StatusCode::UNAUTHORIZED, "{email}");
    }
    let (c, f) = form(&app, "/login").await;
    let r = client()
        .post(app.url("/login"))
        .header(COOKIE, c)
        .form(&[("email", "owner@example.test"), ("password", "correct horse battery"), ("csrf", f.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the address waits, even with the right password");
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn password_reset_mails_a_one_time_link_and_says_the_same_for_unknown_emails() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    for email in ["owner@example.test", "nobody@example.test"] {
        let (c, f) = form(&app, "/reset").await;
        let r = client()
            .post(app.url("/reset"))
            .header(COOKIE, c)
            .form(&[("email", email), ("csrf", &f)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("If that email belongs to someone here"));
    }
    let mails = app.outbox("kind=password_reset").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["recipient"], "owner@example.test");
    assert_eq!(client().get(app.url("/reset/0123456789abcdef")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // Resets are rate-limited too.
    for _ in 0..2 {
        let (c, f) = form(&app, "/reset").await;
        client()
            .post(app.url("/reset"))
            .header(COOKIE, c)
            .form(&[("email", "owner@example.test"), ("csrf", &f)])
            .send()
            .await
            .unwrap();
    }
    let (c, f) = form(&app, "/reset").await;
    let r = client()
        .post(app.url("/reset"))
        .header(COOKIE, c)
        .form(&[("email", "owner@example.test"), ("csrf", &f)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn role_changes_are_audited_and_every_response_carries_security_headers() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let r = app.patch(&format!("/api/v1/staff/{tech}"), json!({"role": "dispatcher"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["role"], "dispatcher");
    let audit = app.get("/api/v1/audit").await.body["items"][0].clone();
    assert_eq!(
        (audit["action"].as_str(), audit["detail"]["from"].as_str(), audit["detail"]["to"].as_str()),
        (Some("role_changed"), Some("technician"), Some("dispatcher"))
    );
    for path in ["/healthz", "/login", "/api/v1/openapi.json"] {
        let r = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
    }
    let login = client().get(app.url("/login")).send().await.unwrap();
    assert!(login.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let big = "x".repeat(300 * 1024);
    let r = app
        .client
        .post(app.url("/api/v1/customers"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// The signed-in home page, as the person with `session` sees it: the
/// office's Today, or a field person's day (where `/app` sends them).
async fn home(app: &TestApp, session: &str) -> String {
    let mut r = client().get(app.url("/app")).header(COOKIE, session).send().await.unwrap();
    if r.status() == StatusCode::SEE_OTHER {
        assert_eq!(r.headers()["location"], "/app/day", "only to their day");
        r = client().get(app.url("/app/day")).header(COOKIE, session).send().await.unwrap();
    }
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

async fn tap(app: &TestApp, session: &str, visit: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = client()
        .post(app.url(&format!("/app/visits/{visit}/status")))
        .header(COOKIE, session)
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_technician_taps_on_my_way_arrived_and_completed_on_their_own_visit_only() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let sam = app.staff("Sam Ruiz", "technician", "America/New_York").await;
    // The clock reads 10:00 in New York on Nov 20.
    let mine = app.book(job, &[lena], "2026-11-20T11:00:00-05:00", "2026-11-20T13:00:00-05:00", 60).await.id();
    let theirs = app.book(job, &[sam], "2026-11-20T14:00:00-05:00", "2026-11-20T16:00:00-05:00", 60).await.id();
    set_password_by_invite(&app, lena, "lena's long password").await;
    let (status, session) = login(&app, "lena.okafor@example.test", "lena's long password").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = session.unwrap();

    let page = home(&app, &session).await;
    assert!(page.contains(&format!("/app/day/visits/{mine}/status")) && page.contains("On my way"), "{page}");
    assert!(!page.contains(&format!("visit-{theirs}")), "only Lena's own day: {page}");
    assert!(
        !page.contains("Latest messages") && !page.contains("Coming up"),
        "the outbox and the week are the office's: {page}"
    );
    let csrf = hidden_csrf(&page);
    let visit_status = |id: i64| {
        let app = &app;
        async move { app.get(&format!("/api/v1/visits/{id}")).await.body["status"].as_str().unwrap().to_string() }
    };

    // Refused, each with its reason, and nothing moves.
    let mine_s = mine.to_string();
    let (s, _) = tap(&app, &session, &mine_s, &[("status", "en_route")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no csrf token");
    let (s, body) =
        tap(&app, &session, &mine_s, &[("csrf", &csrf), ("status", "en_route"), ("eta_minutes", "soon")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("eta_minutes"), "{body}");
    let (s, body) = tap(&app, &session, &mine_s, &[("csrf", &csrf), ("status", "completed")]).await;
    assert_eq!(s, StatusCode::CONFLICT, "a visit cannot be completed before anyone arrived: {body}");
    let (s, body) = tap(&app, &session, &mine_s, &[("csrf", &csrf), ("status", "cancelled")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, _) = tap(&app, &session, &theirs.to_string(), &[("csrf", &csrf), ("status", "en_route")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "Sam's visit is not Lena's");
    let (s, _) = tap(&app, &session, "abc", &[("csrf", &csrf), ("status", "en_route")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!((visit_status(mine).await, visit_status(theirs).await), ("scheduled".into(), "scheduled".into()));
    assert!(app.outbox("kind=on_my_way").await.is_empty());

    // On my way, with an ETA: the customer hears it once, even if the phone sends the form twice.
    for _ in 0..2 {
        let r = client()
            .post(app.url(&format!("/app/visits/{mine}/status")))
            .header(COOKIE, &session)
            .form(&[("csrf", csrf.as_str()), ("status", "en_route"), ("eta_minutes", "25")])
            .send()
            .await
            .unwrap();
        assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/app"));
    }
    assert_eq!(visit_status(mine).await, "en_route");
    let sent = app.outbox("kind=on_my_way").await;
    assert_eq!(sent.len(), 2, "one sms and one email: {sent:?}");
    assert!(sent.iter().all(|m| m["body_text"].as_str().unwrap().contains("about 25 minutes")), "{sent:?}");
    assert!(home(&app, &session).await.contains(">Arrived</button>"));
    assert_eq!(tap(&app, &session, &mine_s, &[("csrf", &csrf), ("status", "arrived")]).await.0, StatusCode::SEE_OTHER);
    assert_eq!(visit_status(mine).await, "arrived");
    assert!(home(&app, &session).await.contains(">Completed</button>"));
    assert_eq!(
        tap(&app, &session, &mine_s, &[("csrf", &csrf), ("status", "completed")]).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(visit_status(mine).await, "completed");
    assert!(!home(&app, &session).await.contains(&format!("/app/day/visits/{mine}/status")), "nothing left to tap");

    // The office's home lists the latest messages, the crew's among them.
    let admin = admin_id(&app).await;
    set_password_by_invite(&app, admin, "correct horse battery").await;
    let office = login(&app, "owner@example.test", "correct horse battery").await.1.unwrap();
    let page = home(&app, &office).await;
    assert!(
        page.contains("Latest messages") && page.contains("on my way") && page.contains("about 25 minutes"),
        "{page}"
    );
}

#[tokio::test]
async fn the_job_page_shows_the_story_and_its_news_reaches_the_next_update() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.staff("Sam Ruiz", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-20T11:00:00-05:00", "2026-11-20T13:00:00-05:00", 60).await;
    let rival = app.rival_token().await;
    let r = app
        .send_as(
            &rival,
            reqwest::Method::POST,
            "/api/v1/customers",
            &json!({"name": "Rita Rival", "email": "rr@rival.example.test"}),
        )
        .await;
    let their_job = app
        .send_as(
            &rival,
            reqwest::Method::POST,
            "/api/v1/jobs",
            &json!({"customer_id": r.id(), "title": "Roof", "story": "Secret story."}),
        )
        .await
        .id();
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    let office = login(&app, "owner@example.test", "correct horse battery").await.1.unwrap();
    let path = format!("/app/jobs/{job}");

    assert!(home(&app, &office).await.contains(&format!("href=\"{path}\"")), "the day links to the job");
    // The office's home also lists the coming week, not beyond.
    app.book(job, &[lena], "2026-11-22T09:00:00-05:00", "2026-11-22T11:00:00-05:00", 60).await;
    app.book(job, &[lena], "2026-12-05T09:00:00-05:00", "2026-12-05T11:00:00-05:00", 60).await;
    let page = home(&app, &office).await;
    let start = page.find("Coming up (next 7 days)").expect("a coming-up list");
    let coming = &page[start..start + page[start..].find("Promises kept").unwrap()];
    assert!(
        coming.contains("Sunday, November 22, between 9:00 AM and 11:00 AM")
            && coming.contains("work visit · Nadia Brooks"),
        "{coming}"
    );
    assert!(!coming.contains("December 5"), "{coming}");
    let r = client().get(app.url(&path)).header(COOKIE, &office).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    for want in [
        "Water under the sink.",
        "Nadia Brooks",
        "1 Main St",
        "Lena Okafor",
        "Introduction by sms",
        "Promises",
        "pending",
    ] {
        assert!(page.contains(want), "{want:?} on the job page: {page}");
    }
    let csrf = hidden_csrf(&page);

    // Refused: no token, no words, too many words; nothing lands on the timeline.
    let note = |fields: Vec<(&'static str, String)>| {
        let (app, office, path) = (&app, &office, &path);
        async move {
            let r = client()
                .post(app.url(&format!("{path}/notes")))
                .header(COOKIE, office)
                .form(&fields)
                .send()
                .await
                .unwrap();
            (r.status(), r.headers().get("location").map(|l| l.to_str().unwrap().to_string()), r.text().await.unwrap())
        }
    };
    assert_eq!(note(vec![("text", "Parts ordered".into())]).await.0, StatusCode::FORBIDDEN);
    let (s, _, body) = note(vec![("csrf", csrf.clone()), ("text", "   ".into())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("text: must not be empty"), "{body}");
    let (s, _, body) = note(vec![("csrf", csrf.clone()), ("text", "x".repeat(2001))]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("at most 2000 characters") && body.contains(&"x".repeat(2001)), "kept for fixing: {body}");
    assert_eq!(note_count(&app, job).await, 0);

    // The news lands on the timeline and in the afternoon update.
    let (s, location, _) =
        note(vec![("csrf", csrf.clone()), ("text", "Parts ordered: the pump arrives Tuesday".into())]).await;
    assert_eq!((s, location.as_deref()), (StatusCode::SEE_OTHER, Some(path.as_str())));
    assert_eq!(note_count(&app, job).await, 1);
    let page = client().get(app.url(&path)).header(COOKIE, &office).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Parts ordered: the pump arrives Tuesday"), "{page}");
    app.clock.set(crate::helpers::utc("2026-11-20T21:31:00Z")); // 16:31 in New York
    app.tick().await;
    let updates = app.outbox("kind=status_update").await;
    assert!(
        !updates.is_empty()
            && updates.iter().all(|m| m["body_text"].as_str().unwrap().contains("the pump arrives Tuesday")),
        "{updates:?}"
    );

    // The office sees the estimate's price.
    let e = app
        .post(
            &format!("/api/v1/jobs/{job}/estimates"),
            json!({"tax_rate_bp": 825, "lines": [{"kind": "labor", "description": "Dry-out", "quantity": "2.5", "unit": "h", "unit_price_minor": 8500}]}),
        )
        .await
        .id();
    app.post(&format!("/api/v1/estimates/{e}/send"), json!({})).await;
    let page = client().get(app.url(&path)).header(COOKIE, &office).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<h2>Estimates</h2>") && page.contains("$230.03") && page.contains("sent"), "{page}");

    // Lena is on the job: she reads it without the promises or prices; Sam is not; another company's job is not found.
    set_password_by_invite(&app, lena, "lena's long password").await;
    let lena_s = login(&app, "lena.okafor@example.test", "lena's long password").await.1.unwrap();
    let r = client().get(app.url(&path)).header(COOKIE, &lena_s).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Water under the sink.") && !page.contains("<h2>Promises</h2>"), "{page}");
    assert!(!page.contains("Estimates") && !page.contains("$230.03"), "no pricing for a technician: {page}");
    let sam = app.get("/api/v1/staff").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Sam Ruiz")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    set_password_by_invite(&app, sam, "sam's long password").await;
    let sam_s = login(&app, "sam.ruiz@example.test", "sam's long password").await.1.unwrap();
    let r = client().get(app.url(&path)).header(COOKIE, &sam_s).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!r.text().await.unwrap().contains("Water under the sink."));
    let r = client().get(app.url(&format!("/app/jobs/{their_job}"))).header(COOKIE, &office).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains("Secret story."));
    let r = client().get(app.url("/app/jobs/abc")).header(COOKIE, &office).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = client().get(app.url(&path)).send().await.unwrap();
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));
}

async fn note_count(app: &TestApp, job: i64) -> usize {
    app.get(&format!("/api/v1/jobs/{job}/timeline")).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .count()
}

#[tokio::test]
async fn the_office_books_from_the_job_page_in_the_customers_time_and_conflicts_are_refused() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let sam = app.staff("Sam Ruiz", "technician", "America/New_York").await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    let office = login(&app, "owner@example.test", "correct horse battery").await.1.unwrap();
    let path = format!("/app/jobs/{job}");
    let page = client().get(app.url(&path)).header(COOKIE, &office).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Book a visit") && page.contains(&format!("value=\"{lena}\"")), "{page}");
    assert!(page.contains("value=\"2026-11-20\""), "the date starts at the customer's today: {page}");
    let csrf = hidden_csrf(&page);
    let book = |fields: Vec<(&'static str, String)>| {
        let (app, office, path) = (&app, &office, &path);
        async move {
            let r = client()
                .post(app.url(&format!("{path}/visits")))
                .header(COOKIE, office)
                .form(&fields)
                .send()
                .await
                .unwrap();
            // The page's text as a person reads it.
            (r.status(), r.text().await.unwrap().replace("&#x2f;", "/").replace("&#x27;", "'"))
        }
    };
    let visits =
        || async { app.get(&format!("/api/v1/jobs/{job}/visits")).await.body["items"].as_array().unwrap().clone() };
    let good = |staff: i64, start: &str, end: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("kind", "work".to_string()),
            ("staff_ids", staff.to_string()),
            ("date", "2026-11-21".to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("duration", "60".to_string()),
        ]
    };

    // Every bad field is named at once, what was typed stays, and nothing is booked.
    let (s, body) = book(vec![
        ("csrf", csrf.clone()),
        ("kind", "party".into()),
        ("date", "2026-13-01".into()),
        ("start", "25:00".into()),
        ("end", "11:00".into()),
        ("duration", "0".into()),
    ])
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["staff_ids: choose at least one person", "kind: 'party' is not one of", "date:", "duration_minutes:"]
    {
        assert!(body.contains(field), "{field:?} in {body}");
    }
    assert!(body.contains("value=\"2026-13-01\""), "what was typed stays: {body}");
    let mut gap = good(lena, "02:30", "04:00");
    gap[3].1 = "2027-03-14".into();
    let (s, body) = book(gap).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("window_start: 2027-03-14 02:30 does not exist in America/New_York"), "{body}");
    let (s, body) = book(good(lena, "11:00", "09:00")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("window_end"), "{body}");
    let (s, _) = book(good(lena, "09:00", "11:00").into_iter().filter(|(k, _)| *k != "csrf").collect()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(visits().await.is_empty());

    // 09:00 to 11:00 in New York is 14:00 to 16:00 UTC; Lena is introduced.
    let r = client()
        .post(app.url(&format!("{path}/visits")))
        .header(COOKIE, &office)
        .form(&good(lena, "09:00", "11:00"))
        .send()
        .await
        .unwrap();
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, path.as_str()));
    let booked = visits().await;
    assert_eq!(booked.len(), 1);
    assert_eq!(
        (booked[0]["window_start"].as_str(), booked[0]["window_end"].as_str(), booked[0]["staff_ids"].clone()),
        (Some("2026-11-21T14:00:00Z"), Some("2026-11-21T16:00:00Z"), json!([lena]))
    );
    assert!(!app.outbox("kind=introduction").await.is_empty());

    // Two hours on site from 09:00-10:00 leaves Lena no order that keeps both
    // windows (with the 30-minute travel buffer): refused, naming the
    // conflict; Sam is free.
    let long = |staff: i64| {
        let mut f = good(staff, "09:00", "10:00");
        f[6].1 = "120".into();
        f
    };
    let (s, body) = book(long(lena)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let first = booked[0]["id"].as_i64().unwrap();
    assert!(
        body.contains(&format!("Lena Okafor could not keep every promised arrival window (with 30 minutes of travel between visits); this conflicts with visit {first} (visit {first}: Sat Nov 21, 9:00 AM to 11:00 AM)"))
            && body.contains("value=\"120\""),
        "{body}"
    );
    assert_eq!(visits().await.len(), 1);
    assert_eq!(book(long(sam)).await.0, StatusCode::SEE_OTHER);
    assert_eq!(visits().await.len(), 2);

    // Field people do not book.
    set_password_by_invite(&app, lena, "lena's long password").await;
    let lena_s = login(&app, "lena.okafor@example.test", "lena's long password").await.1.unwrap();
    let page = client().get(app.url(&path)).header(COOKIE, &lena_s).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("Book a visit"), "{page}");
    let lena_csrf = hidden_csrf(&page);
    let mut fields = good(lena, "13:00", "14:00");
    fields[0].1 = lena_csrf;
    let r =
        client().post(app.url(&format!("{path}/visits"))).header(COOKIE, &lena_s).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(visits().await.len(), 2);
}

#[tokio::test]
async fn an_admin_adds_people_sets_roles_and_invites_them_from_the_staff_page() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    let owner = admin_id(&app).await;
    set_password_by_invite(&app, owner, "correct horse battery").await;
    let admin = login(&app, "owner@example.test", "correct horse battery").await.1.unwrap();
    assert!(home(&app, &admin).await.contains("href=\"&#x2f;app&#x2f;staff\""));
    let get = |session: &str| {
        let (app, session) = (&app, session.to_string());
        async move {
            let r = client().get(app.url("/app/staff")).header(COOKIE, session).send().await.unwrap();
            (r.status(), r.text().await.unwrap().replace("&#x2f;", "/").replace("&#x27;", "'"))
        }
    };
    let (s, page) = get(&admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Olive Owner (you)"), "{page}");
    let csrf = hidden_csrf(&page);
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = client().post(app.url(&path)).header(COOKIE, admin).form(&fields).send().await.unwrap();
            let to = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
            (r.status(), to, r.text().await.unwrap().replace("&#x2f;", "/").replace("&#x27;", "'"))
        }
    };
    let people = || async { app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone() };

    // Every bad field at once; what was typed stays; nobody is added.
    let (s, _, body) = post(
        "/app/staff".into(),
        vec![
            ("csrf", csrf.clone()),
            ("name", " ".into()),
            ("email", "lena@".into()),
            ("role", "technician".into()),
            ("timezone", "Mars/Olympus".into()),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("name: must not be empty")
            && body.contains("email:")
            && body.contains("timezone: 'Mars/Olympus'"),
        "{body}"
    );
    assert!(body.contains("value=\"lena@\""), "{body}");
    assert_eq!(people().await.len(), 1);
    let lena_fields = vec![
        ("csrf", csrf.clone()),
        ("name", "Lena Okafor".into()),
        ("email", "lena@example.test".into()),
        ("phone", "212 555 0150".into()),
        ("role", "technician".into()),
        ("timezone", "America/New_York".into()),
    ];
    let (s, to, _) = post("/app/staff".into(), lena_fields.clone()).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/app/staff")));
    let lena = people().await.into_iter().find(|p| p["name"] == "Lena Okafor").unwrap();
    assert_eq!((lena["phone"].as_str(), lena["role"].as_str()), (Some("+12125550150"), Some("technician")));
    let lena = lena["id"].as_i64().unwrap();
    assert_eq!(post("/app/staff".into(), lena_fields).await.0, StatusCode::CONFLICT, "the same email twice");

    // Roles: changed and audited; a made-up role and demoting the only admin are refused.
    let (s, to, _) =
        post(format!("/app/staff/{lena}/role"), vec![("csrf", csrf.clone()), ("role", "dispatcher".into())]).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/app/staff")));
    assert_eq!(app.get(&format!("/api/v1/staff/{lena}")).await.body["role"], "dispatcher");
    let (s, _, body) =
        post(format!("/app/staff/{lena}/role"), vec![("csrf", csrf.clone()), ("role", "boss".into())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("role: 'boss' is not one of"), "{body}");
    let (s, _, body) =
        post(format!("/app/staff/{owner}/role"), vec![("csrf", csrf.clone()), ("role", "dispatcher".into())]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(body.contains("Olive Owner is the only admin"), "{body}");
    let r = app.patch(&format!("/api/v1/staff/{owner}"), json!({"role": "technician"})).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::CONFLICT, Some("last_admin")), "{}", r.body);
    assert_eq!(app.get(&format!("/api/v1/staff/{owner}")).await.body["role"], "admin");
    let (s, _, _) = post(format!("/app/staff/{lena}/role"), vec![("role", "admin".into())]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no csrf token");
    assert_eq!(app.get(&format!("/api/v1/staff/{lena}")).await.body["role"], "dispatcher");

    // Invitations: mailed, audited, shown, and limited per inbox.
    let (s, to, _) = post(format!("/app/staff/{lena}/invite"), vec![("csrf", csrf.clone())]).await;
    assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some(format!("/app/staff?invited={lena}").as_str())));
    let r = client().get(app.url(&format!("/app/staff?invited={lena}"))).header(COOKIE, &admin).send().await.unwrap();
    // No email provider is configured here, so the page says where the link really is.
    let page = r.text().await.unwrap().replace("&#x2f;", "/").replace("&#x27;", "'");
    assert!(
        page.contains(
            "No email provider is configured (KEPT_SMTP_URL is not set), so we did not email lena@example.test."
        ) && page.contains("GET /api/v1/outbox?kind=password_reset"),
        "{page}"
    );
    assert!(!page.contains("We emailed"), "{page}");
    let mails = app.outbox("kind=password_reset").await;
    assert_eq!(mails.iter().filter(|m| m["recipient"] == "lena@example.test").count(), 1);
    let actions: Vec<String> = app.get("/api/v1/audit").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actions.contains(&"role_changed".to_string()) && actions.contains(&"staff_invited".to_string()),
        "{actions:?}"
    );
    for _ in 0..2 {
        assert_eq!(
            post(format!("/app/staff/{lena}/invite"), vec![("csrf", csrf.clone())]).await.0,
            StatusCode::SEE_OTHER
        );
    }
    let (s, _, _) = post(format!("/app/staff/{lena}/invite"), vec![("csrf", csrf.clone())]).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);

    // A dispatcher manages customers, not staff.
    let sam = app.staff("Sam Ruiz", "dispatcher", "America/New_York").await;
    set_password_by_invite(&app, sam, "sam's long password").await;
    let sam_s = login(&app, "sam.ruiz@example.test", "sam's long password").await.1.unwrap();
    assert!(!home(&app, &sam_s).await.contains("href=\"&#x2f;app&#x2f;staff\""));
    assert_eq!(get(&sam_s).await.0, StatusCode::FORBIDDEN);
    let sam_csrf = hidden_csrf(&home(&app, &sam_s).await);
    let r = client()
        .post(app.url(&format!("/app/staff/{sam}/role")))
        .header(COOKIE, &sam_s)
        .form(&[("csrf", sam_csrf.as_str()), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/api/v1/staff/{sam}")).await.body["role"], "dispatcher");
}

#[tokio::test]
async fn a_locked_out_account_signs_in_again_once_the_window_has_passed_on_the_clock() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    for _ in 0..5 {
        assert_eq!(login(&app, "owner@example.test", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&app, "owner@example.test", "correct horse battery").await.0, StatusCode::TOO_MANY_REQUESTS);
    // The window is 15 minutes on the app's clock; no sleeping.
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(
        login(&app, "owner@example.test", "correct horse battery").await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "still inside the window"
    );
    app.clock.advance(chrono::Duration::minutes(1));
    let (status, session) = login(&app, "owner@example.test", "correct horse battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the window has passed");
    assert!(session.is_some());
}

async fn ask_for_reset(app: &TestApp, email: &str) {
    let (c, f) = form(app, "/reset").await;
    let r = client()
        .post(app.url("/reset"))
        .header(COOKIE, c)
        .form(&[("email", email), ("csrf", &f)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn rows(app: &TestApp) -> (u64, u64) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    (
        kept::entities::session::Entity::find().count(&app.state.db).await.unwrap(),
        kept::entities::password_reset::Entity::find().count(&app.state.db).await.unwrap(),
    )
}

#[tokio::test]
async fn a_tick_deletes_expired_sessions_and_spent_reset_links_and_keeps_valid_ones() {
    let app = spawn_app_with(TestDb::new().await, &[]).await;
    // Day 0: an invitation used to set the password, a session (14 days),
    // and a reset link asked for and never used (2 hours).
    set_password_by_invite(&app, admin_id(&app).await, "correct horse battery").await;
    let (_, first) = login(&app, "owner@example.test", "correct horse battery").await;
    let first = first.expect("a session");
    ask_for_reset(&app, "owner@example.test").await;
    assert_eq!(rows(&app).await, (1, 2));

    // Day 13: a second session and a fresh reset link.
    app.clock.advance(chrono::Duration::days(13));
    let (_, second) = login(&app, "owner@example.test", "correct horse battery").await;
    let second = second.expect("a session");
    ask_for_reset(&app, "owner@example.test").await;
    app.tick().await;
    assert_eq!(rows(&app).await, (2, 1), "the used and the expired links are gone; both sessions stay");

    // Day 14 and a minute: the first session has expired, and so has the link.
    app.clock.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    app.tick().await;
    assert_eq!(rows(&app).await, (1, 0));
    let page = client().get(app.url("/app")).header(COOKIE, &second).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the valid session still works");
    let page = client().get(app.url("/app")).header(COOKIE, &first).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
}

/// `kept staff password`: a first admin, with no email provider to send a
/// link, gets a password from the command line (read from standard input).
#[tokio::test]
async fn the_command_line_sets_a_password_and_signs_the_person_out_everywhere() {
    use std::io::Write;
    let db = TestDb::new().await;
    let url = db.url.clone();
    let app = crate::helpers::spawn_app_on(db).await;
    let run = |pw: &str, email: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kept"))
            .args(["staff", "password", "--email", email])
            .env("KEPT_DATABASE_URL", &url)
            .env("KEPT_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run kept");
        child.stdin.take().unwrap().write_all(format!("{pw}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("short", "owner@example.test");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"), "{short:?}");
    let nobody = run("a long enough password", "nobody@example.test");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no staff member"), "{nobody:?}");

    let ok = run("correct horse battery", "owner@example.test");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let (status, session) = login(&app, "owner@example.test", "correct horse battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = session.expect("signed in");
    assert_eq!(client().get(app.url("/app")).header(COOKIE, &session).send().await.unwrap().status(), StatusCode::OK);
    // Setting it again signs them out everywhere.
    assert!(run("another long password", "owner@example.test").status.success());
    let r = client().get(app.url("/app")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old session is gone");
    assert_eq!(login(&app, "owner@example.test", "another long password").await.0, StatusCode::SEE_OTHER);
}
