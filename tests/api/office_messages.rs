//! The office's messaging (issue 12): the company's wording of each
//! message (checked, previewed for a real job, used by the notifier), a
//! job's conversation, sending a message again, and filing unmatched
//! texts. The API first; the pages in a real Chromium below.

use crate::fakes::{FakeTwilio, Twilio};
use crate::helpers::{spawn_app, spawn_app_with, utc, TestApp, TestDb};
use kept::domain::people::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PUBLIC: &str = "https://kept.example.test";

/// A customer texts our number through Twilio's signed webhook.
pub(crate) async fn text_in(app: &TestApp, twilio_token: &str, sid: &str, from: &str, body: &str) {
    let params: Vec<(String, String)> = [
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("MessageSid", sid),
        ("From", from),
        ("To", "+12065550100"),
        ("Body", body),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let path = "/webhooks/twilio/inbound";
    let signature = kept::webhooks::twilio_signature(twilio_token, &format!("{PUBLIC}{path}"), &params);
    let r = app.client.post(app.url(path)).header("X-Twilio-Signature", signature).form(&params).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> crate::helpers::Reply {
    app.send_as(token, Method::PUT, path, &body).await
}

fn status_update(list: &Value) -> Value {
    list["items"].as_array().unwrap().iter().find(|k| k["kind"] == "status_update").cloned().unwrap()
}

fn part<'a>(kind: &'a Value, name: &str) -> &'a Value {
    kind["parts"].as_array().unwrap().iter().find(|p| p["part"] == name).unwrap()
}

#[tokio::test]
async fn each_message_kind_lists_its_parts_with_the_default_and_sign_in_links_are_not_ours_to_reword() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/message-templates").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let kinds: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"introduction") && kinds.contains(&"visit_cancelled"), "{kinds:?}");
    assert!(!kinds.contains(&"password_reset") && !kinds.contains(&"dispatcher_alert"), "{kinds:?}");
    let su = status_update(&r.body);
    assert_eq!(su["customized"], false);
    let parts: Vec<&str> = su["parts"].as_array().unwrap().iter().map(|p| p["part"].as_str().unwrap()).collect();
    assert_eq!(parts, ["sms", "subject", "email_text", "email_html"]);
    let sms = part(&su, "sms");
    assert_eq!(sms["body"], sms["default"]);
    assert!(sms["default"].as_str().unwrap().contains("{{ customer.first_name }}"), "{sms}");
    assert!(su["variables"].as_array().unwrap().contains(&json!("next_promise.when")), "{}", su["variables"]);

    let r = put(&app, &app.token, "/api/v1/message-templates/password_reset/sms", json!({"body": "hi"})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["kind".to_string()]), "{}", r.body);
    let r = put(&app, &app.token, "/api/v1/message-templates/status_update/fax", json!({"body": "hi"})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["part".to_string()]), "{}", r.body);
}

#[tokio::test]
async fn a_wording_that_does_not_compile_is_refused_with_its_line_and_nothing_is_saved() {
    let app = spawn_app().await;
    let path = "/api/v1/message-templates/status_update/sms";
    // An unclosed tag on line 2.
    let r = put(
        &app,
        &app.token,
        path,
        json!({"body": "Hi {{ customer.first_name }},\nstatus: {{ job.status_label }\n{{ link }}"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["body".to_string()]);
    let why = r.body["fields"][0]["message"].as_str().unwrap();
    assert!(why.starts_with("line 2: "), "{why}");
    // A name the message does not have (a typo), on line 3.
    let r = put(
        &app,
        &app.token,
        path,
        json!({"body": "Hi {{ customer.first_name }},\n\nyour {{ jbo.title }}: {{ link }}"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let why = r.body["fields"][0]["message"].as_str().unwrap();
    assert!(why.starts_with("line 3: ") && why.contains("`jbo"), "{why}");
    // An unknown filter.
    let r = put(&app, &app.token, path, json!({"body": "{{ customer.first_name | shout }} {{ link }}"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body["fields"][0]["message"].as_str().unwrap().starts_with("line 1: "), "{}", r.body);
    // Nothing at all.
    let r = put(&app, &app.token, path, json!({"body": "  {# nothing #} "})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    let su = status_update(&app.get("/api/v1/message-templates").await.body);
    assert_eq!(su["customized"], false, "nothing was saved");
    let audit = app.get("/api/v1/audit").await.body;
    assert!(!audit.to_string().contains("wording_changed"), "{audit}");
}

#[tokio::test]
async fn only_admins_change_wording_and_field_staff_see_none_of_it() {
    let app = spawn_app().await;
    let dispatcher = app.token_for(Role::Dispatcher, None).await;
    let tech_id = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tech = app.token_for(Role::Technician, Some(tech_id)).await;
    let path = "/api/v1/message-templates/reminder/sms";
    let r = put(&app, &dispatcher, path, json!({"body": "See you tomorrow {{ link }}"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.send_as(&dispatcher, Method::DELETE, path, &json!(null)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get_as(&dispatcher, "/api/v1/message-templates").await.status, StatusCode::OK);
    assert_eq!(app.get_as(&tech, "/api/v1/message-templates").await.status, StatusCode::FORBIDDEN);
    let job = app.ny_job().await;
    let r =
        app.send_as(&tech, Method::POST, "/api/v1/message-templates/reminder/preview", &json!({"job_id": job})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .send_as(&dispatcher, Method::POST, "/api/v1/message-templates/reminder/preview", &json!({"job_id": job}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_preview_renders_unsaved_drafts_for_the_jobs_customer_with_segments_and_encoding() {
    let app = spawn_app().await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Anika Das", "phone": "+1 212 555 0143", "email": "anika@example.test", "timezone": "Asia/Kolkata", "address": "12 Park St"}),
        )
        .await
        .id();
    let job = app.job(c).await;
    let r = app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = "/api/v1/message-templates/reminder/preview";

    // Plain GSM text: her name, the visit in her zone (Kolkata), Marcus.
    let sms = "Hi {{ customer.first_name }}, {{ staff.name }} comes {{ visit.window }}. {{ link }}";
    let r = app.post(path, json!({"job_id": job, "parts": {"sms": sms}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.body["sms"]["body"].as_str().unwrap();
    assert!(
        body.starts_with("Hi Anika, Marcus Bell comes Monday, November 23, between 7:30 PM and 9:30 PM IST."),
        "{body}"
    );
    assert_eq!(r.body["sms"]["encoding"], "GSM-7");
    assert_eq!(r.body["sms"]["segments"], 1, "{}", r.body);
    assert_eq!(r.body["timezone"], "Asia/Kolkata");
    assert_eq!(r.body["channels"], json!(["sms", "email"]));
    assert!(r.body["email"]["subject"].as_str().unwrap().contains("Marcus"), "{}", r.body["email"]);
    assert!(r.body["email"]["html"].as_str().unwrap().contains("Anika"), "the default email, for her");
    assert!(!r.body["examples"].as_array().unwrap().contains(&json!("visit")), "her real visit: {}", r.body);

    // An emoji makes it UCS-2; a long one takes several segments.
    let long = format!("{} 🙂 {{{{ link }}}}", "We'll be there on time, promise.".repeat(5));
    let r = app.post(path, json!({"job_id": job, "parts": {"sms": long}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sms"]["encoding"], "UCS-2");
    assert_eq!(r.body["sms"]["segments"], 4, "{} characters", r.body["sms"]["characters"]);

    // A draft that does not compile is refused naming its part and line; another job's is not found.
    let r = app.post(path, json!({"job_id": job, "parts": {"email_text": "Hello\n{% if x %}\nno end"}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["parts.email_text".to_string()]);
    assert!(r.body["fields"][0]["message"].as_str().unwrap().starts_with("line "), "{}", r.body);
    let rival = app.rival_token().await;
    let r = app.send_as(&rival, Method::POST, path, &json!({"job_id": job})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["job_id".to_string()]), "{}", r.body);
    let r = app.post(path, json!({"job_id": job, "parts": {"fax": "x"}})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["parts.fax".to_string()]), "{}", r.body);

    // The pricing breakdown of her real estimate.
    let r = app
        .post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_rate_bp": 825, "lines": [{"kind": "labor", "description": "Dry-out, 2 technicians", "quantity": "2.5", "unit": "h", "unit_price_minor": 8500}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app.post("/api/v1/message-templates/pricing_breakdown/preview", json!({"job_id": job})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["sms"]["body"].as_str().unwrap().contains("$230.03"), "{}", r.body["sms"]);
    assert!(!r.body["examples"].as_array().unwrap().contains(&json!("estimate")), "{}", r.body);

    assert_eq!(status_update(&app.get("/api/v1/message-templates").await.body)["customized"], false);
    let reminder = app.get("/api/v1/message-templates").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "reminder")
        .cloned()
        .unwrap();
    assert_eq!(reminder["customized"], false, "previews save nothing");
}

#[tokio::test]
async fn the_companys_wording_is_used_for_the_next_status_update_and_delete_restores_the_default() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let path = "/api/v1/message-templates/status_update/sms";
    let mine = "Good {{ slot }}, {{ customer.first_name }}! Your {{ job.title | lower }} is {{ job.status_label }}. {{ link }}";
    let r = put(&app, &app.token, path, json!({"body": mine})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.body["customized"].clone(), r.body["body"].as_str()), (json!(true), Some(mine)));
    let audit = app.get("/api/v1/audit").await.body;
    assert!(audit.to_string().contains("wording_changed"), "{audit}");

    app.clock.set(utc("2026-11-20T21:31:00Z")); // 4:31 PM in New York
    app.tick().await;
    let sms = app.outbox(&format!("job_id={job}&kind=status_update&channel=sms")).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    let body = sms[0]["body_text"].as_str().unwrap();
    assert!(
        body.starts_with("Good afternoon, Nadia! Your leak is just opened. https://kept.example.test/c/"),
        "{body}"
    );
    let email = app.outbox(&format!("job_id={job}&kind=status_update&channel=email")).await;
    assert!(
        !email[0]["body_text"].as_str().unwrap().starts_with("Good afternoon, Nadia! Your leak"),
        "email keeps ours"
    );

    let r = app.send_as(&app.token, Method::DELETE, path, &json!(null)).await;
    assert_eq!((r.status, r.body["customized"].clone()), (StatusCode::OK, json!(false)), "{}", r.body);
    app.clock.set(utc("2026-11-21T13:31:00Z")); // 8:31 AM the next day
    app.tick().await;
    let sms = app.outbox(&format!("job_id={job}&kind=status_update&channel=sms")).await;
    assert_eq!(sms.len(), 2, "{sms:?}");
    assert!(
        !sms[1]["body_text"].as_str().unwrap().contains("Your leak is"),
        "the default again: {}",
        sms[1]["body_text"]
    );
}

#[tokio::test]
async fn a_jobs_conversation_lists_what_we_sent_and_what_they_texted_in_order() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-23T15:00:00Z")); // 10:00 in New York
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/New_York"}),
        )
        .await
        .id();
    let job = app.job(c).await;
    let r = app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "We'll call you at noon."})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.tick().await;
    app.clock.advance(chrono::Duration::minutes(5));
    text_in(&app, &twilio.token, "SM100", "+12135550178", "Noon works, thanks").await;

    let r = app.get(&format!("/api/v1/jobs/{job}/conversation")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        (
            items[0]["direction"].as_str(),
            items[0]["kind"].as_str(),
            items[0]["state"].as_str(),
            items[0]["channel"].as_str()
        ),
        (Some("outbound"), Some("reply"), Some("sent"), Some("sms"))
    );
    assert!(items[0]["body"].as_str().unwrap().contains("We'll call you at noon."));
    assert_eq!(
        (items[1]["direction"].as_str(), items[1]["state"].as_str(), items[1]["body"].as_str()),
        (Some("inbound"), Some("received"), Some("Noon works, thanks"))
    );
    assert!(items[0]["at"].as_str() < items[1]["at"].as_str());

    // A technician on the job sees it; one who is not gets 403.
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let omar = app.staff("Omar Haddad", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await;
    let on = app.token_for(Role::Technician, Some(lena)).await;
    let off = app.token_for(Role::Technician, Some(omar)).await;
    assert_eq!(app.get_as(&on, &format!("/api/v1/jobs/{job}/conversation")).await.status, StatusCode::OK);
    assert_eq!(app.get_as(&off, &format!("/api/v1/jobs/{job}/conversation")).await.status, StatusCode::FORBIDDEN);
    let rival = app.rival_token().await;
    assert_eq!(app.get_as(&rival, &format!("/api/v1/jobs/{job}/conversation")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_uncertain_message_is_sent_again_once_linked_and_audited_and_nothing_else_is() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Slow(std::time::Duration::from_millis(2500))]);
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-23T15:00:00Z"));
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/New_York"}),
        )
        .await
        .id();
    let job = app.job(c).await;
    app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Your dehumidifier stays two more days."})).await;
    app.tick().await;
    let first = app.outbox(&format!("job_id={job}")).await[0].clone();
    assert_eq!(first["state"], "uncertain", "{first}");
    let id = first["id"].as_i64().unwrap();

    let dispatcher = app.token_for(Role::Dispatcher, None).await;
    let r = app.send_as(&dispatcher, Method::POST, &format!("/api/v1/messages/{id}/resend"), &json!(null)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let again = r.id();
    assert_eq!((r.body["resent_from_id"].as_i64(), r.body["state"].as_str()), (Some(id), Some("pending")));
    assert_eq!(r.body["body_text"], first["body_text"]);
    let r = app.send_as(&dispatcher, Method::POST, &format!("/api/v1/messages/{id}/resend"), &json!(null)).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::CONFLICT, Some("already_resent")), "{}", r.body);
    assert_eq!(r.body["resent_as_id"].as_i64(), Some(again));
    app.tick().await;
    let sent = app.outbox(&format!("job_id={job}")).await;
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0]["state"].as_str(), sent[1]["state"].as_str()), (Some("uncertain"), Some("sent")));
    let r = app.send_as(&dispatcher, Method::POST, &format!("/api/v1/messages/{again}/resend"), &json!(null)).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::CONFLICT, Some("not_resendable")), "{}", r.body);
    let audit = app.get("/api/v1/audit").await.body;
    let entry = audit["items"].as_array().unwrap().iter().find(|a| a["action"] == "message_resent").cloned();
    let entry = entry.unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(
        (entry["detail"]["message_id"].as_i64(), entry["detail"]["new_message_id"].as_i64()),
        (Some(id), Some(again))
    );
    let conv = app.get(&format!("/api/v1/jobs/{job}/conversation")).await.body;
    assert_eq!(conv["items"][0]["resent_as_id"].as_i64(), Some(again), "{conv}");

    let tech_id = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tech = app.token_for(Role::Technician, Some(tech_id)).await;
    let r = app.send_as(&tech, Method::POST, &format!("/api/v1/messages/{id}/resend"), &json!(null)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let rival = app.rival_token().await;
    let r = app.send_as(&rival, Method::POST, &format!("/api/v1/messages/{id}/resend"), &json!(null)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_message_to_a_number_that_cannot_receive_texts_is_not_sent_again() {
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Error(400, 21211)]);
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.clock.set(utc("2026-11-23T15:00:00Z"));
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/New_York"}),
        )
        .await
        .id();
    let job = app.job(c).await;
    app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "Hello"})).await;
    app.tick().await;
    let m = app.outbox(&format!("job_id={job}")).await[0].clone();
    assert_eq!(m["state"], "failed", "{m}");
    let r = app.post(&format!("/api/v1/messages/{}/resend", m["id"]), json!(null)).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::CONFLICT, Some("unreachable")), "{}", r.body);
    assert_eq!(app.outbox(&format!("job_id={job}")).await.len(), 1, "nothing queued");
}

#[tokio::test]
async fn a_text_from_an_unknown_number_is_filed_under_a_job_or_a_customer() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/New_York"}),
        )
        .await
        .id();
    let job = app.job(c).await;
    text_in(&app, &twilio.token, "SM200", "+13105550111", "This is Walter's wife: is the crew still coming?").await;
    text_in(&app, &twilio.token, "SM201", "+13105550122", "Who is this?").await;
    let unmatched = app.get("/api/v1/inbound?matched=false").await.body["items"].clone();
    assert_eq!(unmatched.as_array().unwrap().len(), 2, "{unmatched}");
    let (wife, other) = (unmatched[0]["id"].as_i64().unwrap(), unmatched[1]["id"].as_i64().unwrap());

    let r = app.post(&format!("/api/v1/inbound/{wife}/attach"), json!({"job_id": job, "customer_id": c})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["job_id".to_string()]), "{}", r.body);
    let r = app.post(&format!("/api/v1/inbound/{wife}/attach"), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.post(&format!("/api/v1/inbound/{wife}/attach"), json!({"job_id": 9999})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["job_id".to_string()]), "{}", r.body);

    let r = app.post(&format!("/api/v1/inbound/{wife}/attach"), json!({"job_id": job})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.body["customer_id"].as_i64(), r.body["job_id"].as_i64()), (Some(c), Some(job)));
    let r = app.post(&format!("/api/v1/inbound/{wife}/attach"), json!({"customer_id": c})).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::CONFLICT, Some("already_filed")), "{}", r.body);
    // By customer: it lands on their open job.
    let r = app.post(&format!("/api/v1/inbound/{other}/attach"), json!({"customer_id": c})).await;
    assert_eq!((r.status, r.body["job_id"].as_i64()), (StatusCode::OK, Some(job)), "{}", r.body);

    assert_eq!(app.get("/api/v1/inbound?matched=false").await.body["items"], json!([]));
    let conv = app.get(&format!("/api/v1/jobs/{job}/conversation")).await.body;
    let bodies: Vec<&str> = conv["items"].as_array().unwrap().iter().filter_map(|i| i["body"].as_str()).collect();
    assert!(bodies.contains(&"This is Walter's wife: is the crew still coming?"), "{conv}");
    let timeline = app.get(&format!("/api/v1/jobs/{job}/timeline")).await.body.to_string();
    assert!(timeline.contains("is the crew still coming?"), "{timeline}");
    let customer = app.get(&format!("/api/v1/customers/{c}")).await.body;
    assert_eq!(customer["phone"], "+12135550178", "the sender's number is not taken as theirs");

    let rival = app.rival_token().await;
    let r =
        app.send_as(&rival, Method::POST, &format!("/api/v1/inbound/{other}/attach"), &json!({"customer_id": c})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------
// The pages, in a real Chromium (see `browser.rs`).

use crate::browser::{set_password, Driver};

async fn sign_in(browser: &Driver, app: &TestApp) {
    browser.go(&app.url("/login")).await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app").await;
}

/// Replaces what a text box holds, as a person selecting all and typing would.
async fn retype(browser: &Driver, css: &str, text: &str) {
    let e = browser.find(css).await;
    browser.call(Method::POST, &format!("/element/{e}/clear"), Some(json!({}))).await;
    browser.type_into(css, text).await;
}

/// The page fits the screen: nobody scrolls sideways.
async fn fits(browser: &Driver, what: &str) {
    let (page, screen) = browser.widths().await;
    assert!(page <= screen, "{what}: {page}px laid out on a {screen}px screen");
}

#[tokio::test]
async fn in_a_real_browser_the_office_answers_a_text_and_files_an_unmatched_one() {
    let Some(browser) = Driver::start().await else { return };
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    app.clock.set(utc("2026-11-23T15:00:00Z")); // 10:00 in New York
    let walter = app
        .post("/api/v1/customers", json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/New_York", "address": "9 Elm St"}))
        .await
        .id();
    let job = app.job(walter).await;
    text_in(&app, &twilio.token, "SM300", "+12135550178", "Is the crew still coming today?").await;
    text_in(&app, &twilio.token, "SM301", "+13105550111", "This is Walter's wife, Mina. Please call me instead.").await;

    browser.screen(1280, false).await;
    sign_in(&browser, &app).await;
    browser.go(&app.url(&format!("/app/jobs/{job}"))).await;
    let page = browser.wait_text("Conversation with Walter Kim").await;
    assert!(page.contains("Is the crew still coming today?"), "{page}");
    app.clock.advance(chrono::Duration::minutes(3));
    browser.type_into("#reply-body", "Yes: Lena arrives between 1 and 3 PM. We'll text when she's on her way.").await;
    browser.click("form.reply button[type=submit]").await;
    let page = browser.wait_text("Lena arrives between 1 and 3 PM").await;
    assert!(page.contains("Reply · Text"), "the answer is in the thread: {page}");
    let (asked, answered) =
        (page.find("Is the crew still coming today?"), page.find("Lena arrives between 1 and 3 PM"));
    assert!(asked < answered, "in the order it happened: {page}");
    app.tick().await;
    let sent = twilio.accepted();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0]["Body"].contains("Lena arrives between 1 and 3 PM"), "{:?}", sent[0]);
    assert_eq!(sent[0]["To"], "+12135550178");
    browser.go(&app.url(&format!("/app/jobs/{job}"))).await;
    let thread = browser.wait_text("Conversation with Walter Kim").await;
    assert!(thread.contains("Sent "), "its state: {thread}");
    // Live: their next text appears in the thread without a reload.
    browser.js("window.keptMark = 12; return true;", json!([])).await;
    app.clock.advance(chrono::Duration::minutes(2));
    text_in(&app, &twilio.token, "SM302", "+12135550178", "Perfect, thank you!").await;
    browser.wait_text("Perfect, thank you!").await;
    assert_eq!(browser.js("return window.keptMark;", json!([])).await, json!(12), "redrawn in place, not reloaded");
    browser.full_page_screenshot("office-job-conversation").await;

    // The unmatched inbox: Mina's text is filed under Walter's job.
    browser.go(&app.url("/app/inbox")).await;
    browser.wait_text("Please call me instead.").await;
    browser.full_page_screenshot("office-unmatched-texts").await;
    browser
        .js(
            "document.querySelector('form.attach-job select').value = arguments[0]; return true;",
            json!([job.to_string()]),
        )
        .await;
    browser.click("form.attach-job button").await;
    browser.wait_url(&format!("/app/jobs/{job}#conversation")).await;
    let page = browser.wait_text("Please call me instead.").await;
    assert!(page.contains("from +13105550111"), "the other number is shown: {page}");
    assert_eq!(app.get("/api/v1/inbound?matched=false").await.body["items"], json!([]));
    let conv = app.get(&format!("/api/v1/jobs/{job}/conversation")).await.body;
    assert_eq!(conv["items"].as_array().unwrap().len(), 4, "{conv}");

    browser.screen(360, true).await;
    browser.go(&app.url(&format!("/app/jobs/{job}"))).await;
    browser.wait_text("Conversation with Walter Kim").await;
    fits(&browser, "the job's conversation on a phone").await;
    browser.go(&app.url("/app/inbox")).await;
    browser.wait_text("No unmatched texts").await;
    fits(&browser, "the inbox on a phone").await;
}

#[tokio::test]
async fn in_a_real_browser_the_outbox_says_why_and_the_office_sends_an_uncertain_message_again() {
    let Some(browser) = Driver::start().await else { return };
    let twilio = FakeTwilio::start().await;
    twilio.script(&[Twilio::Slow(std::time::Duration::from_millis(2500))]);
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    app.clock.set(utc("2026-11-23T15:00:00Z")); // 10:00 in New York, 2:00 AM in Sydney
    let walter = app
        .post(
            "/api/v1/customers",
            json!({"name": "Walter Kim", "phone": "+1 213 555 0178", "timezone": "America/New_York"}),
        )
        .await
        .id();
    let job = app.job(walter).await;
    app.post(&format!("/api/v1/jobs/{job}/messages"), json!({"body": "The dehumidifiers stay two more days."})).await;
    app.tick().await;
    let owen = app
        .post("/api/v1/customers", json!({"name": "Owen Hart", "phone": "+61 491 570 156", "email": "owen@example.test", "timezone": "Australia/Sydney"}))
        .await
        .id();
    let far = app.job(owen).await;
    app.post(
        &format!("/api/v1/jobs/{far}/messages"),
        json!({"body": "Your roof report is ready.", "channels": ["sms"]}),
    )
    .await;
    app.tick().await;
    let uncertain = app.outbox(&format!("job_id={job}")).await[0].clone();
    assert_eq!(uncertain["state"], "uncertain", "{uncertain}");
    assert_eq!(app.outbox(&format!("job_id={far}")).await[0]["state"], "held");

    browser.screen(1280, false).await;
    sign_in(&browser, &app).await;
    browser.click("a[href='/app/outbox']").await;
    let page = browser.wait_text("Outbox").await;
    assert!(page.contains("Held for quiet hours until Tue Nov 24, 8:00 AM AEDT"), "{page}");
    assert!(page.contains("Uncertain: the provider did not answer in time"), "{page}");
    browser.js("document.querySelectorAll('details').forEach(d => d.open = true); return true;", json!([])).await;
    browser.full_page_screenshot("office-outbox-desktop").await;
    browser.click(&format!("form[action='/app/messages/{}/resend'] button", uncertain["id"])).await;
    let page = browser.wait_text("Sent again as message").await;
    assert!(page.contains(&format!("sends message {} again", uncertain["id"])), "{page}");
    let again = app.outbox(&format!("job_id={job}")).await;
    assert_eq!(again.len(), 2);
    assert_eq!(again[1]["resent_from_id"], uncertain["id"]);
    assert!(app.get("/api/v1/audit").await.body.to_string().contains("message_resent"));
    app.tick().await;
    assert_eq!(app.outbox(&format!("job_id={job}")).await[1]["state"], "sent");

    // Filters: only what is held.
    browser.go(&app.url("/app/outbox?state=held")).await;
    let page = browser.wait_text("Outbox").await;
    assert!(page.contains("Owen Hart") && !page.contains("Walter Kim"), "{page}");
    browser.screen(390, true).await;
    browser.go(&app.url("/app/outbox")).await;
    browser.wait_text("Outbox").await;
    fits(&browser, "the outbox on a phone").await;
    browser.full_page_screenshot("office-outbox-phone").await;
}

#[tokio::test]
async fn in_a_real_browser_the_admin_rewords_the_status_update_and_the_next_one_uses_it() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await; // Friday, November 20, 10:00 AM in New York
    set_password(&app, "owner@example.test", "correct horse battery").await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let job = app.ny_job().await;
    app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;

    browser.screen(1280, false).await;
    sign_in(&browser, &app).await;
    browser.click("a[href='/app/wording']").await;
    let page = browser.wait_text("As Nadia Brooks would read it").await;
    assert!(page.contains("Status update") && page.contains("Marcus Bell arrives for the work visit"), "{page}");

    // Our own words: the preview follows as they are typed.
    let ours = "{{ org.name }}: Good {{ slot }}, {{ customer.first_name }}! A quick check-in on your {{ job.title | lower }}.\n{% if next_promise %}Next: {{ next_promise.label }}, {{ next_promise.when }}.{% endif %}\n\n{{ link }}";
    retype(&browser, "#p-sms", ours).await;
    let page = browser.wait_text("A quick check-in on your leak.").await;
    assert!(page.contains("GSM-7"), "{page}");

    // Broken on line 2: refused with the line, nothing saved.
    let broken = "{{ org.name }}: Good {{ slot }}, {{ customer.first_name }}!\nA quick check-in on your {{ job.title }.\n{{ link }}";
    retype(&browser, "#p-sms", broken).await;
    browser.click("button[value=save]").await;
    let page = browser.wait_text("Nothing was changed").await;
    assert!(page.contains("line 2:"), "{page}");
    let su = status_update(&app.get("/api/v1/message-templates").await.body);
    assert_eq!(su["customized"], false, "nothing saved");
    browser.full_page_screenshot("office-wording-refused").await;

    // Fixed and saved.
    retype(&browser, "#p-sms", ours).await;
    browser.wait_text("A quick check-in on your leak.").await;
    browser.click("button[value=save]").await;
    browser.wait_text("Saved. The next message of this kind uses this wording.").await;
    let su = status_update(&app.get("/api/v1/message-templates").await.body);
    assert_eq!(part(&su, "sms")["body"], ours);
    browser.full_page_screenshot("office-wording-editor").await;
    browser.screen(390, true).await;
    browser.go(&app.url("/app/wording?kind=status_update")).await;
    browser.wait_text("As Nadia Brooks would read it").await;
    fits(&browser, "the wording editor on a phone").await;
    browser.full_page_screenshot("office-wording-editor-phone").await;

    // The next status update (4:30 PM in New York) uses it.
    app.clock.set(utc("2026-11-20T21:31:00Z"));
    app.tick().await;
    let sms = app.outbox(&format!("job_id={job}&kind=status_update&channel=sms")).await;
    let body = sms[0]["body_text"].as_str().unwrap();
    assert!(
        body.starts_with("Test Restoration: Good afternoon, Nadia! A quick check-in on your leak.\nNext: Marcus Bell arrives for the work visit, Monday, November 23"),
        "{body}"
    );
}
