//! *My day* (`/app/day?date=`): a field person's home, made for a phone in
//! one hand. The day's visits in the order they are planned, each with its
//! window in their zone (and the customer's when it differs), the address
//! as a maps link, the customer's name and phone (tap to call) and story,
//! the job's latest news and who else is on it; big buttons for *On my way*
//! (with an ETA), *Arrived*, *Completed* and *Running late*; a note from the
//! field; the next days one tap away; their calendar feed and the devices
//! they are signed in on. Every tap goes through the same use cases as the
//! API, and the same tap twice changes nothing.

use super::extract::{ClientIp, SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::domain::job::TimelineKind;
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::error::Error;
use crate::messages::compose::{clock_time, first_name};
use crate::state::AppState;
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// How many of a job's latest events a visit card shows.
const NEWS_PER_JOB: usize = 3;
/// How many days ahead the day strip offers.
const DAYS_AHEAD: i64 = 6;

#[derive(Deserialize)]
pub(super) struct DayQuery {
    date: Option<String>,
}

/// The day's page.
pub(super) async fn day(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<DayQuery>,
) -> Result<Response, PageError> {
    let zone = crate::store::staff::zone(&signed_in.me)?;
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => zone.date_of(state.clock.now()),
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(date) => date,
            Err(_) => {
                let why = format!("date: '{d}' is not a date like 2026-11-24.");
                return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, &why));
            }
        },
    };
    let ctx = day_ctx(&state, &signed_in, zone, date, None).await?;
    Ok(page(&state, &signed_in, ctx))
}

/// The day's page inside the main navigation (its own script allowed).
fn page(state: &AppState, who: &SignedIn, ctx: Value) -> Response {
    let org = ctx["org"].as_str().unwrap_or_default().to_string();
    let mut r = screen(state, who, &org, "/app/day", "staff_day.html", StatusCode::OK, ctx);
    r.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(super::assets::SCRIPTED_POLICY),
    );
    r
}

/// "9:00–11:00 AM" style, in `zone`, with the zone's abbreviation.
pub(super) fn window_short(zone: Zone, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let (s, e) = (start.with_timezone(&zone.0), end.with_timezone(&zone.0));
    let abbr = e.format("%Z");
    if s.date_naive() != e.date_naive() {
        return format!("{} – {} {abbr}", s.format("%a %-I:%M %p"), e.format("%a %-I:%M %p"));
    }
    if s.format("%p").to_string() == e.format("%p").to_string() {
        format!("{}–{} {abbr}", s.format("%-I:%M"), e.format("%-I:%M %p"))
    } else {
        format!("{}–{} {abbr}", s.format("%-I:%M %p"), e.format("%-I:%M %p"))
    }
}

/// A link that opens the phone's maps app on the address (Apple and
/// Google both honour Google's universal maps link).
fn maps_link(address: &str) -> String {
    let q: String = address
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("https://www.google.com/maps/search/?api=1&query={q}")
}

/// Everything the page shows for `date` (and a just-issued feed address).
async fn day_ctx(
    state: &AppState,
    signed_in: &SignedIn,
    zone: Zone,
    date: NaiveDate,
    new_feed_url: Option<String>,
) -> Result<Value, Error> {
    let SignedIn { session, me, .. } = signed_in;
    let now = state.clock.now();
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let entries = crate::store::visits::days_of(&state.db, org.id, std::slice::from_ref(me), date).await?;
    let mate_ids: Vec<i64> = entries.iter().flat_map(|e| e.visit.staff_ids.iter().copied()).collect();
    let mates = crate::store::staff::by_ids(&state.db, org.id, &mate_ids).await?;
    let job_ids: Vec<i64> = entries.iter().map(|e| e.job.id).collect();
    let news_kinds = [
        TimelineKind::Note,
        TimelineKind::InternalNote,
        TimelineKind::VisitRescheduled,
        TimelineKind::CustomerReply,
        TimelineKind::EstimateApproved,
    ];
    let news = crate::store::timeline::latest_of_kinds(&state.db, org.id, &job_ids, &news_kinds, NEWS_PER_JOB).await?;
    let mut visits = Vec::with_capacity(entries.len());
    for e in &entries {
        let v = &e.visit.visit;
        let czone = crate::store::customers::zone(&e.customer)?;
        let promise = crate::store::promises::latest_arrival(&state.db, v.id).await?;
        // The crew said they are running late: what the customer was told.
        let told = promise
            .as_ref()
            .filter(|p| p.key.starts_with("late:") && p.outcome == crate::domain::promise::PromiseOutcome::Pending)
            .map(|p| p.due_at);
        let with: Vec<&str> = mates
            .iter()
            .filter(|s| e.visit.staff_ids.contains(&s.id) && s.id != me.id)
            .map(|s| s.name.as_str())
            .collect();
        // The job's news, and this visit's (not another visit's taps).
        let job_news: Vec<Value> = news
            .get(&e.job.id)
            .map(|list| {
                list.iter()
                    .filter(|n| n.visit_id.is_none_or(|id| id == v.id))
                    .map(|n| {
                        json!({
                            "when": zone.local(n.at).format("%a %-I:%M %p").to_string(),
                            "text": n.summary,
                            "internal": n.kind == TimelineKind::InternalNote,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let open = matches!(v.status, VisitStatus::Scheduled | VisitStatus::EnRoute);
        // The late choices start from what the customer holds now.
        let promised_by = promise
            .as_ref()
            .filter(|p| p.outcome == crate::domain::promise::PromiseOutcome::Pending)
            .map(|p| p.due_at)
            .unwrap_or(v.window_end);
        let late_from = promised_by.max(now);
        let suggested = late_from + Duration::minutes(30);
        visits.push(json!({
            "id": v.id,
            "job_id": e.job.id,
            "kind": v.kind.as_str().replace('_', "-"),
            "status": v.status.as_str(),
            "status_words": v.status.as_str().replace('_', " "),
            "window": window_short(zone, v.window_start, v.window_end),
            "customer_window": (czone.name() != zone.name()).then(|| window_short(czone, v.window_start, v.window_end)),
            "duration": crate::messages::compose::duration_label(v.duration_minutes),
            "job": e.job.title,
            "story": e.job.story,
            "customer": e.customer.name,
            "customer_first": first_name(&e.customer.name),
            "phone": e.customer.phone,
            "address": e.customer.address,
            "maps": (!e.customer.address.trim().is_empty()).then(|| maps_link(e.customer.address.trim())),
            "with": with,
            "news": job_news,
            "told_by": told.map(|t| format!("{} {}", clock_time(zone, t), t.with_timezone(&zone.0).format("%Z"))),
            "open": open,
            "late_from": format!("{} {}", clock_time(zone, promised_by), promised_by.with_timezone(&zone.0).format("%Z")),
            "late_suggested": suggested.with_timezone(&zone.0).format("%H:%M").to_string(),
            "late_base": late_from.timestamp(),
        }));
    }
    let today = zone.date_of(now);
    let days: Vec<Value> = (-1..=DAYS_AHEAD)
        .map(|i| {
            let d = today + Duration::days(i);
            let label = match i {
                -1 => "Yesterday".to_string(),
                0 => "Today".to_string(),
                1 => "Tomorrow".to_string(),
                _ => d.format("%a %-d").to_string(),
            };
            json!({"date": d.to_string(), "label": label, "current": d == date})
        })
        .collect();
    let feed = crate::store::calendar::of_staff(&state.db, me.id).await?;
    let devices: Vec<Value> = crate::store::sessions::live_of(&state.db, me.id, now)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "this": s.id == session.id,
                "device": if s.device.trim().is_empty() { "A browser".to_string() } else { device_words(&s.device) },
                "since": zone.local(s.created_at).format("%b %-d, %-I:%M %p").to_string(),
                "until": zone.local(s.expires_at).format("%b %-d").to_string(),
            })
        })
        .collect();
    Ok(json!({
        "org": org.name,
        "date": date.to_string(),
        "date_words": date.format("%A, %B %-d").to_string(),
        "zone": now.with_timezone(&zone.0).format("%Z").to_string(),
        "is_today": date == today,
        "prev": (date - Duration::days(1)).to_string(),
        "next": (date + Duration::days(1)).to_string(),
        "days": days,
        "visits": visits,
        "feed": {"live": feed.is_some(), "since": feed.map(|f| zone.local(f.created_at).format("%b %-d, %Y").to_string())},
        "new_feed_url": new_feed_url.as_ref(),
        "webcal_url": new_feed_url.as_ref().map(|u| u.replacen("https://", "webcal://", 1).replacen("http://", "webcal://", 1)),
        "devices": devices,
    }))
}

/// A browser's `User-Agent` in a few words: "iPhone · Safari".
fn device_words(ua: &str) -> String {
    let device = ["iPhone", "iPad", "Android", "Windows", "Macintosh", "Linux"]
        .iter()
        .find(|d| ua.contains(*d))
        .map(|d| if *d == "Macintosh" { "Mac" } else { d })
        .unwrap_or("A device");
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("CriOS/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        "a browser"
    };
    format!("{device} · {browser}")
}

/// Where a form sends the person back to: the day they were looking at,
/// at the visit they tapped.
fn back(date: Option<&str>, visit: Option<i64>) -> Response {
    let date = date.and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
    let mut to = match date {
        Some(d) => format!("/app/day?date={d}"),
        None => "/app/day".to_string(),
    };
    if let Some(v) = visit {
        to.push_str(&format!("#visit-{v}"));
    }
    Redirect::to(&to).into_response()
}

/// A use case's refusal about a visit, as a page that says why.
fn refused(state: &AppState, e: Error) -> Response {
    super::refused(state, e, "There is no such visit.")
}

/// A time typed on the page ("14:30"), on `date`, in the person's zone.
fn typed_time(zone: Zone, date: NaiveDate, raw: &str, field: &str) -> Result<DateTime<Utc>, Error> {
    let t = NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .map_err(|_| Error::field(field, format!("'{}' is not a time like 14:30", raw.trim())))?;
    zone.at_local(date, t).map_err(|why| Error::field(field, why))
}

/// A status tap's form, from My day or from the office's Today.
#[derive(Deserialize)]
pub(super) struct TapForm {
    csrf: Option<String>,
    status: Option<String>,
    eta_minutes: Option<String>,
    eta_time: Option<String>,
    date: Option<String>,
}

impl WithCsrf for TapForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// *On my way* (with a quick ETA or a typed time), *Arrived*, *Completed*,
/// tapped on My day: back to the day, at the visit.
pub(super) async fn tap(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<TapForm>,
) -> Result<Response, PageError> {
    Ok(match status_tap(&state, &who, &id, &f).await? {
        Ok(id) => back(f.date.as_deref(), Some(id)),
        Err(refusal) => refusal,
    })
}

/// A crew's status tap, wherever it was made (My day, or the office's
/// Today for a crew without signal): the same rules as the API — field
/// people move only their own visits, an impossible move is refused with
/// why — through the one use case. Tapping again what has already happened
/// (a double tap, a phone that resent the form) changes nothing. The
/// visit's id, or the page that says why not.
pub(super) async fn status_tap(
    state: &AppState,
    SignedIn { me, caller, .. }: &SignedIn,
    id: &str,
    f: &TapForm,
) -> Result<Result<i64, Response>, PageError> {
    let Some(id) = crate::web::id_in_path(id) else {
        return Ok(Err(problem(state, StatusCode::NOT_FOUND, "There is no such visit.")));
    };
    let to = match f.status.as_deref().map(str::trim).and_then(VisitStatus::parse) {
        Some(to @ (VisitStatus::EnRoute | VisitStatus::Arrived | VisitStatus::Completed)) => to,
        _ => {
            let why = "status: must be en_route, arrived or completed.";
            return Ok(Err(problem(state, StatusCode::UNPROCESSABLE_ENTITY, why)));
        }
    };
    let now = state.clock.now();
    let zone = crate::store::staff::zone(me)?;
    let typed = f.eta_time.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let quick = f.eta_minutes.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let eta = match (to, quick, typed) {
        (VisitStatus::EnRoute, Some(m), _) => match m.parse::<i64>() {
            Ok(m) if (0..=24 * 60).contains(&m) => Some(m),
            _ => {
                let why = "eta_minutes: give whole minutes between 0 and 1440.";
                return Ok(Err(problem(state, StatusCode::UNPROCESSABLE_ENTITY, why)));
            }
        },
        (VisitStatus::EnRoute, None, Some(t)) => {
            let at = match typed_time(zone, zone.date_of(now), t, "eta_time") {
                Ok(at) => at,
                Err(e) => return Ok(Err(refused(state, e))),
            };
            let minutes = (at - now).num_minutes();
            if !(0..=24 * 60).contains(&minutes) {
                let why = format!("eta_time: {t} has passed; give the time you will be there.");
                return Ok(Err(problem(state, StatusCode::UNPROCESSABLE_ENTITY, &why)));
            }
            Some(minutes)
        }
        (_, None, None) => None,
        _ => {
            let why = "eta_minutes: an ETA goes only with On my way.";
            return Ok(Err(problem(state, StatusCode::UNPROCESSABLE_ENTITY, why)));
        }
    };
    let visit = match crate::store::visits::get(&state.db, me.organization_id, id).await {
        Ok(v) => v,
        Err(e) => return Ok(Err(refused(state, e))),
    };
    if crate::access::ensure_visit(caller, &visit.staff_ids).is_err() {
        let why = "Only the office and the people on this visit can change it.";
        return Ok(Err(problem(state, StatusCode::FORBIDDEN, why)));
    }
    // Already there (a second tap, a resent form): nothing to do.
    if visit.visit.status != to {
        let result = crate::usecases::visits::set_status(
            &state.db,
            &state.notify,
            me.organization_id,
            id,
            to,
            eta,
            None,
            crate::access::field_staff(caller),
            now,
        )
        .await;
        if let Err(e) = result {
            return Ok(Err(refused(state, e)));
        }
        if to == VisitStatus::EnRoute {
            // The customer's *On my way* goes out now, not at the next tick.
            crate::notify::wake_delivery(state.notifier(), std::time::Duration::from_secs(5)).await;
        }
    }
    Ok(Ok(id))
}

#[derive(Deserialize)]
pub(super) struct LateForm {
    csrf: Option<String>,
    /// Minutes after the time the customer held when the page was drawn.
    late_minutes: Option<String>,
    /// That time (Unix seconds), from the page: the same form sent twice
    /// names the same new time, so the second changes nothing.
    base: Option<String>,
    /// Or the new time, typed ("14:30", the person's zone, the visit's day).
    new_time: Option<String>,
    date: Option<String>,
}

impl WithCsrf for LateForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// *Running late*: the new arrival time, told to the customer at once.
pub(super) async fn late(
    State(state): State<AppState>,
    SignedIn { me, caller, .. }: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<LateForm>,
) -> Result<Response, PageError> {
    let Some(id) = crate::web::id_in_path(&id) else {
        return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such visit."));
    };
    let now = state.clock.now();
    let zone = crate::store::staff::zone(&me)?;
    let visit = match crate::store::visits::get(&state.db, me.organization_id, id).await {
        Ok(v) => v,
        Err(e) => return Ok(refused(&state, e)),
    };
    if crate::access::ensure_visit(&caller, &visit.staff_ids).is_err() {
        let why = "Only the office and the people on this visit can say they are running late.";
        return Ok(problem(&state, StatusCode::FORBIDDEN, why));
    }
    let quick = f.late_minutes.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let typed = f.new_time.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let new_arrival = match (quick, typed) {
        (Some(m), _) => match m.parse::<i64>() {
            Ok(m) if (1..=12 * 60).contains(&m) => {
                let from_page = f
                    .base
                    .as_deref()
                    .and_then(|b| b.trim().parse::<i64>().ok())
                    .and_then(|b| DateTime::<Utc>::from_timestamp(b, 0));
                let held = match from_page {
                    Some(t) => t,
                    None => crate::store::promises::latest_arrival(&state.db, id)
                        .await?
                        .filter(|p| p.outcome == crate::domain::promise::PromiseOutcome::Pending)
                        .map(|p| p.due_at)
                        .unwrap_or(visit.visit.window_end)
                        .max(now),
                };
                held + Duration::minutes(m)
            }
            _ => {
                let why = "late_minutes: give whole minutes between 1 and 720.";
                return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, why));
            }
        },
        (None, Some(t)) => match typed_time(zone, zone.date_of(visit.visit.window_start), t, "new_time") {
            Ok(at) => at,
            Err(e) => return Ok(refused(&state, e)),
        },
        (None, None) => {
            let why = "new_time: pick how late you will be, or type the time you will be there.";
            return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, why));
        }
    };
    // Whole minutes: a quick choice tapped twice names the same time.
    let new_arrival = new_arrival - Duration::seconds(chrono::Timelike::second(&new_arrival) as i64);
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    match crate::usecases::field::running_late(
        &state.db,
        &state.notify,
        &org,
        id,
        new_arrival,
        crate::access::field_staff(&caller),
        Some(me.id),
        now,
    )
    .await
    {
        Ok((_, crate::usecases::field::Late::Told)) => {
            crate::notify::wake_delivery(state.notifier(), std::time::Duration::from_secs(5)).await;
        }
        Ok((_, crate::usecases::field::Late::AlreadyTold)) => {}
        Err(e) => return Ok(refused(&state, e)),
    }
    Ok(back(f.date.as_deref(), Some(id)))
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    csrf: Option<String>,
    text: Option<String>,
    internal: Option<String>,
    date: Option<String>,
}

impl WithCsrf for NoteForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A note from the field (for the office only when the box is ticked).
pub(super) async fn note(
    State(state): State<AppState>,
    SignedIn { me, caller, .. }: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<NoteForm>,
) -> Result<Response, PageError> {
    let Some(id) = crate::web::id_in_path(&id) else {
        return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such visit."));
    };
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let internal = f.internal.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    match crate::usecases::field::note(
        &state.db,
        &org,
        id,
        f.text.unwrap_or_default(),
        internal,
        crate::access::field_staff(&caller),
        Some(me.id),
        state.clock.now(),
    )
    .await
    {
        Ok(_) => Ok(back(f.date.as_deref(), Some(id))),
        Err(e) => Ok(refused(&state, e)),
    }
}

#[derive(Deserialize)]
pub(super) struct CalendarForm {
    csrf: Option<String>,
    /// `regenerate` or `revoke`.
    action: Option<String>,
    date: Option<String>,
}

impl WithCsrf for CalendarForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The person's calendar feed: a new address (shown once, on the page
/// this answers with), or none.
pub(super) async fn calendar(
    State(state): State<AppState>,
    signed_in: SignedIn,
    SignedForm(f): SignedForm<CalendarForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let zone = crate::store::staff::zone(&signed_in.me)?;
    let date = f
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .unwrap_or_else(|| zone.date_of(now));
    match f.action.as_deref().map(str::trim) {
        Some("regenerate") => {
            let url =
                crate::usecases::calendar::issue(&state.db, &signed_in.me, &state.settings.public_url, now).await?;
            let ctx = day_ctx(&state, &signed_in, zone, date, Some(url)).await?;
            Ok(page(&state, &signed_in, ctx))
        }
        Some("revoke") => {
            crate::usecases::calendar::revoke(&state.db, &signed_in.me, now).await?;
            Ok(Redirect::to(&format!("/app/day?date={date}#calendar")).into_response())
        }
        _ => Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, "action: must be regenerate or revoke.")),
    }
}

#[derive(Deserialize)]
pub(super) struct DeviceForm {
    csrf: Option<String>,
    /// One session to end, or `others` for every one but this.
    session: Option<String>,
}

impl WithCsrf for DeviceForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// Ends a session on another device (a lost phone), or all the others.
pub(super) async fn end_device(
    State(state): State<AppState>,
    ClientIp(_ip): ClientIp,
    SignedIn { session, me, .. }: SignedIn,
    SignedForm(f): SignedForm<DeviceForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    match f.session.as_deref().map(str::trim) {
        Some("others") => {
            crate::store::sessions::end_sessions(&state.db, &me, Some(session.id), Some(me.id), now).await?;
        }
        Some(id) => match id.parse::<i64>() {
            Ok(id) if id != session.id => {
                crate::store::sessions::end_one(&state.db, me.id, id).await?;
            }
            _ => {
                let why = "session: to sign out on this device, use Sign out.";
                return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, why));
            }
        },
        None => return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, "session: which one?")),
    }
    Ok(Redirect::to("/app/day#devices").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_read_short_in_the_persons_zone() {
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(window_short(ny, utc("2026-11-24T14:00:00Z"), utc("2026-11-24T16:00:00Z")), "9:00–11:00 AM EST");
        assert_eq!(window_short(ny, utc("2026-11-24T16:00:00Z"), utc("2026-11-24T18:00:00Z")), "11:00 AM–1:00 PM EST");
        let chi = Zone::parse("America/Chicago").unwrap();
        assert_eq!(window_short(chi, utc("2026-11-24T14:00:00Z"), utc("2026-11-24T16:00:00Z")), "8:00–10:00 AM CST");
    }

    #[test]
    fn the_address_becomes_a_maps_search() {
        assert_eq!(
            maps_link("12 Harbor Rd, Brooklyn & Co"),
            "https://www.google.com/maps/search/?api=1&query=12+Harbor+Rd%2C+Brooklyn+%26+Co"
        );
    }

    #[test]
    fn devices_are_named_in_a_few_words() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_words(iphone), "iPhone · Safari");
        let android =
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
        assert_eq!(device_words(android), "Android · Chrome");
    }
}
