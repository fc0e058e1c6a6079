//! Staff: the people who visit, and their day.

use super::views::{CustomerView, JobView, StaffView, VisitView};
use super::{page, paged, path_id, ApiJson, Page};
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::domain::people::{Role, WorkingHours};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, change_role))
        .routes(routes!(invite))
        .routes(routes!(audit_log))
        .routes(routes!(schedule))
}

/// A new staff member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    /// Required, up to 200 characters.
    #[schema(required = true, nullable = false)]
    pub(crate) name: Option<String>,
    /// Required.
    #[schema(required = true, nullable = false, value_type = crate::domain::people::Role)]
    pub(crate) role: Option<String>,
    pub(crate) phone: Option<String>,
    /// Required: where their invitation and password resets go.
    #[schema(required = true, nullable = false)]
    pub(crate) email: Option<String>,
    /// An http(s) URL of their photo, shown to customers.
    pub(crate) photo_url: Option<String>,
    /// A line or two about them, shown to customers in introductions.
    pub(crate) bio: Option<String>,
    /// Required: an IANA zone.
    #[schema(required = true, nullable = false)]
    pub(crate) timezone: Option<String>,
    /// Per weekday (mon…sun), `["HH:MM", "HH:MM"]` or null for a day off;
    /// Monday to Friday 08:00–17:00 when absent.
    #[schema(value_type = Option<Object>)]
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

/// Add a staff member (then invite them to choose a password).
#[utoipa::path(post, path = "/staff", tag = "staff", request_body = StaffInput,
    responses(
        (status = 201, description = "Added", body = StaffView),
        (status = 409, description = "Someone in the organization has this email (`email_taken`)", body = super::error::ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<StaffInput>,
) -> Result<(StatusCode, Json<StaffView>), ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let s = crate::usecases::staff::add(&state.db, &org, input.into(), state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(s.into())))
}

/// Everyone in the organization, oldest first.
#[utoipa::path(get, path = "/staff", tag = "staff", params(super::PageQuery),
    responses((status = 200, description = "A page of staff", body = Page<StaffView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<StaffView>>, ApiError> {
    let page = page(&q)?;
    let rows = crate::store::staff::list(&state.db, caller.organization_id, page).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(StaffView::from).collect(), ids, page))
}

/// One staff member.
#[utoipa::path(get, path = "/staff/{id}", tag = "staff",
    params(("id" = i64, Path, description = "The staff member")),
    responses((status = 200, description = "The staff member", body = StaffView)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StaffView>, ApiError> {
    let s = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    Ok(Json(s.into()))
}

/// One visit of a person's day.
#[derive(Serialize, ToSchema)]
pub struct ScheduledVisit {
    /// The window in UTC and in the customer's zone.
    pub visit: VisitView,
    /// The window in the staff member's zone.
    pub window_start_staff_local: DateTime<FixedOffset>,
    pub window_end_staff_local: DateTime<FixedOffset>,
    pub job: JobView,
    pub customer: CustomerView,
}

/// A person's day.
#[derive(Serialize, ToSchema)]
pub struct Schedule {
    pub staff: StaffView,
    /// YYYY-MM-DD, in the staff member's zone.
    #[schema(format = Date)]
    pub date: String,
    /// The staff member's zone.
    pub timezone: String,
    pub day_start: DateTime<Utc>,
    pub day_end: DateTime<Utc>,
    /// In order of their windows.
    pub visits: Vec<ScheduledVisit>,
}

/// The day to show.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameter; `schedule` reads it
struct DayQuery {
    /// YYYY-MM-DD in the staff member's zone; today when absent.
    #[param(format = Date)]
    date: Option<String>,
}

/// A person's day in their own zone: every visit whose window opens that
/// day, in order, with the customer's story and address.
#[utoipa::path(get, path = "/staff/{id}/schedule", tag = "staff", params(("id" = i64, Path, description = "The staff member"), DayQuery),
    responses((status = 200, description = "The day", body = Schedule)))]
async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Schedule>, ApiError> {
    let person = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    crate::access::ensure_self(&caller, person.id)?;
    let zone = crate::store::staff::zone(&person)?;
    let date = match q.get("date") {
        None => zone.date_of(state.clock.now()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::field("date", format!("'{d}' is not a date such as 2026-11-23")))?,
    };
    let (zone, start, end, entries) =
        crate::store::visits::day_of(&state.db, caller.organization_id, &person, date).await?;
    let visits = entries
        .into_iter()
        .map(|e| -> Result<ScheduledVisit, ApiError> {
            let customer_zone = crate::store::customers::zone(&e.customer)?;
            let (ws, we) = (e.visit.visit.window_start, e.visit.visit.window_end);
            Ok(ScheduledVisit {
                visit: VisitView::new(e.visit, customer_zone),
                window_start_staff_local: zone.local(ws),
                window_end_staff_local: zone.local(we),
                job: JobView::from(e.job),
                customer: CustomerView::from(e.customer),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Schedule {
        staff: StaffView::from(person),
        date: date.to_string(),
        timezone: zone.name().to_string(),
        day_start: start,
        day_end: end,
        visits,
    }))
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleInput {
    /// Required.
    #[schema(required = true, nullable = false, value_type = crate::domain::people::Role)]
    role: Option<String>,
}

/// Admins set roles; every change is in the audit log.
#[utoipa::path(patch, path = "/staff/{id}", tag = "staff", request_body = RoleInput,
    params(("id" = i64, Path, description = "The staff member")),
    responses(
        (status = 200, description = "Changed", body = StaffView),
        (status = 409, description = "They are the only admin (`last_admin`)", body = super::error::ErrorBody),
    ))]
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

/// What became of an invitation.
#[derive(Serialize, ToSchema)]
pub struct Invitation {
    /// The address invited.
    pub invited: String,
    /// Whether it was really emailed (false without an email provider: the
    /// link then waits in the outbox).
    pub emailed: bool,
    /// The same, in words for the admin.
    pub message: String,
    /// Whether the link was also queued as a text to their phone (`?sms=true`).
    pub texted: bool,
}

/// How to send an invitation.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InviteQuery {
    /// `true`: text the link to the person's phone as well (for a crew
    /// member who will sign in on it). 422 when they have no phone number.
    #[param(value_type = Option<bool>)]
    sms: Option<String>,
}

/// Emails the person a link to choose their password (valid for a week),
/// and with `?sms=true` texts it to their phone too.
#[utoipa::path(post, path = "/staff/{id}/invite", tag = "staff",
    params(("id" = i64, Path, description = "The staff member"), InviteQuery),
    responses(
        (status = 202, description = "Queued", body = Invitation),
        (status = 429, description = "Too many links to this address or from this address; `Retry-After` says when", body = super::error::ErrorBody),
    ))]
async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    Query(q): Query<InviteQuery>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let person = crate::store::staff::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    let texted = match q.sms.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::field("sms", format!("'{other}' is not true or false"))),
    };
    let mut channels = vec![crate::domain::people::Channel::Email];
    if texted {
        channels.push(crate::domain::people::Channel::Sms);
    }
    let ip = crate::limits::client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    state.limits.hit_invitation(&person.email, &ip).map_err(ApiError::TooManyRequests)?;
    crate::usecases::staff::invite_by(
        &state.db,
        &state.notify,
        caller.staff_id,
        &person,
        &channels,
        &ip,
        state.clock.now(),
    )
    .await?;
    let (emailed, message) =
        crate::usecases::staff::invitation_notice(state.settings.smtp_url.is_some(), &person.email);
    Ok((StatusCode::ACCEPTED, Json(Invitation { invited: person.email, emailed, message, texted })))
}
/// One entry of the audit log.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditEntry)]
pub struct AuditView {
    pub id: i64,
    /// Who did it (none for a failed sign-in by an unknown address).
    pub staff_id: Option<i64>,
    pub action: crate::domain::people::AuditAction,
    /// What the action touched.
    #[schema(value_type = Object)]
    pub detail: Value,
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
}

/// Sign-ins, role changes, invitations and exports, oldest first.
#[utoipa::path(get, path = "/audit", tag = "staff", params(super::PageQuery),
    responses((status = 200, description = "A page of the audit log", body = Page<AuditView>)))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    use crate::entities::audit;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let page = page(&q)?;
    let mut query = audit::Entity::find().filter(audit::Column::OrganizationId.eq(caller.organization_id));
    if let Some(after) = page.after {
        query = query.filter(audit::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(audit::Column::Id).limit(page.limit).all(&state.db).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    let items = rows
        .into_iter()
        .map(|a| AuditView {
            id: a.id,
            staff_id: a.staff_id,
            action: a.action,
            detail: serde_json::from_str::<Value>(&a.detail).unwrap_or(Value::Null),
            ip: a.ip,
            at: a.at,
        })
        .collect();
    Ok(paged(items, ids, page))
}
