//! The few HTML pages this service shows without signing in.

pub mod customer;
pub mod staff;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

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
/// stricter ones of their own).
pub async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::HeaderValue;
    let mut r = next.run(request).await;
    let h = r.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !h.contains_key("referrer-policy") {
        h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    }
    let is_html = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if is_html && !h.contains_key("content-security-policy") {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    r
}
