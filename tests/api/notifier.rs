//! Planning: introductions, twice-daily updates, reminders, on-my-way; driven
//! by an injected clock.

use crate::helpers::{spawn_app, utc, TestApp};
use chrono::{DateTime, Duration, Utc};
use kept::domain::time::Zone;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn at(m: &Value, field: &str) -> DateTime<Utc> {
    utc(m[field].as_str().unwrap_or_else(|| panic!("{field} in {m}")))
}

async fn email_customer(app: &TestApp, name: &str, tz: &str) -> i64 {
    let r = app
        .post("/api/v1/customers", json!({"name": name, "email": format!("{}@example.test", name.to_lowercase().replace(' ', ".")), "timezone": tz}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

#[tokio::test]
async fn booking_introduces_each_person_once_on_each_channel() {
    let app = spawn_app().await;
    let job = app.ny_job().await; // customer with sms and email
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let tomas = app.staff("Tomas Reyes", "technician", "America/New_York").await;
    let v = app.book(job, &[marcus, lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let intros = app.outbox("kind=introduction").await;
    assert_eq!(intros.len(), 4, "2 people x 2 channels");
    let sms = intros.iter().find(|m| m["channel"] == "sms").unwrap();
    let body = sms["body_text"].as_str().unwrap();
    assert!(
        body.contains("Monday, November 23") || body.contains("9:00 AM"),
        "the window in the customer's time: {body}"
    );
    assert!(body.contains("https://kept.example.test/c/"), "{body}");
    assert!(sms["segments"].as_i64().unwrap() >= 1);
    assert_eq!(sms["encoding"], "gsm7");
    let email = intros.iter().find(|m| m["channel"] == "email").unwrap();
    assert!(!email["subject"].as_str().unwrap().is_empty());
    assert!(
        email["body_html"].as_str().unwrap().contains("Water")
            || email["body_html"].as_str().unwrap().contains("<html")
            || email["body_html"].as_str().unwrap().contains("<table")
    );

    // Ticks and repeated assignments never introduce anyone twice.
    app.tick().await;
    app.tick().await;
    app.patch(&format!("/api/v1/visits/{v}"), json!({"staff_ids": [marcus, lena]})).await;
    assert_eq!(app.outbox("kind=introduction").await.len(), 4);
    // A new person is introduced; the others are not again.
    let r = app.patch(&format!("/api/v1/visits/{v}"), json!({"staff_ids": [marcus, lena, tomas]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.outbox("kind=introduction").await.len(), 6);
    // Without a provider, messages are rendered, stored, and marked as not sent.
    app.tick().await;
    let states: Vec<String> =
        app.outbox("kind=introduction").await.iter().map(|m| m["state"].as_str().unwrap().to_string()).collect();
    assert!(states.iter().all(|s| s == "not_sent_no_provider"), "{states:?}");
    // And they are on the job's timeline.
    let tl = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
    let messages = tl.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "message").count();
    assert_eq!(messages, 6);
}

#[tokio::test]
async fn a_simulated_week_sends_exactly_two_updates_per_local_day_in_four_zones_across_dst() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-10-28T12:00:00Z"));
    let zones = ["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney"];
    let mut jobs = Vec::new();
    for (i, tz) in zones.iter().enumerate() {
        let c = email_customer(&app, &format!("Customer {i}"), tz).await;
        jobs.push((app.job(c).await, *tz));
    }
    // A week with US clocks falling back on 2026-11-01, ticking every 15 minutes.
    let end = utc("2026-11-05T12:00:00Z");
    while kept::clock::Clock::now(&app.clock) < end {
        app.clock.advance(Duration::minutes(15));
        app.tick().await;
    }
    for (job, tz) in jobs {
        let zone = Zone::parse(tz).unwrap();
        let updates = app.outbox(&format!("kind=status_update&job_id={job}")).await;
        let mut per_day: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in &updates {
            let due = at(m, "due_at");
            let created = at(m, "created_at");
            assert!(created >= due && created - due <= Duration::minutes(15), "planned on time: {m}");
            let local = zone.local(due);
            per_day.entry(local.format("%F").to_string()).or_default().push(local.format("%H:%M").to_string());
        }
        // Whole local days strictly inside the simulation.
        let first = zone.date_of(utc("2026-10-28T12:00:00Z")).succ_opt().unwrap();
        let last = zone.date_of(end).pred_opt().unwrap();
        let mut d = first;
        while d <= last {
            let got = per_day.get(&d.to_string()).cloned().unwrap_or_default();
            assert_eq!(got, vec!["08:30", "16:30"], "{tz} on {d}: {per_day:?}");
            d = d.succ_opt().unwrap();
        }
        let body = updates[0]["body_text"].as_str().unwrap();
        assert!(
            body.to_lowercase().contains("no news") || body.to_lowercase().contains("forgotten"),
            "honest no-news update: {body}"
        );
    }
}

#[tokio::test]
async fn after_a_five_hour_outage_the_missed_update_goes_out_once_and_an_overtaken_one_never() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z")); // 07:00 in New York
    let c = email_customer(&app, "Nadia Brooks", "America/New_York").await;
    let job = app.job(c).await;
    app.tick().await;
    assert_eq!(app.outbox("kind=status_update").await.len(), 0, "the job is newer than the last slot");
    let detail = app.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(detail.body["next_update_at_local"], "2026-11-23T08:30:00-05:00");

    // Down from 07:00 to 12:00: the 08:30 update goes out at 12:00, once.
    app.clock.set(utc("2026-11-23T17:00:00Z"));
    app.tick().await;
    app.tick().await;
    let updates = app.outbox("kind=status_update").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(at(&updates[0], "due_at"), utc("2026-11-23T13:30:00Z"));
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["next_update_at_local"], "2026-11-23T16:30:00-05:00");

    // Down again from 12:00 until 09:00 the next day: the 16:30 update was
    // overtaken by the 08:30 one and is never sent late.
    app.clock.set(utc("2026-11-24T14:00:00Z"));
    app.tick().await;
    let dues: Vec<DateTime<Utc>> = app.outbox("kind=status_update").await.iter().map(|m| at(m, "due_at")).collect();
    assert_eq!(dues, vec![utc("2026-11-23T13:30:00Z"), utc("2026-11-24T13:30:00Z")]);
}

#[tokio::test]
async fn updates_carry_the_news_and_the_next_promise_and_stop_when_the_job_closes() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let c = email_customer(&app, "Walter Kim", "America/New_York").await;
    let job = app.job(c).await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-25T08:00:00-05:00", "2026-11-25T10:00:00-05:00", 120).await;
    app.clock.set(utc("2026-11-23T15:00:00Z"));
    app.post(&format!("/api/v1/jobs/{job}/notes"), json!({"text": "Parts ordered: two dehumidifiers arrive Tuesday"}))
        .await;
    app.clock.set(utc("2026-11-23T21:31:00Z")); // 16:31
    app.tick().await;
    let updates = app.outbox("kind=status_update").await;
    assert_eq!(updates.len(), 1);
    let text = updates[0]["body_text"].as_str().unwrap();
    assert!(text.contains("Parts ordered"), "news since the last update: {text}");
    assert!(text.contains("Lena Okafor") && text.contains("Wednesday, November 25"), "the next promise: {text}");

    // The office cancels the visit still booked, then closes the job.
    let visit = app.get(&format!("/api/v1/jobs/{job}")).await.body["visits"][0]["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/visits/{visit}/status"), json!({"status": "cancelled"})).await;
    let done = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["next_update_at"], Value::Null);
    app.clock.set(utc("2026-11-24T13:31:00Z"));
    app.tick().await;
    assert_eq!(app.outbox("kind=status_update").await.len(), 1, "no updates for a closed job");
}

#[tokio::test]
async fn concurrent_ticks_never_plan_a_message_twice() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    for i in 0..30 {
        let c =
            email_customer(&app, &format!("C {i}"), if i % 2 == 0 { "America/New_York" } else { "Asia/Kolkata" }).await;
        app.job(c).await;
    }
    // 23:00 in New York (16:30 slot), 09:30 the next day in Kolkata (08:30 slot).
    let now = utc("2026-11-24T04:00:00Z");
    app.clock.set(now);
    let ticks = (0..4).map(|_| {
        let db = app.state.db.clone();
        let n = app.state.notify.clone();
        tokio::spawn(async move { kept::notify::planner::tick(&db, &n, now).await })
    });
    let planned: u64 =
        futures::future::join_all(ticks).await.into_iter().map(|r| r.unwrap().unwrap().status_updates).sum();
    assert_eq!(planned, 30, "the inserts add up to one per job");
    assert_eq!(app.outbox("kind=status_update").await.len(), 30);
}

#[tokio::test]
async fn a_reminder_goes_the_day_before_and_on_my_way_carries_the_eta() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-20T15:00:00Z"));
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let v = app.book(job, &[lena], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await.id();
    // Booked the evening before: no reminder, the introduction just went.
    let late = app.book(job, &[lena], "2026-11-21T13:00:00-05:00", "2026-11-21T14:00:00-05:00", 60).await.id();
    app.tick().await;
    assert_eq!(app.outbox("kind=reminder").await.len(), 0);
    app.clock.set(utc("2026-11-23T14:30:00Z")); // 23.5 hours before
    app.tick().await;
    app.tick().await;
    let reminders = app.outbox("kind=reminder").await;
    assert_eq!(reminders.len(), 2, "one per channel: {reminders:?}");
    assert!(reminders.iter().all(|m| m["visit_id"] == v && m["visit_id"] != late));

    app.clock.set(utc("2026-11-24T13:45:00Z"));
    let r = app.post(&format!("/api/v1/visits/{v}/status"), json!({"status": "en_route", "eta_minutes": 25})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let omw = app.outbox("kind=on_my_way").await;
    assert_eq!(omw.len(), 2);
    let sms = omw.iter().find(|m| m["channel"] == "sms").unwrap()["body_text"].as_str().unwrap().to_string();
    assert!(sms.contains("9:10 AM"), "ETA in the customer's time: {sms}");
    assert!(sms.contains("Lena"), "{sms}");
}

#[tokio::test]
async fn the_outbox_filters_and_refuses_unknown_filters() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-24T09:00:00-05:00", "2026-11-24T11:00:00-05:00", 60).await;
    assert_eq!(app.outbox(&format!("job_id={job}")).await.len(), 2);
    assert_eq!(app.outbox("state=pending").await.len(), 2);
    assert_eq!(app.outbox("kind=reminder").await.len(), 0);
    let bad = app.get("/api/v1/outbox?state=lost&kind=poem").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut f = bad.fields();
    f.sort();
    assert_eq!(f, vec!["kind", "state"]);
}

/// The private link in a message body (its 40-hex token).
fn link_in(m: &Value) -> String {
    let body = m["body_text"].as_str().unwrap();
    let i = body.find("/c/").unwrap_or_else(|| panic!("a link in {body}")) + 3;
    body[i..i + 40].to_string()
}

#[tokio::test]
async fn every_message_about_a_job_carries_the_jobs_one_link_and_it_opens_the_jobs_page() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z"));
    let c = app.customer("Nadia Brooks", "America/New_York").await; // sms and email
    let job = app
        .post(
            "/api/v1/jobs",
            json!({"customer_id": c, "title": "Water in the basement", "story": "Up through the drain."}),
        )
        .await
        .id();
    let other = app.job(c).await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-25T08:00:00-05:00", "2026-11-25T10:00:00-05:00", 120).await;
    app.clock.set(utc("2026-11-23T13:31:00Z")); // 08:31: the morning update
    app.tick().await;
    app.clock.set(utc("2026-11-23T21:31:00Z")); // 16:31: the afternoon one
    app.tick().await;
    let mine = app.outbox(&format!("job_id={job}")).await;
    let kinds: std::collections::BTreeSet<&str> = mine.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains("introduction") && kinds.contains("status_update"), "{kinds:?}");
    assert_eq!(mine.iter().filter(|m| m["kind"] == "status_update").count(), 4, "two slots, two channels");
    let links: std::collections::BTreeSet<String> = mine.iter().map(link_in).collect();
    assert_eq!(links.len(), 1, "one link for the job, whatever the message: {links:?}");
    let token = links.into_iter().next().unwrap();
    let theirs: std::collections::BTreeSet<String> =
        app.outbox(&format!("job_id={other}")).await.iter().map(link_in).collect();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert!(!theirs.contains(&token), "another job has a link of its own");
    // The link opens this job's page.
    let page = reqwest::get(app.url(&format!("/c/{token}"))).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Water in the basement"), "the job the link was made for");
}

#[tokio::test]
async fn a_zones_slot_is_handled_once_for_all_its_jobs_and_a_job_opened_after_it_waits_for_the_next() {
    let app = spawn_app().await;
    app.clock.set(utc("2026-11-23T12:00:00Z")); // 07:00 in New York, 04:00 in Los Angeles
    let ny = email_customer(&app, "Nadia Brooks", "America/New_York").await;
    let la = email_customer(&app, "Ruth Alvarez", "America/Los_Angeles").await;
    let (a, b) = (app.job(ny).await, app.job(la).await);
    app.clock.set(utc("2026-11-23T13:31:00Z")); // 08:31 in New York; 05:31 in Los Angeles
    let (planned, _) = app.tick().await;
    assert_eq!(planned.status_updates, 1, "New York's 08:30; Los Angeles' slot is still yesterday's 16:30");
    // Opened after New York's 08:30 was handled: this job hears from us at 16:30.
    let late = app.job(ny).await;
    let detail = app.get(&format!("/api/v1/jobs/{late}")).await;
    assert_eq!(detail.body["next_update_at_local"], "2026-11-23T16:30:00-05:00");
    assert_eq!(
        app.get(&format!("/api/v1/jobs/{a}")).await.body["next_update_at_local"],
        "2026-11-23T16:30:00-05:00",
        "handled: the next one"
    );
    app.clock.set(utc("2026-11-23T16:31:00Z")); // 11:31 in New York; 08:31 in Los Angeles
    let (planned, _) = app.tick().await;
    assert_eq!(planned.status_updates, 1, "only Los Angeles' 08:30, once");
    let dues: Vec<(i64, DateTime<Utc>)> = app
        .outbox("kind=status_update")
        .await
        .iter()
        .map(|m| (m["job_id"].as_i64().unwrap(), at(m, "due_at")))
        .collect();
    assert_eq!(dues.len(), 2, "{dues:?}");
    assert!(dues.contains(&(a, utc("2026-11-23T13:30:00Z"))) && dues.contains(&(b, utc("2026-11-23T16:30:00Z"))));
    // Each handled slot is one row per zone, not a mark per job (Los
    // Angeles' 16:30 of the day before was handled at the first tick, with
    // no job old enough for it).
    use sea_orm::{EntityTrait, QueryOrder};
    let rows = kept::entities::update_slot::Entity::find()
        .order_by_asc(kept::entities::update_slot::Column::Zone)
        .order_by_asc(kept::entities::update_slot::Column::Slot)
        .all(app.state.db.connection())
        .await
        .unwrap();
    let handled: Vec<(&str, DateTime<Utc>)> = rows.iter().map(|r| (r.zone.as_str(), r.slot)).collect();
    assert_eq!(
        handled,
        vec![
            ("America/Los_Angeles", utc("2026-11-23T00:30:00Z")),
            ("America/Los_Angeles", utc("2026-11-23T16:30:00Z")),
            ("America/New_York", utc("2026-11-23T13:30:00Z")),
        ]
    );
}
