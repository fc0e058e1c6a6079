//! The demo company a newcomer sees on the first run.

use crate::helpers::spawn_app_on;
use crate::helpers::TestDb;
use kept::config::Settings;
use reqwest::StatusCode;
use std::collections::BTreeSet;

#[tokio::test]
async fn the_demo_is_seeded_once_with_fictional_contacts_and_booked_visits() {
    let db = TestDb::new().await;
    let conn = kept::db::connect(&db.url, 2).await.unwrap();
    kept::db::migrate(&conn).await.unwrap();
    let settings = Settings::from_lookup(|_| None).unwrap();
    let clock = kept::clock::ManualClock::new(crate::helpers::utc("2026-11-22T12:00:00Z"));
    let notify = kept::notify::NotifyCtx {
        templates: std::sync::Arc::new(kept::messages::templates::Templates::embedded().unwrap()),
        public_url: settings.public_url.clone(),
        live: kept::live::Bus::new(),
    };
    let seeded = kept::demo::seed_if_empty(&conn, &notify, &clock, &settings)
        .await
        .unwrap()
        .expect("seeded on an empty database");
    assert!(kept::demo::seed_if_empty(&conn, &notify, &clock, &settings).await.unwrap().is_none(), "never twice");

    // The test helper adds its own organization; the demo one is reached by its token.
    let app = spawn_app_on(db).await;
    let t = &seeded.created.api_token;
    let staff = app.get_as(t, "/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    assert_eq!(staff.len(), 6);
    let roles: BTreeSet<&str> = staff.iter().map(|s| s["role"].as_str().unwrap()).collect();
    assert_eq!(roles, BTreeSet::from(["admin", "dispatcher", "estimator", "technician"]));
    for s in &staff {
        assert!(s["bio"].as_str().unwrap().len() > 40, "a real bio: {s}");
        assert!(s["photo_url"].as_str().unwrap().ends_with(".svg"));
        assert!(s["phone"].as_str().unwrap().contains("55501"), "fictional 555-01xx: {s}");
        assert!(s["email"].as_str().unwrap().ends_with(".example.test"));
    }
    let avatar = app
        .client
        .get(staff[2]["photo_url"].as_str().unwrap().replace(&settings.public_url, &app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.status(), StatusCode::OK);

    let customers = app.get_as(t, "/api/v1/customers").await.body["items"].as_array().unwrap().clone();
    let zones: BTreeSet<&str> = customers.iter().map(|c| c["timezone"].as_str().unwrap()).collect();
    assert!(zones.len() >= 3, "customers in different zones: {zones:?}");
    for c in &customers {
        if let Some(e) = c["email"].as_str() {
            assert!(e.ends_with("@example.test"), "{c}");
        }
        if let Some(p) = c["phone"].as_str() {
            assert!(p.contains("55501") || p.starts_with("+6149157"), "fictional number: {c}");
        }
    }
    let jobs = app.get_as(t, "/api/v1/jobs").await.body["items"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 6);
    let mut visits = Vec::new();
    let mut unscheduled = 0;
    for j in &jobs {
        assert!(j["story"].as_str().unwrap().len() > 80);
        let booked =
            app.get_as(t, &format!("/api/v1/jobs/{}/visits", j["id"])).await.body["items"].as_array().unwrap().clone();
        if booked.is_empty() {
            // One job waits for the dispatcher: on the board's side list.
            assert_eq!(j["status"], "new", "{j}");
            unscheduled += 1;
        } else if j["title"] == "Burst pipe under the kitchen sink" {
            // Hector's estimate for the rest of the work waits for his answer.
            assert_eq!(j["status"], "awaiting_approval", "{j}");
        } else {
            assert_eq!(j["status"], "scheduled", "{j}");
        }
        visits.extend(booked);
    }
    assert_eq!((visits.len(), unscheduled), (6, 1));

    // One estimate, sent, with an item the customer may add: the total is
    // the required work ($510 + $540 + $145 = $1,195.00) plus New Jersey's
    // 6.625% sales tax (119,500 × 6,625 / 100,000 = 7,916.875 -> $79.17),
    // $1,274.17; the floor ($320) is offered apart, and adds its price and
    // its tax: 151,500 × 6.625% = 10,036.875 -> 10,037, so 161,537 - 127,417.
    let hector = jobs.iter().find(|j| j["title"] == "Burst pipe under the kitchen sink").unwrap();
    let estimates = app.get_as(t, &format!("/api/v1/jobs/{}/estimates", hector["id"])).await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(estimates.len(), 1, "{estimates:?}");
    let e = &estimates[0];
    assert_eq!((e["status"].as_str(), e["total_minor"].as_i64()), (Some("sent"), Some(127_417)), "{e}");
    assert_eq!((e["subtotal_minor"].as_i64(), e["tax_minor"].as_i64()), (Some(119_500), Some(7_917)), "{e}");
    assert_eq!(e["taxes"][0]["rate_percent"], "6.625", "{e}");
    assert_eq!(e["taxes"][0]["rate_bp"], serde_json::Value::Null, "6.625% is not a whole number of basis points");
    let optional: Vec<&serde_json::Value> =
        e["lines"].as_array().unwrap().iter().filter(|l| l["optional"] == true).collect();
    assert_eq!(optional.len(), 1, "{e}");
    assert_eq!(
        (optional[0]["description"].as_str(), optional[0]["adds_minor"].as_i64()),
        (Some("New cabinet floor, cut and fitted"), Some(34_120))
    );
    let breakdown = app.get_as(t, &format!("/api/v1/outbox?kind=pricing_breakdown&job_id={}", hector["id"])).await.body
        ["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(breakdown.len(), 2, "to Hector by text and email: {breakdown:?}");
    let email = breakdown.iter().find(|m| m["channel"] == "email").unwrap()["body_text"].as_str().unwrap();
    assert!(email.contains("NJ sales tax (6.625%): $79.17") && email.contains("Total: $1,274.17"), "{email}");
    // One metro area: every window is business hours in the office's zone
    // (New York), today or the next working day, except the visit the crew
    // is running late for, which closes 20 minutes from now.
    let now = crate::helpers::utc("2026-11-22T12:00:00Z");
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let mut late = 0;
    for v in &visits {
        let start = crate::helpers::utc(v["window_start"].as_str().unwrap());
        let end = crate::helpers::utc(v["window_end"].as_str().unwrap());
        if end == now + chrono::Duration::minutes(20) {
            late += 1;
            assert!(start < now, "began before now: {v}");
            continue;
        }
        assert!(start > now, "in the future: {v}");
        let local = start.with_timezone(&ny);
        use chrono::Timelike;
        assert!((8..=17).contains(&local.hour()), "business hours in New York: {v}");
        assert!((local.date_naive() - now.with_timezone(&ny).date_naive()).num_days() <= 1, "today or tomorrow: {v}");
    }
    assert_eq!(late, 1, "one visit running late");

    // Every booking introduced the person coming, on each of the customer's channels.
    let outbox =
        app.get_as(t, "/api/v1/outbox?kind=introduction&limit=200").await.body["items"].as_array().unwrap().clone();
    assert_eq!(
        outbox.len(),
        10,
        "Nadia 2 visits x 2 channels, Walter sms, Hector 2 channels, Ananya email, Oliver 2 channels"
    );
    for m in &outbox {
        assert!(m["body_text"].as_str().unwrap().contains("/c/"), "carries the customer's link: {m}");
        if m["channel"] == "sms" {
            // Recorded as the carrier will count it: GSM-7 unless a character (a name like Tomás) needs UCS-2.
            let seg = kept::domain::messaging::sms_segments(m["body_text"].as_str().unwrap());
            assert_eq!(
                (m["encoding"].as_str().unwrap(), m["segments"].as_i64().unwrap()),
                (seg.encoding.as_str(), seg.count as i64)
            );
            let expected = if m["body_text"].as_str().unwrap().contains("Tomás") { "ucs2" } else { "gsm7" };
            assert_eq!(m["encoding"], expected, "{}", m["body_text"]);
        } else {
            assert!(m["body_html"].as_str().unwrap().contains("<a href="), "{m}");
        }
    }
}
