//! Every route of the service, assembled: the JSON API under `/api/v1`
//! behind the role table, the documented routes at the root (health,
//! Twilio's webhooks, the customer's page), the staff pages, and what wraps
//! every request (its id, its log line, the security headers). The OpenAPI
//! document is collected from the same routes.

use crate::http_error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::{Json, Router};
use std::sync::OnceLock;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The header that carries each request's id, both ways.
const X_REQUEST_ID: &str = "x-request-id";

/// The documented routes served at the root, which clients call: health,
/// Twilio's webhooks and the customer's page.
fn root_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(crate::telemetry::serve_metrics))
        .merge(crate::webhooks::router().into())
        .merge(crate::web::customer::router().into())
}

/// The API under `/api/v1`, with this document among its routes.
fn api_routes() -> OpenApiRouter<AppState> {
    crate::api::routes().routes(routes!(openapi))
}

/// Every documented route, as the document sees them.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::api::docs::skeleton()).nest("/api/v1", api_routes()).merge(root_routes())
}

/// The served document (`GET /api/v1/openapi.json`), built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, api) = documented().split_for_parts();
        let mut doc = serde_json::to_value(&api).expect("the OpenAPI document serializes");
        crate::api::docs::finish(&mut doc);
        serde_json::to_string_pretty(&doc).expect("the OpenAPI document serializes")
    })
}

pub fn router(state: AppState) -> Router {
    let (api, _) = api_routes().split_for_parts();
    // The role table guards every API route before its handler runs.
    let gate = crate::access::Gate { db: state.db.clone(), clock: state.clock.clone() };
    let api = api.route_layer(axum::middleware::from_fn_with_state(gate, crate::access::enforce));
    let (root, _) = root_routes().split_for_parts();
    let app = root
        .nest("/api/v1", api)
        .merge(crate::web::router(&state))
        .route_layer(axum::middleware::from_fn(crate::telemetry::track_http))
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
    ([(header::CONTENT_TYPE, "application/json")], document())
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
