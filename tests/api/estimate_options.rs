//! Optional estimate items: priced apart from the total, offered on the
//! customer's page with what each adds, chosen when approving (priced again
//! by the server), and told in the breakdown and in a revision's changes.

use crate::helpers::{spawn_app, TestApp};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// $1,000 of required work, a $250.00 fan rental and a $99.99 sealant that
/// the customer may add, 8.25% tax.
fn with_options() -> Value {
    json!({
        "tax_rate_bp": 825,
        "lines": [
            {"kind": "labor", "description": "Dry-out", "quantity": "10", "unit": "h", "unit_price_minor": 10000},
            {"kind": "equipment", "description": "Fan rental", "quantity": "1", "unit_price_minor": 25000, "optional": true},
            {"kind": "material", "description": "Sealant", "quantity": "1", "unit_price_minor": 9999, "optional": true}
        ]
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn link_token(body: &str) -> String {
    let i = body.find("/c/").expect("a customer link") + 3;
    body[i..i + 40].to_string()
}

/// Writes and sends `body` on `job`; returns the estimate and the customer's link token.
async fn sent(app: &TestApp, job: i64, body: Value) -> (Value, String) {
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let s = app.post(&format!("/api/v1/estimates/{}/send", r.body["id"]), json!({})).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().unwrap();
    (s.body, link_token(sms["body_text"].as_str().unwrap()))
}

async fn approve(app: &TestApp, token: &str, id: &Value, form: &[(&str, String)]) -> (StatusCode, String) {
    let r = client().post(app.url(&format!("/c/{token}/estimates/{id}/approve"))).form(form).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn optional_items_stay_out_of_the_total_and_the_customer_approves_a_choice_priced_by_the_server() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let (e, token) = sent(&app, job, with_options()).await;
    let lines = e["lines"].as_array().unwrap();
    // The total is the required work: 100,000 + 8.25% = 108,250.
    assert_eq!((e["subtotal_minor"].as_i64(), e["total_minor"].as_i64()), (Some(100_000), Some(108_250)), "{e}");
    assert_eq!(lines.iter().map(|l| l["optional"].as_bool().unwrap()).collect::<Vec<_>>(), vec![false, true, true]);
    // Each option adds its price and the tax on it: 125,000 → 10,313 tax
    // (135,313, so +27,063); 109,999 → 9,075 tax (119,074, so +10,824).
    assert_eq!(lines[0]["adds_minor"], Value::Null);
    assert_eq!((lines[1]["adds_minor"].as_i64(), lines[1]["adds"].as_str()), (Some(27_063), Some("$270.63")));
    assert_eq!((lines[2]["adds_minor"].as_i64(), lines[2]["adds"].as_str()), (Some(10_824), Some("$108.24")));
    assert_eq!(e["approved_total_minor"], Value::Null);
    let (required, fan) = (lines[0]["id"].clone(), lines[1]["id"].to_string());

    // The customer's page offers each option with a box to tick and what it adds.
    let html = client().get(app.url(&format!("/c/{token}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("name=\"options\" value=\"{fan}\"")), "{html}");
    assert!(html.contains("adds $270.63") && html.contains("adds $108.24"), "{html}");
    assert!(html.contains("Your total: <strong class=\"your-total\">$1,082.50</strong>"), "{html}");
    assert!(html.contains("/assets/estimate.js"));

    // A choice that is not one of its optional items is refused, naming
    // the field, and changes nothing.
    for bad in [required.to_string(), "999999".to_string(), "fan".to_string()] {
        let (status, text) =
            approve(&app, &token, &e["id"], &[("options", fan.clone()), ("options", bad.clone())]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {text}");
        assert!(text.contains("options:") && text.contains("Nothing was changed"), "{text}");
    }
    let after = app.get(&format!("/api/v1/estimates/{}", e["id"])).await.body;
    assert_eq!((after["status"].as_str(), after["approved_total_minor"].as_i64()), (Some("sent"), None));
    assert!(after["lines"].as_array().unwrap().iter().all(|l| l["chosen"] == false));
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "awaiting_approval");
    assert!(app.outbox("kind=dispatcher_alert").await.is_empty(), "the office heard of nothing");

    // The fan (ticked twice by a double submit): 135,313 approved.
    let (status, _) = approve(&app, &token, &e["id"], &[("options", fan.clone()), ("options", fan.clone())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let done = app.get(&format!("/api/v1/estimates/{}", e["id"])).await.body;
    assert_eq!(done["status"], "approved");
    assert_eq!(
        (done["approved_total_minor"].as_i64(), done["approved_total"].as_str()),
        (Some(135_313), Some("$1,353.13"))
    );
    assert_eq!(done["total_minor"], 108_250, "the estimate's own total is unchanged");
    let chosen: Vec<bool> = done["lines"].as_array().unwrap().iter().map(|l| l["chosen"].as_bool().unwrap()).collect();
    assert_eq!(chosen, vec![false, true, false]);
    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await.body;
    let approved = tl["items"].as_array().unwrap().iter().find(|t| t["kind"] == "estimate_approved").unwrap().clone();
    assert!(approved["summary"].as_str().unwrap().contains("with Fan rental ($250.00) for $1,353.13"), "{approved}");
    let alert = app.outbox("kind=dispatcher_alert").await;
    assert!(alert[0]["body_text"].as_str().unwrap().contains("$1,353.13"), "{}", alert[0]);

    // The customer's page and the office's job page say what was chosen.
    let html = client().get(app.url(&format!("/c/{token}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("$1,353.13") && html.contains("Fan rental <strong>(you chose this)</strong>"), "{html}");
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, _) = app.session_for(admin).await;
    let page = client().get(app.url(&format!("/app/jobs/{job}"))).header(COOKIE, cookie).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("Approved for $1,353.13"), "{page}");
    assert!(page.contains("✓ Chose the option Fan rental ($250.00)"), "{page}");
    assert!(page.contains("Did not choose the option Sealant ($99.99)"), "{page}");
}

#[tokio::test]
async fn approving_without_options_records_the_total_and_bad_optional_lines_are_refused() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    // A discount cannot be optional; an estimate of options only has no total.
    let mut bad = with_options();
    bad["lines"][1] = json!({"kind": "discount", "description": "Loyalty", "quantity": "1", "unit_price_minor": 500, "optional": true});
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["lines[1].optional"]);
    let mut only = with_options();
    only["lines"][0]["optional"] = json!(true);
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), only).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["lines"]);
    assert!(app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"].as_array().unwrap().is_empty());

    // Nothing ticked: the approved total is the estimate's total.
    let (e, token) = sent(&app, job, with_options()).await;
    let (status, _) = approve(&app, &token, &e["id"], &[("comment", "Just the dry-out".into())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let done = app.get(&format!("/api/v1/estimates/{}", e["id"])).await.body;
    assert_eq!(
        (done["approved_total_minor"].as_i64(), done["decision_comment"].as_str()),
        (Some(108_250), Some("Just the dry-out"))
    );
}

#[tokio::test]
async fn the_breakdown_lists_options_apart_and_a_revision_names_what_became_optional_or_required() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let (e, _) = sent(&app, job, with_options()).await;
    let email = app.outbox("kind=pricing_breakdown&channel=email").await.pop().unwrap();
    let text = email["body_text"].as_str().unwrap();
    assert!(text.contains("Total: $1,082.50 (USD)"), "{text}");
    assert!(text.contains("Optional, only if you want them (not in the total above; tick any you'd like on your page when you approve):"), "{text}");
    assert!(text.contains("Fan rental: 1 x $250.00 = $250.00, adds $270.63 to your total"), "{text}");
    assert!(text.contains("Sealant: 1 x $99.99 = $99.99, adds $108.24 to your total"), "{text}");
    let required_part = &text[..text.find("Optional, only").unwrap()];
    assert!(!required_part.contains("Fan rental"), "an option is not among the lines of the total:\n{text}");
    let html = email["body_html"].as_str().unwrap();
    assert!(html.contains("Optional, only if you want them.") && html.contains("$270.63"), "{html}");
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().unwrap();
    let sms = sms["body_text"].as_str().unwrap();
    assert!(
        sms.contains("Total $1,082.50 incl. tax.")
            && sms.contains("Optional, if you want: Fan rental +$270.63; Sealant +$108.24."),
        "{sms}"
    );
    assert!(!sms.contains("Largest items: Fan rental"), "{sms}");

    // A revision: the dry-out becomes optional, the fan part of the work,
    // and a new optional item is added.
    let revised = json!({
        "tax_rate_bp": 825,
        "lines": [
            {"kind": "labor", "description": "Dry-out", "quantity": "10", "unit": "h", "unit_price_minor": 10000, "optional": true},
            {"kind": "equipment", "description": "Fan rental", "quantity": "1", "unit_price_minor": 25000},
            {"kind": "material", "description": "Sealant", "quantity": "1", "unit_price_minor": 9999, "optional": true},
            {"kind": "fee", "description": "Baseboard repaint", "quantity": "1", "unit_price_minor": 9500, "optional": true}
        ]
    });
    let r = app.patch(&format!("/api/v1/estimates/{}", e["id"]), revised).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.post(&format!("/api/v1/estimates/{}/send", r.body["id"]), json!({})).await;
    let email = app.outbox("kind=pricing_breakdown&channel=email").await.pop().unwrap();
    let text = email["body_text"].as_str().unwrap();
    assert!(
        text.contains(
            "* Now optional: Dry-out ($1,000.00) is no longer in the total; tick it on your page if you still want it"
        ),
        "{text}"
    );
    assert!(text.contains("* Now included: Fan rental ($250.00) was optional and is now part of the total"), "{text}");
    assert!(text.contains("+ Added as an option (not in the total): Baseboard repaint, $95.00"), "{text}");
    // 25,000 + 8.25% (2,062.5 → 2,063) = 27,063.
    assert!(text.contains("Total: $1,082.50 before, $270.63 now."), "{text}");
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().unwrap();
    let sms = sms["body_text"].as_str().unwrap();
    assert!(sms.contains("Now optional: Dry-out.") && sms.contains("Now included: Fan rental."), "{sms}");
    assert!(sms.contains("Added: Baseboard repaint (optional) $95.00"), "{sms}");
}

#[tokio::test]
async fn in_a_real_browser_the_customer_ticks_an_optional_item_and_approves() {
    let Some(browser) = crate::browser::Driver::start().await else { return };
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let (e, token) = sent(&app, job, with_options()).await;
    let fan = e["lines"][1]["id"].to_string();
    browser.screen(360, true).await;
    browser.go(&app.url(&format!("/c/{token}"))).await;
    browser.wait_text("Your total: $1,082.50").await;
    let (page, screen) = browser.widths().await;
    assert!(page <= screen, "no sideways scrolling at 360 px: {page} > {screen}");
    // Ticking the fan: "your total" follows at once, priced as the server prices it.
    browser.click(&format!("input[name=options][value='{fan}']")).await;
    browser.wait_text("Your total: $1,353.13").await;
    browser.full_page_screenshot("customer-estimate-options-phone").await;
    browser.click("form.approve button").await;
    let shown = browser.wait_text("You approved this estimate for $1,353.13").await;
    assert!(shown.contains("Fan rental (you chose this)"), "{shown}");
    browser.full_page_screenshot("customer-estimate-options-approved-phone").await;
    let done = app.get(&format!("/api/v1/estimates/{}", e["id"])).await.body;
    assert_eq!((done["status"].as_str(), done["approved_total_minor"].as_i64()), (Some("approved"), Some(135_313)));
    assert_eq!(done["lines"][1]["chosen"], true);

    // The same page on a desktop, before anything was chosen.
    let job = app.ny_job().await;
    let (_, token) = sent(&app, job, with_options()).await;
    browser.screen(1280, false).await;
    browser.go(&app.url(&format!("/c/{token}"))).await;
    browser.wait_text("Your total: $1,082.50").await;
    browser.full_page_screenshot("customer-estimate-options-desktop").await;

    // New York City's 8.875%: the page's "your total" reads the rate as
    // written and prices the choice exactly as the server does.
    // 100,000 × 8.875% = 8,875 -> $1,088.75; with the fan, 125,000 × 8.875%
    // = 11,093.75 -> 11,094 -> $1,360.94, so the fan adds 27,219.
    let job = app.ny_job().await;
    let mut nyc = with_options();
    nyc.as_object_mut().unwrap().remove("tax_rate_bp");
    nyc["tax_percent"] = json!("8.875");
    let (e, token) = sent(&app, job, nyc).await;
    assert_eq!(e["lines"][1]["adds_minor"], 27_219, "{e}");
    browser.go(&app.url(&format!("/c/{token}"))).await;
    let page = browser.wait_text("Your total: $1,088.75").await;
    assert!(page.contains("Tax (8.875%)"), "{page}");
    browser.click(&format!("input[name=options][value='{}']", e["lines"][1]["id"])).await;
    browser.wait_text("Your total: $1,360.94").await;
    browser.call(reqwest::Method::DELETE, "", None).await;
}
