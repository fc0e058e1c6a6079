//! Visits: booking, rescheduling, reassigning, and the crew's status taps.

use super::views::VisitView;
use super::{path_id, ApiJson, Page};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::time::parse_rfc3339;
use crate::domain::visit::{VisitKind, VisitStatus};
use crate::state::AppState;
use crate::store::visits::{NewVisit, VisitChanges, VisitWithStaff};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_for_job, book)).routes(routes!(show, update)).routes(routes!(set_status))
}

/// A visit to book: who goes, and the arrival window promised to the customer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitInput {
    /// Required.
    #[schema(required = true, nullable = false, value_type = crate::domain::visit::VisitKind)]
    kind: Option<String>,
    /// Required: at least one staff member of the organization.
    #[schema(required = true, nullable = false, min_items = 1)]
    staff_ids: Option<Vec<i64>>,
    /// Required: the start of the promised arrival window, RFC 3339 with an
    /// offset (e.g. 2026-11-23T09:00:00-05:00).
    #[schema(required = true, nullable = false, format = DateTime)]
    window_start: Option<String>,
    /// Required: the end of the window; after `window_start`, and no wider
    /// than the organization's `max_window_minutes`.
    #[schema(required = true, nullable = false, format = DateTime)]
    window_end: Option<String>,
    /// Required: how long the work takes on site.
    #[schema(required = true, nullable = false, minimum = 1, maximum = 720)]
    duration_minutes: Option<i64>,
}

fn time_field(p: &mut Problems, field: &str, v: Option<String>, required: bool) -> Option<DateTime<Utc>> {
    match v {
        None if required => {
            p.add(field, "is required (RFC 3339 with an offset, such as 2026-11-23T09:00:00-05:00)");
            None
        }
        None => None,
        Some(s) => p.check(field, parse_rfc3339(&s)),
    }
}

fn duration_field(p: &mut Problems, v: Option<i64>) -> Option<i32> {
    let d = v?;
    match i32::try_from(d).ok().filter(|d| (1..=crate::store::visits::MAX_DURATION_MINUTES).contains(d)) {
        Some(d) => Some(d),
        None => {
            p.add("duration_minutes", format!("must be between 1 and {}", crate::store::visits::MAX_DURATION_MINUTES));
            None
        }
    }
}

/// A booking refused (409): the error body, with what is in the way and,
/// when the schedule refused it, the next windows to offer instead.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body; `ApiError` writes it from the use case's details
struct BookingConflict {
    /// `schedule_conflict`, `schedule_too_dense` or `job_closed`.
    error: String,
    /// What went wrong, in words fit to show.
    message: String,
    /// schedule_*: the person who could not keep every window of their day.
    #[schema(nullable = false)]
    staff_id: Option<i64>,
    /// schedule_*: the visits in the way (none for `schedule_too_dense`).
    #[schema(nullable = false)]
    conflicting_visit_ids: Option<Vec<i64>>,
    /// schedule_conflict: those visits, in UTC and in that person's zone.
    #[schema(nullable = false)]
    conflicting_visits: Option<Vec<ConflictingVisit>>,
    /// schedule_*: the crew's next windows for the same visit (same width
    /// and duration, from the refused window's day on, at most 5), each
    /// bookable as it is; empty when none is free in the week.
    #[schema(nullable = false)]
    alternatives: Option<Vec<crate::usecases::availability::Offer>>,
    /// job_closed: the job.
    #[schema(nullable = false)]
    job_id: Option<i64>,
}

/// A visit in the way of a booking.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body; the use case writes it
struct ConflictingVisit {
    id: i64,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    /// In the zone of the person whose day it is.
    window_start_local: DateTime<chrono::FixedOffset>,
    window_end_local: DateTime<chrono::FixedOffset>,
    duration_minutes: i64,
}

async fn view(state: &AppState, org_id: i64, v: VisitWithStaff) -> Result<VisitView, ApiError> {
    let job = crate::store::jobs::get(&state.db, org_id, v.visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    Ok(VisitView::new(v, crate::store::customers::zone(&customer)?))
}

/// Book a visit with a promised arrival window. The window is checked against
/// everyone assigned: their working hours, their other visits and the travel
/// buffer between them; a clash answers 409 naming the visit in the way.
#[utoipa::path(post, path = "/jobs/{id}/visits", tag = "visits", request_body = VisitInput,
    params(("id" = i64, Path, description = "The job")),
    responses(
        (status = 201, description = "Booked; the customer's confirmation is queued", body = VisitView),
        (status = 409, description = "Someone assigned could not keep every promised window of their day (`schedule_conflict`, `schedule_too_dense`, naming the visits in the way, with the crew's next windows as `alternatives`), or the job is closed (`job_closed`)", body = BookingConflict),
    ))]
pub async fn book(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
    ApiJson(input): ApiJson<VisitInput>,
) -> Result<(StatusCode, Json<VisitView>), ApiError> {
    let job_id = path_id(&job_id)?;
    let mut p = Problems::default();
    let kind = match input.kind.as_deref() {
        None => {
            p.add("kind", format!("is required (one of {})", VisitKind::choices()));
            None
        }
        Some(k) => {
            p.check("kind", VisitKind::parse(k.trim()).ok_or(format!("'{k}' is not one of {}", VisitKind::choices())))
        }
    };
    if input.staff_ids.as_ref().is_none_or(|s| s.is_empty()) {
        p.add("staff_ids", "assign at least one staff member");
    }
    let start = time_field(&mut p, "window_start", input.window_start, true);
    let end = time_field(&mut p, "window_end", input.window_end, true);
    if input.duration_minutes.is_none() {
        p.add("duration_minutes", "is required");
    }
    let duration = duration_field(&mut p, input.duration_minutes);
    p.into_result()?;
    let (Some(kind), Some(staff_ids), Some(window_start), Some(window_end), Some(duration_minutes)) =
        (kind, input.staff_ids, start, end, duration)
    else {
        return Err(ApiError::Internal("visit parse accepted incomplete input".into()));
    };
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let booked = crate::usecases::visits::book(
        &state.db,
        &state.notify,
        &org,
        job_id,
        NewVisit { kind, staff_ids, window_start, window_end, duration_minutes },
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&state, org.id, booked).await?)))
}

/// A job's visits, earliest first.
#[utoipa::path(get, path = "/jobs/{id}/visits", tag = "visits",
    params(("id" = i64, Path, description = "The job")),
    responses((status = 200, description = "Every visit of the job", body = Page<VisitView>)))]
pub async fn list_for_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<Json<Page<VisitView>>, ApiError> {
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&job_id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let visits: Vec<VisitView> = crate::store::visits::for_job(&state.db, org_id, job.id)
        .await?
        .into_iter()
        .map(|v| VisitView::new(v, zone))
        .collect();
    Ok(Page::whole(visits))
}

/// One visit.
#[utoipa::path(get, path = "/visits/{id}", tag = "visits",
    params(("id" = i64, Path, description = "The visit")),
    responses((status = 200, description = "The visit", body = VisitView)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<VisitView>, ApiError> {
    let v = crate::store::visits::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    crate::access::ensure_visit(&caller, &v.staff_ids)?;
    Ok(Json(view(&state, caller.organization_id, v).await?))
}

/// Changes to a booked visit: only the fields sent change (at least one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VisitChanges)]
struct VisitChangesInput {
    /// Reassign: the new crew (at least one).
    #[schema(min_items = 1)]
    staff_ids: Option<Vec<i64>>,
    /// Reschedule: RFC 3339 with an offset.
    #[schema(format = DateTime)]
    window_start: Option<String>,
    /// Reschedule: RFC 3339 with an offset.
    #[schema(format = DateTime)]
    window_end: Option<String>,
    #[schema(minimum = 1, maximum = 720)]
    duration_minutes: Option<i64>,
    /// Why, told to the customer with the change.
    reason: Option<String>,
}

/// Reschedule (window, duration) and/or reassign (staff_ids). The customer
/// is told what changed (and why, when a reason is given); the new window is
/// checked like a booking.
#[utoipa::path(patch, path = "/visits/{id}", tag = "visits", request_body = VisitChangesInput,
    params(("id" = i64, Path, description = "The visit")),
    responses(
        (status = 200, description = "Changed; the customer's message is queued", body = VisitView),
        (status = 409, description = "The new window clashes (`schedule_conflict`, `schedule_too_dense`), or the visit is no longer scheduled (`visit_not_scheduled`)", body = super::error::ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<VisitChangesInput>,
) -> Result<Json<VisitView>, ApiError> {
    let id = path_id(&id)?;
    let mut p = Problems::default();
    let window_start = time_field(&mut p, "window_start", input.window_start, false);
    let window_end = time_field(&mut p, "window_end", input.window_end, false);
    let duration_minutes = duration_field(&mut p, input.duration_minutes);
    let reason = super::optional_text(&mut p, "reason", input.reason, 300);
    if input.staff_ids.as_ref().is_some_and(|s| s.is_empty()) {
        p.add("staff_ids", "assign at least one staff member");
    }
    if input.staff_ids.is_none()
        && window_start.is_none()
        && window_end.is_none()
        && input.duration_minutes.is_none()
        && p.0.is_empty()
    {
        p.add("body", "change at least one of window_start, window_end, duration_minutes, staff_ids");
    }
    p.into_result()?;
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let updated = crate::usecases::visits::update(
        &state.db,
        &state.notify,
        &org,
        id,
        VisitChanges { window_start, window_end, duration_minutes, staff_ids: input.staff_ids, reason },
        state.clock.now(),
    )
    .await?;
    Ok(Json(view(&state, org.id, updated).await?))
}

/// A visit's next state.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StatusChange)]
struct StatusInput {
    /// Required.
    #[schema(required = true, nullable = false, value_type = crate::domain::visit::VisitStatus)]
    status: Option<String>,
    /// With `en_route`: minutes until arrival, for the customer's message.
    #[schema(minimum = 0, maximum = 1440)]
    eta_minutes: Option<i64>,
    /// With `cancelled`: why, told to the customer.
    reason: Option<String>,
}

/// The crew's taps (*On my way*, *Arrived*, *Completed*) and the office's
/// cancel / missed. Estimators and technicians may only move their own visits.
#[utoipa::path(post, path = "/visits/{id}/status", tag = "visits", request_body = StatusInput,
    params(("id" = i64, Path, description = "The visit")),
    responses(
        (status = 200, description = "Moved; the customer's message (if any) is queued", body = VisitView),
        (status = 409, description = "The visit cannot go there from where it is (`invalid_transition`, with `allowed`)", body = super::error::ErrorBody),
    ))]
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StatusInput>,
) -> Result<Json<VisitView>, ApiError> {
    let id = path_id(&id)?;
    // Who may touch this visit is decided before what they asked for.
    let current = crate::store::visits::get(&state.db, caller.organization_id, id).await?;
    crate::access::ensure_visit(&caller, &current.staff_ids)?;
    let to = match input.status.as_deref() {
        None => return Err(ApiError::field("status", format!("is required (one of {})", VisitStatus::choices()))),
        Some(s) => VisitStatus::parse(s.trim())
            .ok_or_else(|| ApiError::field("status", format!("'{s}' is not one of {}", VisitStatus::choices())))?,
    };
    // Checked again inside the transaction, against the row it locks.
    let only_assignee = crate::access::field_staff(&caller);
    if let Some(eta) = input.eta_minutes {
        if !(0..=24 * 60).contains(&eta) {
            return Err(ApiError::field("eta_minutes", "must be between 0 and 1440"));
        }
    }
    let mut p = Problems::default();
    let reason = super::optional_text(&mut p, "reason", input.reason, 300);
    p.into_result()?;
    let v = crate::usecases::visits::set_status(
        &state.db,
        &state.notify,
        caller.organization_id,
        id,
        to,
        input.eta_minutes,
        reason.as_deref(),
        only_assignee,
        state.clock.now(),
    )
    .await?;
    Ok(Json(view(&state, caller.organization_id, v).await?))
}
