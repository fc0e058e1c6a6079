//! The office's home (`/app`, *Today*): the day's visits with the crew's
//! one tap each (*On my way*, *Arrived*, *Completed*, for a crew that calls
//! in), the promises at risk, how well we keep them, the coming week and the
//! latest messages. A field person's home is their day (`day`).

use super::extract::{SignedForm, SignedIn};
use super::screen;
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
use serde_json::{json, Value};

/// How many recent messages the office's home page lists.
const RECENT_MESSAGES: u64 = 15;

/// The signed-in home. A field person's is their day (`/app/day`); the
/// office's is the whole day's visits and what else the office watches.
pub(super) async fn app(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, PageError> {
    if !signed_in.caller.role.can_dispatch() {
        return Ok(Redirect::to("/app/day").into_response());
    }
    let me = &signed_in.me;
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let zone = crate::store::staff::zone(me)?;
    let date = zone.date_of(state.clock.now());
    // Staff are read once: whose day it is, and the names on every visit.
    let people = crate::store::staff::all(&state.db, org.id).await?;
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
                "window": super::day::window_short(zone, v.window_start, v.window_end),
                "job": e.job.title, "customer": e.customer.name, "address": e.customer.address,
                "status": v.status.as_str().replace('_', " "),
            })
        })
        .collect();
    let watch = office_watch(&state, &org, zone, date, &people).await?;
    Ok(screen(
        &state,
        &signed_in,
        &org.name,
        "/app",
        "staff_app.html",
        StatusCode::OK,
        json!({"date": date.to_string(), "date_words": date.format("%A, %B %-d").to_string(), "visits": visits,
               "at_risk": watch.at_risk, "kpis": watch.kpis, "messages": watch.messages, "coming": watch.coming}),
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

/// A crew's tap from the office's Today (the crew called in without
/// signal): the same tap as on My day, back to Today.
pub(super) async fn visit_status(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<super::day::TapForm>,
) -> Result<Response, PageError> {
    Ok(match super::day::status_tap(&state, &who, &id, &f).await? {
        Ok(_) => Redirect::to("/app").into_response(),
        Err(refusal) => refusal,
    })
}
