//! Estimates: pricing by the server, versions, the breakdown message, and
//! the customer's answer from their link.

use crate::helpers::{spawn_app, TestApp};
use kept::domain::people::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn worked_example() -> Value {
    json!({
        "tax_rate_bp": 825,
        "notes": "Price includes haul-away.",
        "valid_until": "2026-12-31",
        "lines": [
            {"kind": "labor", "description": "Dry-out, 2 technicians", "quantity": "2.5", "unit": "h", "unit_price_minor": 8500},
            {"kind": "material", "description": "Drywall", "quantity": "37.25", "unit": "sq ft", "unit_price_minor": 349},
            {"kind": "fee", "description": "Disposal", "quantity": "1", "unit_price_minor": 4500},
            {"kind": "discount", "description": "Returning customer", "quantity": "1", "unit_price_minor": 2000}
        ]
    })
}

fn link_token(body: &str) -> String {
    let i = body.find("/c/").expect("a customer link") + 3;
    body[i..i + 40].to_string()
}

async fn draft(app: &TestApp, job: i64, body: Value) -> Value {
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

#[tokio::test]
async fn the_server_prices_every_line_with_the_documented_rounding() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let e = draft(&app, job, worked_example()).await;
    assert_eq!(e["currency"], "USD");
    assert_eq!(e["status"], "draft");
    assert_eq!(e["version"], 1);
    let totals: Vec<i64> = e["lines"].as_array().unwrap().iter().map(|l| l["total_minor"].as_i64().unwrap()).collect();
    assert_eq!(totals, vec![21250, 13000, 4500, -2000]);
    assert_eq!(
        (e["subtotal_minor"].as_i64(), e["tax_minor"].as_i64(), e["total_minor"].as_i64()),
        (Some(36750), Some(3032), Some(39782))
    );
    assert_eq!(e["total"], "$397.82");
    assert_eq!(e["lines"][1]["quantity"], "37.25");
    // Totals from the client are not accepted at all.
    let mut cheat = worked_example();
    cheat["total_minor"] = json!(1);
    assert_eq!(
        app.post(&format!("/api/v1/jobs/{job}/estimates"), cheat).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn bad_estimates_are_refused_naming_the_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let line =
        |kind: &str, q: Value, p: i64| json!({"kind": kind, "description": "x", "quantity": q, "unit_price_minor": p});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"lines": [line("labor", json!("-2"), 100)]}), "lines[0].quantity"),
        (json!({"lines": [line("fee", json!("1"), 100), line("material", json!("0"), 100)]}), "lines[1].quantity"),
        (json!({"lines": [line("labor", json!(2.5), 100)]}), "lines[0].quantity"),
        (json!({"lines": [line("labor", json!("1.23456"), 100)]}), "lines[0].quantity"),
        (json!({"lines": [line("labor", json!("1"), -100)]}), "lines[0].unit_price_minor"),
        (json!({"lines": [line("labor", json!("1"), 100_000_000_000_000)]}), "lines[0].unit_price_minor"),
        (json!({"lines": [line("gift", json!("1"), 100)]}), "lines[0].kind"),
        (json!({"currency": "XYZ", "lines": [line("fee", json!("1"), 100)]}), "currency"),
        (json!({"tax_rate_bp": 10001, "lines": [line("fee", json!("1"), 100)]}), "tax_rate_bp"),
        (json!({"lines": [line("fee", json!("1"), 100), line("discount", json!("1"), 500)]}), "lines"),
        (json!({"lines": (0..201).map(|_| line("fee", json!("1"), 1)).collect::<Vec<_>>()}), "lines"),
        (json!({"valid_until": "soon", "lines": [line("fee", json!("1"), 100)]}), "valid_until"),
    ];
    for (body, field) in cases {
        let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert!(r.fields().contains(&field.to_string()), "{field} in {:?}", r.fields());
    }
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"], json!([]));
    // An empty draft may be saved, but not sent.
    let empty = draft(&app, job, json!({"lines": []})).await;
    let r = app.post(&format!("/api/v1/estimates/{}/send", empty["id"]), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["lines"]);
    assert_eq!(app.get(&format!("/api/v1/estimates/{}", empty["id"])).await.body["status"], "draft");
    assert_eq!(app.outbox("kind=pricing_breakdown").await.len(), 0);
}

#[tokio::test]
async fn sending_queues_the_breakdown_and_a_revision_says_what_changed() {
    let app = spawn_app().await;
    let job = app.ny_job().await; // customer on sms and email
    let v1 = draft(&app, job, worked_example()).await;
    let r = app.post(&format!("/api/v1/estimates/{}/send", v1["id"]), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "sent");
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "awaiting_approval");
    let msgs = app.outbox("kind=pricing_breakdown").await;
    assert_eq!(msgs.len(), 2);
    let email = msgs.iter().find(|m| m["channel"] == "email").unwrap();
    let text = email["body_text"].as_str().unwrap();
    for expected in [
        "Dry-out, 2 technicians: 2.5 h x $85.00 = $212.50",
        "Drywall: 37.25 sq ft x $3.49 = $130.00",
        "-$20.00",
        "Subtotal: $367.50",
        "(8.25%): $30.32",
        "Total: $397.82",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    assert!(email["body_html"].as_str().unwrap().contains("<table"), "the full table in HTML");
    let sms = msgs.iter().find(|m| m["channel"] == "sms").unwrap()["body_text"].as_str().unwrap().to_string();
    assert!(
        sms.contains("$397.82")
            && sms.contains("Dry-out, 2 technicians $212.50")
            && sms.contains("Drywall $130.00")
            && sms.contains("Disposal $45.00"),
        "{sms}"
    );
    assert!(sms.contains("/c/"), "{sms}");

    // Editing a sent estimate makes version 2; version 1 stays readable.
    let mut changed = worked_example();
    changed["lines"] = json!([
        {"kind": "labor", "description": "Dry-out, 2 technicians", "quantity": "3", "unit": "h", "unit_price_minor": 8500},
        {"kind": "material", "description": "Drywall", "quantity": "37.25", "unit": "sq ft", "unit_price_minor": 349},
        {"kind": "equipment", "description": "Dehumidifier, 3 days", "quantity": "3", "unit": "day", "unit_price_minor": 6000}
    ]);
    let r = app.patch(&format!("/api/v1/estimates/{}", v1["id"]), changed).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    let v2 = r.body.clone();
    let old = app.get(&format!("/api/v1/estimates/{}", v1["id"])).await.body;
    assert_eq!(
        (old["status"].as_str(), old["total_minor"].as_i64(), old["is_current"].as_bool()),
        (Some("sent"), Some(39782), Some(false))
    );
    app.post(&format!("/api/v1/estimates/{}/send", v2["id"]), json!({})).await;
    assert_eq!(app.get(&format!("/api/v1/estimates/{}", v1["id"])).await.body["status"], "superseded");
    let revision = app.outbox("kind=pricing_breakdown&channel=email").await.pop().unwrap();
    let text = revision["body_text"].as_str().unwrap();
    assert!(text.contains("+ Added: Dehumidifier, 3 days, $180.00"), "{text}");
    assert!(text.contains("- Removed: Disposal"), "{text}");
    assert!(text.contains("Removed: Returning customer"), "{text}");
    assert!(text.contains("Changed: Dry-out, 2 technicians: 2.5 for $212.50 is now 3 for $255.00"), "{text}");
    // 255.00 + 130.00 + 180.00 = 565.00, + 8.25% = 46.61 -> 611.61
    assert!(text.contains("Total: $397.82 before, $611.61 now."), "{text}");
    assert!(revision["subject"].as_str().unwrap().contains("$397.82 → $611.61"));
}

#[tokio::test]
async fn the_customer_approves_from_their_link_and_an_outdated_version_is_refused() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let v1 = draft(&app, job, worked_example()).await;
    app.post(&format!("/api/v1/estimates/{}/send", v1["id"]), json!({})).await;
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.remove(0);
    let token = link_token(sms["body_text"].as_str().unwrap());
    let v2 = app.patch(&format!("/api/v1/estimates/{}", v1["id"]), worked_example()).await.body;
    app.post(&format!("/api/v1/estimates/{}/send", v2["id"]), json!({})).await;

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // Opening the page changes nothing (mail scanners open links).
    for _ in 0..2 {
        let page = client.get(app.url(&format!("/c/{token}"))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        assert!(html.contains("Estimate (version 2)") && html.contains("$397.82"), "{html}");
        assert!(html.contains(&format!("/c/{token}/estimates/{}/approve", v2["id"])));
    }
    assert_eq!(app.get(&format!("/api/v1/estimates/{}", v2["id"])).await.body["status"], "sent");

    let outdated = client
        .post(app.url(&format!("/c/{token}/estimates/{}/approve", v1["id"])))
        .form(&[("comment", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(outdated.status(), StatusCode::CONFLICT);
    let text = outdated.text().await.unwrap();
    assert!(text.contains(&format!("the current one is estimate {}", v2["id"])), "{text}");

    let ok = client
        .post(app.url(&format!("/c/{token}/estimates/{}/approve", v2["id"])))
        .form(&[("comment", "Go ahead")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let e = app.get(&format!("/api/v1/estimates/{}", v2["id"])).await.body;
    assert_eq!((e["status"].as_str(), e["decision_comment"].as_str()), (Some("approved"), Some("Go ahead")));
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "approved");
    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    assert!(tl.body["items"].as_array().unwrap().iter().any(|e| e["kind"] == "estimate_approved"));
    assert_eq!(app.outbox("kind=dispatcher_alert").await.len(), 1, "the office hears about it");
    // Answering twice is refused.
    let again = client
        .post(app.url(&format!("/c/{token}/estimates/{}/decline", v2["id"])))
        .form(&[("comment", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_question_needs_words_and_a_tampered_link_is_not_found() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let v1 = draft(&app, job, worked_example()).await;
    app.post(&format!("/api/v1/estimates/{}/send", v1["id"]), json!({})).await;
    let token = link_token(app.outbox("kind=pricing_breakdown&channel=sms").await[0]["body_text"].as_str().unwrap());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let empty = client
        .post(app.url(&format!("/c/{token}/estimates/{}/question", v1["id"])))
        .form(&[("comment", "  ")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let asked = client
        .post(app.url(&format!("/c/{token}/estimates/{}/question", v1["id"])))
        .form(&[("comment", "Can the drywall be done in two stages?")])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "estimating");
    let mut tampered = token.clone();
    tampered.replace_range(0..1, if token.starts_with('a') { "b" } else { "a" });
    for path in [format!("/c/{tampered}"), "/c/short".to_string()] {
        let r = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = client
        .post(app.url(&format!("/c/{tampered}/estimates/{}/approve", v1["id"])))
        .form(&[("comment", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/estimates/{}", v1["id"])).await.body["status"], "changes_requested");
}

#[tokio::test]
async fn declining_closes_the_job_and_technicians_cannot_write_estimates() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.token_for(Role::Technician, None).await;
    let r =
        app.send_as(&tech, reqwest::Method::POST, &format!("/api/v1/jobs/{job}/estimates"), &worked_example()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An estimator writes estimates for the jobs they visit.
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let estimator = app.token_for(Role::Estimator, Some(marcus)).await;
    let path = format!("/api/v1/jobs/{job}/estimates");
    let r = app.send_as(&estimator, reqwest::Method::POST, &path, &worked_example()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not their job yet: {}", r.body);
    app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 60).await;
    // Lena, a technician, works on the job too.
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-23T11:00:00-05:00", "2026-11-23T12:00:00-05:00", 60).await;
    let r = app.send_as(&estimator, reqwest::Method::POST, &path, &worked_example()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.id();
    let again = app.post(&format!("/api/v1/jobs/{job}/estimates"), worked_example()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "one draft at a time");
    app.post(&format!("/api/v1/estimates/{id}/send"), json!({})).await;
    let token = link_token(app.outbox("kind=pricing_breakdown&channel=email").await[0]["body_text"].as_str().unwrap());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client
        .post(app.url(&format!("/c/{token}/estimates/{id}/decline")))
        .form(&[("comment", "Too expensive")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["status"], "cancelled");

    // The timeline shows prices to the office and the estimate's author, never to a technician on the job.
    let lena_token = app.token_for(Role::Technician, Some(lena)).await;
    let timeline = format!("/api/v1/jobs/{job}/timeline");
    let text = |r: &crate::helpers::Reply| r.body["items"].to_string();
    let office = text(&app.get(&timeline).await);
    let author = text(&app.get_as(&estimator, &timeline).await);
    let r = app.get_as(&lena_token, &timeline).await;
    assert_eq!(r.status, StatusCode::OK);
    let tech = text(&r);
    for seen in [&office, &author] {
        assert!(
            seen.contains("Estimate version 1 sent: $")
                && seen.contains("Too expensive")
                && seen.contains("pricing_breakdown"),
            "{seen}"
        );
    }
    assert!(tech.contains("visit booked with Lena Okafor"), "{tech}");
    assert!(!tech.contains('$') && !tech.contains("Too expensive") && !tech.contains("pricing_breakdown"), "{tech}");
}

/// Sends `id` and returns the pricing breakdown it queued: (email text, email HTML, SMS).
async fn send_and_read(app: &TestApp, id: &Value) -> (String, String, String) {
    let r = app.post(&format!("/api/v1/estimates/{id}/send"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let email = app.outbox("kind=pricing_breakdown&channel=email").await.pop().expect("an email");
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().expect("an sms");
    let text = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_string();
    (text(&email, "body_text"), text(&email, "body_html"), text(&sms, "body_text"))
}

fn with_discount(minor: i64) -> Value {
    json!({
        "tax_rate_bp": 825,
        "lines": [
            {"kind": "labor", "description": "Dry-out, 2 technicians", "quantity": "2.5", "unit": "h", "unit_price_minor": 8500},
            {"kind": "discount", "description": "Returning customer", "quantity": "1", "unit_price_minor": minor}
        ]
    })
}

#[tokio::test]
async fn a_discount_reads_with_one_minus_sign_in_the_breakdown_email_and_sms() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let v1 = draft(&app, job, with_discount(5000)).await;
    assert_eq!(v1["lines"][1]["total"], "-$50.00", "the API formats the discount with its sign");
    let (text, html, sms) = send_and_read(&app, &v1["id"]).await;
    assert!(text.contains("Returning customer: 1 x $50.00 = -$50.00\n"), "{text}");
    assert!(html.contains(">-$50.00</td>"), "{html}");
    // A revision shows a changed and an added discount in the SMS too.
    let mut changed = with_discount(6000);
    changed["lines"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "discount", "description": "Spring special", "quantity": "1", "unit_price_minor": 2500}));
    let v2 = app.patch(&format!("/api/v1/estimates/{}", v1["id"]), changed).await.body;
    let (text2, html2, sms2) = send_and_read(&app, &v2["id"]).await;
    assert!(sms2.contains("Added: Spring special -$25.00."), "{sms2}");
    assert!(sms2.contains("Returning customer -$50.00 to -$60.00"), "{sms2}");
    assert!(text2.contains("+ Added: Spring special, -$25.00"), "{text2}");
    assert!(text2.contains("Returning customer: 1 for -$50.00 is now 1 for -$60.00"), "{text2}");
    for body in [&text, &html, &sms, &text2, &html2, &sms2] {
        assert!(!body.contains("--$") && !body.contains("-−") && !body.contains("−-"), "two minus signs in\n{body}");
    }
}

#[tokio::test]
async fn a_revision_that_changes_only_the_tax_rate_lists_the_tax_change() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let v1 = draft(&app, job, worked_example()).await;
    send_and_read(&app, &v1["id"]).await;
    let mut nine = worked_example();
    nine["tax_rate_bp"] = json!(900);
    let v2 = app.patch(&format!("/api/v1/estimates/{}", v1["id"]), nine).await.body;
    // 36750 × 9% = 3307.5 -> 3308; 36750 + 3308 = 40058.
    assert_eq!(v2["total"], "$400.58", "{v2}");
    let (text, html, sms) = send_and_read(&app, &v2["id"]).await;
    assert!(text.contains("* Changed: Tax: 8.25% ($30.32) is now 9% ($33.08)\n"), "{text}");
    assert_eq!(text.matches("Changed:").count(), 1, "only the tax changed:\n{text}");
    assert!(text.contains("Total: $397.82 before, $400.58 now."), "{text}");
    assert!(html.contains("<li>Changed: Tax: 8.25% ($30.32) is now 9% ($33.08)</li>"), "{html}");
    assert!(sms.contains("Changed: Tax 8.25% to 9% ($30.32 to $33.08)."), "{sms}");

    // The same rate on a new subtotal is a changed tax amount, and says so.
    let mut more = worked_example();
    more["tax_rate_bp"] = json!(900);
    more["lines"][2]["unit_price_minor"] = json!(5500);
    let v3 = app.patch(&format!("/api/v1/estimates/{}", v2["id"]), more).await.body;
    let (text, _, sms) = send_and_read(&app, &v3["id"]).await;
    // 37750 × 9% = 3397.5 -> 3398.
    assert!(text.contains("* Changed: Tax (9%): $33.08 is now $33.98\n"), "{text}");
    assert!(sms.contains("Tax $33.08 to $33.98"), "{sms}");
}

#[tokio::test]
async fn a_tax_above_thirty_percent_is_refused_naming_the_field_and_accepted_when_confirmed() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let path = format!("/api/v1/jobs/{job}/estimates");
    let mut typo = worked_example();
    typo["tax_rate_bp"] = json!(8875);
    let r = app.post(&path, typo.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["tax_rate_bp"]);
    let why = r.body["fields"][0]["message"].as_str().unwrap();
    assert!(why.contains("88.75%") && why.contains("30%") && why.contains("\"confirm\": true"), "{why}");
    let named = json!({"taxes": [{"name": "State", "rate_bp": 600}, {"name": "City", "rate_bp": 3001}],
                       "lines": worked_example()["lines"]});
    let r = app.post(&path, named.clone()).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["taxes[1].rate_bp".to_string()]));
    let mut unconfirmed = typo.clone();
    unconfirmed["confirm"] = json!(false);
    assert_eq!(app.post(&path, unconfirmed).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&path).await.body["items"], json!([]), "nothing was saved");

    let mut thirty = worked_example();
    thirty["tax_rate_bp"] = json!(3000);
    let v1 = draft(&app, job, thirty).await;
    assert_eq!(v1["tax_rate_bp"], 3000, "30% itself needs no confirming");
    let r = app.patch(&format!("/api/v1/estimates/{}", v1["id"]), typo.clone()).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["tax_rate_bp".to_string()]));
    assert_eq!(app.get(&format!("/api/v1/estimates/{}", v1["id"])).await.body["tax_rate_bp"], 3000);

    typo["confirm"] = json!(true);
    let r = app.patch(&format!("/api/v1/estimates/{}", v1["id"]), typo).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 36750 × 88.75% = 32615.625 -> 32616.
    assert_eq!((r.body["tax_rate_bp"].as_i64(), r.body["tax_minor"].as_i64()), (Some(8875), Some(32616)));
    app.post(&format!("/api/v1/estimates/{}/send", v1["id"]), json!({})).await;
    let mut confirmed = named;
    confirmed["confirm"] = json!(true);
    let r = app.post(&path, confirmed).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["version"], 2);
}

#[tokio::test]
async fn a_tenfold_jump_in_a_revision_is_refused_unless_confirmed() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let v1 = draft(&app, job, worked_example()).await;
    app.post(&format!("/api/v1/estimates/{}/send", v1["id"]), json!({})).await;
    let revise = format!("/api/v1/estimates/{}", v1["id"]);
    let versions =
        || async { app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"].as_array().unwrap().len() };

    // One zero too many on the labor rate: $85.00 -> $850.00 an hour.
    let mut price_typo = worked_example();
    price_typo["lines"][0]["unit_price_minor"] = json!(85_000);
    let r = app.patch(&revise, price_typo.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["lines[0].unit_price_minor"]);
    let why = r.body["fields"][0]["message"].as_str().unwrap();
    assert!(why.contains("$212.50 to $2,125.00") && why.contains("\"confirm\": true"), "{why}");
    // A quantity typo, and a whole estimate ten times larger, name their fields.
    let mut qty_typo = worked_example();
    qty_typo["lines"][1]["quantity"] = json!("372.5");
    assert_eq!(app.patch(&revise, qty_typo).await.fields(), vec!["lines[1].quantity"]);
    let tenfold: Vec<Value> = worked_example()["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l["unit_price_minor"] = json!(l["unit_price_minor"].as_i64().unwrap() * 10);
            l
        })
        .collect();
    let r = app.patch(&revise, json!({"tax_rate_bp": 825, "lines": tenfold})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.fields().contains(&"total".to_string()) && r.fields().contains(&"lines[0].unit_price_minor".to_string()));
    assert_eq!(versions().await, 1, "nothing was saved");
    assert_eq!(app.get(&revise).await.body["total_minor"], 39782);

    // Nine times is an ordinary change; confirmed, tenfold is accepted.
    let mut ninefold = worked_example();
    ninefold["lines"][0]["unit_price_minor"] = json!(76_500);
    let r = app.patch(&revise, ninefold).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v2 = r.id();
    // The draft is edited in place and compared with what it says now ($1,912.50).
    let r = app.patch(&format!("/api/v1/estimates/{v2}"), price_typo.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.patch(&format!("/api/v1/estimates/{v2}"), worked_example()).await;
    assert_eq!(r.status, StatusCode::OK, "$2,125.00 back to $212.50 is a drop, not a jump: {}", r.body);
    let r = app.patch(&format!("/api/v1/estimates/{v2}"), price_typo.clone()).await;
    assert_eq!(r.fields(), vec!["lines[0].unit_price_minor"]);
    price_typo["confirm"] = json!(true);
    let r = app.patch(&format!("/api/v1/estimates/{v2}"), price_typo).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["lines"][0]["total_minor"], 212_500);
    assert_eq!(versions().await, 2);
}
