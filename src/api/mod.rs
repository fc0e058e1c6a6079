//! The JSON API under `/api/v1`: one module per resource, merged here.

mod customers;
pub mod docs;
pub mod error;
mod estimates;
mod exports;
mod inbound;
pub(crate) mod jobs;
mod organization;
pub(crate) mod outbox;
mod promises;
pub(crate) mod staff;
pub(crate) mod views;
mod visits;

use crate::api::error::{ApiError, FieldError};
use crate::startup::AppState;
use crate::store::PageRequest;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The header that carries each request's id, both ways.
const X_REQUEST_ID: &str = "x-request-id";

/// The API under `/api/v1`, each route with its part of the OpenAPI document.
fn v1_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(organization::router())
        .merge(staff::router().into())
        .merge(customers::router().into())
        .merge(jobs::router().into())
        .merge(visits::router())
        .merge(outbox::router().into())
        .merge(inbound::router().into())
        .merge(estimates::router().into())
        .merge(promises::router().into())
        .merge(exports::router().into())
        .routes(routes!(openapi))
}

/// The documented routes served at the root, which clients call: health,
/// Twilio's webhooks and the customer's page.
fn root_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .merge(crate::webhooks::router().into())
        .merge(crate::web::customer::router().into())
}

/// Every documented route, as the document sees them.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::skeleton()).nest("/api/v1", v1_routes()).merge(root_routes())
}

pub fn router(state: AppState) -> Router {
    let (api, _) = v1_routes().split_for_parts();
    // The role table guards every API route before its handler runs.
    let api = api.route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::access::enforce));
    let (root, _) = root_routes().split_for_parts();
    let app = root
        .nest("/api/v1", api)
        .route("/", get(crate::web::index))
        .route("/avatars/{file}", get(crate::web::avatar))
        .merge(crate::web::staff::router())
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024));
    // Outermost last: a request's id is settled first, then it is logged
    // and handled, and every response carries the id back.
    crate::web::with_security_headers(app)
        .layer(axum::middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
        .layer(axum::middleware::map_request(drop_unfit_request_id))
        .with_state(state)
}

/// Request ids: 16 random hex digits.
#[derive(Debug, Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n: u64 = rand::random();
        HeaderValue::from_str(&format!("{n:016x}")).ok().map(RequestId::new)
    }
}

/// The longest `x-request-id` a client may send and have kept.
const MAX_CLIENT_REQUEST_ID: usize = 64;

/// A client's own `x-request-id` is kept (so our log line and theirs can be
/// matched) when it is short and printable ASCII without spaces; any other
/// is dropped, and the request gets an id of ours.
async fn drop_unfit_request_id(mut req: Request) -> Request {
    let fit = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= MAX_CLIENT_REQUEST_ID && b.iter().all(|c| c.is_ascii_graphic())
    };
    let keep = {
        let mut sent = req.headers().get_all(X_REQUEST_ID).iter();
        match (sent.next(), sent.next()) {
            (None, _) => true,
            (Some(one), None) => fit(one),
            _ => false,
        }
    };
    if !keep {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    req
}

/// One line per request, after it is answered:
/// `GET /api/v1/jobs 200 3.1ms id=3f9c0b7e5d21a846`. The query string is left
/// out (it may carry a token), and so are the secret segments of customers'
/// links and reset links.
async fn log_request(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = req.method().clone();
    let path = loggable_path(req.uri().path());
    let id = req.headers().get(X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let took = started.elapsed();
    tracing::info!("{method} {path} {} {} id={id}", response.status().as_u16(), Millis(took));
    response
}

/// A request path fit for the log: `/c/<token>/...` and `/reset/<token>`
/// show `{token}`, and any other segment long enough to be a secret `…`.
pub(crate) fn loggable_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut previous = "";
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let secret_follows = i == 2 && matches!(previous, "c" | "reset");
        if !segment.is_empty() && secret_follows {
            out.push_str("{token}");
        } else if segment.len() >= 32 {
            out.push('…');
        } else {
            out.push_str(segment);
        }
        previous = segment;
    }
    out
}

/// A latency as people read it: `0.4ms`, `12.5ms`, `1.20s`.
struct Millis(std::time::Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        if ms < 1000.0 {
            write!(f, "{ms:.1}ms")
        } else {
            write!(f, "{:.2}s", ms / 1000.0)
        }
    }
}

/// `{"status": "ok"}` while the database answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Health: the service is up and its database answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Up", body = Health)))]
async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.db.ping().await?;
    Ok(Json(Health { status: "ok" }))
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json"))
)]
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], docs::document())
}

/// `Json<T>` whose rejections are our JSON problem bodies: a body that is
/// not JSON is 400, a field of the wrong type is 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                // axum reports `path.to.field: what was wrong`.
                let text = e.body_text();
                let detail = text.split_once(": ").map(|(_, d)| d).unwrap_or(&text).to_string();
                let (field, message) = match detail.split_once(": ") {
                    Some((f, m)) if !f.contains(' ') => (f.to_string(), m.to_string()),
                    _ => ("body".to_string(), detail),
                };
                Err(ApiError::Validation(vec![FieldError { field, message }]))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::BadRequest("send the body as JSON with 'Content-Type: application/json'".into()))
            }
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))),
        }
    }
}

/// Ids in paths: anything that is not one of ours is simply not found.
pub fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or(ApiError::NotFound)
}

/// `?limit=&after=` with clear errors.
pub fn page(query: &HashMap<String, String>) -> Result<PageRequest, ApiError> {
    let mut problems = crate::error::Problems::default();
    let limit = match query.get("limit") {
        None => PageRequest::DEFAULT_LIMIT,
        Some(v) => problems
            .check(
                "limit",
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (1..=PageRequest::MAX_LIMIT).contains(n))
                    .ok_or(format!("must be a number from 1 to {}", PageRequest::MAX_LIMIT)),
            )
            .unwrap_or(PageRequest::DEFAULT_LIMIT),
    };
    let after = match query.get("after") {
        None => None,
        Some(v) => problems.check("after", v.parse::<i64>().map_err(|_| "must be an id".to_string())),
    };
    problems.into_result()?;
    Ok(PageRequest { after, limit })
}

/// A page of results.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor for the next page (pass it as `after`), or null on the last page.
    pub next_after: Option<i64>,
}

impl<T> Page<T> {
    /// Everything there is, in one page.
    pub fn whole(items: Vec<T>) -> Json<Page<T>> {
        Json(Page { items, next_after: None })
    }
}

/// A page of results: `next_after` is the cursor for the next page, if any.
pub fn paged<T: serde::Serialize>(items: Vec<T>, ids: Vec<i64>, page: PageRequest) -> Json<Page<T>> {
    let next_after = if ids.len() as u64 == page.limit { ids.last().copied() } else { None };
    Json(Page { items, next_after })
}

/// Trims a required text field and checks its length.
pub fn required_text(p: &mut crate::error::Problems, field: &str, v: Option<String>, max: usize) -> Option<String> {
    match v.map(|s| s.trim().to_string()) {
        None => {
            p.add(field, "is required");
            None
        }
        Some(s) if s.is_empty() => {
            p.add(field, "must not be empty");
            None
        }
        Some(s) if s.chars().count() > max => {
            p.add(field, format!("must be at most {max} characters"));
            None
        }
        Some(s) => Some(s),
    }
}

/// Trims an optional text field and checks its length ("" counts as absent).
pub fn optional_text(p: &mut crate::error::Problems, field: &str, v: Option<String>, max: usize) -> Option<String> {
    let s = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())?;
    if s.chars().count() > max {
        p.add(field, format!("must be at most {max} characters"));
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::{loggable_path, Millis};
    use std::time::Duration;

    #[test]
    fn logged_paths_keep_ids_and_hide_tokens() {
        assert_eq!(loggable_path("/api/v1/jobs/12/visits"), "/api/v1/jobs/12/visits");
        assert_eq!(loggable_path("/"), "/");
        let token = "a".repeat(40);
        assert_eq!(loggable_path(&format!("/c/{token}")), "/c/{token}");
        assert_eq!(loggable_path(&format!("/c/{token}/estimates/3/approve")), "/c/{token}/estimates/3/approve");
        assert_eq!(loggable_path("/reset/short"), "/reset/{token}");
        assert_eq!(loggable_path("/reset"), "/reset");
        assert_eq!(loggable_path(&format!("/somewhere/{token}")), "/somewhere/…");
    }

    #[test]
    fn latencies_read_as_milliseconds_or_seconds() {
        assert_eq!(Millis(Duration::from_micros(3140)).to_string(), "3.1ms");
        assert_eq!(Millis(Duration::from_micros(80)).to_string(), "0.1ms");
        assert_eq!(Millis(Duration::from_millis(1234)).to_string(), "1.23s");
    }
}

/// `?limit=&after=`: the paging every list takes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `page` reads them
pub struct PageQuery {
    /// How many rows (1–200; 50 when absent).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// The `next_after` of the previous page.
    after: Option<i64>,
}
