//! The role × route table, tested exhaustively: every route, every role.

use crate::helpers::spawn_app;
use kept::access::{Access, API_ROUTES};
use kept::domain::people::Role;
use reqwest::StatusCode;
use serde_json::json;

/// A job with a visit (for Lena), an estimate and the visit's promise.
struct Fixture {
    job: i64,
    crew: i64,
    visit: i64,
    estimate: i64,
    promise: i64,
}

async fn fixture(app: &crate::helpers::TestApp) -> Fixture {
    let job = app.ny_job().await;
    let crew = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let visit = app.book(job, &[crew], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let estimate = app
        .post(
            &format!("/api/v1/jobs/{job}/estimates"),
            json!({"lines": [{"kind": "fee", "description": "Visit", "quantity": "1", "unit_price_minor": 9900}]}),
        )
        .await
        .id();
    let promise = app.get(&format!("/api/v1/jobs/{job}/promises")).await.body["items"][0]["id"].as_i64().unwrap();
    Fixture { job, crew, visit, estimate, promise }
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_in_the_table() {
    let app = spawn_app().await;
    let Fixture { job, crew, visit, estimate, promise } = fixture(&app).await;

    let mut callers = Vec::new();
    for role in [Role::Admin, Role::Dispatcher, Role::Estimator, Role::Technician] {
        let id = app.staff(&format!("Someone {}", role.as_str()), role.as_str(), "America/New_York").await;
        callers.push((role, app.token_for(role, Some(id)).await));
    }
    let path_for = |path: &str| {
        let id = if path.starts_with("/staff/") {
            crew
        } else if path.starts_with("/visits/") {
            visit
        } else if path.starts_with("/estimates/") {
            estimate
        } else if path.starts_with("/promises/") {
            promise
        } else if path.starts_with("/tasks/") {
            987_654
        } else if path.starts_with("/customers/") {
            1
        } else {
            job
        };
        format!("/api/v1{}", path.replace("{id}", &id.to_string()))
    };
    let mut checked = 0;
    for (method, path, access, narrowed) in API_ROUTES {
        let url = path_for(path);
        let m: reqwest::Method = method.parse().unwrap();
        let anonymous = app.client.request(m.clone(), app.url(&url)).json(&json!({})).send().await.unwrap().status();
        if *access == Access::Public {
            assert_ne!(anonymous, StatusCode::UNAUTHORIZED, "{method} {path}");
        } else {
            assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{method} {path} without a token");
        }
        for (role, token) in &callers {
            let status = app.send_as(token, m.clone(), &url, &json!({})).await.status;
            let field = matches!(role, Role::Estimator | Role::Technician);
            // Field roles reach narrowed routes only for their own visits and
            // estimates; these callers have none.
            // `Own` routes: each person only for themselves (these callers
            // are someone else), admins for anyone.
            let own_only = *access == Access::Own && *role != Role::Admin;
            let admitted = access.allows(*role) && !(*narrowed && field) && !own_only;
            if admitted {
                assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path} should admit a {}", role.as_str());
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} should refuse a {}", role.as_str());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, API_ROUTES.len() * 4);

    // The technician on the visit reaches exactly the narrowed routes about it.
    let lena = app.token_for(Role::Technician, Some(crew)).await;
    for path in [
        format!("/api/v1/jobs/{job}"),
        format!("/api/v1/jobs/{job}/timeline"),
        format!("/api/v1/jobs/{job}/visits"),
        format!("/api/v1/visits/{visit}"),
        format!("/api/v1/staff/{crew}/schedule?date=2026-11-23"),
    ] {
        assert_eq!(app.get_as(&lena, &path).await.status, StatusCode::OK, "{path}");
    }
    let story = app.get_as(&lena, &format!("/api/v1/jobs/{job}")).await.body;
    assert_eq!(story["story"], "Water under the sink.");
    assert_eq!(story["customer"]["address"], "1 Main St");
    // No pricing for technicians.
    assert_eq!(app.get_as(&lena, &format!("/api/v1/estimates/{estimate}")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get_as(&lena, &format!("/api/v1/jobs/{job}/estimates")).await.status, StatusCode::FORBIDDEN);
}

#[test]
fn the_table_covers_every_documented_api_operation_and_nothing_else() {
    let doc: serde_json::Value = serde_json::from_str(kept::routes::document()).unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(path) = path.strip_prefix("/api/v1") else {
            continue; // served at the root: health, webhooks, customer pages
        };
        for m in ["get", "post", "patch", "put", "delete"] {
            if item.get(m).is_some() {
                documented.insert((m.to_uppercase(), path.to_string()));
            }
        }
    }
    let table: std::collections::BTreeSet<(String, String)> =
        API_ROUTES.iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, table);
}

/// Organizations are walls: every route, called with another organization's
/// admin token, answers 404 for our ids and lists none of our rows.
#[tokio::test]
async fn every_route_hides_another_organizations_rows() {
    let app = spawn_app().await;
    let Fixture { job, crew, visit, estimate, promise } = fixture(&app).await;
    let customer = app.get(&format!("/api/v1/jobs/{job}")).await.body["customer_id"].as_i64().unwrap();
    app.tick().await;
    let rival = app.rival_token().await;
    let theirs = &rival;
    let mut walls = 0;
    for (method, path, access, _) in API_ROUTES {
        if *access == Access::Public {
            continue;
        }
        let m: reqwest::Method = method.parse().unwrap();
        if path.contains("{id}") {
            let id = if path.starts_with("/staff/") {
                crew
            } else if path.starts_with("/visits/") {
                visit
            } else if path.starts_with("/estimates/") {
                estimate
            } else if path.starts_with("/promises/") {
                promise
            } else if path.starts_with("/customers/") {
                customer
            } else if path.starts_with("/tasks/") {
                continue; // no task exists; covered by the id-does-not-exist answer
            } else {
                job
            };
            let url = format!("/api/v1{}", path.replace("{id}", &id.to_string()));
            let r = app.send_as(theirs, m, &url, &json!({})).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {url}: {}", r.body);
            walls += 1;
        } else if *path == "/availability" {
            // Names one of our jobs in its query: as unknown to them as an id in a path.
            let url = format!("/api/v1/availability?job_id={job}&kind=work&duration_minutes=60");
            let r = app.send_as(theirs, m, &url, &json!({})).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {url}: {}", r.body);
            walls += 1;
        } else if *method == "GET" {
            let r = app.send_as(theirs, m, &format!("/api/v1{path}"), &json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            let ours = [job, visit, estimate, promise, customer];
            if let Some(items) = r.body["items"].as_array() {
                for item in items {
                    for key in ["job_id", "customer_id", "visit_id"] {
                        if let Some(v) = item[key].as_i64() {
                            assert!(
                                !ours.contains(&v) || key == "visit_id" && v != visit,
                                "{path} leaked {key} {v}: {item}"
                            );
                        }
                    }
                }
            }
            walls += 1;
        }
    }
    assert!(walls >= 30, "{walls} routes checked");
    // Their organization sees only itself.
    assert_eq!(app.get_as(theirs, "/api/v1/organization").await.body["name"], "Rival Roofing");
    assert_eq!(app.get_as(theirs, "/api/v1/outbox").await.body["items"], json!([]));
    assert_eq!(app.get_as(theirs, "/api/v1/jobs").await.body["items"], json!([]));
}

/// A customer's link opens their own job only: not another job's estimate.
#[tokio::test]
async fn a_link_cannot_be_reused_for_another_job() {
    let app = spawn_app().await;
    let a = app.ny_job().await;
    let b = app.ny_job().await;
    let crew = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(a, &[crew], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    let eb = app
        .post(
            &format!("/api/v1/jobs/{b}/estimates"),
            json!({"lines": [{"kind": "fee", "description": "Visit", "quantity": "1", "unit_price_minor": 9900}]}),
        )
        .await
        .id();
    app.post(&format!("/api/v1/estimates/{eb}/send"), json!({})).await;
    let body = app.outbox(&format!("kind=introduction&job_id={a}")).await[0]["body_text"].as_str().unwrap().to_string();
    let i = body.find("/c/").unwrap() + 3;
    let token_a = &body[i..i + 40];
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client
        .post(app.url(&format!("/c/{token_a}/estimates/{eb}/approve")))
        .form(&[("comment", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/estimates/{eb}")).await.body["status"], "sent");
}
