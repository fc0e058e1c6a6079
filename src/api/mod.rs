//! The JSON API under `/api/v1`: one module per resource, merged here.

mod availability;
mod conversations;
mod customers;
pub mod docs;
/// The HTTP error and its JSON body (`crate::http_error`), by its old name.
pub use crate::http_error as error;
mod estimates;
mod events;
mod exports;
mod field;
mod inbound;
pub(crate) mod jobs;
mod organization;
pub(crate) mod outbox;
mod promises;
pub(crate) mod staff;
pub(crate) mod views;
mod visits;
mod wording;

use crate::api::error::{ApiError, FieldError};
use crate::state::AppState;
use crate::store::PageRequest;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::Json;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;

/// The API under `/api/v1`, each route with its part of the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(organization::router())
        .merge(staff::router())
        .merge(customers::router())
        .merge(jobs::router())
        .merge(visits::router())
        .merge(availability::router())
        .merge(outbox::router())
        .merge(inbound::router())
        .merge(estimates::router())
        .merge(promises::router())
        .merge(exports::router())
        .merge(events::router())
        .merge(wording::router())
        .merge(conversations::router())
        .merge(field::router())
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

/// A filter that must be one of an enum's spellings: an unknown value is a
/// mistake to name (422 on `name`), never an empty list.
pub fn one_of<T>(
    p: &mut crate::error::Problems,
    query: &HashMap<String, String>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    choices: impl FnOnce() -> String,
) -> Option<T> {
    let v = query.get(name)?;
    let parsed = parse(v.trim());
    if parsed.is_none() {
        p.add(name, format!("'{v}' is not one of {}", choices()));
    }
    parsed
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

/// Text fields are checked below HTTP, where the use cases need them too.
pub use crate::error::{optional_text, required_text};

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
