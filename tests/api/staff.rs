use crate::fakes::FakeSmtp;
use crate::helpers::{spawn_app, spawn_app_with, TestDb};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn creating_staff_stores_an_e164_phone_and_default_hours() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/staff",
            json!({"name": "Marcus Bell", "role": "estimator", "phone": "(212) 555-0103", "email": "marcus@example.test",
                   "photo_url": "https://example.test/marcus.jpg", "bio": "Measures twice.", "timezone": "America/New_York"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["phone"], "+12125550103");
    assert_eq!(r.body["role"], "estimator");
    assert_eq!(r.body["working_hours"]["mon"], json!([["08:00", "17:00"]]));
    let again = app.get(&format!("/api/v1/staff/{}", r.id())).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["name"], "Marcus Bell");
}

#[tokio::test]
async fn bad_staff_fields_are_all_named_and_nothing_is_saved() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/staff",
            json!({"name": " ", "role": "wizard", "phone": "12", "email": "nope", "timezone": "Mars/Base",
                   "working_hours": {"mon": [["17:00", "08:00"]]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "phone", "role", "timezone", "working_hours"]);
    let list = app.get("/api/v1/staff").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "only the admin: {}", list.body);
}

#[tokio::test]
async fn a_second_staff_member_with_the_same_email_is_a_conflict() {
    let app = spawn_app().await;
    app.staff("Lena Okafor", "technician", "America/New_York").await;
    let r = app
        .post(
            "/api/v1/staff",
            json!({"name": "Lena O", "role": "technician", "email": "lena.okafor@example.test", "timezone": "UTC"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"], "email_taken");
}

#[tokio::test]
async fn staff_lists_are_paginated() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.staff(&format!("Tech {i}"), "technician", "UTC").await;
    }
    let first = app.get("/api/v1/staff?limit=2").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let after = first.body["next_after"].as_i64().expect("a next page");
    let second = app.get(&format!("/api/v1/staff?limit=2&after={after}")).await;
    let third = app.get(&format!("/api/v1/staff?limit=2&after={}", second.body["next_after"])).await;
    let ids: Vec<i64> = [&first, &second, &third]
        .iter()
        .flat_map(|r| r.body["items"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect::<Vec<_>>())
        .collect();
    assert_eq!(ids.len(), 5, "admin + 4: {ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered, no repeats: {ids:?}");
    assert_eq!(third.body["next_after"], serde_json::Value::Null);
    let bad = app.get("/api/v1/staff?limit=0").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.fields(), vec!["limit"]);
}

#[tokio::test]
async fn invitations_are_limited_per_inbox_and_the_office_messages_per_customer() {
    let app = spawn_app().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    for _ in 0..3 {
        assert_eq!(app.post(&format!("/api/v1/staff/{lena}/invite"), json!({})).await.status, StatusCode::ACCEPTED);
    }
    let r =
        app.client.post(app.url(&format!("/api/v1/staff/{lena}/invite"))).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 3600, "{wait}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    assert_eq!(app.outbox("kind=password_reset").await.len(), 3, "the fourth link was never mailed");
    // Another person's inbox has its own allowance.
    let sam = app.staff("Sam Ruiz", "technician", "America/New_York").await;
    assert_eq!(app.post(&format!("/api/v1/staff/{sam}/invite"), json!({})).await.status, StatusCode::ACCEPTED);

    let job = app.ny_job().await;
    let path = format!("/api/v1/jobs/{job}/messages");
    for i in 0..10 {
        let r = app.post(&path, json!({"body": format!("Update {i}"), "channels": ["email"]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // A bad request does not count; the eleventh real one waits.
    assert_eq!(app.post(&path, json!({"body": ""})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.post(&path, json!({"body": "One too many", "channels": ["email"]})).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests")));
    assert_eq!(app.outbox("kind=reply").await.len(), 10);
    let other = app.ny_job().await;
    let r = app.post(&format!("/api/v1/jobs/{other}/messages"), json!({"body": "Hello", "channels": ["email"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "another customer is not affected: {}", r.body);
}

#[tokio::test]
async fn an_invitation_without_an_email_provider_says_the_link_is_in_the_outbox() {
    let app = spawn_app().await; // no KEPT_SMTP_URL
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let r = app.post(&format!("/api/v1/staff/{lena}/invite"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["emailed"], false);
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.contains(
            "No email provider is configured (KEPT_SMTP_URL is not set), so we did not email lena.okafor@example.test"
        ) && message.contains("GET /api/v1/outbox?kind=password_reset"),
        "{message}"
    );
    assert!(!message.contains("We emailed"), "{message}");
    // And that is where the link is.
    let mails = app.outbox("kind=password_reset").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["recipient"], "lena.okafor@example.test");
    assert!(mails[0]["body_text"].as_str().unwrap().contains("https://kept.example.test/reset/"), "{}", mails[0]);
}

#[tokio::test]
async fn an_invitation_with_an_email_provider_says_we_emailed_it() {
    let smtp = FakeSmtp::start().await;
    let app = spawn_app_with(TestDb::new().await, &smtp.env()).await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let r = app.post(&format!("/api/v1/staff/{lena}/invite"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        (r.body["invited"].as_str(), r.body["emailed"].as_bool()),
        (Some("lena.okafor@example.test"), Some(true))
    );
    assert_eq!(
        r.body["message"],
        "We emailed lena.okafor@example.test a link to choose a password. It works once, for a week."
    );
}

#[tokio::test]
async fn only_admins_can_read_sign_in_links_in_the_outbox() {
    let app = spawn_app().await;
    let priya = app.staff("Priya Raman", "dispatcher", "America/New_York").await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    assert_eq!(app.post(&format!("/api/v1/staff/{lena}/invite"), json!({})).await.status, StatusCode::ACCEPTED);
    let admin = app.get("/api/v1/outbox?kind=password_reset").await;
    assert_eq!(admin.body["items"].as_array().unwrap().len(), 1, "{}", admin.body);
    let dispatcher = app.token_for(kept::domain::people::Role::Dispatcher, Some(priya)).await;
    for path in ["/api/v1/outbox?kind=password_reset", "/api/v1/outbox?limit=200"] {
        let r = app.get_as(&dispatcher, path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let kinds: Vec<&str> =
            r.body["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
        assert!(!kinds.contains(&"password_reset"), "a dispatcher could take over an account: {kinds:?}");
    }
}
