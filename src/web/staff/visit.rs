//! One visit for the office (`/app/visits/{id}`): move it to another
//! window, give it to other people, or cancel it, with the reason the
//! customer is told. The same rules as PATCH /api/v1/visits/{id} and the
//! board (`usecases::visits`), and the same plain-words refusal. Also the
//! job's close and cancel (`/app/jobs/{id}/status`).

use super::extract::{Office, SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::domain::job::JobStatus;
use crate::domain::visit::VisitStatus;
use crate::error::{Error, Problems};
use crate::messages::compose::window_phrase;
use crate::state::AppState;
use crate::store::visits::{VisitChanges, VisitWithStaff};
use crate::web::PageError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// The visit behind `/app/visits/{id}…` in the office's organization.
async fn visit_in(state: &AppState, org_id: i64, id: &str) -> Result<VisitWithStaff, PageError> {
    let none = || PageError::from(problem(state, StatusCode::NOT_FOUND, "There is no such visit."));
    let id = crate::web::id_in_path(id).ok_or_else(none)?;
    match crate::store::visits::get(&state.db, org_id, id).await {
        Ok(v) => Ok(v),
        Err(Error::NotFound) => Err(none()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let v = visit_in(&state, who.caller.organization_id, &id).await?;
    view(&state, &who, v, StatusCode::OK, json!({})).await
}

/// The visit with `status`; `form` holds what was typed into a refused
/// form and why.
async fn view(
    state: &AppState,
    who: &SignedIn,
    v: VisitWithStaff,
    status: StatusCode,
    form: Value,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let job = crate::store::jobs::get(&state.db, org.id, v.visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let staff = crate::store::staff::all(&state.db, org.id).await?;
    let typed = &form["change"];
    let chosen: Vec<i64> = match typed["staff_ids"].as_array() {
        Some(ids) => ids.iter().filter_map(Value::as_i64).collect(),
        None => v.staff_ids.clone(),
    };
    let people: Vec<Value> = staff
        .iter()
        .filter(|p| p.role.can_visit())
        .map(|p| json!({"id": p.id, "name": p.name, "role": p.role, "checked": chosen.contains(&p.id)}))
        .collect();
    let who_goes: Vec<&str> = staff.iter().filter(|p| v.staff_ids.contains(&p.id)).map(|p| p.name.as_str()).collect();
    let (start, end) = (zone.local(v.visit.window_start), zone.local(v.visit.window_end));
    let text = |k: &str, default: String| typed[k].as_str().map(str::to_string).unwrap_or(default);
    Ok(screen(
        state,
        who,
        &org.name,
        "/app/jobs",
        "staff_visit.html",
        status,
        json!({
            "v": {"id": v.visit.id, "kind": v.visit.kind.as_str().replace('_', "-"),
                  "window": window_phrase(zone, v.visit.window_start, v.visit.window_end),
                  "status": v.visit.status.as_str().replace('_', " "), "who": who_goes.join(", "),
                  "changeable": v.visit.status == VisitStatus::Scheduled,
                  "cancellable": v.visit.status.can_move_to(VisitStatus::Cancelled)},
            "job": {"id": job.id, "title": job.title}, "customer": customer.name, "zone": zone.name(),
            "change": {"date": text("date", start.date_naive().to_string()), "start": text("start", start.format("%H:%M").to_string()),
                       "end": text("end", end.format("%H:%M").to_string()), "reason": text("reason", String::new()),
                       "error": typed["error"], "people": people},
            "cancel": form["cancel"],
        }),
    ))
}

/// Moving or reassigning a visit, in the customer's local time.
pub(super) async fn change(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
    SignedForm(pairs): SignedForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let v = visit_in(&state, org.id, &id).await?;
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let staff_values: Vec<&str> = pairs.iter().filter(|(n, _)| n == "staff_ids").map(|(_, v)| v.as_str()).collect();
    let staff_ids: Vec<i64> = staff_values.iter().filter_map(|v| v.trim().parse().ok()).collect();
    let job = crate::store::jobs::get(&state.db, org.id, v.visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let mut p = Problems::default();
    if staff_ids.is_empty() || staff_ids.len() != staff_values.len() {
        p.add("staff_ids", "choose at least one person");
    }
    let (window_start, window_end) =
        super::job::typed_window(&mut p, zone, &field("date"), &field("start"), &field("end"));
    let reason = field("reason");
    let refused = |status: StatusCode, error: String| {
        json!({"change": {"staff_ids": staff_ids, "date": field("date"), "start": field("start"), "end": field("end"),
                          "reason": field("reason"), "error": error}, "status": status.as_u16()})
    };
    let form = match (p.0.is_empty(), window_start, window_end) {
        (true, Some(window_start), Some(window_end)) => {
            let same_people = {
                let (mut a, mut b) = (staff_ids.clone(), v.staff_ids.clone());
                a.sort_unstable();
                b.sort_unstable();
                a == b
            };
            let changes = VisitChanges {
                window_start: Some(window_start),
                window_end: Some(window_end),
                duration_minutes: None,
                staff_ids: (!same_people).then(|| staff_ids.clone()),
                reason: Some(reason.clone()).filter(|r| !r.is_empty()),
            };
            match crate::usecases::visits::update(
                &state.db,
                &state.notify,
                &org,
                v.visit.id,
                changes,
                state.clock.now(),
            )
            .await
            {
                Ok(_) => return Ok(Redirect::to(&format!("/app/jobs/{}", job.id)).into_response()),
                Err(Error::Conflict { code, message, details }) => {
                    let text = match code {
                        "schedule_conflict" => {
                            super::board::explain_conflict(&state, &org, zone, &details).await?.unwrap_or(message)
                        }
                        _ => message,
                    };
                    refused(StatusCode::CONFLICT, format!("{text} Nothing was changed."))
                }
                Err(Error::Validation(fields)) => {
                    refused(StatusCode::UNPROCESSABLE_ENTITY, Problems(fields).to_string())
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => refused(StatusCode::UNPROCESSABLE_ENTITY, p.to_string()),
    };
    let status = StatusCode::from_u16(form["status"].as_u64().unwrap_or(422) as u16).unwrap_or(StatusCode::CONFLICT);
    view(&state, &who, v, status, form).await
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    csrf: Option<String>,
    reason: Option<String>,
    /// For the job: `completed` or `cancelled`.
    to: Option<String>,
}

impl WithCsrf for ReasonForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The most a reason may say (the API's limit).
const REASON_MAX: usize = 300;

fn reason_of(p: &mut Problems, f: &ReasonForm) -> Option<String> {
    crate::error::optional_text(p, "reason", f.reason.clone().filter(|r| !r.trim().is_empty()), REASON_MAX)
}

/// Cancelling a visit: the customer is told, with the reason if given.
pub(super) async fn cancel(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<ReasonForm>,
) -> Result<Response, PageError> {
    let org_id = who.caller.organization_id;
    let v = visit_in(&state, org_id, &id).await?;
    let mut p = Problems::default();
    let reason = reason_of(&mut p, &f);
    let error = if !p.0.is_empty() {
        p.to_string()
    } else {
        let now = state.clock.now();
        match crate::usecases::visits::set_status(
            &state.db,
            &state.notify,
            org_id,
            v.visit.id,
            VisitStatus::Cancelled,
            None,
            reason.as_deref(),
            None,
            now,
        )
        .await
        {
            Ok(_) => return Ok(Redirect::to(&format!("/app/jobs/{}", v.visit.job_id)).into_response()),
            Err(Error::Conflict { message, .. }) => message,
            Err(Error::Validation(fields)) => Problems(fields).to_string(),
            Err(e) => return Err(e.into()),
        }
    };
    let form = json!({"cancel": {"error": error, "reason": f.reason}});
    view(&state, &who, v, StatusCode::CONFLICT, form).await
}

/// Closing a job (completed) or cancelling it; both stop its updates, and a
/// cancellation tells the customer. A job with visits still booked is not
/// closed: the page says which, so the office decides about them.
pub(super) async fn job_status(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<ReasonForm>,
) -> Result<Response, PageError> {
    let org_id = who.caller.organization_id;
    let none = || problem(&state, StatusCode::NOT_FOUND, "There is no such job.");
    let Some(job_id) = crate::web::id_in_path(&id) else { return Ok(none()) };
    let job = match crate::store::jobs::get(&state.db, org_id, job_id).await {
        Ok(j) => j,
        Err(Error::NotFound) => return Ok(none()),
        Err(e) => return Err(e.into()),
    };
    let mut p = Problems::default();
    let reason = reason_of(&mut p, &f);
    let to = match f.to.as_deref().map(str::trim) {
        Some("completed") => Some(JobStatus::Completed),
        Some("cancelled") => Some(JobStatus::Cancelled),
        other => {
            p.add("to", format!("'{}' is not completed or cancelled", other.unwrap_or_default()));
            None
        }
    };
    let back = format!("/app/jobs/{}", job.id);
    if !p.0.is_empty() {
        let form = json!({"close": {"error": p.to_string()}});
        return Ok(super::job::job_view(&state, &who, job, StatusCode::UNPROCESSABLE_ENTITY, form).await?);
    }
    let edit = crate::usecases::jobs::JobEdit { status: to, reason, ..Default::default() };
    match crate::usecases::jobs::change(&state.db, &state.notify, org_id, job.id, edit, state.clock.now()).await {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        Err(Error::Conflict { code: "open_visits", details, .. }) => {
            let ids: Vec<String> = details["open_visit_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .map(|id| format!("visit {id}"))
                .collect();
            let text = format!(
                "This job still has visits booked ({}). Cancel them or mark them done first; nothing was changed.",
                ids.join(", ")
            );
            let form = json!({"close": {"error": text}});
            Ok(super::job::job_view(&state, &who, job, StatusCode::CONFLICT, form).await?)
        }
        Err(Error::Conflict { message, .. }) => {
            let form = json!({"close": {"error": format!("{message}; nothing was changed.")}});
            Ok(super::job::job_view(&state, &who, job, StatusCode::CONFLICT, form).await?)
        }
        Err(e) => Err(e.into()),
    }
}
