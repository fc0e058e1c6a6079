//! Health, and an OpenAPI document that matches what the server serves.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Every operation the server has, as (method, path template).
const SERVED: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/organization"),
    ("patch", "/api/v1/organization"),
    ("get", "/api/v1/staff"),
    ("post", "/api/v1/staff"),
    ("get", "/api/v1/staff/{id}"),
    ("get", "/api/v1/staff/{id}/schedule"),
    ("get", "/api/v1/customers"),
    ("post", "/api/v1/customers"),
    ("get", "/api/v1/customers/{id}"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("patch", "/api/v1/jobs/{id}"),
    ("get", "/api/v1/jobs/{id}/timeline"),
    ("post", "/api/v1/jobs/{id}/notes"),
    ("get", "/api/v1/jobs/{id}/visits"),
    ("post", "/api/v1/jobs/{id}/visits"),
    ("get", "/api/v1/availability"),
    ("get", "/api/v1/visits/{id}"),
    ("patch", "/api/v1/visits/{id}"),
    ("post", "/api/v1/visits/{id}/status"),
    ("get", "/api/v1/outbox"),
    ("get", "/api/v1/inbound"),
    ("post", "/api/v1/jobs/{id}/messages"),
    ("post", "/webhooks/twilio/status"),
    ("post", "/webhooks/twilio/inbound"),
    ("get", "/api/v1/jobs/{id}/estimates"),
    ("post", "/api/v1/jobs/{id}/estimates"),
    ("patch", "/api/v1/customers/{id}"),
    ("get", "/api/v1/estimates/{id}"),
    ("patch", "/api/v1/estimates/{id}"),
    ("post", "/api/v1/estimates/{id}/send"),
    ("get", "/c/{token}"),
    ("post", "/c/{token}/estimates/{id}/approve"),
    ("post", "/c/{token}/estimates/{id}/decline"),
    ("post", "/c/{token}/estimates/{id}/question"),
    ("get", "/api/v1/jobs/{id}/promises"),
    ("post", "/api/v1/jobs/{id}/promises"),
    ("get", "/api/v1/promises"),
    ("post", "/api/v1/promises/{id}/kept"),
    ("get", "/api/v1/metrics/promises"),
    ("get", "/api/v1/tasks"),
    ("patch", "/api/v1/tasks/{id}"),
    ("post", "/c/{token}/rating"),
    ("post", "/c/{token}/visits/{id}/reschedule"),
    ("patch", "/api/v1/staff/{id}"),
    ("post", "/api/v1/staff/{id}/invite"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/exports/customers"),
    ("get", "/api/v1/exports/jobs"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/message-templates"),
    ("put", "/api/v1/message-templates/{kind}/{part}"),
    ("delete", "/api/v1/message-templates/{kind}/{part}"),
    ("post", "/api/v1/message-templates/{kind}/preview"),
    ("get", "/api/v1/jobs/{id}/conversation"),
    ("post", "/api/v1/messages/{id}/resend"),
    ("post", "/api/v1/inbound/{id}/attach"),
    ("post", "/api/v1/visits/{id}/late"),
    ("post", "/api/v1/visits/{id}/notes"),
    ("post", "/api/v1/staff/{id}/calendar"),
    ("delete", "/api/v1/staff/{id}/calendar"),
    ("get", "/api/v1/calendar/{token}"),
    ("get", "/api/v1/staff/{id}/sessions"),
    ("delete", "/api/v1/staff/{id}/sessions"),
];

/// Paths served at the root rather than under /api/v1.
fn at_root(path: &str) -> bool {
    path.starts_with("/healthz")
        || path.starts_with("/metrics")
        || path.starts_with("/webhooks")
        || path.starts_with("/c/")
}

/// The document, as the server serves it.
fn document() -> Value {
    serde_json::from_str(kept::routes::document()).expect("the document is JSON")
}

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                ops.insert((method.to_string(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_served_operations() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], "/");
    let served: BTreeSet<(String, String)> = SERVED.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented(&doc), served);
    // Every operation has a one-line summary and an id no other has.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let summary = op["summary"].as_str().unwrap_or_else(|| panic!("{method} {path} has no summary"));
            assert!(!summary.is_empty() && !summary.contains('\n'), "{method} {path}: {summary:?}");
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "{method} {path}: operationId {id} is used twice");
        }
    }
}

#[tokio::test]
async fn the_document_names_the_role_table_for_every_api_operation() {
    let doc = document();
    let mut in_table = BTreeSet::new();
    for (method, path, access, narrowed) in kept::access::API_ROUTES {
        let full = format!("/api/v1{path}");
        in_table.insert((method.to_lowercase(), full.clone()));
        let op = &doc["paths"][&full][method.to_lowercase()];
        let description = op["description"].as_str().unwrap_or_else(|| panic!("{method} {full} has no description"));
        let roles = match access {
            kept::access::Access::Public => "anyone; no token",
            kept::access::Access::Admin => "admin",
            kept::access::Access::Office => "admin, dispatcher",
            kept::access::Access::Estimating => "admin, dispatcher, estimator",
            kept::access::Access::Staff => "admin, dispatcher, estimator, technician",
            kept::access::Access::Own => "the person themselves (any role); an admin for anyone",
        };
        assert!(description.contains(&format!("**Who may call:** {roles}.")), "{method} {full}: {description}");
        assert_eq!(description.contains("only for their own"), *narrowed, "{method} {full}: {description}");
        if *access == kept::access::Access::Public {
            assert_eq!(op["security"], json!([]), "{method} {full}");
        } else {
            assert!(op["responses"]["401"].is_object() && op["responses"]["403"].is_object(), "{method} {full}");
        }
    }
    let api_ops: BTreeSet<(String, String)> =
        documented(&doc).into_iter().filter(|(_, p)| p.starts_with("/api/v1")).collect();
    assert_eq!(api_ops, in_table, "the role table and the document name the same API operations");
}

/// The request body schema of an operation, with `$ref`s followed.
fn body_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let mut s = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    while let Some(r) = s["$ref"].as_str() {
        s = &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")];
    }
    s
}

#[tokio::test]
async fn documented_request_fields_are_the_ones_the_server_accepts() {
    let app = spawn_app().await;
    let doc = document();
    let fields = |path: &str, method: &str| -> BTreeSet<String> {
        body_schema(&doc, &format!("/api/v1{path}"), method)["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        fields("/staff", "post"),
        set(&["name", "role", "phone", "email", "photo_url", "bio", "timezone", "working_hours"])
    );
    assert_eq!(fields("/customers", "post"), set(&["name", "phone", "email", "channels", "timezone", "address"]));
    assert_eq!(fields("/jobs", "post"), set(&["customer_id", "title", "story"]));
    for (path, method) in [("/jobs/{id}/estimates", "post"), ("/estimates/{id}", "patch")] {
        assert_eq!(
            fields(path, method),
            set(&["currency", "tax_percent", "tax_rate_bp", "taxes", "notes", "valid_until", "lines", "confirm"]),
            "{method} {path}"
        );
    }
    assert_eq!(
        fields("/jobs/{id}/visits", "post"),
        set(&["kind", "staff_ids", "window_start", "window_end", "duration_minutes"])
    );
    assert_eq!(fields("/visits/{id}/status", "post"), set(&["status", "eta_minutes", "reason"]));
    // The server refuses anything undocumented: every JSON schema is closed.
    // (Twilio's webhooks take form posts with whatever parameters Twilio adds.)
    for (method, path) in SERVED.iter().filter(|(m, p)| *m != "get" && !at_root(p)) {
        if doc["paths"][path][method]["requestBody"].is_null() {
            continue; // takes no body (e.g. send)
        }
        assert_eq!(body_schema(&doc, path, method)["additionalProperties"], json!(false), "{method} {path}");
        let field = format!("not_{}", path.trim_start_matches("/api/v1").replace('/', "_"));
        let url = app.url(&path.replace("{id}", "1"));
        let r = app
            .client
            .request(method.to_uppercase().parse().unwrap(), url)
            .bearer_auth(&app.token)
            .json(&json!({field: 1}))
            .send()
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 404 | 422), "{method} {path} accepted an unknown field: {}", r.status());
    }
}

#[tokio::test]
async fn every_operation_answers_with_a_documented_status() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let visit = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let doc = document();
    for (method, path) in SERVED {
        let id = if path.contains("/staff/") {
            tech
        } else if path.contains("/visits/") {
            visit
        } else {
            job
        };
        let id = if path.starts_with("/api/v1/customers/") {
            app.get(&format!("/api/v1/jobs/{job}")).await.body["customer_id"].as_i64().unwrap()
        } else {
            id
        };
        let url = app.url(&path.replace("{id}", &id.to_string()).replace("{token}", &"0".repeat(40)));
        let req = app.client.request(method.to_uppercase().parse().unwrap(), url).bearer_auth(&app.token);
        let req = if *method == "get" {
            req
        } else if at_root(path) {
            req.form(&[("MessageSid", "SM1")])
        } else {
            req.json(&json!({}))
        };
        let status = req.send().await.unwrap().status().as_u16().to_string();
        let responses =
            doc["paths"][path][method]["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}"));
        assert!(
            responses.contains_key(&status),
            "{method} {path} answered {status}, documented {:?}",
            responses.keys().collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn unknown_filter_values_are_422_naming_the_parameter_not_an_empty_list() {
    let app = spawn_app().await;
    for (path, field) in [
        ("/api/v1/promises?outcome=AAA", "outcome"),
        ("/api/v1/promises?kind=AAA", "kind"),
        ("/api/v1/promises?at_risk=maybe", "at_risk"),
        ("/api/v1/tasks?status=AAA", "status"),
        ("/api/v1/jobs?status=AAA", "status"),
        ("/api/v1/outbox?kind=AAA", "kind"),
        ("/api/v1/inbound?matched=AAA", "matched"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", r.body);
        assert_eq!(r.fields(), vec![field.to_string()], "{path}");
    }
    for path in ["/api/v1/promises?outcome=not_sent", "/api/v1/tasks?status=open", "/api/v1/outbox?kind=password_reset"]
    {
        assert_eq!(app.get(path).await.status, StatusCode::OK, "{path}");
    }
}
