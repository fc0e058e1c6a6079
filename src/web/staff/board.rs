//! The dispatcher's board (`/app/board?date=`), the office's home: one lane
//! per field person on a time axis in the office's zone, each visit drawn
//! where it is planned (its promised window as a band, the work from the
//! window's start, the travel buffer after it), working hours shaded, the
//! jobs nobody has booked in a side list. Visits move by drag and drop or by
//! the one move form beside the board (the keyboard path); the same exact rule as the API
//! decides, and a refusal says in plain words who could no longer keep
//! which window.

use super::extract::{SignedForm, SignedIn, WithCsrf};
use super::problem;
use crate::domain::job::JobStatus;
use crate::domain::people::Role;
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{organization, staff};
use crate::error::Error;
use crate::pages::Stamp;
use crate::state::AppState;
use crate::store::visits::VisitChanges;
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Deserialize)]
pub(super) struct BoardQuery {
    date: Option<String>,
    /// A job to find free windows for on this day (`&job=`).
    job: Option<String>,
}

/// The hours the axis shows at least, in the office's zone.
const AXIS_FROM: u32 = 7;
const AXIS_TO: u32 = 19;

pub(super) async fn board(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<BoardQuery>,
) -> Result<Response, PageError> {
    let SignedIn { session, me, caller } = &signed_in;
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "The board is the office's: your day is on My day."));
    }
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let now = state.clock.now();
    let today = zone.date_of(now);
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => today,
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, "That is not a date (YYYY-MM-DD)."));
            }
        },
    };
    // Every open board fetches the page again when anything on it changes:
    // the same page for the same person is rendered once while it stands.
    let asked = q.job.as_deref().map(str::trim).filter(|j| !j.is_empty());
    let key = (org.id, format!("board {date} {}", asked.unwrap_or_default()), me.id);
    let stamp_now =
        || Stamp { changes: state.notify.live.changes().of(org.id), minute: now.timestamp().div_euclid(60) };
    if let Some(html) = state.page_cache.get(&key, stamp_now()) {
        return Ok(board_response(&html, &session.csrf_token));
    }
    // Stale: one request draws it while the others for it wait.
    let _turn = state.page_cache.turn(&key).await;
    let stamp = stamp_now();
    if let Some(html) = state.page_cache.get(&key, stamp) {
        return Ok(board_response(&html, &session.csrf_token));
    }
    let everyone = crate::store::staff::all(&state.db, org.id).await?;
    let mut field: Vec<staff::Model> = everyone.iter().filter(|p| p.role.can_visit()).cloned().collect();
    field.sort_by(|a, b| (a.role != Role::Estimator, &a.name).cmp(&(b.role != Role::Estimator, &b.name)));
    let entries = crate::store::visits::days_of(&state.db, org.id, &field, date).await?;
    let at_risk: Vec<i64> =
        crate::store::promises::at_risk(&state.db, org.id).await?.into_iter().filter_map(|p| p.visit_id).collect();
    // The crew said they are running late: the new time the customer was told.
    let day_ids: Vec<i64> = entries.iter().map(|e| e.visit.visit.id).collect();
    let told_late = crate::store::promises::running_late(&state.db, &day_ids).await?;

    // The axis: at least 7:00 to 19:00, wider if a visit is outside it.
    let (day_start, _) = zone.day_bounds(date);
    let hour_of = |t: DateTime<Utc>| ((t - day_start).num_minutes() as f64 / 60.0).clamp(0.0, 24.0);
    let earliest = entries.iter().map(|e| hour_of(e.visit.visit.window_start).floor() as u32).min();
    let latest = entries.iter().map(|e| hour_of(e.visit.visit.window_end).ceil() as u32).max();
    let from = earliest.map_or(AXIS_FROM, |h| h.min(AXIS_FROM));
    let to = latest.map_or(AXIS_TO, |h| h.max(AXIS_TO)).min(24).max(from + 1);
    let axis = Axis { start: day_start + Duration::hours(from as i64), minutes: (to - from) as f64 * 60.0 };

    let hours = field.iter().map(|p| working_hours(p, date, &axis)).collect::<Result<Vec<_>, _>>()?;
    let (free, mut offers) = match asked {
        None => (Value::Null, HashMap::new()),
        Some(job) => free_windows(&state, &org, zone, date, job, &axis).await?,
    };
    let lanes: Vec<Value> = field
        .iter()
        .zip(hours)
        .map(|(p, hours)| {
            let visits: Vec<Value> = entries
                .iter()
                .filter(|e| e.visit.staff_ids.contains(&p.id))
                .map(|e| {
                    let v = &e.visit.visit;
                    let work_end = v.window_start + Duration::minutes(v.duration_minutes as i64);
                    let buffer_end = work_end + Duration::minutes(org.travel_buffer_minutes as i64);
                    // The block spans the window and the work and travel
                    // that follow it; inside, each as a share of the block.
                    let span_end = buffer_end.max(v.window_end);
                    let span = axis.width(v.window_start, span_end);
                    let share = |w: f64| if span > 0.0 { w / span * 100.0 } else { 0.0 };
                    let mut state_class = visit_state(v.status, v.window_end, at_risk.contains(&v.id), now);
                    let late_by =
                        told_late.get(&v.id).filter(|_| !v.status.is_final() && v.status != VisitStatus::Arrived);
                    if late_by.is_some() {
                        state_class = "late";
                    }
                    json!({
                        "id": v.id, "job_id": e.job.id, "title": e.job.title,
                        "customer": e.customer.name, "address": e.customer.address,
                        "kind": v.kind.as_str().replace('_', " "),
                        "left": axis.left(v.window_start), "width": span,
                        "window_share": share(axis.width(v.window_start, v.window_end)),
                        "work_share": share(axis.width(v.window_start, work_end)),
                        "buffer_share": share(axis.width(work_end, buffer_end)),
                        "state": state_class, "label": match late_by {
                            Some(t) => format!("running late: there by {}", clock(zone, *t)),
                            None => state_label(state_class, v.en_route_at, zone),
                        },
                        "window": format!("{}–{}", clock(zone, v.window_start), clock(zone, v.window_end)),
                        "start": zone.local(v.window_start).format("%H:%M").to_string(),
                        "minutes": (v.window_end - v.window_start).num_minutes(),
                        "duration": v.duration_minutes,
                    })
                })
                .collect();
            json!({
                "id": p.id, "name": p.name, "role": p.role.as_str(),
                "hours": hours,
                "visits": visits,
                "offers": offers.remove(&p.id).unwrap_or_default(),
            })
        })
        .collect();
    let unscheduled: Vec<Value> = crate::store::jobs::list(
        &state.db,
        org.id,
        crate::store::jobs::JobFilter { customer_id: None, status: Some(JobStatus::New) },
        crate::store::PageRequest { after: None, limit: crate::store::PageRequest::MAX_LIMIT },
    )
    .await?
    .into_iter()
    .map(|j| json!({"id": j.id, "title": j.title}))
    .collect();
    let ticks: Vec<Value> = (from..=to)
        .map(|h| json!({"left": (h - from) as f64 / (to - from) as f64 * 100.0, "label": hour_label(h)}))
        .collect();
    let now_left = (date == today).then(|| axis.left(now));
    let mut ctx = json!({
            "date": date.to_string(), "day": date.format("%A, %B %-d").to_string(),
            "prev": (date - Duration::days(1)).to_string(), "next": (date + Duration::days(1)).to_string(),
            "today": today.to_string(), "is_today": date == today, "zone": zone.name(),
            "lanes": lanes, "visit_count": entries.len(), "ticks": ticks, "now_left": now_left, "unscheduled": unscheduled,
            "buffer": org.travel_buffer_minutes, "axis_from": from, "axis_to": to, "free": free,
    });
    super::dress(&mut ctx, &signed_in, &org.name, "/app/board");
    // Kept for every session of this person: the token goes in as it is served.
    ctx["csrf"] = json!(CSRF_SLOT);
    let html: std::sync::Arc<str> = state.pages.render("staff_board.html", ctx)?.into();
    state.page_cache.put(key, stamp, html.clone());
    Ok(board_response(&html, &session.csrf_token))
}

/// How many free windows a lane offers for the asked job (the earliest
/// that do not overlap each other).
const OFFERS_PER_LANE: usize = 3;

/// The windows each field person could be promised for `job`'s next visit
/// on `date` (`usecases::availability`, the booking rule itself), placed on
/// the axis, each a one-tap booking; and what the board says about them.
async fn free_windows(
    state: &AppState,
    org: &organization::Model,
    zone: Zone,
    date: NaiveDate,
    asked: &str,
    axis: &Axis,
) -> Result<(Value, HashMap<i64, Vec<Value>>), Error> {
    let mut lanes: HashMap<i64, Vec<Value>> = HashMap::new();
    let job = match super::super::id_in_path(asked) {
        None => None,
        Some(id) => match crate::store::jobs::get(&state.db, org.id, id).await {
            Ok(job) => Some(job),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        },
    };
    let Some(job) = job else {
        return Ok((json!({"error": format!("There is no job {asked} in your company.")}), lanes));
    };
    if !job.status.is_open() {
        let error = format!("“{}” is {}: reopen it before booking visits.", job.title, job.status);
        return Ok((json!({"error": error}), lanes));
    }
    // One day's grid is finite: weigh all of it, so every lane gets its
    // earliest windows, not only the people free first.
    let ask = crate::usecases::availability::Ask::next_visit(&job, Some(date), 1, usize::MAX);
    let (kind, minutes) = (ask.kind, ask.duration_minutes);
    let found = crate::usecases::availability::suggest(&state.db, org, ask, state.clock.now()).await?;
    let mut count = 0;
    for o in &found {
        let lane = lanes.entry(o.staff_id).or_default();
        let clear =
            lane.last().and_then(|l| l["until"].as_i64()).is_none_or(|until| o.window_start.timestamp() >= until);
        if lane.len() >= OFFERS_PER_LANE || !clear {
            continue;
        }
        let (start, end) = (zone.local(o.window_start), zone.local(o.window_end));
        // A window past midnight on the office's clock does not fit the day's form.
        if start.date_naive() != end.date_naive() {
            continue;
        }
        lane.push(json!({
            "left": axis.left(o.window_start), "width": axis.width(o.window_start, o.window_end),
            "until": o.window_end.timestamp(),
            "date": start.format("%Y-%m-%d").to_string(),
            "start": start.format("%H:%M").to_string(), "end": end.format("%H:%M").to_string(),
            "label": format!("{}–{}", clock(zone, o.window_start), clock(zone, o.window_end)),
            "short": short_window(zone, o.window_start, o.window_end),
            "travel": o.added_travel_minutes,
        }));
        count += 1;
    }
    let free = json!({
        "job": {"id": job.id, "title": job.title},
        "kind": kind.as_str(), "kind_label": kind.as_str().replace('_', "-"), "minutes": minutes, "count": count,
        "what": match kind {
            crate::domain::visit::VisitKind::Estimate => "an estimate",
            crate::domain::visit::VisitKind::Work => "a work visit",
            crate::domain::visit::VisitKind::FollowUp => "a follow-up visit",
        },
    });
    Ok((free, lanes))
}

/// Stands in the cached page for the session's CSRF token.
const CSRF_SLOT: &str = "kept-csrf-slot";

/// The board page for one session: its token in every form, never cached
/// by the browser, and allowed its own script.
fn board_response(html: &str, csrf: &str) -> Response {
    let mut r = (StatusCode::OK, axum::response::Html(html.replace(CSRF_SLOT, csrf))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::assets::SCRIPTED_POLICY));
    r
}

/// Positions on the axis, as percentages of its width.
struct Axis {
    start: DateTime<Utc>,
    minutes: f64,
}

impl Axis {
    fn left(&self, t: DateTime<Utc>) -> f64 {
        (((t - self.start).num_minutes() as f64) / self.minutes * 100.0).clamp(0.0, 100.0)
    }

    fn width(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        (self.left(to) - self.left(from)).max(0.0)
    }
}

/// What the board shows of a visit at a glance.
fn visit_state(status: VisitStatus, window_end: DateTime<Utc>, at_risk: bool, now: DateTime<Utc>) -> &'static str {
    match status {
        VisitStatus::Completed => "completed",
        VisitStatus::Arrived => "arrived",
        VisitStatus::Missed => "missed",
        VisitStatus::Cancelled => "cancelled",
        VisitStatus::EnRoute | VisitStatus::Scheduled if now > window_end => "late",
        VisitStatus::EnRoute => "en_route",
        VisitStatus::Scheduled if at_risk => "at_risk",
        VisitStatus::Scheduled => "scheduled",
    }
}

fn state_label(state: &str, en_route_at: Option<DateTime<Utc>>, zone: Zone) -> String {
    match state {
        "en_route" => match en_route_at {
            Some(t) => format!("on the way since {}", clock(zone, t)),
            None => "on the way".into(),
        },
        "at_risk" => "at risk: nobody on the way".into(),
        "late" => "late".into(),
        other => other.replace('_', " "),
    }
}

/// `9:00 AM`, in `zone`.
fn clock(zone: Zone, t: DateTime<Utc>) -> String {
    zone.local(t).format("%-I:%M %p").to_string()
}

/// A window as short as a narrow button needs: "2–4 PM", "11:30 AM–1 PM".
fn short_window(zone: Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let (a, b) = (zone.local(from), zone.local(to));
    let hour = |t: &chrono::DateTime<chrono::FixedOffset>| {
        let f = if chrono::Timelike::minute(t) == 0 { "%-I" } else { "%-I:%M" };
        t.format(f).to_string()
    };
    if a.format("%p").to_string() == b.format("%p").to_string() {
        format!("{}–{} {}", hour(&a), hour(&b), b.format("%p"))
    } else {
        format!("{} {}–{} {}", hour(&a), a.format("%p"), hour(&b), b.format("%p"))
    }
}

fn hour_label(h: u32) -> String {
    match h {
        0 | 24 => "12 AM".into(),
        12 => "12 PM".into(),
        h if h < 12 => format!("{h} AM"),
        h => format!("{} PM", h - 12),
    }
}

/// The person's working hours on `date`, as shaded spans of the axis (their
/// hours are in their own zone; the axis is the office's).
fn working_hours(p: &staff::Model, date: NaiveDate, axis: &Axis) -> Result<Vec<Value>, Error> {
    let zone = crate::store::staff::zone(p)?;
    let hours: crate::domain::people::WorkingHours = serde_json::from_str(&p.working_hours)
        .map_err(|e| Error::Internal(format!("staff member {} has working hours that do not read: {e}", p.id)))?;
    let day = crate::domain::people::WEEKDAYS[date.weekday_index()];
    Ok(hours
        .get(day)
        .into_iter()
        .flatten()
        .filter_map(|[from, to]| {
            let f = NaiveTime::parse_from_str(from, "%H:%M").ok()?;
            let t = NaiveTime::parse_from_str(to, "%H:%M").ok()?;
            let (start, end) = (zone.at_local(date, f).ok()?, zone.at_local(date, t).ok()?);
            Some(json!({"left": axis.left(start), "width": axis.width(start, end)}))
        })
        .collect())
}

/// `chrono::Weekday` as an index into `WEEKDAYS` (Monday first).
trait WeekdayIndex {
    fn weekday_index(&self) -> usize;
}

impl WeekdayIndex for NaiveDate {
    fn weekday_index(&self) -> usize {
        use chrono::Datelike;
        self.weekday().num_days_from_monday() as usize
    }
}

/// Moving a visit: to whom, when (in the office's zone), on which day.
#[derive(Deserialize)]
pub(super) struct MoveForm {
    csrf: String,
    /// The board's one move form names the visit; a visit's own URL does not.
    #[serde(default)]
    visit_id: Option<String>,
    /// Empty: the same person (or crew) as now.
    #[serde(default)]
    staff_id: String,
    date: String,
    start: String,
}

impl WithCsrf for MoveForm {
    fn csrf(&self) -> Option<&str> {
        Some(&self.csrf)
    }
}

/// Moves a visit to another time or another person, keeping its window's
/// length. The browser's script posts it and reads a JSON answer; without
/// the script the form posts and the board comes back.
pub(super) async fn move_visit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    SignedForm(f): SignedForm<MoveForm>,
) -> Result<Response, PageError> {
    move_one(state, signed_in, &id, headers, f).await
}

/// The board's keyboard path: one form beside the board, naming the visit.
pub(super) async fn move_chosen(
    State(state): State<AppState>,
    signed_in: SignedIn,
    headers: HeaderMap,
    SignedForm(f): SignedForm<MoveForm>,
) -> Result<Response, PageError> {
    let id = f.visit_id.clone().unwrap_or_default();
    move_one(state, signed_in, &id, headers, f).await
}

async fn move_one(
    state: AppState,
    SignedIn { caller, .. }: SignedIn,
    id: &str,
    headers: HeaderMap,
    f: MoveForm,
) -> Result<Response, PageError> {
    let wants_json = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    let answer = |status: StatusCode, text: String, date: &str| -> Response {
        if wants_json {
            (status, Json(json!({"ok": status.is_success(), "message": text}))).into_response()
        } else if status.is_success() {
            Redirect::to(&format!("/app/board?date={date}")).into_response()
        } else {
            problem(&state, status, &text)
        }
    };
    if !caller.role.can_dispatch() {
        return Ok(answer(StatusCode::FORBIDDEN, "Only the office moves visits.".into(), &f.date));
    }
    let Some(id) = super::super::id_in_path(id) else {
        return Ok(answer(StatusCode::NOT_FOUND, "That visit is not on the board.".into(), &f.date));
    };
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let current = match crate::store::visits::get(&state.db, org.id, id).await {
        Ok(v) => v,
        Err(Error::NotFound) => {
            return Ok(answer(StatusCode::NOT_FOUND, "That visit is not on the board.".into(), &f.date));
        }
        Err(e) => return Err(e.into()),
    };
    // Empty: the same person or crew as now.
    let parsed = (
        match f.staff_id.trim() {
            "" => Some(None),
            s => s.parse::<i64>().ok().map(Some),
        },
        NaiveDate::parse_from_str(f.date.trim(), "%Y-%m-%d").ok(),
        NaiveTime::parse_from_str(f.start.trim(), "%H:%M").ok(),
    );
    let (Some(staff_id), Some(date), Some(start)) = parsed else {
        return Ok(answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a person, a day (YYYY-MM-DD) and a start time (HH:MM).".into(),
            &f.date,
        ));
    };
    let window_start = match zone.at_local(date, start) {
        Ok(t) => t,
        Err(e) => return Ok(answer(StatusCode::UNPROCESSABLE_ENTITY, format!("{} {e}", f.start.trim()), &f.date)),
    };
    let v = &current.visit;
    let window_end = window_start + (v.window_end - v.window_start);
    let staff_ids = match staff_id {
        Some(id) if current.staff_ids != [id] => Some(vec![id]),
        _ => None,
    };
    if staff_ids.is_none() && window_start == v.window_start {
        return Ok(answer(StatusCode::OK, "Nothing to change.".into(), &f.date));
    }
    let changes = VisitChanges {
        window_start: Some(window_start),
        window_end: Some(window_end),
        duration_minutes: None,
        staff_ids,
        reason: None,
    };
    match crate::usecases::visits::update(&state.db, &state.notify, &org, id, changes, state.clock.now()).await {
        Ok(_) => Ok(answer(StatusCode::OK, "Moved; the customer is told.".into(), &f.date)),
        Err(Error::Conflict { code, message, details }) => {
            let text = match code {
                "schedule_conflict" => explain_conflict(&state, &org, zone, &details).await?.unwrap_or(message),
                _ => message,
            };
            Ok(answer(StatusCode::CONFLICT, format!("{text} Nothing was changed."), &f.date))
        }
        Err(Error::Validation(fields)) => Ok(answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "),
            &f.date,
        )),
        Err(Error::NotFound) => {
            Ok(answer(StatusCode::NOT_FOUND, "That person or visit is not in your company.".into(), &f.date))
        }
        Err(e) => Err(e.into()),
    }
}

/// A booking conflict in plain words: "Marcus could no longer reach 48
/// Linden Street between 9:00 and 11:00 AM (Nadia Brooks)."
pub(super) async fn explain_conflict(
    state: &AppState,
    org: &organization::Model,
    zone: Zone,
    details: &Value,
) -> Result<Option<String>, Error> {
    let (Some(staff_id), Some(visit_id)) =
        (details["staff_id"].as_i64(), details["conflicting_visit_ids"].as_array().and_then(|v| v.first()?.as_i64()))
    else {
        return Ok(None);
    };
    let person = crate::store::staff::get(&state.db, org.id, staff_id).await?;
    let visit = crate::store::visits::get(&state.db, org.id, visit_id).await?.visit;
    let job = crate::store::jobs::get(&state.db, org.id, visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let first_name = person.name.split_whitespace().next().unwrap_or(&person.name).to_string();
    let place = if customer.address.trim().is_empty() { customer.name.clone() } else { customer.address.clone() };
    let (start, end) = (zone.local(visit.window_start), zone.local(visit.window_end));
    let start_text = if start.format("%p").to_string() == end.format("%p").to_string() {
        start.format("%-I:%M")
    } else {
        start.format("%-I:%M %p")
    };
    Ok(Some(format!(
        "{first_name} could no longer reach {place} between {start_text} and {} ({}, with {} minutes of travel between visits).",
        end.format("%-I:%M %p"),
        customer.name,
        org.travel_buffer_minutes
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_axis_places_times_as_percentages_and_clamps_the_edges() {
        let axis = Axis { start: at("2026-11-23T12:00:00Z"), minutes: 720.0 };
        assert_eq!(axis.left(at("2026-11-23T12:00:00Z")), 0.0);
        assert_eq!(axis.left(at("2026-11-23T18:00:00Z")), 50.0);
        assert_eq!(axis.left(at("2026-11-24T05:00:00Z")), 100.0, "past the end stays on the board");
        assert!((axis.width(at("2026-11-23T14:00:00Z"), at("2026-11-23T16:00:00Z")) - 100.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn a_visit_reads_late_once_its_window_has_closed_without_an_arrival() {
        let end = at("2026-11-23T16:00:00Z");
        let before = at("2026-11-23T15:00:00Z");
        let after = at("2026-11-23T16:01:00Z");
        assert_eq!(visit_state(VisitStatus::Scheduled, end, false, before), "scheduled");
        assert_eq!(visit_state(VisitStatus::Scheduled, end, true, before), "at_risk");
        assert_eq!(visit_state(VisitStatus::Scheduled, end, true, after), "late");
        assert_eq!(visit_state(VisitStatus::EnRoute, end, false, before), "en_route");
        assert_eq!(visit_state(VisitStatus::EnRoute, end, false, after), "late");
        assert_eq!(visit_state(VisitStatus::Arrived, end, false, after), "arrived");
    }

    #[test]
    fn a_short_window_names_the_half_of_the_day_once_when_it_can() {
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(short_window(ny, at("2026-11-23T19:00:00Z"), at("2026-11-23T21:00:00Z")), "2–4 PM");
        assert_eq!(short_window(ny, at("2026-11-23T16:30:00Z"), at("2026-11-23T18:00:00Z")), "11:30 AM–1 PM");
    }

    #[test]
    fn hours_read_as_people_say_them() {
        assert_eq!(hour_label(7), "7 AM");
        assert_eq!(hour_label(12), "12 PM");
        assert_eq!(hour_label(19), "7 PM");
    }
}
