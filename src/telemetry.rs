//! `/metrics`: Prometheus text exposition of what the notifier and the HTTP
//! server are doing, through the `metrics` facade and
//! `metrics-exporter-prometheus` (no HTTP listener of its own: we serve the
//! text ourselves, behind a bearer token or on a separate address).
//!
//! What is recorded, and where:
//! - `kept_messages_total{kind,channel,state}`: messages that reached a
//!   state (sent, retry, failed, held, ...), by the delivery worker;
//! - `kept_sends_in_flight`: sends waiting for the provider's answer now;
//! - `kept_provider_latency_seconds{channel,outcome}`: each send's round trip;
//! - `kept_claim_to_send_seconds{channel}`: from claiming a message to its send
//!   starting (the pace and quiet checks in between);
//! - `kept_due_to_sent_seconds{channel}`: from a message coming due to the
//!   provider accepting it;
//! - `kept_tick_duration_seconds`, `kept_tick_rows_planned_total`: the
//!   planning tick;
//! - `kept_http_request_duration_seconds{method,route,status}`: every
//!   request that matched a route, by its route pattern (never the raw path,
//!   which may carry a customer's link token).

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Histogram buckets (seconds): from a millisecond to two minutes.
const BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Installs the process's recorder once (later calls return the same
/// handle); `None` if another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new().set_buckets(BUCKETS) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off");
                    return None;
                }
            };
            match builder.install_recorder() {
                Ok(handle) => {
                    // Keeps histogram storage bounded between scrapes; a
                    // thread, so it outlives any one runtime.
                    let upkeep = handle.clone();
                    let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    });
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off");
                    None
                }
            }
        })
        .as_ref()
}

/// The exposition text now.
pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in
/// constant time.
fn authorized(headers: &axum::http::HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn exposition() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render()).into_response()
}

/// Prometheus metrics of delivery, planning and HTTP (text exposition).
///
/// Served here only when `KEPT_METRICS_TOKEN` is set, and only to a caller
/// presenting it as a bearer token; `KEPT_METRICS_LISTEN` serves it on a
/// separate address instead. The metrics are listed in the README.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    operation_id = "metrics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "No token, or not KEPT_METRICS_TOKEN", content_type = "text/plain", body = String),
        (status = 404, description = "KEPT_METRICS_TOKEN is not set: not served on this address", content_type = "text/plain", body = String),
    )
)]
pub async fn serve_metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    match &state.settings.metrics_token {
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Some(t) if authorized(&headers, t) => exposition(),
        Some(_) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "/metrics needs Authorization: Bearer <KEPT_METRICS_TOKEN>\n",
        )
            .into_response(),
    }
}

/// The router of `KEPT_METRICS_LISTEN`'s address: `/metrics` alone (still
/// asking for the token when one is set).
pub fn private_router(token: Option<String>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let token = token.clone();
            async move {
                match token {
                    Some(t) if !authorized(&headers, &t) => StatusCode::UNAUTHORIZED.into_response(),
                    _ => exposition(),
                }
            }
        }),
    )
}

/// Times every request that matched a route, labelled by its pattern.
pub async fn track_http(req: Request, next: axum::middleware::Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let route = route.unwrap_or_else(|| "unmatched".into());
    metrics::histogram!(
        "kept_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}
