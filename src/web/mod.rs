//! The HTML pages: the customer's page (`customer`), the staff screens
//! (`staff`), and the few shown to anyone. Templates are compiled once at
//! build (`Pages`); handlers call the use cases and the store, never the
//! JSON API, and answer errors with pages of their own (`PageError`).

pub mod customer;
mod error;
pub mod staff;

pub use crate::pages::{BrokenTemplate, Pages};
pub use error::PageError;
use error::Refusal;

use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The staff's pages and the few shown to anyone, merged at the root beside
/// the API. The customer's page (`customer::router`) is documented with the
/// API, so `routes` adds it with the documented routes.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new().route("/", get(index)).route("/avatars/{file}", get(avatar)).merge(staff::router(state))
}

/// An id in a page's path; anything that is not one of ours is simply
/// not found.
fn id_in_path(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A landing page that says what is running and where to look.
pub async fn index() -> Html<&'static str> {
    Html(include_str!("../../templates/pages/index.html"))
}

/// A round avatar with initials (`/avatars/MB.svg`), so demo staff have
/// faces without fetching anything from outside.
pub async fn avatar(Path(file): Path<String>) -> Response {
    let Some(initials) = file.strip_suffix(".svg") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let initials: String =
        initials.chars().filter(|c| c.is_ascii_alphabetic()).take(3).collect::<String>().to_uppercase();
    if initials.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let hue = initials.bytes().fold(0u32, |h, b| (h * 31 + b as u32) % 360);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128"><circle cx="64" cy="64" r="64" fill="hsl({hue},45%,42%)"/><text x="64" y="78" font-family="sans-serif" font-size="44" fill="#fff" text-anchor="middle">{initials}</text></svg>"##
    );
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg).into_response()
}

/// Headers every response carries: no MIME sniffing, no framing, a strict
/// referrer policy and a content policy for pages (customer pages set
/// stricter ones of their own, which are left alone).
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    use axum::http::HeaderValue;
    use tower_http::set_header::SetResponseHeaderLayer;
    router
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, page_policy))
}

/// The content policy for an HTML response that did not set its own.
fn page_policy(r: &Response) -> Option<axum::http::HeaderValue> {
    let is_html =
        r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    is_html.then(|| {
        axum::http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn a_pages_own_policies_are_kept_and_the_rest_filled_in() {
        let app = with_security_headers(
            axum::Router::new()
                .route(
                    "/own",
                    get(|| async {
                        (
                            [
                                (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
                                (header::REFERRER_POLICY, "no-referrer"),
                                (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
                            ],
                            Html("<p>own</p>"),
                        )
                    }),
                )
                .route("/page", get(|| async { Html("<p>plain</p>") }))
                .route("/json", get(|| async { axum::Json(serde_json::json!({})) })),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let get = |path: &str| reqwest::get(format!("{base}{path}"));

        let own = get("/own").await.unwrap();
        let h = own.headers();
        assert_eq!(h["content-security-policy"], "default-src 'self'", "a page's own policy stays");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY", "framing is never allowed");
        assert_eq!(h["x-content-type-options"], "nosniff");

        let page = get("/page").await.unwrap();
        let h = page.headers();
        assert!(h["content-security-policy"].to_str().unwrap().starts_with("default-src 'none';"));
        assert_eq!(h["referrer-policy"], "same-origin");

        let json = get("/json").await.unwrap();
        let h = json.headers();
        assert!(!h.contains_key("content-security-policy"), "only pages get a content policy");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
    }
}
