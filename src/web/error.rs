//! What a page answers when it cannot show what was asked: a refusal
//! already rendered (sign in first, not yours, no such job), or an error
//! from below HTTP (`crate::error::Error`) as a short page with the same
//! status the JSON API would give.

use crate::error::{Error, Problems};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The response a page handler gives instead of its page.
pub struct PageError(Response);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0
    }
}

/// A refusal page, already made.
impl From<Response> for PageError {
    fn from(r: Response) -> Self {
        PageError(r)
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError(failure(e))
    }
}

/// An error from below HTTP as a page: the status the API would answer,
/// the cause of a 500 in the log and never on the page.
pub fn failure(e: Error) -> Response {
    let (status, text) = match e {
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        Error::NotFound => (StatusCode::NOT_FOUND, "There is nothing here.".to_string()),
        Error::Validation(fields) => (StatusCode::UNPROCESSABLE_ENTITY, Problems(fields).to_string()),
        Error::Conflict { message, .. } => (StatusCode::CONFLICT, message),
        Error::TooManyRequests(wait) => return too_many(wait),
        Error::Unavailable(cause) => {
            tracing::warn!(%cause, "database busy; answered 503");
            let mut r = short(
                StatusCode::SERVICE_UNAVAILABLE,
                "We are busy right now and changed nothing. Please try again in a moment.",
            );
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            return r;
        }
        Error::Internal(cause) => {
            // The cause goes to the log, never to the page.
            tracing::error!(%cause, "request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; it has been logged.".to_string())
        }
    };
    let mut r = short(status, &text);
    if status != StatusCode::INTERNAL_SERVER_ERROR {
        r.extensions_mut().insert(Refusal(text));
    }
    r
}

/// The words of a refusal (not found, not yours, not valid, in conflict),
/// carried on its response so that a staff screen can say it inside the
/// signed-in person's navigation (`staff::dress_refusal`).
#[derive(Clone)]
pub(crate) struct Refusal(pub String);

/// Over an abuse limit: say how long to wait, in minutes and in
/// `Retry-After`.
pub fn too_many(wait: u64) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Html(format!("<p>Too many attempts. Try again in {} minutes.</p>", wait.div_ceil(60))),
    )
        .into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    r
}

/// One escaped sentence as a page.
fn short(status: StatusCode, text: &str) -> Response {
    (status, Html(format!("<p>{}</p>", minijinja::HtmlEscape(text)))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.expect("a body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn errors_below_http_keep_their_status_and_hide_internal_causes() {
        let r = failure(Error::Internal("db file missing at /var/secret".into()));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body(r).await.contains("secret"));
        let r = failure(Error::Conflict {
            code: "last_admin",
            message: "<b>Olive</b> is the only admin".into(),
            details: serde_json::json!({}),
        });
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(body(r).await, "<p>&lt;b&gt;Olive&lt;&#x2f;b&gt; is the only admin</p>");
        let r = failure(Error::Unavailable("pool timed out".into()));
        assert_eq!(
            (r.status(), r.headers()["retry-after"].to_str().ok()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("1"))
        );
        let r = failure(Error::TooManyRequests(61));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "61");
        assert!(body(r).await.contains("Try again in 2 minutes."));
    }
}
