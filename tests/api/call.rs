//! A phone call in one minute: find or add the caller, take their story,
//! book the visit, and see the introduction they are about to receive.

use crate::helpers::{spawn_app, TestApp};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn office(app: &TestApp) -> (String, String) {
    let staff = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().clone();
    let admin = staff.iter().find(|s| s["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    app.session_for(admin).await
}

async fn search(app: &TestApp, cookie: &str, q: &str) -> Vec<String> {
    let r =
        client().get(app.url("/app/customers/search")).query(&[("q", q)]).header(COOKIE, cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_caller_is_found_by_name_phone_or_address_as_the_office_types() {
    let app = spawn_app().await;
    let (cookie, _) = office(&app).await;
    for (name, phone, address) in [
        ("Nadia Brooks", "+1 212 555 0142", "48 Linden Street, Brooklyn"),
        ("Walter Kim", "+1 718 555 0178", "34-12 81st Street, Queens"),
        ("Ana 100% Real", "+1 718 555 0199", "1 Main St"),
    ] {
        let r = app.post("/api/v1/customers", json!({"name": name, "phone": phone, "address": address})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    assert_eq!(search(&app, &cookie, "nadia").await, ["Nadia Brooks"], "any case");
    assert_eq!(search(&app, &cookie, "LINDEN").await, ["Nadia Brooks"], "by address");
    assert_eq!(search(&app, &cookie, "555-0178").await, ["Walter Kim"], "by the phone's digits, typed any way");
    assert_eq!(search(&app, &cookie, "100%").await, ["Ana 100% Real"], "a typed % is a %, not a wildcard");
    assert!(search(&app, &cookie, "_").await.is_empty(), "a typed _ is an _");
    assert!(search(&app, &cookie, "zzz").await.is_empty());
    // Another company's customers are never found.
    let rival = app.rival_token().await;
    let r = app
        .send_as(
            &rival,
            reqwest::Method::POST,
            "/api/v1/customers",
            &json!({"name": "Nadia Other", "phone": "+1 212 555 0111"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(search(&app, &cookie, "nadia").await, ["Nadia Brooks"]);
}

#[tokio::test]
async fn a_call_adds_the_customer_opens_the_job_books_the_visit_and_shows_the_introduction() {
    let app = spawn_app().await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let (cookie, csrf) = office(&app).await;
    let before = app.get("/api/v1/customers").await.body["items"].as_array().unwrap().len();

    // Every problem named at once, and nothing saved.
    let r = client()
        .post(app.url("/app/new/customer"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", ""), ("phone", "12"), ("email", "not-an-email")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("is required"), "name: {html}");
    assert!(html.contains("not-an-email"), "what was typed stays: {html}");
    assert_eq!(app.get("/api/v1/customers").await.body["items"].as_array().unwrap().len(), before);

    let r = client()
        .post(app.url("/app/new/customer"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Rosa Delgado"),
            ("phone", "(718) 555-0163"),
            ("address", "1450 Grand Concourse, Bronx"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let next = r.headers()["location"].to_str().unwrap().to_string();
    let customer: i64 = next.strip_prefix("/app/new?customer_id=").expect(&next).parse().unwrap();
    let page = client().get(app.url(&next)).header(COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Rosa Delgado") && page.contains("+17185550163") && page.contains("Their story"), "{page}");

    let book = |start: &'static str, end: &'static str, minutes: &'static str| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        let app = &app;
        async move {
            client()
                .post(app.url("/app/new/job"))
                .header(COOKIE, &cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("customer_id", &customer.to_string()),
                    ("title", "Sump pump alarm keeps going off"),
                    ("story", "The alarm has gone off three times since Sunday. I'm home after 3."),
                    ("kind", "estimate"),
                    ("staff_id", &marcus.to_string()),
                    ("date", "2026-11-23"),
                    ("start", start),
                    ("end", end),
                    ("duration", minutes),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = book("15:00", "17:00", "60").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let done = r.headers()["location"].to_str().unwrap().to_string();
    assert!(done.starts_with("/app/new/done?visit="), "{done}");
    let html = client().get(app.url(&done)).header(COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    let intro = app.outbox("kind=introduction").await;
    assert_eq!(intro.len(), 1, "{intro:?}");
    assert!(html.contains("What Rosa Delgado is about to receive"), "{html}");
    let first_line = intro[0]["body_text"].as_str().unwrap().lines().next().unwrap().to_string();
    assert!(
        html.contains(&first_line.replace('\'', "&#x27;")) || html.contains(&first_line),
        "the text word for word: {first_line}\n{html}"
    );
    let jobs = app.get(&format!("/api/v1/jobs?customer_id={customer}")).await.body["items"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["story"], "The alarm has gone off three times since Sunday. I'm home after 3.");

    // A second visit Marcus could not fit (150 minutes from 3 PM, and the
    // first still to reach by 5): the job is saved, the page says why.
    let r = book("15:00", "16:00", "150").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("could not keep every promised arrival window") && html.contains("The job is saved"),
        "{html}"
    );
}
