//! The error of the HTTP layers (JSON API, pages, webhooks): every error
//! below HTTP (`crate::error::Error`) maps into it, and it ends in a JSON
//! problem body.

use crate::error::Error;
pub use crate::error::{FieldError, Problems};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid API token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: Value },
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is too large")]
    TooLarge,
    /// Over an abuse limit; the number is the seconds until a retry may pass.
    #[error("too many requests; try again in {0} seconds")]
    TooManyRequests(u64),
    /// The database is busy beyond its wait (a lock not granted in time, the
    /// pool exhausted): nothing was changed, and a retry may succeed.
    #[error("the database is busy: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_transient(&e) {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Forbidden(m) => ApiError::Forbidden(m),
            Error::NotFound => ApiError::NotFound,
            Error::Validation(fields) => ApiError::Validation(fields),
            Error::Conflict { code, message, details } => ApiError::Conflict { code, message, details },
            Error::TooManyRequests(wait) => ApiError::TooManyRequests(wait),
            Error::Unavailable(cause) => ApiError::Unavailable(cause),
            Error::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthorized", "message": "send a valid API token as 'Authorization: Bearer <token>'"}),
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"error": "forbidden", "message": m})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"error": "not_found", "message": "not found"})),
            ApiError::Validation(fields) => {
                let summary =
                    fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"error": "validation_failed", "message": summary, "fields": fields}),
                )
            }
            ApiError::Conflict { code, message, details } => {
                let mut body = json!({"error": code, "message": message});
                if let (Some(b), Some(d)) = (body.as_object_mut(), details.as_object()) {
                    b.extend(d.clone());
                }
                (StatusCode::CONFLICT, body)
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"error": "bad_request", "message": m})),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "too_large", "message": "the request body is larger than 256 KiB"}),
            ),
            ApiError::TooManyRequests(wait) => {
                let body = json!({"error": "too_many_requests", "message": self.to_string(), "retry_after": wait});
                let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*wait));
                return r;
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "database busy; answered 503");
                let body = json!({"error": "unavailable", "message": "we are busy right now and changed nothing; please try again in a moment", "retry_after": 1});
                let mut r = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(1u64));
                return r;
            }
            ApiError::Internal(cause) => {
                // The cause goes to the log, never to the caller.
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "internal", "message": "something went wrong on our side; it has been logged"}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
