//! The JSON API under `/api/v1`: one module per resource, merged here.

mod customers;
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
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

/// The header that carries each request's id, both ways.
const X_REQUEST_ID: &str = "x-request-id";

/// The OpenAPI 3 document, kept beside the code it describes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The whole HTTP service: the API under `/api/v1`, the webhooks, and
/// `pages` (the HTML screens, which the API does not know), with a request
/// id and a log line for every request.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let api = Router::new()
        .merge(organization::router())
        .merge(staff::router())
        .merge(customers::router())
        .merge(jobs::router())
        .merge(visits::router())
        .merge(outbox::router())
        .merge(inbound::router())
        .merge(estimates::router())
        .merge(promises::router())
        .merge(exports::router())
        .route("/openapi.json", get(openapi))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::access::enforce));
    let app = Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .merge(crate::webhooks::router())
        .merge(pages)
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024));
    // Outermost last: a request's id is settled first, then it is logged
    // and handled, and every response carries the id back.
    app.layer(axum::middleware::from_fn(log_request))
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

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.db.ping().await?;
    Ok(Json(serde_json::json!({"status": "ok"})))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
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

/// A page of results: `next_after` is the cursor for the next page, if any.
pub fn paged<T: serde::Serialize>(items: Vec<T>, ids: Vec<i64>, page: PageRequest) -> Json<serde_json::Value> {
    let next_after = if ids.len() as u64 == page.limit { ids.last().copied() } else { None };
    Json(serde_json::json!({"items": items, "next_after": next_after}))
}

/// Text fields are checked below HTTP, where the use cases need them too.
pub use crate::error::{optional_text, required_text};

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
