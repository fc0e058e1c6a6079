//! A proxy in front of every test app that holds each answer against the
//! OpenAPI document the app serves: a documented operation must answer with
//! a documented status, and a JSON body must validate against the schema
//! documented for that operation and status. Objects in the document are
//! checked as closed (no fields beyond the documented ones) unless they say
//! otherwise. Every mismatch is collected; the test fails when its app is
//! dropped (see `TestApp`'s `Drop`). An event stream (`text/event-stream`)
//! never ends: its status is checked and its body passed through as it comes.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Mismatches seen so far, in words.
pub type Violations = Arc<Mutex<Vec<String>>>;

struct Document {
    doc: Value,
    /// (method, path template split into segments, template)
    operations: Vec<(String, Vec<String>, String)>,
    validators: Mutex<HashMap<(String, String, String), Arc<jsonschema::Validator>>>,
}

fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(kept::routes::document()).expect("the document is JSON");
        close_objects(&mut doc["components"], false);
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                let segments = path.split('/').map(String::from).collect();
                operations.push((method.to_uppercase(), segments, path.clone()));
            }
        }
        Document { doc, operations, validators: Mutex::new(HashMap::new()) }
    })
}

/// Marks every object schema that lists its properties and says nothing of
/// others as closed; parts of `allOf`/`anyOf`/`oneOf` are left open, since
/// each sees only some of the fields.
fn close_objects(v: &mut Value, in_combination: bool) {
    match v {
        Value::Object(map) => {
            if !in_combination && map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (key, child) in map.iter_mut() {
                close_objects(child, matches!(key.as_str(), "allOf" | "anyOf" | "oneOf"));
            }
        }
        Value::Array(items) => {
            for child in items {
                close_objects(child, in_combination);
            }
        }
        _ => {}
    }
}

/// The documented operation a request reaches: literal segments beat
/// `{parameters}`.
fn operation(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    document()
        .operations
        .iter()
        .filter(|(m, template, _)| {
            m == method
                && template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
        })
        .max_by_key(|(_, template, _)| template.iter().filter(|t| !t.starts_with('{')).count())
        .map(|(_, _, path)| path.as_str())
}

/// The problems of one answer against the document, if any.
fn check(method: &str, path: &str, status: StatusCode, content_type: &str, body: &[u8]) -> Option<String> {
    let template = operation(method, path)?;
    let d = document();
    let op = &d.doc["paths"][template][method.to_lowercase()];
    let code = status.as_str().to_string();
    let Some(response) = op["responses"].get(&code) else {
        let documented: Vec<&String> = op["responses"].as_object().map(|r| r.keys().collect()).unwrap_or_default();
        return Some(format!(
            "{method} {template} answered {code}, which is not documented (documented: {documented:?})"
        ));
    };
    if !content_type.starts_with("application/json") {
        return None;
    }
    let response = match response["$ref"].as_str() {
        Some(r) => &d.doc["components"]["responses"][r.trim_start_matches("#/components/responses/")],
        None => response,
    };
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        return (response["content"].get("application/json").is_none())
            .then(|| format!("{method} {template} {code} answered JSON, and the document says no JSON body"));
    };
    let instance: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("{method} {template} {code}: the body is not JSON: {e}")),
    };
    let key = (method.to_string(), template.to_string(), code.clone());
    let validator = {
        let mut cache = d.validators.lock().unwrap();
        cache
            .entry(key)
            .or_insert_with(|| {
                let mut schema = schema.clone();
                close_objects(&mut schema, false);
                let root = json!({"allOf": [schema], "components": d.doc["components"].clone()});
                Arc::new(jsonschema::validator_for(&root).expect("the documented schema compiles"))
            })
            .clone()
    };
    let errors: Vec<String> =
        validator.iter_errors(&instance).map(|e| format!("at {}: {}", e.instance_path(), e)).take(5).collect();
    if errors.is_empty() {
        return None;
    }
    let text = instance.to_string();
    let excerpt: String = text.chars().take(600).collect();
    Some(format!(
        "{method} {template} {code}: the body does not match the document: {}\nbody: {excerpt}",
        errors.join("; ")
    ))
}

#[derive(Clone)]
struct Proxy {
    target: String,
    client: reqwest::Client,
    violations: Violations,
}

/// Starts the checking proxy in front of `target` (`http://host:port`) and
/// returns its base URL and the list its mismatches go to.
pub async fn start(target: String) -> (String, Violations) {
    let violations: Violations = Arc::default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("proxy client");
    let proxy = Proxy { target, client, violations: violations.clone() };
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
    let base = format!("http://{}", listener.local_addr().expect("proxy address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, violations)
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or(path.clone());
    let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).expect("method");
    let mut outgoing = proxy.client.request(method, format!("{}{path_and_query}", proxy.target)).body(bytes.to_vec());
    for (name, value) in parts.headers.iter() {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = match outgoing.send().await {
        Ok(a) => a,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("the checking proxy could not reach the app: {e}")))
                .expect("response");
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).expect("status");
    let headers = answer.headers().clone();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let streaming = content_type.starts_with("text/event-stream");
    let (body, bytes) = if streaming {
        let chunks = futures::stream::unfold(answer, |mut answer| async move {
            match answer.chunk().await {
                Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), answer)),
                _ => None,
            }
        });
        (Body::from_stream(chunks), Default::default())
    } else {
        let bytes = answer.bytes().await.unwrap_or_default();
        (Body::from(bytes.clone()), bytes)
    };
    if let Some(problem) = check(parts.method.as_str(), &path, status, &content_type, &bytes) {
        eprintln!("OpenAPI mismatch: {problem}");
        proxy.violations.lock().unwrap().push(problem);
    }
    let mut response = Response::builder().status(status);
    for (name, value) in headers.iter() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                axum::http::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                response = response.header(n, v);
            }
        }
    }
    response.body(body).expect("response")
}

#[test]
fn operations_prefer_literal_segments() {
    assert_eq!(operation("GET", "/api/v1/jobs/12/visits"), Some("/api/v1/jobs/{id}/visits"));
    assert_eq!(operation("GET", "/api/v1/metrics/promises"), Some("/api/v1/metrics/promises"));
    assert_eq!(operation("GET", "/app"), None);
}

#[test]
fn a_body_beside_the_document_is_a_mismatch() {
    let ok = check("GET", "/healthz", StatusCode::OK, "application/json", br#"{"status":"ok"}"#);
    assert_eq!(ok, None);
    let extra = check("GET", "/healthz", StatusCode::OK, "application/json", br#"{"status":"ok","x":1}"#);
    assert!(extra.is_some_and(|p| p.contains("does not match")));
    let undocumented = check("GET", "/healthz", StatusCode::IM_A_TEAPOT, "application/json", b"{}");
    assert!(undocumented.is_some_and(|p| p.contains("not documented")));
}
