//! The signed-in home (`/app`): the day's visits with the crew's one tap
//! each (*On my way*, *Arrived*, *Completed*), and for the office the
//! promises at risk, how well we keep them, the coming week and the latest
//! messages.

use super::extract::{SignedForm, SignedIn, WithCsrf};
use super::{problem, render};
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{organization, staff};
use crate::error::Error;
use crate::messages::compose::window_phrase;
use crate::state::AppState;
use crate::web::PageError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

/// How many recent messages the office's home page lists.
const RECENT_MESSAGES: u64 = 15;

/// The signed-in home: the day's visits (a field person's own; the
/// office's whole day, and what else the office watches).
pub(super) async fn app(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, PageError> {
    let SignedIn { session, me, caller } = signed_in;
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let office = caller.role.can_dispatch();
    let zone = crate::store::staff::zone(&me)?;
    let date = zone.date_of(state.clock.now());
    // Staff are read once: whose day it is, and the names on every visit.
    let people = if office { crate::store::staff::all(&state.db, org.id).await? } else { vec![me.clone()] };
    let names = |ids: &[i64]| {
        people.iter().filter(|p| ids.contains(&p.id)).map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let visits: Vec<Value> = crate::store::visits::days_of(&state.db, org.id, &people, date)
        .await?
        .into_iter()
        .map(|e| {
            let v = &e.visit.visit;
            let tap = crew_tap(v.status);
            json!({
                "id": v.id,
                "job_id": e.job.id,
                "who": names(&e.visit.staff_ids),
                "tap": tap.map(|(to, label)| json!({"to": to.as_str(), "label": label})),
                "window": window_phrase(zone, v.window_start, v.window_end),
                "job": e.job.title, "customer": e.customer.name, "address": e.customer.address,
                "status": v.status.as_str().replace('_', " "),
            })
        })
        .collect();
    let watch = if office { office_watch(&state, &org, zone, date, &people).await? } else { OfficeWatch::default() };
    Ok(render(
        &state,
        "staff_app.html",
        StatusCode::OK,
        json!({"org": org.name, "me": {"name": me.name, "role": me.role}, "csrf": session.csrf_token, "office": office,
               "date": date.to_string(), "visits": visits, "at_risk": watch.at_risk, "kpis": watch.kpis,
               "messages": watch.messages, "coming": watch.coming}),
    ))
}

/// What the office watches besides the day.
#[derive(Default)]
struct OfficeWatch {
    at_risk: Vec<Value>,
    kpis: Option<Value>,
    coming: Vec<Value>,
    messages: Vec<Value>,
}

async fn office_watch(
    state: &AppState,
    org: &organization::Model,
    zone: Zone,
    date: NaiveDate,
    people: &[staff::Model],
) -> Result<OfficeWatch, Error> {
    let now = state.clock.now();
    let at_risk = crate::store::promises::at_risk(&state.db, org.id)
        .await?
        .into_iter()
        .map(|p| json!({"job_id": p.job_id, "description": p.description}))
        .collect();
    // How well we keep our promises (last 30 days).
    let m = crate::store::metrics::promises(&state.db, org.id, now - chrono::Duration::days(30), now).await?;
    let pct = |v: Option<f64>| v.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "no data yet".into());
    let kpis = json!({
        "kept": pct(m.overall.kept_rate),
        "arrivals": pct(m.arrivals.on_time_rate),
        "updates": pct(m.status_updates.on_time_rate),
        "late": m.arrivals.late_by_minutes,
        "rating": m.rating.average.map(|r| format!("{r:.1} / 5")).unwrap_or_else(|| "no ratings yet".into()),
        "turnaround": m.estimate_turnaround.average_hours.map(|h| format!("{h:.0} h")).unwrap_or_else(|| "no estimates yet".into()),
        "by_kind": m.by_kind.iter().map(|(k, v)| json!({"kind": k.replace('_', " "), "total": v.total, "rate": pct(v.kept_rate)})).collect::<Vec<_>>(),
        "by_staff": m.by_staff.iter().map(|v| json!({"name": v.name, "total": v.total, "rate": pct(v.kept_rate)})).collect::<Vec<_>>(),
    });
    // The coming week, each window in its customer's time.
    let from = zone.day_bounds(date).1;
    let soon = crate::store::visits::upcoming(&state.db, org.id, from, from + chrono::Duration::days(7), 50).await?;
    let jobs = crate::store::jobs::by_ids(&state.db, org.id, soon.iter().map(|v| v.visit.job_id)).await?;
    let customers = crate::store::customers::by_ids(&state.db, jobs.values().map(|j| j.customer_id)).await?;
    let mut coming = Vec::with_capacity(soon.len());
    for v in &soon {
        let Some(job) = jobs.get(&v.visit.job_id) else { continue };
        let Some(customer) = customers.get(&job.customer_id) else { continue };
        let who = people.iter().filter(|p| v.staff_ids.contains(&p.id)).map(|p| p.name.as_str()).collect::<Vec<_>>();
        let czone = crate::store::customers::zone(customer)?;
        coming.push(json!({
            "window": window_phrase(czone, v.visit.window_start, v.visit.window_end),
            "kind": v.visit.kind.as_str().replace('_', "-"), "job": job.title, "job_id": job.id,
            "customer": customer.name, "who": who.join(", "),
        }));
    }
    // The latest messages we planned and what became of them.
    let messages = crate::store::timeline::recent_messages(&state.db, org.id, RECENT_MESSAGES)
        .await?
        .into_iter()
        .map(|m| {
            let when = zone.local(m.sent_at.unwrap_or(m.due_at)).format("%b %-d, %-I:%M %p").to_string();
            let mut excerpt: String = m.body_text.chars().take(140).collect();
            if excerpt.len() < m.body_text.len() {
                excerpt.push('…');
            }
            json!({"kind": m.kind.as_str().replace('_', " "), "channel": m.channel, "recipient": m.recipient,
                   "state": m.state.as_str().replace('_', " "), "when": when, "excerpt": excerpt, "job_id": m.job_id})
        })
        .collect();
    Ok(OfficeWatch { at_risk, kpis: Some(kpis), coming, messages })
}

/// The one tap a crew makes next on a visit, and its button's words.
fn crew_tap(from: VisitStatus) -> Option<(VisitStatus, &'static str)> {
    use VisitStatus::*;
    match from {
        Scheduled => Some((EnRoute, "On my way")),
        EnRoute => Some((Arrived, "Arrived")),
        Arrived => Some((Completed, "Completed")),
        _ => None,
    }
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    csrf: Option<String>,
    status: Option<String>,
    eta_minutes: Option<String>,
}

impl WithCsrf for StatusForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A crew's tap from the home page: *On my way* (with an optional ETA),
/// *Arrived*, *Completed*. The same rules as the API: field people move only
/// their own visits, and an impossible move is refused. Tapping again what
/// has already happened (a phone that resent the form) changes nothing.
pub(super) async fn visit_status(
    State(state): State<AppState>,
    SignedIn { me, caller, .. }: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<StatusForm>,
) -> Result<Response, PageError> {
    let none = || problem(&state, StatusCode::NOT_FOUND, "There is no such visit.");
    let Some(id) = crate::web::id_in_path(&id) else { return Ok(none()) };
    let visit = match crate::store::visits::get(&state.db, me.organization_id, id).await {
        Ok(v) => v,
        Err(Error::NotFound) => return Ok(none()),
        Err(e) => return Err(e.into()),
    };
    if crate::access::ensure_visit(&caller, &visit.staff_ids).is_err() {
        return Ok(problem(
            &state,
            StatusCode::FORBIDDEN,
            "Only the office and the people on this visit can change it.",
        ));
    }
    let to = match f.status.as_deref().map(str::trim).and_then(VisitStatus::parse) {
        Some(to @ (VisitStatus::EnRoute | VisitStatus::Arrived | VisitStatus::Completed)) => to,
        _ => {
            let why = "status: must be en_route, arrived or completed.";
            return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, why));
        }
    };
    let eta = match f.eta_minutes.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => match e.parse::<i64>() {
            Ok(m) if (0..=24 * 60).contains(&m) && to == VisitStatus::EnRoute => Some(m),
            _ => {
                let why = "eta_minutes: give whole minutes between 0 and 1440, only with On my way.";
                return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, why));
            }
        },
    };
    if visit.visit.status == to {
        return Ok(Redirect::to("/app").into_response());
    }
    let only_assignee = crate::access::field_staff(&caller);
    let now = state.clock.now();
    match crate::usecases::visits::set_status(
        &state.db,
        &state.notify,
        me.organization_id,
        id,
        to,
        eta,
        None,
        only_assignee,
        now,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/app").into_response()),
        Err(Error::Conflict { message, .. }) => Ok(problem(&state, StatusCode::CONFLICT, &message)),
        Err(Error::Forbidden(m)) => Ok(problem(&state, StatusCode::FORBIDDEN, &m)),
        Err(Error::Validation(fields)) => {
            Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, &crate::error::Problems(fields).to_string()))
        }
        Err(e) => Err(e.into()),
    }
}
