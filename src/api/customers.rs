//! Customers: who we keep promises to, and how to reach them.

use super::views::CustomerView;
use super::{page, paged, path_id, ApiJson, Page};
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show, edit))
}

/// A new customer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Required, 1–200 characters.
    #[schema(required = true, nullable = false)]
    name: Option<String>,
    /// A phone number (read in the organization's country unless it starts with +).
    phone: Option<String>,
    email: Option<String>,
    /// How we keep them informed (`sms`, `email`); without it, every channel
    /// they gave a contact for.
    #[schema(value_type = Option<Vec<crate::domain::people::Channel>>)]
    channels: Option<Vec<String>>,
    /// An IANA zone; the organization's when absent.
    timezone: Option<String>,
    /// Up to 500 characters.
    address: Option<String>,
}

impl From<CustomerInput> for crate::usecases::customers::CustomerFields {
    fn from(i: CustomerInput) -> Self {
        crate::usecases::customers::CustomerFields {
            name: i.name,
            phone: i.phone,
            email: i.email,
            channels: i.channels,
            timezone: i.timezone,
            address: i.address,
        }
    }
}

/// Add a customer.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerInput,
    responses((status = 201, description = "Added", body = CustomerView)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let c = crate::usecases::customers::add(&state.db, &org, input.into(), state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// The organization's customers, oldest first.
#[utoipa::path(get, path = "/customers", tag = "customers", params(super::PageQuery),
    responses((status = 200, description = "A page of customers", body = Page<CustomerView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<CustomerView>>, ApiError> {
    let page = page(&q)?;
    let rows = crate::store::customers::list(&state.db, caller.organization_id, page).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(CustomerView::from).collect(), ids, page))
}

/// One customer.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = i64, Path, description = "The customer")),
    responses((status = 200, description = "The customer", body = CustomerView)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    let c = crate::store::customers::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    Ok(Json(c.into()))
}

/// Changes to a customer: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerChanges {
    /// 1–200 characters.
    name: Option<String>,
    /// A phone number; an empty string removes it. A new number clears a
    /// delivery problem recorded for the old one (an opt-out stays).
    phone: Option<String>,
    /// An empty string removes it; a new address clears its delivery problem.
    email: Option<String>,
    #[schema(value_type = Option<Vec<crate::domain::people::Channel>>)]
    channels: Option<Vec<String>>,
    /// An IANA zone.
    timezone: Option<String>,
    /// Up to 500 characters.
    address: Option<String>,
}

/// Change a customer's details, checked as when adding: 422 names every
/// bad field and nothing is saved.
#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", request_body = CustomerChanges,
    params(("id" = i64, Path, description = "The customer")),
    responses((status = 200, description = "Changed", body = CustomerView)))]
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CustomerChanges>,
) -> Result<Json<CustomerView>, ApiError> {
    let id = path_id(&id)?;
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let fields = crate::usecases::customers::CustomerFields {
        name: input.name,
        phone: input.phone,
        email: input.email,
        channels: input.channels,
        timezone: input.timezone,
        address: input.address,
    };
    let c = crate::usecases::customers::edit(&state.db, &org, id, fields).await?;
    Ok(Json(c.into()))
}
