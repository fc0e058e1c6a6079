//! One job for staff (`/app/jobs/{id}`): the customer's story and how to
//! reach them, the visits, the promises (for the office), prices (for
//! whoever may see them) and the timeline with every message. Anyone on
//! the job adds a note; the office books visits.

use super::extract::{SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::auth::Caller;
use crate::domain::time::Zone;
use crate::entities::{job, staff};
use crate::error::{Error, Problems};
use crate::messages::compose::window_phrase;
use crate::state::AppState;
use crate::web::PageError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// How many timeline rows the job page shows, newest first.
const JOB_TIMELINE_ROWS: usize = 100;

/// The job behind `/app/jobs/{id}` if the signed-in person may open it;
/// otherwise the page that says why not.
async fn job_for(state: &AppState, caller: &Caller, id: &str) -> Result<job::Model, PageError> {
    let none = || PageError::from(problem(state, StatusCode::NOT_FOUND, "There is no such job."));
    let id = crate::web::id_in_path(id).ok_or_else(none)?;
    let job = match crate::store::jobs::get(&state.db, caller.organization_id, id).await {
        Ok(j) => j,
        Err(Error::NotFound) => return Err(none()),
        Err(e) => return Err(e.into()),
    };
    if !crate::access::may_open_job(&state.db, caller, job.id).await? {
        let why = "Only the office and the people on this job's visits can open it.";
        return Err(problem(state, StatusCode::FORBIDDEN, why).into());
    }
    Ok(job)
}

/// A note added here is news in the customer's next status update.
pub(super) async fn job_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let job = job_for(&state, &signed_in.caller, &id).await?;
    job_view(&state, &signed_in, job, StatusCode::OK, json!({})).await
}

/// The job page with `status`; `form` holds what was typed into a form
/// that was refused (`note`, `booking`), shown again with why.
pub(super) async fn job_view(
    state: &AppState,
    who: &SignedIn,
    job: job::Model,
    status: StatusCode,
    form: Value,
) -> Result<Response, PageError> {
    let caller = &who.caller;
    let org = caller.organization_id;
    let customer = crate::store::customers::get(&state.db, org, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let when = |t: DateTime<Utc>| zone.local(t).format("%b %-d, %-I:%M %p").to_string();
    // Staff are read once: the names on the visits and the booking form.
    let staff = crate::store::staff::all(&state.db, org).await?;
    let names: HashMap<i64, &str> = staff.iter().map(|p| (p.id, p.name.as_str())).collect();
    let visits: Vec<Value> = crate::store::visits::for_job(&state.db, org, job.id)
        .await?
        .iter()
        .map(|v| {
            let who: Vec<&str> = v.staff_ids.iter().filter_map(|id| names.get(id).copied()).collect();
            json!({"id": v.visit.id, "kind": v.visit.kind.as_str().replace('_', "-"), "window": window_phrase(zone, v.visit.window_start, v.visit.window_end),
                   "open": v.visit.status.can_move_to(crate::domain::visit::VisitStatus::Cancelled),
                   "status": v.visit.status.as_str().replace('_', " "), "who": who.join(", ")})
        })
        .collect();
    let office = caller.role.can_dispatch();
    let promises: Vec<Value> = if office {
        crate::store::promises::for_job(&state.db, org, job.id)
            .await?
            .into_iter()
            .map(|p| json!({"description": p.description, "due": when(p.due_at), "outcome": p.outcome}))
            .collect()
    } else {
        vec![]
    };
    // Prices: the office's, and an estimator's own estimates only.
    // An approved one says what the customer chose: the optional items they
    // ticked and the total they approved.
    let mut estimates: Vec<Value> = Vec::new();
    for e in crate::store::estimates::for_job(&state.db, org, job.id).await? {
        if crate::access::ensure_estimate(caller, &e).is_err() {
            continue;
        }
        let currency = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
        let (approved_total, chosen) = match e.approved_total_minor {
            Some(t) => {
                let full = crate::store::estimates::load(&state.db, org, e.id).await?;
                let chosen: Vec<Value> = full
                    .lines
                    .iter()
                    .filter(|l| l.optional)
                    .map(|l| json!({"description": l.description, "total": currency.format(l.total_minor), "chosen": l.chosen}))
                    .collect();
                (Some(currency.format(t)), chosen)
            }
            None => (None, vec![]),
        };
        // Each tax with its rate as people write it: "Sales tax 8.875%".
        let taxes: Vec<String> =
            crate::store::estimates::taxes_of(&e).iter().map(|t| format!("{} {}", t.name, t.rate.percent())).collect();
        estimates.push(json!({"version": e.version, "status": e.status.as_str().replace('_', " "), "total": currency.format(e.total_minor),
               "taxes": taxes, "sent": e.sent_at.map(when), "approved_total": approved_total, "options": chosen}));
    }
    let field_staff = crate::access::field_staff(caller);
    let timeline: Vec<Value> = crate::usecases::jobs::timeline(&state.db, org, job.id, field_staff)
        .await?
        .into_iter()
        .rev()
        .take(JOB_TIMELINE_ROWS)
        .map(|e| json!({"when": when(e.at), "kind": e.kind, "summary": e.summary}))
        .collect();
    let booking = if office { booking_form(&staff, zone, state.clock.now(), &form["booking"]) } else { Value::Null };
    let suggested =
        if office && job.status.is_open() { suggestions(state, &job, zone, &names).await? } else { json!(null) };
    let org_name = crate::store::orgs::get(&state.db, org).await?.name;
    let mut r = screen(
        state,
        who,
        &org_name,
        "/app/jobs",
        "staff_job.html",
        status,
        json!({
            "office": office, "note": form["note"], "zone": zone.name(),
            "close": form["close"], "job_open": job.status.is_open(),
            "may_price": office || caller.role == crate::domain::people::Role::Estimator,
            "booking": booking, "suggested": suggested,
            "job": {"id": job.id, "title": job.title, "story": job.story, "status": job.status.as_str().replace('_', " ")},
            "customer": {"name": customer.name, "phone": customer.phone, "email": customer.email, "address": customer.address},
            "visits": visits, "promises": promises, "timeline": timeline, "estimates": estimates,
            "conversation": super::conversation::section(state, caller, &job).await?,
        }),
    );
    // Its script keeps the page current from the event stream.
    r.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(super::assets::SCRIPTED_POLICY),
    );
    Ok(r)
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    csrf: Option<String>,
    text: Option<String>,
}

impl WithCsrf for NoteForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

pub(super) async fn job_note(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<NoteForm>,
) -> Result<Response, PageError> {
    let SignedIn { me, caller, .. } = &who;
    let job = job_for(&state, caller, &id).await?;
    let mut problems = Problems::default();
    let max = crate::store::timeline::NOTE_MAX_CHARS;
    let Some(text) = crate::error::required_text(&mut problems, "text", f.text.clone(), max) else {
        let form = json!({"note": {"error": problems.to_string(), "text": f.text.unwrap_or_default()}});
        return job_view(&state, &who, job, StatusCode::UNPROCESSABLE_ENTITY, form).await;
    };
    crate::store::timeline::add_note(&state.db, me.organization_id, job.id, text, Some(me.id), state.clock.now())
        .await?;
    Ok(Redirect::to(&format!("/app/jobs/{}", job.id)).into_response())
}

/// The earliest windows for the job's next visit that keep every promise
/// already made (`usecases::availability`), each bookable in one tap: an
/// estimate of an hour until the customer approved one, then two hours of work.
async fn suggestions(
    state: &AppState,
    job: &job::Model,
    zone: Zone,
    names: &HashMap<i64, &str>,
) -> Result<Value, Error> {
    let org = crate::store::orgs::get(&state.db, job.organization_id).await?;
    let ask = crate::usecases::availability::Ask::next_visit(
        job,
        None,
        crate::usecases::availability::DEFAULT_DAYS,
        SUGGESTED,
    );
    let (kind, minutes) = (ask.kind, ask.duration_minutes);
    let offers = crate::usecases::availability::suggest(&state.db, &org, ask, state.clock.now()).await?;
    let windows: Vec<Value> = offers
        .iter()
        .map(|o| {
            let (start, end) = (zone.local(o.window_start), zone.local(o.window_end));
            json!({"staff_id": o.staff_id, "who": names.get(&o.staff_id), "date": start.format("%Y-%m-%d").to_string(),
                   "start": start.format("%H:%M").to_string(), "end": end.format("%H:%M").to_string(),
                   "label": format!("{} – {}", start.format("%a %b %-d, %-I:%M %p"), end.format("%-I:%M %p")),
                   "travel": o.added_travel_minutes})
        })
        .collect();
    Ok(
        json!({"kind": kind.as_str(), "kind_label": kind.as_str().replace('_', "-"), "minutes": minutes, "windows": windows}),
    )
}

/// How many windows the job page suggests.
const SUGGESTED: usize = 5;

/// The office's booking form: every staff member to choose from, and what
/// was typed (kept when a booking is refused, with why).
fn booking_form(people: &[staff::Model], zone: Zone, now: DateTime<Utc>, typed: &Value) -> Value {
    let chosen: Vec<i64> =
        typed["staff_ids"].as_array().map(|a| a.iter().filter_map(|v| v.as_i64()).collect()).unwrap_or_default();
    let people: Vec<Value> = people
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name, "role": p.role, "checked": chosen.contains(&p.id)}))
        .collect();
    let text = |k: &str, default: String| typed[k].as_str().map(str::to_string).unwrap_or(default);
    json!({
        "people": people,
        "kinds": crate::domain::visit::VisitKind::ALL.iter().map(|k| json!({"value": k.as_str(), "label": k.as_str().replace('_', "-"), "selected": typed["kind"].as_str() == Some(k.as_str())})).collect::<Vec<_>>(),
        "date": text("date", zone.date_of(now).to_string()),
        "start": text("start", String::new()),
        "end": text("end", String::new()),
        "duration": text("duration", "60".into()),
        "error": typed["error"],
    })
}

/// The office books a visit from the job page, with the window typed in the
/// customer's local time. The same rules as `POST /api/v1/jobs/{id}/visits`:
/// a booking that would leave anyone unable to keep a window is refused,
/// naming the conflict, and nothing is booked.
pub(super) async fn job_book(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    SignedForm(pairs): SignedForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let caller = &who.caller;
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office books visits."));
    }
    let job = job_for(&state, &caller, &id).await?;
    let customer = crate::store::customers::get(&state.db, caller.organization_id, job.customer_id).await?;
    // The board types times on the office's clock and says so; the job
    // page types them in the customer's time (and shows a refusal in it).
    let customer_zone = crate::store::customers::zone(&customer)?;
    let zone = match field("times_in").as_deref() {
        Some("office") => {
            let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
            crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?
        }
        _ => customer_zone,
    };
    let mut p = Problems::default();
    let staff_values: Vec<&str> = pairs.iter().filter(|(n, _)| n == "staff_ids").map(|(_, v)| v.as_str()).collect();
    let staff_ids: Vec<i64> = staff_values.iter().filter_map(|v| v.trim().parse().ok()).collect();
    if staff_ids.is_empty() || staff_ids.len() != staff_values.len() {
        p.add("staff_ids", "choose at least one person");
    }
    let kind = field("kind").unwrap_or_default();
    let kind = p.check(
        "kind",
        crate::domain::visit::VisitKind::parse(&kind)
            .ok_or(format!("'{kind}' is not one of {}", crate::domain::visit::VisitKind::choices())),
    );
    let (window_start, window_end) = typed_window(
        &mut p,
        zone,
        &field("date").unwrap_or_default(),
        &field("start").unwrap_or_default(),
        &field("end").unwrap_or_default(),
    );
    let duration = field("duration").unwrap_or_default();
    let duration = p.check(
        "duration_minutes",
        duration
            .parse::<i32>()
            .ok()
            .filter(|d| (1..=crate::store::visits::MAX_DURATION_MINUTES).contains(d))
            .ok_or(format!("must be whole minutes between 1 and {}", crate::store::visits::MAX_DURATION_MINUTES)),
    );
    let refused = |status: StatusCode, error: String| {
        let shown = |t: Option<DateTime<Utc>>, format: &str, typed: &str| {
            t.map(|t| customer_zone.local(t).format(format).to_string()).or_else(|| field(typed))
        };
        let typed = json!({"booking": {
            "staff_ids": staff_ids, "kind": field("kind"), "date": shown(window_start, "%Y-%m-%d", "date"),
            "start": shown(window_start, "%H:%M", "start"), "end": shown(window_end, "%H:%M", "end"),
            "duration": field("duration"), "error": error,
        }});
        (status, typed)
    };
    let (status, typed) = match (p.0.is_empty(), kind, window_start, window_end, duration) {
        (true, Some(kind), Some(window_start), Some(window_end), Some(duration_minutes)) => {
            let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
            let new = crate::store::visits::NewVisit {
                kind,
                staff_ids: staff_ids.clone(),
                window_start,
                window_end,
                duration_minutes,
            };
            match crate::usecases::visits::book(&state.db, &state.notify, &org, job.id, new, state.clock.now()).await {
                Ok(_) => {
                    // Booked from the board: back to the board's day.
                    let back = field("back").filter(|b| b.starts_with("/app/board"));
                    let to = back.unwrap_or_else(|| format!("/app/jobs/{}", job.id));
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(Error::Conflict { message, details, .. }) => {
                    refused(StatusCode::CONFLICT, format!("{message}{}", conflict_windows(&details)))
                }
                Err(Error::Validation(fields)) => {
                    refused(StatusCode::UNPROCESSABLE_ENTITY, Problems(fields).to_string())
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => refused(StatusCode::UNPROCESSABLE_ENTITY, p.to_string()),
    };
    job_view(&state, &who, job, status, typed).await
}

/// An arrival window typed into a form in `zone`'s local time (a date,
/// and start and end as HH:MM), each problem named (`date`,
/// `window_start`, `window_end`): the booking form's and a visit's page's.
pub(super) fn typed_window(
    p: &mut Problems,
    zone: Zone,
    date: &str,
    start: &str,
    end: &str,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let date = p.check(
        "date",
        chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map_err(|_| format!("'{date}' is not a date (YYYY-MM-DD)")),
    );
    let mut at = |name: &str, typed: &str| {
        let time = p.check(
            name,
            chrono::NaiveTime::parse_from_str(typed.trim(), "%H:%M")
                .map_err(|_| format!("'{typed}' is not a time of day (HH:MM, 24-hour)")),
        )?;
        p.check(name, zone.at_local(date?, time))
    };
    (at("window_start", start), at("window_end", end))
}

/// The windows of the visits a booking conflicts with, in their person's
/// time, e.g. ` (visit 3: Sat Nov 21, 9:00 AM to 11:00 AM)`.
fn conflict_windows(details: &Value) -> String {
    let local = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok();
    let windows: Vec<String> = details["conflicting_visits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let (start, end) = (local(&v["window_start_local"])?, local(&v["window_end_local"])?);
            Some(format!("visit {}: {} to {}", v["id"], start.format("%a %b %-d, %-I:%M %p"), end.format("%-I:%M %p")))
        })
        .collect();
    if windows.is_empty() {
        String::new()
    } else {
        format!(" ({})", windows.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_name_each_visit_and_its_window_in_local_time() {
        let details = json!({"conflicting_visits": [
            {"id": 3, "window_start_local": "2026-11-21T09:00:00-05:00", "window_end_local": "2026-11-21T11:00:00-05:00"},
        ]});
        assert_eq!(conflict_windows(&details), " (visit 3: Sat Nov 21, 9:00 AM to 11:00 AM)");
        assert_eq!(conflict_windows(&json!({})), "");
    }
}
