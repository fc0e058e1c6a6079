//! The office's records in the browser, over HTTP: customers (list,
//! search, page, add and change with each field's problem), the customer
//! API's PATCH, and the jobs list with its filters. Roles as in the API.

use crate::helpers::*;
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn admin_session(app: &TestApp) -> (String, String) {
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    app.session_for(admin).await
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = client().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client().post(app.url(path)).header(COOKIE, cookie).form(form).send().await.unwrap()
}

#[tokio::test]
async fn the_office_adds_finds_and_changes_customers_and_a_bad_field_saves_nothing() {
    let app = spawn_app().await;
    let (cookie, csrf) = admin_session(&app).await;
    let before = count(&app).await;

    // A bad phone and a bad zone: each named beside its field, nothing saved.
    let r = post_form(
        &app,
        &cookie,
        "/app/customers",
        &[("csrf", &csrf), ("name", "Rosa Delgado"), ("phone", "555"), ("sms", "on"), ("timezone", "Mars/Olympus")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"e-phone\""), "the phone's problem is beside the phone");
    assert!(html.contains("Time zone:"), "{html}");
    assert!(html.contains("value=\"Rosa Delgado\""), "what was typed is kept");
    assert_eq!(count(&app).await, before, "nothing saved");

    // Without the form's token: refused.
    let r = post_form(
        &app,
        &cookie,
        "/app/customers",
        &[("csrf", "forged"), ("name", "X"), ("phone", "+12125550100"), ("sms", "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(count(&app).await, before);

    // A good one: saved, and its page shows how we reach them.
    let r = post_form(
        &app,
        &cookie,
        "/app/customers",
        &[
            ("csrf", &csrf),
            ("name", "Rosa Delgado"),
            ("phone", "(718) 555-0163"),
            ("email", "rosa@example.test"),
            ("sms", "on"),
            ("address", "1450 Grand Concourse, Bronx"),
            ("timezone", "America/New_York"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let api = app.get(&format!("/api/v1/customers/{id}")).await.body;
    assert_eq!(api["phone"], "+17185550163");
    assert_eq!(api["channels"], json!(["sms"]), "email given but only texts ticked");
    let (status, html) = page(&app, &cookie, &location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Rosa Delgado") && html.contains("updates go here") && html.contains("not used for updates"),
        "{html}"
    );

    // Found by name, by street, by phone digits and by email; not by nonsense.
    for q in ["rosa", "concourse", "555-0163", "rosa@example"] {
        let (_, html) = page(&app, &cookie, &format!("/app/customers?q={}", urlencoding(q))).await;
        assert!(html.contains(&format!("customer-{id}")), "found by {q}");
    }
    let (_, html) = page(&app, &cookie, "/app/customers?q=zzzz").await;
    assert!(!html.contains(&format!("customer-{id}")) && html.contains("No customer matches"));

    // A change: a bad email refused and nothing changes; a good one saved.
    let path = format!("/app/customers/{id}");
    let r = post_form(
        &app,
        &cookie,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Rosa Delgado"),
            ("phone", "+17185550163"),
            ("email", "not-an-email"),
            ("sms", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&format!("/api/v1/customers/{id}")).await.body, api, "nothing changed");
    let r = post_form(
        &app,
        &cookie,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Rosa M. Delgado"),
            ("phone", "+17185550163"),
            ("email", "rosa@example.test"),
            ("sms", "on"),
            ("email_updates", "on"),
            ("address", "1450 Grand Concourse, Bronx"),
            ("timezone", "America/New_York"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let changed = app.get(&format!("/api/v1/customers/{id}")).await.body;
    assert_eq!(changed["name"], "Rosa M. Delgado");
    assert_eq!(changed["channels"], json!(["sms", "email"]));

    // Field staff see none of it.
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let (tech_cookie, _) = app.session_for(tech).await;
    for p in ["/app/customers", &path, "/app/customers/new", "/app/jobs"] {
        let (status, _) = page(&app, &tech_cookie, p).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    }
    // Another organization's customer is not found.
    let (status, _) = page(&app, &cookie, "/app/customers/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn count(app: &TestApp) -> usize {
    app.get("/api/v1/customers").await.body["items"].as_array().unwrap().len()
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn patching_a_customer_checks_every_field_and_a_new_number_clears_its_delivery_problem() {
    let app = spawn_app().await;
    let id = app.customer("Nadia Brooks", "America/New_York").await;
    let before = app.get(&format!("/api/v1/customers/{id}")).await.body;
    let r = app.patch(&format!("/api/v1/customers/{id}"), json!({"phone": "12", "timezone": "Nowhere/Land"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["phone", "timezone"]);
    assert_eq!(app.get(&format!("/api/v1/customers/{id}")).await.body, before, "nothing saved");
    let r = app.patch(&format!("/api/v1/customers/{id}"), json!({"nickname": "N"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown field is refused: {}", r.body);

    // A delivery problem recorded for the old number goes with it.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    kept::entities::customer::Entity::update_many()
        .col_expr(
            kept::entities::customer::Column::SmsProblem,
            sea_orm::sea_query::Expr::value("the number cannot receive texts"),
        )
        .filter(kept::entities::customer::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
    let shown = app.get(&format!("/api/v1/customers/{id}")).await.body;
    assert_eq!(shown["sms_problem"], "the number cannot receive texts");
    let r = app.patch(&format!("/api/v1/customers/{id}"), json!({"address": "48 Linden St, Brooklyn"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sms_problem"], "the number cannot receive texts", "same number, same problem");
    assert_eq!(r.body["phone"], before["phone"], "fields left out keep their values");
    let r = app.patch(&format!("/api/v1/customers/{id}"), json!({"phone": "+1 212 555 0188"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["phone"], "+12125550188");
    assert_eq!(r.body["sms_problem"], Value::Null, "a new number starts clean");
}

#[tokio::test]
async fn the_jobs_list_narrows_to_what_needs_the_office() {
    let app = spawn_app().await;
    let (cookie, _) = admin_session(&app).await;
    let unbooked = app.ny_job().await;
    let booked = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let r = app.book(booked, &[lena], "2026-11-20T13:00:00-05:00", "2026-11-20T15:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let (status, all) = page(&app, &cookie, "/app/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(all.contains(&format!("job-{unbooked}")) && all.contains(&format!("job-{booked}")));
    let (_, none) = page(&app, &cookie, "/app/jobs?show=no_visit").await;
    assert!(none.contains(&format!("job-{unbooked}")), "{none}");
    assert!(!none.contains(&format!("job-{booked}")), "a booked job is not in 'no visit booked'");
    let (_, scheduled) = page(&app, &cookie, "/app/jobs?status=scheduled").await;
    assert!(scheduled.contains(&format!("job-{booked}")) && !scheduled.contains(&format!("job-{unbooked}")));
    let (_, waiting) = page(&app, &cookie, "/app/jobs?show=awaiting_approval").await;
    assert!(!waiting.contains(&format!("job-{booked}")) && waiting.contains("No job in this list"));
    let (_, risky) = page(&app, &cookie, "/app/jobs?show=at_risk").await;
    assert!(!risky.contains(&format!("job-{booked}")));
    // A list the page never offered is said, not silently ignored.
    let (status, odd) = page(&app, &cookie, "/app/jobs?show=everything&status=done").await;
    assert_eq!(status, StatusCode::OK);
    assert!(odd.contains("is not a list we keep") && odd.contains("is not a job status"), "{odd}");
}

#[tokio::test]
async fn the_admin_changes_settings_in_the_browser_checked_as_the_api_and_audited() {
    let app = spawn_app().await;
    let (cookie, csrf) = admin_session(&app).await;
    let (status, html) = page(&app, &cookie, "/app/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Status update times"), "{html}");
    let before = app.get("/api/v1/organization").await.body;
    let form = |times: &'static str, buffer: &'static str, quiet: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Test Restoration".to_string()),
            ("phone", String::new()),
            ("email", String::new()),
            ("mission_statement", "We fix water damage and tell you the truth about it.".to_string()),
            ("timezone", "America/New_York".to_string()),
            ("update_times", times.to_string()),
            ("quiet_hours_start", quiet.to_string()),
            ("quiet_hours_end", "08:00".to_string()),
            ("travel_buffer_minutes", buffer.to_string()),
            ("max_window_minutes", "180".to_string()),
            ("at_risk_lead_minutes", "30".to_string()),
            ("late_grace_minutes", "10".to_string()),
            ("estimate_turnaround_hours", "48".to_string()),
            ("sms_number", String::new()),
        ]
    };
    // A bad time, a number that is not one: named, nothing saved.
    let r = client()
        .post(app.url("/app/settings"))
        .header(COOKIE, &cookie)
        .form(&form("8:30, 25:00", "20", "21:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"e-update_times\""));
    let r = client()
        .post(app.url("/app/settings"))
        .header(COOKIE, &cookie)
        .form(&form("08:30", "twenty", "21:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("is not a whole number"));
    assert_eq!(app.get("/api/v1/organization").await.body, before, "nothing saved");

    // A good change: saved, and the audit log says what changed, from what to what.
    let r = client()
        .post(app.url("/app/settings"))
        .header(COOKIE, &cookie)
        .form(&form("08:00, 17:30", "45", "20:30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = app.get("/api/v1/organization").await.body;
    assert_eq!(after["update_times"], json!(["08:00", "17:30"]));
    assert_eq!(after["travel_buffer_minutes"], 45);
    assert_eq!(after["quiet_hours_start"], "20:30");
    assert_eq!(after["customers_may_reschedule"], false, "an unticked box turns it off");
    let audit = app.get("/api/v1/audit").await.body;
    let entry =
        audit["items"].as_array().unwrap().iter().rev().find(|a| a["action"] == "settings_changed").expect("audited");
    let detail: Value = match &entry["detail"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    assert_eq!(detail["changed"]["travel_buffer_minutes"], json!({"from": before["travel_buffer_minutes"], "to": 45}));

    // Only admins.
    let dispatcher = app.staff("Dana Dispatch", "dispatcher", "America/New_York").await;
    let (d_cookie, d_csrf) = app.session_for(dispatcher).await;
    let (status, _) = page(&app, &d_cookie, "/app/settings").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut f = form("09:00", "10", "21:00");
    f[0].1 = d_csrf;
    let r = client().post(app.url("/app/settings")).header(COOKIE, &d_cookie).form(&f).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/organization").await.body, after);
}

/// Form pairs for the visit page's change form.
fn change_form(csrf: &str, date: &str, start: &str, end: &str, staff: &[i64], reason: &str) -> Vec<(String, String)> {
    let mut f = vec![
        ("csrf".to_string(), csrf.to_string()),
        ("date".to_string(), date.to_string()),
        ("start".to_string(), start.to_string()),
        ("end".to_string(), end.to_string()),
        ("reason".to_string(), reason.to_string()),
    ];
    f.extend(staff.iter().map(|s| ("staff_ids".to_string(), s.to_string())));
    f
}

#[tokio::test]
async fn the_office_moves_reassigns_and_cancels_a_visit_from_its_page_and_closes_the_job() {
    let app = spawn_app().await;
    let (cookie, csrf) = admin_session(&app).await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let nadia = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "timezone": "America/New_York", "address": "48 Linden St, Brooklyn"}),
        )
        .await
        .id();
    let job_a = app.job(nadia).await;
    let first = app.book(job_a, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 90).await.id();
    let walter = app.customer("Walter Kim", "America/New_York").await;
    let job_b = app.job(walter).await;
    let second = app.book(job_b, &[marcus], "2026-11-23T13:00:00-05:00", "2026-11-23T14:00:00-05:00", 90).await.id();

    let (status, html) = page(&app, &cookie, &format!("/app/visits/{second}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Move or reassign") && html.contains("Cancel this visit"), "{html}");
    let (_, job_page) = page(&app, &cookie, &format!("/app/jobs/{job_b}")).await;
    assert!(job_page.contains(&format!("href=\"/app/visits/{second}\"")), "the job page links each open visit");

    // Into Marcus's morning visit: refused in plain words, nothing changed, nobody told.
    let before = app.get(&format!("/api/v1/visits/{second}")).await.body;
    let told_before = app.outbox("").await.len();
    let r = client()
        .post(app.url(&format!("/app/visits/{second}/change")))
        .header(COOKIE, &cookie)
        .form(&change_form(&csrf, "2026-11-23", "09:15", "10:15", &[marcus], ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Marcus could no longer reach 48 Linden St, Brooklyn") && html.contains("Nothing was changed."),
        "{html}"
    );
    assert!(html.contains("value=\"09:15\""), "what was typed is kept");
    assert_eq!(app.get(&format!("/api/v1/visits/{second}")).await.body, before);
    assert_eq!(app.outbox("").await.len(), told_before);

    // A bad time is named.
    let r = client()
        .post(app.url(&format!("/app/visits/{second}/change")))
        .header(COOKIE, &cookie)
        .form(&change_form(&csrf, "2026-11-23", "25:00", "14:00", &[marcus], ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("is not a time of day"));

    // To Lena at 11:30 with a reason: moved, reassigned, the customer told why.
    let r = client()
        .post(app.url(&format!("/app/visits/{second}/change")))
        .header(COOKIE, &cookie)
        .form(&change_form(&csrf, "2026-11-23", "11:30", "12:30", &[lena], "Marcus is needed on an emergency"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let moved = app.get(&format!("/api/v1/visits/{second}")).await.body;
    assert_eq!(utc(moved["window_start"].as_str().unwrap()), utc("2026-11-23T11:30:00-05:00"));
    assert_eq!(moved["staff_ids"], json!([lena]));
    let told = app.outbox(&format!("job_id={job_b}")).await;
    assert!(
        told.iter().any(|m| m["body_text"].as_str().unwrap_or_default().contains("Marcus is needed on an emergency")),
        "the reason reaches the customer: {told:?}"
    );

    // Completing job A with its visit still booked: the page says which visit.
    let r = client()
        .post(app.url(&format!("/app/jobs/{job_a}/status")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("to", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains(&format!("visit {first}")));
    assert_ne!(app.get(&format!("/api/v1/jobs/{job_a}")).await.body["status"], "completed");

    // Cancel the visit with a reason; then the job closes.
    let r = client()
        .post(app.url(&format!("/app/visits/{first}/cancel")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("reason", "You told us the leak stopped")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/visits/{first}")).await.body["status"], "cancelled");
    assert!(!app.outbox("kind=visit_cancelled").await.is_empty(), "the customer is told");
    let r = client()
        .post(app.url(&format!("/app/jobs/{job_a}/status")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("to", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job_a}")).await.body["status"], "completed");

    // Cancelling job B cancels its visit and tells the customer once.
    let r = client()
        .post(app.url(&format!("/app/jobs/{job_b}/status")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("to", "cancelled"), ("reason", "You chose another contractor")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/visits/{second}")).await.body["status"], "cancelled");
    assert!(!app.outbox("kind=job_cancelled").await.is_empty());

    // Field staff cannot use any of it.
    let (tech, tech_csrf) = app.session_for(lena).await;
    let (status, _) = page(&app, &tech, &format!("/app/visits/{second}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = client()
        .post(app.url(&format!("/app/visits/{second}/cancel")))
        .header(COOKIE, &tech)
        .form(&[("csrf", tech_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// The value of the first `<input ... name="{name}" value="...">` after `from` in `html`.
fn hidden(html: &str, from: usize, name: &str) -> String {
    let at = html[from..].find(&format!("name=\"{name}\" value=\"")).map(|i| i + from).expect(name);
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn the_job_page_suggests_windows_that_book_in_one_tap() {
    let app = spawn_app().await;
    let (cookie, csrf) = admin_session(&app).await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let job = app.ny_job().await;
    let (status, html) = page(&app, &cookie, &format!("/app/jobs/{job}")).await;
    assert_eq!(status, StatusCode::OK);
    let at = html.find("<ul class=\"suggested\">").expect("suggested windows are offered");
    assert!(html.contains("Marcus Bell"), "{html}");
    let field = |name: &str| hidden(&html, at, name);
    assert_eq!(field("kind"), "estimate");
    assert_eq!(field("staff_ids"), marcus.to_string());
    let r = client()
        .post(app.url(&format!("/app/jobs/{job}/visits")))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", &field("kind")),
            ("staff_ids", &field("staff_ids")),
            ("date", &field("date")),
            ("start", &field("start")),
            ("end", &field("end")),
            ("duration", &field("duration")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let visits = app.get(&format!("/api/v1/jobs/{job}/visits")).await.body["items"].clone();
    assert_eq!(visits.as_array().unwrap().len(), 1);
    assert_eq!(visits[0]["staff_ids"], json!([marcus]));
    assert!(utc(visits[0]["window_start"].as_str().unwrap()) >= app.state.clock.now(), "a window still to come");
}
