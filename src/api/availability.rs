//! Suggested windows for a job's next visit.

use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::visit::VisitKind;
use crate::state::AppState;
use crate::usecases::availability::{self as avail, Ask, Offer};
use axum::extract::{Query, State};
use axum::Json;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(availability))
}

/// Windows that can be booked as they are, best first.
#[derive(Serialize, ToSchema)]
pub struct Availability {
    /// Earliest first; at the same start, least added travel first.
    pub items: Vec<Offer>,
}

/// What to look for.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `availability` reads them
struct AvailabilityQuery {
    /// The job the visit is for.
    #[param(minimum = 1)]
    job_id: i64,
    #[param(value_type = crate::domain::visit::VisitKind)]
    kind: String,
    /// How long the work takes on site.
    #[param(minimum = 1, maximum = 720)]
    duration_minutes: i64,
    /// The width of the arrival window promised: 120 when absent, at most
    /// the organization's `max_window_minutes`; 0 is an exact appointment.
    #[param(minimum = 0)]
    window_minutes: Option<i64>,
    /// YYYY-MM-DD: the first day searched (each person's day in their own
    /// zone); today in the organization's zone when absent.
    #[param(format = Date)]
    from: Option<String>,
    /// How many days from `from` (1–14; 7 when absent).
    #[param(minimum = 1, maximum = 14)]
    days: Option<i64>,
    /// Comma-separated staff ids to ask about (at most 50); when absent,
    /// everyone whose role makes this kind of visit (estimators for
    /// `estimate`, technicians for `work` and `follow_up`).
    #[param(example = "4,7")]
    staff_ids: Option<String>,
    /// How many windows (1–100; 20 when absent).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// A whole number in `range`: absent is `None` (and a problem if required).
fn number(
    p: &mut Problems,
    q: &HashMap<String, String>,
    name: &str,
    range: RangeInclusive<i64>,
    required: bool,
) -> Option<i64> {
    let Some(v) = q.get(name) else {
        if required {
            p.add(name, "is required");
        }
        return None;
    };
    p.check(
        name,
        v.trim().parse::<i64>().ok().filter(|n| range.contains(n)).ok_or(format!(
            "'{v}' is not a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    )
}

fn staff_list(p: &mut Problems, v: &str) -> Option<Vec<i64>> {
    let ids: Option<Vec<i64>> =
        v.split(',').map(|s| s.trim().parse::<i64>().ok().filter(|id| *id > 0)).collect::<Option<Vec<i64>>>();
    match ids {
        None => p.add("staff_ids", format!("'{v}' is not a comma-separated list of staff ids, such as 4,7")),
        Some(ids) if ids.len() > avail::MAX_STAFF => {
            p.add("staff_ids", format!("name at most {} people at once", avail::MAX_STAFF))
        }
        Some(ids) => return Some(ids),
    }
    None
}

/// Suggested windows for a job's next visit, per person, best first. Each
/// keeps every promise already made (durations, the travel buffer between
/// visits, working hours) and opens on a 30-minute grid over the next
/// days; they are ranked by how early they are, then by how little travel
/// they add (`added_travel_minutes`: the organization's travel buffer when
/// the person's day already has a visit, 0 when it is empty). Booking one
/// as it is (`POST /jobs/{id}/visits` with its `staff_ids`, `window_start`
/// and `window_end`, and the kind and duration asked about) succeeds unless
/// someone took it meanwhile; that 409 offers the next ones.
#[utoipa::path(get, path = "/availability", tag = "visits", params(AvailabilityQuery),
    responses(
        (status = 200, description = "The windows, best first (none when nobody can go)", body = Availability),
        (status = 404, description = "The job is not found, or not in the caller's organization", body = super::error::ErrorBody),
        (status = 409, description = "The job is closed (`job_closed`)", body = super::error::ErrorBody),
    ))]
async fn availability(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Availability>, ApiError> {
    let mut p = Problems::default();
    let job_id = number(&mut p, &q, "job_id", 1..=i64::MAX, true);
    let kind = match q.get("kind") {
        None => {
            p.add("kind", format!("is required (one of {})", VisitKind::choices()));
            None
        }
        Some(_) => super::one_of(&mut p, &q, "kind", VisitKind::parse, VisitKind::choices),
    };
    let max = crate::store::visits::MAX_DURATION_MINUTES as i64;
    let duration = number(&mut p, &q, "duration_minutes", 1..=max, true);
    let window_minutes = number(&mut p, &q, "window_minutes", 0..=i32::MAX as i64, false);
    let from = q.get("from").and_then(|d| {
        p.check(
            "from",
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| format!("'{d}' is not a date such as 2026-11-23")),
        )
    });
    let days = number(&mut p, &q, "days", 1..=avail::MAX_DAYS as i64, false);
    let limit = number(&mut p, &q, "limit", 1..=avail::MAX_LIMIT as i64, false);
    let staff_ids = q.get("staff_ids").map(|v| staff_list(&mut p, v));
    p.into_result()?;
    let (Some(job_id), Some(kind), Some(duration)) = (job_id, kind, duration) else {
        return Err(ApiError::Internal("availability parse accepted incomplete input".into()));
    };
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let ask = Ask {
        job_id,
        kind,
        duration_minutes: duration as i32,
        window_minutes: window_minutes.map(|w| w as i32),
        from,
        days: days.map_or(avail::DEFAULT_DAYS, |d| d as u32),
        staff_ids: staff_ids.flatten(),
        limit: limit.map_or(avail::DEFAULT_LIMIT, |l| l as usize),
    };
    let items = avail::suggest(&state.db, &org, ask, state.clock.now()).await?;
    Ok(Json(Availability { items }))
}
