use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_customer_is_stored_with_e164_phone_channels_and_zone() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/customers",
            json!({"name": "Ananya Iyer", "phone": "+91 98765 43210", "email": "ananya@example.test",
                   "channels": ["email", "sms"], "timezone": "Asia/Kolkata", "address": "17 Orchard Lane"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["phone"], "+919876543210");
    assert_eq!(r.body["channels"], json!(["email", "sms"]));
    assert_eq!(r.body["timezone"], "Asia/Kolkata");
    assert_eq!(r.body["sms_opted_out"], false);
}

#[tokio::test]
async fn without_channels_we_use_every_contact_given_and_the_org_zone() {
    let app = spawn_app().await;
    let r = app.post("/api/v1/customers", json!({"name": "Walter Kim", "phone": "213-555-0178"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["channels"], json!(["sms"]));
    assert_eq!(r.body["timezone"], "America/New_York");
}

#[tokio::test]
async fn bad_customer_input_names_each_field() {
    let app = spawn_app().await;
    let r = app
        .post("/api/v1/customers", json!({"name": "X", "phone": "call me", "email": "x@", "timezone": "Nowhere/Else"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut f = r.fields();
    f.sort();
    assert_eq!(f, vec!["email", "phone", "timezone"]);
    assert!(r.body["message"].as_str().unwrap().contains("Nowhere/Else"), "{}", r.body);
}

#[tokio::test]
async fn sms_without_a_phone_or_no_contact_at_all_is_refused() {
    let app = spawn_app().await;
    let r = app.post("/api/v1/customers", json!({"name": "X", "email": "x@example.test", "channels": ["sms"]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["phone"]);
    let r = app.post("/api/v1/customers", json!({"name": "Y"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["channels"]);
    let r = app.post("/api/v1/customers", json!({"name": "Z", "phone": "+12125550111", "channels": ["fax"]})).await;
    assert_eq!(r.fields(), vec!["channels"]);
    assert_eq!(app.get("/api/v1/customers").await.body["items"], json!([]));
}

#[tokio::test]
async fn wrongly_typed_or_unknown_fields_are_422_and_broken_json_is_400() {
    let app = spawn_app().await;
    let r = app.post("/api/v1/customers", json!({"name": 5})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["name"]);
    let r =
        app.post("/api/v1/customers", json!({"name": "A", "phone": "+12125550111", "favourite_colour": "red"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let raw = app
        .client
        .post(app.url("/api/v1/customers"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
}
