//! Every request carries an id: ours (16 hex digits) or the client's own
//! when it is short and printable; every response hands it back.

use crate::helpers::spawn_app;
use reqwest::StatusCode;

fn request_id(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id on {} {}", r.status(), r.url()))
        .to_str()
        .expect("a printable id")
        .to_string()
}

fn is_ours(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_each_request_gets_its_own() {
    let app = spawn_app().await;
    let mut seen = Vec::new();
    for path in ["/healthz", "/healthz", "/api/v1/jobs", "/login", "/no/such/page"] {
        let r = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
        let id = request_id(&r);
        assert!(is_ours(&id), "{path}: {id:?} is not 16 hex digits");
        assert!(!seen.contains(&id), "{path}: {id} was given out twice");
        seen.push(id);
    }
    let unauthorized = app.client.get(app.url("/api/v1/jobs")).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert!(is_ours(&request_id(&unauthorized)), "refusals carry an id too");
}

#[tokio::test]
async fn a_clients_own_request_id_is_echoed_when_short_and_printable_and_replaced_otherwise() {
    let app = spawn_app().await;
    let send = |id: &str| app.client.get(app.url("/healthz")).header("x-request-id", id).send();
    let r = send("lb-7f3a/2026-11-20T15:00:00Z").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(request_id(&r), "lb-7f3a/2026-11-20T15:00:00Z", "the client's id comes back");
    for unfit in ["x".repeat(65), "two words".to_string(), "tab\tin".to_string()] {
        let r = send(&unfit).await.unwrap();
        let id = request_id(&r);
        assert!(is_ours(&id), "{unfit:?} was replaced, not {id:?}");
    }
    let two = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "first")
        .header("x-request-id", "second")
        .send()
        .await
        .unwrap();
    assert!(is_ours(&request_id(&two)), "two ids are one too many");
}
