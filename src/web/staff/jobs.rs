//! The office's jobs (`/app/jobs`): newest first, narrowed by status or by
//! what needs the office (at risk, awaiting the customer's answer on an
//! estimate, no visit booked).

use super::extract::Office;
use super::screen;
use crate::domain::job::JobStatus;
use crate::state::AppState;
use crate::store::jobs::Watch;
use crate::web::PageError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

/// Jobs on one page.
const PAGE: u64 = 50;

/// The list's narrowing choices: (value, label).
const WATCHES: &[(&str, &str, Watch)] = &[
    ("", "All jobs", Watch::All),
    ("at_risk", "At risk", Watch::AtRisk),
    ("awaiting_approval", "Awaiting estimate approval", Watch::AwaitingApproval),
    ("no_visit", "No visit booked", Watch::NoVisit),
];

#[derive(Deserialize)]
pub(super) struct JobsQuery {
    status: Option<String>,
    show: Option<String>,
    before: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Office(who): Office,
    Query(q): Query<JobsQuery>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let show = q.show.as_deref().unwrap_or_default().trim().to_string();
    let status_text = q.status.as_deref().unwrap_or_default().trim().to_string();
    // A choice the page never offered is said, not ignored.
    let mut problems = Vec::new();
    let watch = match WATCHES.iter().find(|(v, _, _)| *v == show) {
        Some((_, _, w)) => *w,
        None => {
            problems.push(format!("“{show}” is not a list we keep; showing all jobs."));
            Watch::All
        }
    };
    let status = match status_text.as_str() {
        "" => None,
        s => match JobStatus::parse(s) {
            Some(st) => Some(st),
            None => {
                problems.push(format!("“{s}” is not a job status; showing every status."));
                None
            }
        },
    };
    let before = q.before.as_deref().and_then(|b| b.trim().parse::<i64>().ok());
    let mut rows = crate::store::jobs::office_list(&state.db, org.id, status, watch, before, PAGE + 1).await?;
    let more = rows.len() as u64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = more.then(|| rows.last().map(|(j, _)| j.id)).flatten();
    let jobs: Vec<Value> = rows
        .iter()
        .map(|(j, c)| {
            json!({"id": j.id, "title": j.title, "status": j.status.as_str().replace('_', " "),
                   "customer": c.as_ref().map(|c| c.name.clone()), "customer_id": j.customer_id,
                   "opened": zone.local(j.created_at).format("%b %-d").to_string()})
        })
        .collect();
    let watches: Vec<Value> =
        WATCHES.iter().map(|(v, label, _)| json!({"value": v, "label": label, "selected": *v == show})).collect();
    let statuses: Vec<Value> = JobStatus::ALL
        .iter()
        .map(|s| json!({"value": s.as_str(), "label": s.as_str().replace('_', " "), "selected": Some(*s) == status}))
        .collect();
    let mut keep = Vec::new();
    if !show.is_empty() && watch != Watch::All {
        keep.push(format!("show={show}"));
    }
    if let Some(s) = status {
        keep.push(format!("status={}", s.as_str()));
    }
    Ok(screen(
        &state,
        &who,
        &org.name,
        "/app/jobs",
        "staff_jobs.html",
        StatusCode::OK,
        json!({"jobs": jobs, "watches": watches, "statuses": statuses, "problems": problems,
               "next": next, "first_page": before.is_none(), "keep": keep.join("&"),
               "narrowed": watch != Watch::All || status.is_some()}),
    ))
}
