//! Customers: who we keep promises to, and how to reach them.

use super::staff::country_of;
use super::views::CustomerView;
use super::{page, paged, path_id, ApiJson, Page};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::people::{self, Channel};
use crate::domain::time::Zone;
use crate::state::AppState;
use crate::store::customers::NewCustomer;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show))
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

/// Checks every field. Without `channels`, we use every channel the
/// customer gave us a contact for; without `timezone`, the organization's.
pub fn parse_customer(
    input: CustomerInput,
    org: &crate::entities::organization::Model,
) -> Result<NewCustomer, ApiError> {
    let mut p = Problems::default();
    let name = super::required_text(&mut p, "name", input.name, 200);
    let phone = match input.phone.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(ph) => p.check("phone", people::parse_phone(&ph, country_of(org)?)),
    };
    let email = match input.email.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(e) => p.check("email", people::parse_email(&e)),
    };
    let channels: Vec<Channel> = match input.channels {
        Some(list) => {
            let mut out = Vec::new();
            for c in list {
                match Channel::parse(c.trim()) {
                    Some(ch) if !out.contains(&ch) => out.push(ch),
                    Some(_) => {}
                    None => p.add("channels", format!("'{c}' is not one of {}", Channel::choices())),
                }
            }
            out
        }
        None => {
            let mut out = Vec::new();
            if phone.is_some() {
                out.push(Channel::Sms);
            }
            if email.is_some() {
                out.push(Channel::Email);
            }
            out
        }
    };
    if channels.contains(&Channel::Sms) && phone.is_none() && !p.0.iter().any(|f| f.field == "phone") {
        p.add("phone", "is required to reach this customer by sms");
    }
    if channels.contains(&Channel::Email) && email.is_none() && !p.0.iter().any(|f| f.field == "email") {
        p.add("email", "is required to reach this customer by email");
    }
    if channels.is_empty() && p.0.is_empty() {
        p.add("channels", "give a phone or an email so we can keep this customer informed");
    }
    let timezone = match input.timezone {
        None => Zone::parse(&org.timezone).ok(),
        Some(tz) => p.check("timezone", Zone::parse(&tz)),
    };
    let address = super::optional_text(&mut p, "address", input.address, 500).unwrap_or_default();
    p.into_result()?;
    match (name, timezone) {
        (Some(name), Some(timezone)) => Ok(NewCustomer { name, phone, email, channels, timezone, address }),
        _ => Err(ApiError::Internal("customer parse accepted incomplete input".into())),
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
    let new = parse_customer(input, &org)?;
    let c = crate::store::customers::insert(&state.db, org.id, new, state.clock.now()).await?;
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
