//! Staff: the people who visit, and their day.

use super::views::{zone_of, CustomerView, JobView, StaffView, VisitView};
use super::{page, paged, path_id, ApiJson};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::people::{self, Role, WorkingHours};
use crate::domain::time::Zone;
use crate::startup::AppState;
use crate::store::staff::NewStaff;
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

/// Checks every field, reporting all problems at once.
pub fn parse_staff(input: StaffInput, country: phonenumber::country::Id) -> Result<NewStaff, ApiError> {
    let mut p = Problems::default();
    let name = super::required_text(&mut p, "name", input.name, 200);
    let role = match input.role.as_deref().map(str::trim) {
        None => {
            p.add("role", format!("is required (one of {})", Role::choices()));
            None
        }
        Some(r) => p.check("role", Role::parse(r).ok_or(format!("'{r}' is not one of {}", Role::choices()))),
    };
    let email = match input.email {
        None => {
            p.add("email", "is required");
            None
        }
        Some(e) => p.check("email", people::parse_email(&e)),
    };
    let phone = match input.phone.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(ph) => p.check("phone", people::parse_phone(&ph, country)),
    };
    let photo_url = super::optional_text(&mut p, "photo_url", input.photo_url, 2000);
    if let Some(u) = &photo_url {
        if !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/')) {
            p.add("photo_url", "must be an http(s) URL");
        }
    }
    let bio = super::optional_text(&mut p, "bio", input.bio, 2000).unwrap_or_default();
    let timezone = match input.timezone {
        None => {
            p.add("timezone", "is required (an IANA time zone such as America/New_York)");
            None
        }
        Some(tz) => p.check("timezone", Zone::parse(&tz)),
    };
    let working_hours = input.working_hours.unwrap_or_else(people::default_working_hours);
    p.check("working_hours", people::validate_working_hours(&working_hours));
    p.into_result()?;
    match (name, role, email, timezone) {
        (Some(name), Some(role), Some(email), Some(timezone)) => {
            Ok(NewStaff { name, role, phone, email, photo_url, bio, timezone, working_hours })
        }
        _ => Err(ApiError::Internal("staff parse accepted incomplete input".into())),
    }
}

pub fn country_of(org: &crate::entities::organization::Model) -> phonenumber::country::Id {
    org.country.parse().unwrap_or(phonenumber::country::Id::US)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<StaffInput>,
) -> Result<(StatusCode, Json<StaffView>), ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let new = parse_staff(input, country_of(&org))?;
    let s = crate::store::staff::insert(&state.db, org.id, new, state.clock.now()).await?;
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
    Ok(Json(set_role(&state, &caller, person, role).await?.into()))
}

/// Gives the person `role`, and writes the change to the audit log.
pub(crate) async fn set_role(
    state: &AppState,
    caller: &Caller,
    person: crate::entities::staff::Model,
    role: Role,
) -> Result<crate::entities::staff::Model, ApiError> {
    use crate::entities::staff;
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
    if person.role == Role::Admin && role != Role::Admin {
        let admins = staff::Entity::find()
            .filter(staff::Column::OrganizationId.eq(person.organization_id))
            .filter(staff::Column::Role.eq(Role::Admin.as_str()))
            .count(&state.db)
            .await?;
        if admins <= 1 {
            return Err(ApiError::Conflict {
                code: "last_admin",
                message: format!("{} is the only admin; make someone else an admin first", person.name),
                details: json!({"staff_id": person.id}),
            });
        }
    }
    let before = person.role;
    let mut a: crate::entities::staff::ActiveModel = person.into();
    a.role = Set(role);
    let updated = a.update(&state.db).await?;
    crate::store::sessions::audit(
        &state.db,
        Some(caller.organization_id),
        caller.staff_id,
        crate::domain::people::AuditAction::RoleChanged,
        json!({"staff_id": updated.id, "from": before, "to": role.as_str()}),
        None,
        state.clock.now(),
    )
    .await?;
    Ok(updated)
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
    invite_person(&state, &caller, &person, &ip).await?;
    let (emailed, message) = invitation_notice(&state, &person.email);
    Ok((StatusCode::ACCEPTED, Json(json!({"invited": person.email, "emailed": emailed, "message": message}))))
}

/// Whether the invitation to `email` will really be emailed, and where its
/// link is, in words for the admin. Without an email provider the message
/// waits in the outbox (marked not sent), and that is the only place the
/// link exists.
pub(crate) fn invitation_notice(state: &AppState, email: &str) -> (bool, String) {
    if state.settings.smtp_url.is_some() {
        (true, format!("We emailed {email} a link to choose a password. It works once, for a week."))
    } else {
        (
            false,
            format!(
                "No email provider is configured (KEPT_SMTP_URL is not set), so we did not email {email}. \
                 Their link to choose a password is in the outbox: GET /api/v1/outbox?kind=password_reset \
                 with an admin API token. Pass it on to them yourself; it works once, for a week."
            ),
        )
    }
}

/// Emails `person` a link to choose their password, within the limits (the
/// same kind of link as a password reset, to the same inbox), and writes
/// the invitation to the audit log.
pub(crate) async fn invite_person(
    state: &AppState,
    caller: &Caller,
    person: &crate::entities::staff::Model,
    ip: &str,
) -> Result<(), ApiError> {
    state
        .limits
        .hit(&[
            (&format!("reset:acct:{}", person.email.to_lowercase()), crate::limits::RESET_PER_ACCOUNT),
            (&format!("invite:ip:{ip}"), crate::limits::INVITE_PER_IP),
        ])
        .map_err(ApiError::TooManyRequests)?;
    let now = state.clock.now();
    crate::usecases::invitations::send_password_link(&state.db, &state.notify, person, true, now).await?;
    crate::store::sessions::audit(
        &state.db,
        Some(caller.organization_id),
        caller.staff_id,
        crate::domain::people::AuditAction::StaffInvited,
        json!({"staff_id": person.id}),
        Some(ip),
        now,
    )
    .await?;
    Ok(())
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
