//! The company's logo: set through the organization API and the settings
//! page (an absolute https URL of at most 500 characters, audited), shown in
//! the header of the customer's page and of the emails, nothing when unset.

use crate::helpers::{spawn_app, TestApp};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};

const LOGO: &str = "https://cdn.example.net/harbor-and-pine/logo.png";

/// An address as the templates write it in an attribute (`/` escaped, as
/// minijinja does; a browser reads it back as the address).
fn attr(url: &str) -> String {
    url.replace('/', "&#x2f;")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn last_settings_change(app: &TestApp) -> Value {
    let audit = app.get("/api/v1/audit").await.body;
    let entry =
        audit["items"].as_array().unwrap().iter().rev().find(|a| a["action"] == "settings_changed").expect("audited");
    match &entry["detail"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    }
}

/// The customer's page of a job that was sent an estimate, and that estimate's email.
async fn page_and_email(app: &TestApp) -> (String, String) {
    let job = app.ny_job().await;
    let body =
        json!({"lines": [{"kind": "fee", "description": "Leak check", "quantity": "1", "unit_price_minor": 9500}]});
    let e = app.post(&format!("/api/v1/jobs/{job}/estimates"), body).await;
    app.post(&format!("/api/v1/estimates/{}/send", e.body["id"]), json!({})).await;
    let email = app.outbox("kind=pricing_breakdown&channel=email").await.pop().unwrap();
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().unwrap();
    let sms = sms["body_text"].as_str().unwrap();
    let i = sms.find("/c/").unwrap();
    let r = client().get(app.url(&sms[i..i + 43])).send().await.unwrap();
    let policy = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("img-src 'self' https:"), "a logo on another host may load: {policy}");
    (r.text().await.unwrap(), email["body_html"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_logo_is_set_through_the_api_checked_audited_and_removed() {
    let app = spawn_app().await;
    let before = app.get("/api/v1/organization").await.body;
    assert_eq!(before["logo_url"], Value::Null);
    let too_long = format!("https://cdn.example.net/{}", "a".repeat(480));
    for bad in
        ["http://cdn.example.net/logo.png", "/logo.png", "https://", "https://cdn.example.net/my logo.png", &too_long]
    {
        let r = app.patch("/api/v1/organization", json!({"logo_url": bad, "name": "Renamed"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", r.body);
        assert_eq!(r.fields(), vec!["logo_url"], "{}", r.body);
        assert_eq!(app.get("/api/v1/organization").await.body, before, "nothing saved");
    }
    let r = app.patch("/api/v1/organization", json!({"logo_url": LOGO})).await;
    assert_eq!((r.status, r.body["logo_url"].as_str()), (StatusCode::OK, Some(LOGO)), "{}", r.body);
    assert_eq!(app.get("/api/v1/organization").await.body["logo_url"], LOGO);
    assert_eq!(last_settings_change(&app).await["changed"]["logo_url"], json!({"from": null, "to": LOGO}));
    // Other changes leave it alone; an empty one removes it.
    app.patch("/api/v1/organization", json!({"travel_buffer_minutes": 40})).await;
    assert_eq!(app.get("/api/v1/organization").await.body["logo_url"], LOGO);
    let r = app.patch("/api/v1/organization", json!({"logo_url": ""})).await;
    assert_eq!((r.status, &r.body["logo_url"]), (StatusCode::OK, &Value::Null));
    assert_eq!(last_settings_change(&app).await["changed"]["logo_url"], json!({"from": LOGO, "to": null}));
}

#[tokio::test]
async fn the_customers_page_and_emails_show_the_logo_only_when_there_is_one() {
    let app = spawn_app().await;
    let (page, email) = page_and_email(&app).await;
    assert!(!page.contains("class=\"logo\"") && !email.contains("<img"), "no logo, no image");
    assert!(page.contains("<p class=\"org\">Test Restoration</p>"), "{page}");

    app.patch("/api/v1/organization", json!({"logo_url": LOGO})).await;
    let (page, email) = page_and_email(&app).await;
    assert!(page.contains(&format!("<img class=\"logo\" src=\"{}\" alt=\"Test Restoration\">", attr(LOGO))), "{page}");
    assert!(email.contains(&format!("<img src=\"{}\" alt=\"Test Restoration\"", attr(LOGO))), "{email}");
}

#[tokio::test]
async fn the_admin_sets_the_logo_on_the_settings_page_and_a_bad_one_is_named() {
    let app = spawn_app().await;
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, csrf) = app.session_for(admin).await;
    let org = app.get("/api/v1/organization").await.body;
    let form = |logo: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", org["name"].as_str().unwrap().to_string()),
            ("phone", String::new()),
            ("email", String::new()),
            ("mission_statement", org["mission_statement"].as_str().unwrap().to_string()),
            ("timezone", org["timezone"].as_str().unwrap().to_string()),
            (
                "update_times",
                org["update_times"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("quiet_hours_start", org["quiet_hours_start"].as_str().unwrap().to_string()),
            ("quiet_hours_end", org["quiet_hours_end"].as_str().unwrap().to_string()),
            ("travel_buffer_minutes", org["travel_buffer_minutes"].to_string()),
            ("max_window_minutes", org["max_window_minutes"].to_string()),
            ("at_risk_lead_minutes", org["at_risk_lead_minutes"].to_string()),
            ("late_grace_minutes", org["late_grace_minutes"].to_string()),
            ("estimate_turnaround_hours", org["estimate_turnaround_hours"].to_string()),
            ("sms_number", String::new()),
            ("customers_may_reschedule", "on".to_string()),
            ("logo_url", logo.to_string()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move { client().post(app.url("/app/settings")).header(COOKIE, cookie).form(&f).send().await.unwrap() }
    };
    let r = post(form("ftp://cdn.example.net/logo.png")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"e-logo_url\"") && html.contains(&attr("must be an absolute https:// address")),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{}\"", attr("ftp://cdn.example.net/logo.png"))), "what was typed is kept");
    assert_eq!(app.get("/api/v1/organization").await.body["logo_url"], Value::Null, "nothing saved");

    let r = post(form(LOGO)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/organization").await.body["logo_url"], LOGO);
    let page = client().get(app.url("/app/settings")).header(COOKIE, &cookie).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains(&format!("value=\"{}\"", attr(LOGO))) && page.contains(&format!("<img src=\"{}\"", attr(LOGO))),
        "{page}"
    );
    assert_eq!(last_settings_change(&app).await["changed"]["logo_url"], json!({"from": null, "to": LOGO}));

    let r = post(form("")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/organization").await.body["logo_url"], Value::Null, "emptied: removed");
}
