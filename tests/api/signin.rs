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
