//! The pages' own small scripts, served by Kept itself (no CDN): the
//! board's drag and drop and live refresh, the job page's live refresh, and
//! the phone call's search as you type. Every page works without them.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The content policy of a page with one of these scripts: its script and
/// the live stream come from Kept itself, nothing from elsewhere.
pub(super) const SCRIPTED_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The script that makes the board draggable and live (served by Kept).
pub(super) async fn board() -> Response {
    javascript(include_str!("../../../templates/assets/board.js"))
}

/// The job page's live refresh (served by Kept).
pub(super) async fn job() -> Response {
    javascript(include_str!("../../../templates/assets/job.js"))
}

/// My day's guard against a double tap (served by Kept).
pub(super) async fn day() -> Response {
    javascript(include_str!("../../../templates/assets/day.js"))
}

/// The customer's estimate: "your total" as optional items are ticked (served by Kept).
pub(crate) async fn estimate() -> Response {
    javascript(include_str!("../../../templates/assets/estimate.js"))
}

/// The call page's search-as-you-type (served by Kept).
pub(super) async fn call() -> Response {
    javascript(include_str!("../../../templates/assets/call.js"))
}

fn javascript(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        source,
    )
        .into_response()
}
