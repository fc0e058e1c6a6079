//! The customer's short notices (link expired, already decided) carry the
//! company's logo, or its name, as their page does, wherever the link says
//! whose it is.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn a_notice_shows_the_companys_logo_or_name_when_the_link_is_theirs() {
    let app = spawn_app().await;
    let name = app.get("/api/v1/organization").await.body["name"].as_str().unwrap().to_string();
    let job = app.ny_job().await;
    let lines =
        json!([{"kind": "labor", "description": "Dry-out", "quantity": "2", "unit": "h", "unit_price_minor": 8500}]);
    let e = app.post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_rate_bp": 0, "lines": lines})).await.id();
    assert_eq!(app.post(&format!("/api/v1/estimates/{e}/send"), json!({})).await.status, StatusCode::OK);
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().unwrap();
    let body = sms["body_text"].as_str().unwrap();
    let token = body[body.find("/c/").unwrap() + 3..][..40].to_string();
    let approve = || async {
        let r = client()
            .post(app.url(&format!("/c/{token}/estimates/{e}/approve")))
            .form(&[("comment", "")])
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert_eq!(approve().await.0, StatusCode::SEE_OTHER);

    // Already decided: the notice is under the company's name (no logo yet).
    let (status, html) = approve().await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains(&format!("<p class=\"org\">{name}</p>")), "{html}");
    assert!(!html.contains("<img"), "{html}");

    // With a logo, the logo (named by the company for a screen reader).
    let r = app.patch("/api/v1/organization", json!({"logo_url": "https://example.test/logo.png"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let logo = format!("<img class=\"logo\" src=\"https:&#x2f;&#x2f;example.test&#x2f;logo.png\" alt=\"{name}\">");
    let (status, html) = approve().await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains(&logo), "{html}");

    // The link expired (the job closed more than 30 days ago): still theirs.
    let done = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    app.clock.advance(chrono::Duration::days(31));
    let r = client().get(app.url(&format!("/c/{token}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = r.text().await.unwrap();
    assert!(html.contains("This link does not work") && html.contains(&logo), "{html}");

    // A link that was never anyone's says whose it is not.
    let r = client().get(app.url(&format!("/c/{}", "ab".repeat(20)))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = r.text().await.unwrap();
    assert!(html.contains("This link does not work") && !html.contains("class=\"org\""), "{html}");
}
