//! Typed states: every state, kind, role and channel column is read as an
//! enum. A value this version does not know, written straight into the
//! database (by hand, by a newer version, by a bad restore), is an error
//! when read, never a default: the API answers a generic 500, the notifier
//! reports a failed run, and the process goes on serving.

use crate::helpers::{spawn_app, utc, TestApp};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

const UNKNOWN: &str = "no_such_state";

async fn exec(app: &TestApp, sql: &str) {
    app.state.db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The first row of `table` matching `filter`: its id and the raw text of `column`.
async fn raw(app: &TestApp, table: &str, column: &str, filter: &str) -> (i64, String) {
    let sql = format!("SELECT id, {column} AS v FROM {table} WHERE {filter} ORDER BY id LIMIT 1");
    let backend = app.state.db.get_database_backend();
    let row = app
        .state
        .db
        .query_one(Statement::from_string(backend, sql.clone()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    (row.try_get::<i64>("", "id").expect("id"), row.try_get::<String>("", "v").expect("text"))
}

#[tokio::test]
async fn an_unknown_stored_state_is_a_500_not_a_default_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    let customer = app.get(&format!("/api/v1/jobs/{job}")).await.body["customer_id"].as_i64().expect("customer");
    let r = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let visit = r.id();
    let e = app
        .post(
            &format!("/api/v1/jobs/{job}/estimates"),
            json!({"tax_rate_bp": 825, "lines": [{"kind": "labor", "description": "Dry-out", "quantity": "2", "unit": "h", "unit_price_minor": 8500}]}),
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.body);
    let estimate = e.id();
    // A role change writes the audit log.
    assert_eq!(app.patch(&format!("/api/v1/staff/{tech}"), json!({"role": "estimator"})).await.status, StatusCode::OK);

    let jobs = format!("/api/v1/jobs/{job}");
    let visits = format!("/api/v1/visits/{visit}");
    let outbox = format!("/api/v1/outbox?job_id={job}");
    let promises = format!("/api/v1/jobs/{job}/promises");
    let timeline = format!("/api/v1/jobs/{job}/timeline");
    let estimates = format!("/api/v1/estimates/{estimate}");
    let cases: Vec<(&str, &str, String, &str)> = vec![
        ("jobs", "status", format!("id = {job}"), jobs.as_str()),
        ("jobs", "status", format!("id = {job}"), "/api/v1/jobs"),
        ("visits", "status", format!("id = {visit}"), visits.as_str()),
        ("visits", "kind", format!("id = {visit}"), visits.as_str()),
        ("messages", "state", format!("job_id = {job}"), outbox.as_str()),
        ("messages", "kind", format!("job_id = {job}"), outbox.as_str()),
        ("messages", "channel", format!("job_id = {job}"), outbox.as_str()),
        ("promises", "kind", format!("job_id = {job}"), promises.as_str()),
        ("promises", "outcome", format!("job_id = {job}"), promises.as_str()),
        ("timeline_events", "kind", format!("job_id = {job}"), timeline.as_str()),
        ("estimates", "status", format!("id = {estimate}"), estimates.as_str()),
        ("estimate_lines", "kind", format!("estimate_id = {estimate}"), estimates.as_str()),
        ("customers", "channels", format!("id = {customer}"), "/api/v1/customers"),
        ("staff", "role", format!("id = {tech}"), "/api/v1/staff"),
        ("audit_log", "action", format!("staff_id IS NOT NULL AND organization_id = {}", app.org_id), "/api/v1/audit"),
        // The caller's own token: every request reads its role.
        ("api_tokens", "role", format!("organization_id = {}", app.org_id), "/api/v1/customers"),
    ];
    for (table, column, filter, path) in cases {
        let what = format!("{table}.{column} read by GET {path}");
        assert_eq!(app.get(path).await.status, StatusCode::OK, "{what} before");
        let (id, stored) = raw(&app, table, column, &filter).await;
        // A channel list with one unknown name is as unknown as a wrong state.
        let bad = if column == "channels" { format!("sms,{UNKNOWN}") } else { UNKNOWN.to_string() };
        exec(&app, &format!("UPDATE {table} SET {column} = '{bad}' WHERE id = {id}")).await;

        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: {}", r.body);
        assert_eq!(
            r.body,
            json!({"error": "internal", "message": "something went wrong on our side; it has been logged"}),
            "{what}: the cause is logged, not shown"
        );
        assert!(!r.body.to_string().contains(UNKNOWN), "{what}");

        // The server is still up; with the value put back, the row reads again.
        assert_eq!(app.get("/healthz").await.status, StatusCode::OK, "{what}");
        exec(&app, &format!("UPDATE {table} SET {column} = '{stored}' WHERE id = {id}")).await;
        assert_eq!(app.get(path).await.status, StatusCode::OK, "{what} after the value is restored");
    }
}

#[tokio::test]
async fn the_notifier_reports_an_unknown_stored_kind_as_a_failed_run() {
    let app = spawn_app().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    let r = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The arrival promise is within the ledger watch's day.
    app.clock.set(utc("2026-11-23T08:00:00-05:00"));
    let (id, stored) = raw(&app, "promises", "kind", &format!("job_id = {job} AND kind = 'arrival_window'")).await;
    exec(&app, &format!("UPDATE promises SET kind = '{UNKNOWN}' WHERE id = {id}")).await;

    let err = kept::notify::run_tick(&app.state.notifier()).await.expect_err("the run fails").to_string();
    assert!(err.contains("unknown promise kind") && err.contains(UNKNOWN), "names what it could not read: {err}");
    let promises = app.get(&format!("/api/v1/jobs/{job}/promises")).await;
    assert_eq!(promises.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", promises.body);

    exec(&app, &format!("UPDATE promises SET kind = '{stored}' WHERE id = {id}")).await;
    app.tick().await;
    let promises = app.get(&format!("/api/v1/jobs/{job}/promises")).await;
    assert_eq!(promises.status, StatusCode::OK, "{}", promises.body);
    let items = promises.body["items"].as_array().expect("items");
    assert!(items.iter().any(|p| p["id"] == id && p["kind"] == "arrival_window"), "{}", promises.body);
}
