//! Tax rates people actually have: New York City's 8.875% and New Jersey's
//! 6.625% need three decimals of a percent. The API takes them as percent
//! strings (`tax_percent`, `rate_percent`) and still takes basis points
//! (`tax_rate_bp`, `rate_bp`) from older clients; rates are stored in
//! thousandths of a percent, and the migration converted older rates exactly.

use crate::helpers::{spawn_app, TestApp};
use migration::MigratorTrait;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

/// The README's dry-out: $212.50 + $130.00 + $45.00 - $20.00 = $367.50.
fn lines() -> Value {
    json!([
        {"kind": "labor", "description": "Dry-out, 2 technicians", "quantity": "2.5", "unit": "h", "unit_price_minor": 8500},
        {"kind": "material", "description": "Drywall", "quantity": "37.25", "unit": "sq ft", "unit_price_minor": 349},
        {"kind": "fee", "description": "Disposal", "quantity": "1", "unit_price_minor": 4500},
        {"kind": "discount", "description": "Returning customer", "quantity": "1", "unit_price_minor": 2000}
    ])
}

async fn estimates_of(app: &TestApp, job: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn new_york_citys_8_875_percent_round_trips_exactly_and_reads_as_written() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_percent": "8.875", "lines": lines()})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Worked by hand: subtotal 36,750 cents; 36,750 × 8,875 / 100,000 =
    // 326,156,250 / 100,000 = 3,261.5625 -> 3,262 (half away from zero);
    // total 36,750 + 3,262 = 40,012, $400.12.
    let e = r.body;
    assert_eq!(
        (e["subtotal_minor"].as_i64(), e["tax_minor"].as_i64(), e["total_minor"].as_i64()),
        (Some(36_750), Some(3_262), Some(40_012))
    );
    assert_eq!(e["total"], "$400.12");
    assert_eq!((e["tax_percent"].as_str(), e["tax_rate_bp"].as_i64()), (Some("8.875"), None), "{e}");
    assert_eq!(
        e["taxes"],
        json!([{"name": "Tax", "rate_percent": "8.875", "rate_bp": null, "amount_minor": 3262, "amount": "$32.62"}])
    );
    let again = app.get(&format!("/api/v1/estimates/{}", e["id"])).await.body;
    assert_eq!(
        (again["taxes"].clone(), again["total_minor"].clone()),
        (e["taxes"].clone(), json!(40_012)),
        "stored exactly"
    );

    // The same rate as New York writes it, three taxes each rounded on its
    // own: 4% = 1,470; 4.5% = 1,653.75 -> 1,654; 0.375% = 137.8125 -> 138.
    let e1 = e["id"].clone();
    let split = json!({"taxes": [
        {"name": "NY State", "rate_percent": "4"}, {"name": "New York City", "rate_percent": "4.500"},
        {"name": "MCTD", "rate_percent": "0.375"}], "lines": lines()});
    let s = app.patch(&format!("/api/v1/estimates/{e1}"), split).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    let amounts: Vec<i64> =
        s.body["taxes"].as_array().unwrap().iter().map(|t| t["amount_minor"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![1_470, 1_654, 138]);
    let rates: Vec<&str> =
        s.body["taxes"].as_array().unwrap().iter().map(|t| t["rate_percent"].as_str().unwrap()).collect();
    assert_eq!(rates, vec!["4", "4.5", "0.375"], "normalized: no trailing zeros");
    assert_eq!((s.body["tax_percent"].as_str(), s.body["tax_minor"].as_i64()), (Some("8.875"), Some(3_262)));

    // The customer reads the rate as people write it: in the breakdown,
    // on their page, and in what a revision changed.
    app.patch(&format!("/api/v1/estimates/{e1}"), json!({"tax_percent": "8.875", "lines": lines()})).await;
    assert_eq!(app.post(&format!("/api/v1/estimates/{e1}/send"), json!({})).await.status, StatusCode::OK);
    let email = app.outbox("kind=pricing_breakdown&channel=email").await.pop().unwrap();
    let text = email["body_text"].as_str().unwrap();
    assert!(text.contains("Tax (8.875%): $32.62") && text.contains("Total: $400.12"), "{text}");
    assert!(email["body_html"].as_str().unwrap().contains("Tax (8.875%)</td>"), "{}", email["body_html"]);
    let link = text.find("/c/").map(|i| text[i..i + 43].to_string()).unwrap();
    let page = app.client.get(app.url(&link)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Tax (8.875%)") && page.contains(r#"data-rates="8.875""#), "{page}");

    // The job page says which tax the total includes, at its rate.
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (cookie, _) = app.session_for(admin).await;
    let job_page = app
        .client
        .get(app.url(&format!("/app/jobs/{job}")))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(job_page.contains("incl. Tax 8.875%"), "{job_page}");

    let v2 = app.patch(&format!("/api/v1/estimates/{e1}"), json!({"tax_percent": "8.25", "lines": lines()})).await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.body);
    assert_eq!(
        (v2.body["tax_rate_bp"].as_i64(), v2.body["taxes"][0]["rate_bp"].as_i64()),
        (Some(825), Some(825)),
        "exact, so shown"
    );
    app.post(&format!("/api/v1/estimates/{}/send", v2.body["id"]), json!({})).await;
    let text = app.outbox("kind=pricing_breakdown&channel=email").await.pop().unwrap()["body_text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("* Changed: Tax: 8.875% ($32.62) is now 8.25% ($30.32)\n"), "{text}");
    let sms = app.outbox("kind=pricing_breakdown&channel=sms").await.pop().unwrap()["body_text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sms.contains("Changed: Tax 8.875% to 8.25% ($32.62 to $30.32)."), "{sms}");
}

#[tokio::test]
async fn basis_points_from_older_clients_are_still_taken() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_rate_bp": 825, "lines": lines()})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // 36,750 × 8.25% = 3,031.875 -> 3,032, as before.
    assert_eq!((r.body["tax_minor"].as_i64(), r.body["total_minor"].as_i64()), (Some(3_032), Some(39_782)));
    assert_eq!((r.body["tax_rate_bp"].as_i64(), r.body["tax_percent"].as_str()), (Some(825), Some("8.25")));
    let named = json!({"taxes": [{"name": "State", "rate_bp": 400}, {"name": "City", "rate_percent": "4.875"}], "lines": lines()});
    let r = app.patch(&format!("/api/v1/estimates/{}", r.body["id"]), named).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 1,470 + 1,791.5625 -> 1,792.
    assert_eq!(
        (r.body["tax_minor"].as_i64(), r.body["tax_percent"].as_str(), r.body["tax_rate_bp"].as_i64()),
        (Some(3_262), Some("8.875"), None)
    );
    assert_eq!(
        (r.body["taxes"][0]["rate_bp"].as_i64(), r.body["taxes"][0]["rate_percent"].as_str()),
        (Some(400), Some("4"))
    );
}

#[tokio::test]
async fn a_bad_rate_is_refused_naming_its_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let named = |rate: Value| json!({"taxes": [{"name": "Sales tax", "rate_percent": rate}], "lines": lines()});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"tax_percent": "8.8755", "lines": lines()}), "tax_percent", "more than 3 decimal places"),
        (json!({"tax_percent": "-1", "lines": lines()}), "tax_percent", "not a percentage"),
        (json!({"tax_percent": "abc", "lines": lines()}), "tax_percent", "not a percentage"),
        (json!({"tax_percent": "100.001", "lines": lines()}), "tax_percent", "more than 100%"),
        (json!({"tax_percent": 8.875, "lines": lines()}), "tax_percent", "decimal string"),
        (json!({"tax_percent": "8.875", "tax_rate_bp": 888, "lines": lines()}), "tax_percent", "not both"),
        (json!({"tax_rate_bp": -5, "lines": lines()}), "tax_rate_bp", "between 0 and 10000"),
        (named(json!("8.8755")), "taxes[0].rate_percent", "more than 3 decimal places"),
        (named(json!("150")), "taxes[0].rate_percent", "more than 100%"),
        (
            json!({"taxes": [{"name": "Sales tax", "rate_percent": "6.625", "rate_bp": 663}], "lines": lines()}),
            "taxes[0].rate_percent",
            "not both",
        ),
        (json!({"taxes": [{"name": "Sales tax"}], "lines": lines()}), "taxes[0].rate_percent", "is required"),
    ];
    for (body, field, why) in cases {
        let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert_eq!(r.fields(), vec![field.to_string()], "{body}: {}", r.body);
        let message = r.body["fields"][0]["message"].as_str().unwrap();
        assert!(message.contains(why), "{body}: {message}");
    }
    assert!(estimates_of(&app, job).await.is_empty(), "nothing was saved");
    // Above 30% is a probable typo, named by the field that carried it.
    let r = app.post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_percent": "88.75", "lines": lines()})).await;
    assert_eq!((r.status, r.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["tax_percent".to_string()]));
    assert!(estimates_of(&app, job).await.is_empty(), "nothing was saved");
}

/// The index, in the migrator's list, of the migration that changed the unit.
fn tax_precision_steps() -> u32 {
    let all = migration::Migrator::migrations();
    let at = all.iter().position(|m| m.name() == "m20261202_000015_tax_precision").expect("the migration is listed");
    (all.len() - at) as u32
}

async fn stored_taxes(app: &TestApp, id: &Value) -> Value {
    let db = app.state.db.connection();
    let q = Statement::from_string(db.get_database_backend(), format!("SELECT taxes FROM estimates WHERE id = {id}"));
    let row = db.query_one(q).await.unwrap().expect("the estimate");
    serde_json::from_str(&row.try_get::<String>("", "taxes").unwrap()).unwrap()
}

#[tokio::test]
async fn the_migration_converts_an_old_rate_exactly_and_back_and_refuses_to_round_one() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let e =
        app.post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_rate_bp": 825, "lines": lines()})).await.body;
    let id = e["id"].clone();
    assert_eq!(stored_taxes(&app, &id).await, json!([{"name": "Tax", "rate_pcm": 8250, "amount_minor": 3032}]));
    let db = app.state.db.connection();
    let steps = tax_precision_steps();

    // Down: the rate as it was stored before, in basis points.
    migration::Migrator::down(db, Some(steps)).await.unwrap();
    assert_eq!(stored_taxes(&app, &id).await, json!([{"name": "Tax", "rate_bp": 825, "amount_minor": 3032}]));
    // Up again: basis points × 10, and the estimate prices and reads as before.
    migration::Migrator::up(db, None).await.unwrap();
    assert_eq!(stored_taxes(&app, &id).await, json!([{"name": "Tax", "rate_pcm": 8250, "amount_minor": 3032}]));
    let back = app.get(&format!("/api/v1/estimates/{id}")).await.body;
    assert_eq!(
        (back["tax_percent"].as_str(), back["tax_rate_bp"].as_i64(), back["total_minor"].as_i64()),
        (Some("8.25"), Some(825), Some(39_782))
    );

    // A rate basis points cannot hold refuses the way down, naming the
    // estimate, and nothing is changed (the 8.25% one included).
    app.post(&format!("/api/v1/estimates/{id}/send"), json!({})).await;
    let nyc =
        app.patch(&format!("/api/v1/estimates/{id}"), json!({"tax_percent": "8.875", "lines": lines()})).await.body;
    // (The migrations after it step down first; they have nothing to refuse.)
    migration::Migrator::down(db, Some(steps - 1)).await.unwrap();
    let err = migration::Migrator::down(db, Some(1)).await.unwrap_err().to_string();
    assert!(err.contains(&format!("estimate {}", nyc["id"])) && err.contains("8.875%"), "{err}");
    assert_eq!(stored_taxes(&app, &id).await[0]["rate_pcm"], 8250);
    assert_eq!(stored_taxes(&app, &nyc["id"]).await[0]["rate_pcm"], 8875);
    let pending = migration::Migrator::get_pending_migrations(db).await.unwrap();
    assert_eq!(pending.len() as u32, steps - 1, "the tax migration is still applied");
    migration::Migrator::up(db, None).await.unwrap();
    assert_eq!(stored_taxes(&app, &nyc["id"]).await[0]["rate_pcm"], 8875);
    assert!(migration::Migrator::get_pending_migrations(db).await.unwrap().is_empty(), "fully migrated again");
}
