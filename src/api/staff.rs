//! Staff: the people who visit, and their day.

use super::views::{zone_of, CustomerView, JobView, StaffView, VisitView};
use super::{page, paged, path_id, ApiJson};
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::domain::people::{Role, WorkingHours};
use crate::startup::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(list).post(create))
        .route("/staff/{id}", get(show).patch(change_role))
        .route("/staff/{id}/invite", axum::routing::post(invite))
        .route("/audit", get(audit_log))
        .route("/staff/{id}/schedule", get(schedule))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub(crate) name: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) photo_url: Option<String>,
    pub(crate) bio: Option<String>,
    pub(crate) timezone: Option<String>,
    pub(crate) working_hours: Option<WorkingHours>,
}

impl From<StaffInput> for crate::usecases::staff::StaffFields {
    fn from(i: StaffInput) -> Self {
        crate::usecases::staff::StaffFields {
            name: i.name,
            role: i.role,
            phone: i.phone,
            email: i.email,
            photo_url: i.photo_url,
            bio: i.bio,
            timezone: i.timezone,
            working_hours: i.working_hours,
        }
    }
}

pub use crate::usecases::staff::country_of;

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<StaffInput>,
) -> Result<(StatusCode, Json<StaffView>), ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let s = crate::usecases::staff::add(&state.db, &org, input.into(), state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(s.into())))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = page(&q)?;
    let rows = crate::store::staff::list(&state.db, caller.organization_id, page).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(StaffView::from).collect(), ids, page))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StaffView>, ApiError> {
    let s = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    Ok(Json(s.into()))
}

/// A person's day in their own zone: every visit whose window opens that
/// day, in order, with the customer's story and address.
async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let person = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    crate::access::ensure_self(&caller, person.id)?;
    let zone = zone_of(&person.timezone);
    let date = match q.get("date") {
        None => zone.date_of(state.clock.now()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::field("date", format!("'{d}' is not a date such as 2026-11-23")))?,
    };
    let (zone, start, end, entries) =
        crate::store::visits::day_of(&state.db, caller.organization_id, &person, date).await?;
    let visits: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let customer_zone = zone_of(&e.customer.timezone);
            let (ws, we) = (e.visit.visit.window_start, e.visit.visit.window_end);
            json!({
                "visit": VisitView::new(e.visit, customer_zone),
                "window_start_staff_local": zone.local(ws),
                "window_end_staff_local": zone.local(we),
                "job": JobView::from(e.job),
                "customer": CustomerView::from(e.customer),
            })
        })
        .collect();
    Ok(Json(json!({
        "staff": StaffView::from(person),
        "date": date.to_string(),
        "timezone": zone.name(),
        "day_start": start,
        "day_end": end,
        "visits": visits,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleInput {
    role: Option<String>,
}

/// Admins set roles; every change is in the audit log.
async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RoleInput>,
) -> Result<Json<StaffView>, ApiError> {
    let person = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    let role = match input.role.as_deref() {
        Some(r) => Role::parse(r.trim())
            .ok_or_else(|| ApiError::field("role", format!("'{r}' is not one of {}", Role::choices())))?,
        None => return Err(ApiError::field("role", format!("is required (one of {})", Role::choices()))),
    };
    let updated = crate::usecases::staff::set_role(&state.db, caller.staff_id, person, role, state.clock.now()).await?;
    Ok(Json(updated.into()))
}

/// Emails the person a link to choose their password (valid for a week).
async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let person = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    let ip = crate::limits::client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    state.limits.hit_invitation(&person.email, &ip).map_err(ApiError::TooManyRequests)?;
    crate::usecases::staff::invite(&state.db, &state.notify, caller.staff_id, &person, &ip, state.clock.now()).await?;
    let (emailed, message) =
        crate::usecases::staff::invitation_notice(state.settings.smtp_url.is_some(), &person.email);
    Ok((StatusCode::ACCEPTED, Json(json!({"invited": person.email, "emailed": emailed, "message": message}))))
}

/// Sign-ins, role changes and invitations, newest first.
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    use crate::entities::audit;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let page = page(&q)?;
    let mut query = audit::Entity::find().filter(audit::Column::OrganizationId.eq(caller.organization_id));
    if let Some(after) = page.after {
        query = query.filter(audit::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(audit::Column::Id).limit(page.limit).all(&state.db).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    let items: Vec<Value> = rows
        .into_iter()
        .map(|a| json!({"id": a.id, "staff_id": a.staff_id, "action": a.action, "detail": serde_json::from_str::<Value>(&a.detail).unwrap_or(Value::Null), "ip": a.ip, "at": a.at}))
        .collect();
    Ok(paged(items, ids, page))
}
