//! The error of the HTTP layers (JSON API, pages, webhooks): every error
//! below HTTP (`crate::error::Error`) maps into it, and it ends in a JSON
//! problem body.

use crate::error::Error;
pub use crate::error::{FieldError, Problems};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

/// Every error answer's body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Machine-readable code: unauthorized, forbidden, not_found,
    /// validation_failed, bad_request, too_large, too_many_requests,
    /// unavailable, internal, or a conflict's own code (schedule_conflict,
    /// schedule_too_dense, invalid_transition, visit_not_scheduled, job_closed,
    /// open_visits, email_taken, estimate_decided, …).
    pub error: String,
    /// What went wrong, in words fit to show.
    pub message: String,
    /// validation_failed: each offending field and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
    /// too_many_requests, unavailable: seconds before a retry may pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// A conflict's details: what is in the way (for schedule_conflict
    /// `staff_id`, `conflicting_visit_ids`, `conflicting_visits` and the
    /// next windows as `alternatives`; for
    /// invalid_transition `allowed`; for open_visits the visits still booked).
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl ErrorBody {
    fn new(error: &str, message: impl Into<String>) -> ErrorBody {
        ErrorBody { error: error.into(), message: message.into(), fields: None, retry_after: None, details: Map::new() }
    }
}

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
        let (status, body) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new("unauthorized", "send a valid API token as 'Authorization: Bearer <token>'"),
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, ErrorBody::new("forbidden", m)),
            ApiError::NotFound => (StatusCode::NOT_FOUND, ErrorBody::new("not_found", "not found")),
            ApiError::Validation(fields) => {
                let summary =
                    fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorBody { fields: Some(fields), ..ErrorBody::new("validation_failed", summary) },
                )
            }
            ApiError::Conflict { code, message, details } => {
                let details = match details {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                (StatusCode::CONFLICT, ErrorBody { details, ..ErrorBody::new(code, message) })
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, ErrorBody::new("bad_request", m)),
            ApiError::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorBody::new("too_large", "the request body is larger than 256 KiB"))
            }
            ApiError::TooManyRequests(wait) => {
                let message = format!("too many requests; try again in {wait} seconds");
                let body = ErrorBody { retry_after: Some(wait), ..ErrorBody::new("too_many_requests", message) };
                return retry_after((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response(), wait);
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "database busy; answered 503");
                let body = ErrorBody {
                    retry_after: Some(1),
                    ..ErrorBody::new(
                        "unavailable",
                        "we are busy right now and changed nothing; please try again in a moment",
                    )
                };
                return retry_after((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response(), 1);
            }
            ApiError::Internal(cause) => {
                // The cause goes to the log, never to the caller.
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody::new("internal", "something went wrong on our side; it has been logged"),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

fn retry_after(mut r: Response, wait: u64) -> Response {
    r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(wait));
    r
}
