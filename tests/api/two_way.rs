//! Two-way SMS: signed webhooks, receipts, replies, STOP/START/HELP.

use crate::fakes::FakeTwilio;
use crate::helpers::{spawn_app_with, utc, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PUBLIC: &str = "https://kept.example.test";

enum Sign {
    Good,
    None,
    WrongUrl,
    Tampered,
}

async fn webhook(
    app: &TestApp,
    twilio: &FakeTwilio,
    path: &str,
    params: &[(&str, &str)],
    sign: Sign,
) -> (StatusCode, String) {
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let url = match sign {
        Sign::WrongUrl => format!("https://attacker.example{path}"),
        _ => format!("{PUBLIC}{path}"),
    };
    let signature = kept::webhooks::twilio_signature(&twilio.token, &url, &owned);
    let mut sent = owned.clone();
    if let Sign::Tampered = sign {
        sent.push(("Body".into(), "extra".into()));
        sent.retain(|(k, v)| k != "Body" || v == "extra");
    }
    let mut req = app.client.post(app.url(path)).form(&sent);
    if !matches!(sign, Sign::None) {
        req = req.header("X-Twilio-Signature", signature);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn setup() -> (TestApp, FakeTwilio, i64, i64) {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.patch("/api/v1/organization", json!({"phone": "+1 212 555 0100"})).await;
    app.post("/api/v1/staff", json!({"name": "Priya Raman", "role": "dispatcher", "email": "priya@example.test", "timezone": "America/New_York"})).await;
    app.clock.set(utc("2026-11-23T15:00:00Z")); // 10:00 in New York
    let c = app
        .post("/api/v1/customers", json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "email": "walter@example.test", "timezone": "America/New_York"}))
        .await
        .id();
    let job = app.job(c).await;
    (app, twilio, c, job)
}

fn inbound<'a>(sid: &'a str, from: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("MessageSid", sid),
        ("From", from),
        ("To", "+12065550100"),
        ("Body", body),
    ]
}

#[tokio::test]
async fn unsigned_tampered_or_misaddressed_webhooks_get_403_and_change_nothing() {
    let (app, twilio, c, _) = setup().await;
    for sign in [Sign::None, Sign::WrongUrl, Sign::Tampered] {
        let (status, _) =
            webhook(&app, &twilio, "/webhooks/twilio/inbound", &inbound("SM1", "+12135550178", "STOP"), sign).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.get("/api/v1/inbound").await.body["items"], json!([]));
    assert_eq!(app.get(&format!("/api/v1/customers/{c}")).await.body["sms_opted_out"], false);
    let (status, _) = webhook(
        &app,
        &twilio,
        "/webhooks/twilio/status",
        &[("MessageSid", "SMx"), ("MessageStatus", "failed")],
        Sign::None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn stop_opts_out_of_sms_only_and_start_opts_back_in() {
    let (app, twilio, c, job) = setup().await;
    let (status, twiml) =
        webhook(&app, &twilio, "/webhooks/twilio/inbound", &inbound("SM1", "+12135550178", "Stop"), Sign::Good).await;
    assert_eq!(status, StatusCode::OK);
    assert!(twiml.contains("<Response></Response>"), "Twilio answers STOP itself: {twiml}");
    assert_eq!(app.get(&format!("/api/v1/customers/{c}")).await.body["sms_opted_out"], true);

    // The next update still goes by email; the SMS is visibly suppressed.
    app.clock.set(utc("2026-11-23T21:31:00Z"));
    app.tick().await;
    let updates = app.outbox(&format!("job_id={job}&kind=status_update")).await;
    let by = |ch: &str| updates.iter().find(|m| m["channel"] == ch).unwrap().clone();
    assert_eq!(by("sms")["state"], "suppressed");
    assert_eq!(by("email")["state"], "not_sent_no_provider", "no SMTP configured in this test");
    assert!(twilio.received().is_empty());

    webhook(&app, &twilio, "/webhooks/twilio/inbound", &inbound("SM2", "+12135550178", "START"), Sign::Good).await;
    assert_eq!(app.get(&format!("/api/v1/customers/{c}")).await.body["sms_opted_out"], false);
    app.clock.set(utc("2026-11-24T13:31:00Z"));
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1, "texts resume");
    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let kinds: Vec<&str> = tl.body["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"customer_opted_out") && kinds.contains(&"customer_opted_in"), "{kinds:?}");
}

#[tokio::test]
async fn help_answers_with_the_company_name_and_phone() {
    let (app, twilio, _, _) = setup().await;
    let (status, twiml) =
        webhook(&app, &twilio, "/webhooks/twilio/inbound", &inbound("SM1", "+12135550178", "HELP"), Sign::Good).await;
    assert_eq!(status, StatusCode::OK);
    assert!(twiml.contains("<Message>Test Restoration") && twiml.contains("+12125550100"), "{twiml}");
}

#[tokio::test]
async fn a_reply_lands_on_the_job_and_alerts_the_dispatcher_once_even_if_retried() {
    let (app, twilio, _, job) = setup().await;
    let params = inbound("SM77", "+12135550178", "Can the crew come before noon? The dog is out then.");
    for _ in 0..3 {
        let (status, _) = webhook(&app, &twilio, "/webhooks/twilio/inbound", &params, Sign::Good).await;
        assert_eq!(status, StatusCode::OK);
    }
    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let replies: Vec<&Value> =
        tl.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "customer_reply").collect();
    assert_eq!(replies.len(), 1);
    assert!(replies[0]["summary"].as_str().unwrap().contains("before noon"));
    let alerts = app.outbox("kind=dispatcher_alert").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["recipient"], "priya@example.test");
    assert!(alerts[0]["body_text"].as_str().unwrap().contains("before noon"));
    let inbox = app.get("/api/v1/inbound?matched=true").await;
    assert_eq!(inbox.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(inbox.body["items"][0]["job_id"], job);
}

#[tokio::test]
async fn a_text_from_an_unknown_number_is_kept_in_the_unmatched_inbox() {
    let (app, twilio, _, _) = setup().await;
    let (status, _) =
        webhook(&app, &twilio, "/webhooks/twilio/inbound", &inbound("SM9", "+14155550111", "Who is this?"), Sign::Good)
            .await;
    assert_eq!(status, StatusCode::OK);
    let unmatched = app.get("/api/v1/inbound?matched=false").await;
    assert_eq!(unmatched.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(unmatched.body["items"][0]["body"], "Who is this?");
    assert_eq!(unmatched.body["items"][0]["customer_id"], Value::Null);
    assert_eq!(app.outbox("kind=dispatcher_alert").await.len(), 0);
}

#[tokio::test]
async fn delivery_receipts_only_move_forward_and_dead_numbers_are_flagged() {
    let (app, twilio, c, job) = setup().await;
    let r = app
        .post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Parts arrive Tuesday.", "channels": ["sms"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.tick().await;
    let sid = twilio.accepted().len();
    assert_eq!(sid, 1);
    let m = app.outbox("kind=reply").await.remove(0);
    let sid = m["provider_id"].as_str().unwrap().to_string();
    let receipt = |status: &'static str, code: &'static str| {
        vec![("MessageSid", sid.clone()), ("MessageStatus", status.to_string()), ("ErrorCode", code.to_string())]
    };
    async fn post(app: &TestApp, twilio: &FakeTwilio, p: Vec<(&str, String)>) -> StatusCode {
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        webhook(app, twilio, "/webhooks/twilio/status", &p, Sign::Good).await.0
    }
    // Out of order: delivered arrives before sent; then a repeat of queued.
    assert_eq!(post(&app, &twilio, receipt("delivered", "")).await, StatusCode::NO_CONTENT);
    post(&app, &twilio, receipt("sent", "")).await;
    post(&app, &twilio, receipt("queued", "")).await;
    let m = app.outbox("kind=reply").await.remove(0);
    assert_eq!(m["provider_status"], "delivered");
    assert_eq!(m["state"], "sent");

    // A second reply that the carrier cannot deliver to a landline.
    app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Second note.", "channels": ["sms"]})).await;
    app.tick().await;
    let second = app.outbox("kind=reply").await.remove(1);
    let sid2 = second["provider_id"].as_str().unwrap().to_string();
    let p = vec![
        ("MessageSid", sid2.clone()),
        ("MessageStatus", "undelivered".to_string()),
        ("ErrorCode", "30006".to_string()),
    ];
    post(&app, &twilio, p).await;
    post(
        &app,
        &twilio,
        vec![("MessageSid", sid2), ("MessageStatus", "sent".to_string()), ("ErrorCode", "".to_string())],
    )
    .await;
    let second = app.outbox("kind=reply").await.remove(1);
    assert_eq!(
        (second["state"].as_str(), second["provider_status"].as_str(), second["provider_error_code"].as_i64()),
        (Some("failed"), Some("undelivered"), Some(30006))
    );
    let row = kept::store::customers::get(&app.state.db, app.org_id, c).await.unwrap();
    assert!(row.sms_problem.unwrap().contains("landline"));
    // And the office cannot text that number any more.
    let r = app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Third.", "channels": ["sms"]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), vec!["channels"]);
}

#[tokio::test]
async fn a_direct_answer_within_15_minutes_of_a_text_ignores_quiet_hours() {
    let (app, twilio, _, job) = setup().await;
    app.clock.set(utc("2026-11-24T02:30:00Z")); // 21:30 in New York: quiet
    webhook(
        &app,
        &twilio,
        "/webhooks/twilio/inbound",
        &inbound("SM5", "+12135550178", "Is tomorrow still on?"),
        Sign::Good,
    )
    .await;
    app.clock.set(utc("2026-11-24T02:40:00Z"));
    let r = app
        .post(
            &format!("/api/v1/jobs/{job}/messages"),
            json!({"body": "Yes, 9 to 11. See you then.", "channels": ["sms"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1, "answered at once");
    // Half an hour later the exemption is over: held until 08:00.
    app.clock.set(utc("2026-11-24T03:10:00Z"));
    app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "One more thing.", "channels": ["sms"]})).await;
    app.tick().await;
    assert_eq!(twilio.accepted().len(), 1);
    assert_eq!(app.outbox("state=held&kind=reply").await.len(), 1);
}
