//! Organizations are walls; tokens are required.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn without_a_valid_token_the_api_answers_401() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/api/v1/jobs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(app.get_as("kept_0000", "/api/v1/jobs").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_as(&format!("{}x", app.token), "/api/v1/jobs").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.status, StatusCode::OK);
}

#[tokio::test]
async fn another_organizations_rows_are_not_found_on_every_route() {
    let app = spawn_app().await;
    let job = app.ny_job().await;
    let tech = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let visit = app.book(job, &[tech], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    let customer = app.get(&format!("/api/v1/jobs/{job}")).await.body["customer_id"].as_i64().unwrap();
    let estimate = app
        .post(
            &format!("/api/v1/jobs/{job}/estimates"),
            json!({"lines": [{"kind": "fee", "description": "Visit", "quantity": "1", "unit_price_minor": 9900}]}),
        )
        .await
        .id();

    let rival = app.rival_token().await;
    let t = &rival;
    let their_tech = {
        let r = app
            .send_as(
                t,
                reqwest::Method::POST,
                "/api/v1/staff",
                &json!({"name": "R", "role": "technician", "email": "r@rival.example.test", "timezone": "UTC"}),
            )
            .await;
        r.id()
    };
    let gets = [
        format!("/api/v1/staff/{tech}"),
        format!("/api/v1/staff/{tech}/schedule?date=2026-11-23"),
        format!("/api/v1/customers/{customer}"),
        format!("/api/v1/jobs/{job}"),
        format!("/api/v1/jobs/{job}/timeline"),
        format!("/api/v1/jobs/{job}/visits"),
        format!("/api/v1/visits/{visit}"),
        format!("/api/v1/jobs/{job}/promises"),
        format!("/api/v1/jobs/{job}/estimates"),
        format!("/api/v1/estimates/{estimate}"),
    ];
    for path in &gets {
        let r = app.get_as(t, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        // Exactly as an id that does not exist.
        let missing = app.get_as(t, &path.replace(&format!("/{}", path.split('/').nth(4).unwrap()), "/987654")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body, missing.body);
    }
    let writes = [
        (reqwest::Method::PATCH, format!("/api/v1/jobs/{job}"), json!({"title": "mine now"})),
        (reqwest::Method::POST, format!("/api/v1/jobs/{job}/notes"), json!({"text": "hello"})),
        (
            reqwest::Method::POST,
            format!("/api/v1/jobs/{job}/visits"),
            json!({"kind": "work", "staff_ids": [their_tech], "window_start": "2026-11-24T09:00:00Z", "window_end": "2026-11-24T10:00:00Z", "duration_minutes": 30}),
        ),
        (reqwest::Method::PATCH, format!("/api/v1/visits/{visit}"), json!({"duration_minutes": 30})),
        (reqwest::Method::POST, format!("/api/v1/jobs/{job}/messages"), json!({"body": "hello"})),
        (reqwest::Method::POST, format!("/api/v1/jobs/{job}/estimates"), json!({"lines": []})),
        (
            reqwest::Method::POST,
            format!("/api/v1/jobs/{job}/promises"),
            json!({"kind": "callback_by", "due_at": "2030-01-01T00:00:00Z"}),
        ),
        (reqwest::Method::PATCH, format!("/api/v1/estimates/{estimate}"), json!({"lines": []})),
        (reqwest::Method::POST, format!("/api/v1/estimates/{estimate}/send"), json!({})),
        (reqwest::Method::POST, format!("/api/v1/visits/{visit}/status"), json!({"status": "cancelled"})),
    ];
    for (method, path, body) in &writes {
        let r = app.send_as(t, method.clone(), path, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.body);
    }
    // Referencing our rows from their side is refused as unknown.
    let r =
        app.send_as(t, reqwest::Method::POST, "/api/v1/jobs", &json!({"customer_id": customer, "title": "x"})).await;
    assert_eq!(r.fields(), vec!["customer_id"]);
    let their_customer = app
        .send_as(t, reqwest::Method::POST, "/api/v1/customers", &json!({"name": "C", "email": "c@rival.example.test"}))
        .await
        .id();
    let their_job = app
        .send_as(t, reqwest::Method::POST, "/api/v1/jobs", &json!({"customer_id": their_customer, "title": "x"}))
        .await
        .id();
    let r = app
        .send_as(t, reqwest::Method::POST, &format!("/api/v1/jobs/{their_job}/visits"),
            &json!({"kind": "work", "staff_ids": [tech], "window_start": "2026-11-24T09:00:00Z", "window_end": "2026-11-24T10:00:00Z", "duration_minutes": 30}))
        .await;
    assert_eq!(r.fields(), vec!["staff_ids"], "{}", r.body);
    // Their lists hold only their own rows, and nothing of ours changed.
    let staff = app.get_as(t, "/api/v1/staff").await;
    assert_eq!(staff.body["items"].as_array().unwrap().len(), 2);
    let ours = app.get(&format!("/api/v1/visits/{visit}")).await;
    assert_eq!(ours.body["status"], "scheduled");
    assert_eq!(ours.body["duration_minutes"], 60);
    assert_eq!(app.get(&format!("/api/v1/jobs/{job}")).await.body["title"], "Leak");
}

#[tokio::test]
async fn ids_that_are_not_numbers_are_simply_not_found() {
    let app = spawn_app().await;
    for path in ["/api/v1/jobs/abc", "/api/v1/visits/-1", "/api/v1/staff/1.5", "/api/v1/nothing-here"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["error"], "not_found");
    }
}

#[tokio::test]
async fn only_admins_add_staff_and_only_the_office_adds_customers() {
    let app = spawn_app().await;
    let dispatcher = app.token_for(kept::domain::people::Role::Dispatcher, None).await;
    let tech = app.token_for(kept::domain::people::Role::Technician, None).await;
    let staff = json!({"name": "N", "role": "technician", "email": "n@example.test", "timezone": "UTC"});
    assert_eq!(
        app.send_as(&dispatcher, reqwest::Method::POST, "/api/v1/staff", &staff).await.status,
        StatusCode::FORBIDDEN
    );
    let customer = json!({"name": "C", "email": "c@example.test"});
    assert_eq!(
        app.send_as(&tech, reqwest::Method::POST, "/api/v1/customers", &customer).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send_as(&dispatcher, reqwest::Method::POST, "/api/v1/customers", &customer).await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.get_as(&tech, "/api/v1/customers").await.status, StatusCode::FORBIDDEN, "no other customers");
    assert_eq!(app.get_as(&dispatcher, "/api/v1/customers").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_exports_customers_and_jobs_as_csv_and_the_export_is_audited() {
    let app = spawn_app().await;
    let tricky = app
        .post(
            "/api/v1/customers",
            json!({"name": "=HYPERLINK(\"http://evil.example.test\")", "phone": "+1 212 555 0142",
                   "address": "12 Elm St, Apt \"B\"\nBrooklyn", "timezone": "America/New_York"}),
        )
        .await
        .id();
    let job = app
        .post("/api/v1/jobs", json!({"customer_id": tricky, "title": "Leak, upstairs", "story": "It drips."}))
        .await
        .id();
    let rival = app.rival_token().await;
    let theirs = app
        .send_as(
            &rival,
            reqwest::Method::POST,
            "/api/v1/customers",
            &json!({"name": "Rival Customer", "email": "rc@rival.example.test"}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);

    let r = app.client.get(app.url("/api/v1/exports/customers")).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"kept-customers-"));
    let csv = r.text().await.unwrap();
    assert_eq!(
        csv,
        format!(
            "id,name,phone,email,channels,timezone,address,sms_opted_out,email_opted_out,created_at\r\n\
             {tricky},\"'=HYPERLINK(\"\"http://evil.example.test\"\")\",+12125550142,,sms,America/New_York,\
             \"12 Elm St, Apt \"\"B\"\"\nBrooklyn\",false,false,2026-11-20T15:00:00+00:00\r\n"
        ),
        "only our customer, quoted and defused"
    );
    let r = app.client.get(app.url("/api/v1/exports/jobs")).bearer_auth(&app.token).send().await.unwrap();
    let csv = r.text().await.unwrap();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "id,customer_id,customer_name,title,status,story,created_at,updated_at",
            &format!(
                "{job},{tricky},\"'=HYPERLINK(\"\"http://evil.example.test\"\")\",\"Leak, upstairs\",new,It drips.,\
                 2026-11-20T15:00:00+00:00,2026-11-20T15:00:00+00:00"
            ),
        ]
    );

    // The office cannot take the whole customer list home; the attempt changes nothing.
    let dispatcher = app.token_for(kept::domain::people::Role::Dispatcher, None).await;
    assert_eq!(app.get_as(&dispatcher, "/api/v1/exports/customers").await.status, StatusCode::FORBIDDEN);
    let exports: Vec<_> = app.get("/api/v1/audit").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "data_export")
        .map(|a| (a["detail"]["what"].as_str().unwrap().to_string(), a["detail"]["rows"].as_i64().unwrap()))
        .collect();
    assert_eq!(exports, [("customers".to_string(), 1), ("jobs".to_string(), 1)]);
}
