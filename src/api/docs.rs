//! The OpenAPI document, generated from the code: every operation comes
//! from a handler's `#[utoipa::path]` and every schema from a typed request
//! or response struct, collected by the same router that serves them
//! (`utoipa_axum::routes!`), so a route cannot be served undocumented.
//! What every operation shares is added here from facts the code already
//! holds: who may call it (the role table in `crate::access`), whether it
//! takes a body or an id, and the errors those bring.

use crate::access::{Access, API_ROUTES};
use serde_json::{json, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kept API",
        description = "Kept: contractor and field-service appointments that keep their promises. Times are RFC 3339; \
responses give UTC and the customer's local time. Errors are JSON (`Error`): 401 without a valid token, 403 when the \
token's role may not do this, 404 for anything outside the caller's organization, 409 for conflicts (naming what is \
in the way), 422 naming each offending field, 503 with `Retry-After` when the database stayed busy (nothing changed)."
    ),
    servers((url = "/", description = "This server")),
    security(("bearer" = [])),
    modifiers(&BearerToken),
    components(schemas(super::error::ErrorBody))
)]
struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some("An API token (kept_...) from `kept org create` or the demo seed".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The document's skeleton: info, servers, the bearer scheme, the error body.
pub fn skeleton() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// A short summary (the handler's first sentence) and the whole paragraph
/// as the description, on one line each; an operation id unique in the
/// document (`{tag}_{handler}`).
fn tidy_words(op: &mut Value) {
    if let Some(summary) = op["summary"].as_str() {
        let paragraph = summary.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = match paragraph.find(". ") {
            Some(end) => paragraph[..=end].to_string(),
            None => paragraph.clone(),
        };
        let rest = op["description"].as_str().filter(|d| !d.is_empty()).map(String::from);
        op["summary"] = Value::String(first.clone());
        let description = match (paragraph != first, rest) {
            (true, Some(rest)) => Some(format!("{paragraph}\n\n{rest}")),
            (true, None) => Some(paragraph),
            (false, rest) => rest,
        };
        if let Some(d) = description {
            op["description"] = Value::String(d);
        }
    }
    if let (Some(tag), Some(id)) = (op["tags"][0].as_str(), op["operationId"].as_str()) {
        op["operationId"] = Value::String(format!("{tag}_{id}"));
    }
}

/// The role table's words for an access rule.
fn who(access: Access) -> &'static str {
    match access {
        Access::Public => "anyone; no token",
        Access::Admin => "admin",
        Access::Office => "admin, dispatcher",
        Access::Estimating => "admin, dispatcher, estimator",
        Access::Staff => "admin, dispatcher, estimator, technician",
        Access::Own => "the person themselves (any role); an admin for anyone",
    }
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// Adds to every operation what it shares with others: its roles, and the
/// error answers its shape brings, unless the handler documented them itself.
pub fn finish(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            let upper = method.to_uppercase();
            let api_path = path.strip_prefix("/api/v1");
            let rule = api_path
                .and_then(|p| API_ROUTES.iter().find(|(m, rp, _, _)| *m == upper && *rp == p))
                .map(|(_, _, access, narrowed)| (*access, *narrowed));
            let json_body = op["requestBody"]["content"].get("application/json").is_some();
            let form_body = op["requestBody"]["content"].get("application/x-www-form-urlencoded").is_some();
            let has_query = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let mut add = |status: &str, response: Value| {
                let responses = op["responses"].as_object_mut();
                if let Some(r) = responses {
                    r.entry(status.to_string()).or_insert(response);
                }
            };
            if let Some((access, _)) = rule {
                if access != Access::Public {
                    add("401", error("Missing or invalid API token"));
                    add("403", error("The token's role may not do this"));
                }
            }
            if path.contains("{id}") {
                add("404", error("Not found, or not in the caller's organization"));
            }
            if json_body {
                add("400", error("The body is not JSON, or was sent without 'Content-Type: application/json'"));
            }
            if json_body {
                add("413", error("The body is larger than 256 KiB"));
            } else if form_body {
                add("413", json!({"description": "The body is larger than 256 KiB"}));
            }
            if form_body {
                add("415", json!({"description": "The body is not a form (application/x-www-form-urlencoded)"}));
            }
            if json_body || has_query {
                add("422", error("Invalid input; `fields` names each offending field and why"));
            }
            // The customer's page answers its errors with pages too.
            let content = if path.starts_with("/c/") {
                json!({"text/html": {"schema": {"type": "string"}}})
            } else {
                json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
            };
            if path != "/api/v1/openapi.json" {
                add(
                    "500",
                    json!({
                        "description": "Something went wrong on our side; it was logged, and the answer says no more",
                        "content": content.clone(),
                    }),
                );
                add(
                    "503",
                    json!({
                        "description": "The database stayed busy longer than its wait; nothing was changed. Retry after `Retry-After` seconds.",
                        "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
                        "content": content,
                    }),
                );
            }
            tidy_words(op);
            if let Some((access, narrowed)) = rule {
                let mut roles = format!("**Who may call:** {}.", who(access));
                if narrowed {
                    roles.push_str(" Estimators and technicians only for their own visits, jobs and estimates.");
                }
                let described = match op["description"].as_str() {
                    Some(d) if !d.is_empty() => format!("{d}\n\n{roles}"),
                    _ => roles,
                };
                op["description"] = Value::String(described);
                if access == Access::Public {
                    op["security"] = json!([]);
                }
            } else if api_path.is_none() {
                // Served at the root (health, webhooks, the customer's page): no API token.
                op["security"] = json!([]);
            }
        }
    }
}
