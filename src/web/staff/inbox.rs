//! The unmatched inbox for the office (`/app/inbox`): texts to our number
//! from numbers that are nobody's we know, newest first, each with "file
//! under a job" and "file under a customer".

use super::extract::{SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::error::Error;
use crate::state::AppState;
use crate::usecases::conversations::{self, FileUnder};
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// Texts and choices listed.
const SHOWN: u64 = 100;
const CHOICES: u64 = 300;

#[derive(Deserialize, Default)]
pub(super) struct InboxQuery {
    filed: Option<String>,
}

pub(super) async fn inbox_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    inbox_view(&state, &signed_in, StatusCode::OK, None, q.filed).await
}

async fn inbox_view(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    error: Option<(i64, String)>,
    filed: Option<String>,
) -> Result<Response, PageError> {
    let SignedIn { me, caller, .. } = signed_in;
    if !caller.role.can_dispatch() {
        return Ok(problem(state, StatusCode::FORBIDDEN, "Only the office files customers' texts."));
    }
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let texts = conversations::unmatched(&state.db, org.id, SHOWN).await?;
    let (jobs, customers) = conversations::jobs_and_customers(&state.db, org.id, CHOICES).await?;
    let items: Vec<Value> = texts
        .iter()
        .map(|t| {
            let err = error.as_ref().filter(|(id, _)| *id == t.id).map(|(_, e)| e.clone());
            json!({"id": t.id, "from": t.from_number, "body": t.body, "kind": t.kind.as_str(),
                   "when": super::outbox::local(zone, t.received_at), "error": err})
        })
        .collect();
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|(j, name)| {
            json!({"id": j.id, "label": format!("Job {} · {} · {}{}", j.id, name, j.title,
                if j.status.is_open() { String::new() } else { format!(" ({})", j.status.as_str().replace('_', " ")) })})
        })
        .collect();
    let customers: Vec<Value> = customers
        .iter()
        .map(|c| json!({"id": c.id, "label": format!("{}{}", c.name, c.phone.as_deref().map(|p| format!(" · {p}")).unwrap_or_default())}))
        .collect();
    Ok(screen(
        state,
        signed_in,
        &org.name,
        "/app/inbox",
        "staff_inbox.html",
        status,
        json!({"items": items, "jobs": jobs, "customers": customers, "filed": filed, "zone": zone.name()}),
    ))
}

#[derive(Deserialize)]
pub(super) struct AttachForm {
    csrf: Option<String>,
    job_id: Option<String>,
    customer_id: Option<String>,
}

impl WithCsrf for AttachForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// Files a text (`usecases::conversations::attach`) and opens the job's
/// conversation it joined; a refusal shows the inbox again with why.
pub(super) async fn attach(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<AttachForm>,
) -> Result<Response, PageError> {
    if !signed_in.caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office files customers' texts."));
    }
    let Some(id) = crate::web::id_in_path(&id) else {
        return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such text."));
    };
    let number = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| v.parse::<i64>());
    let to = match (number(&f.job_id), number(&f.customer_id)) {
        (Some(Ok(j)), None) => FileUnder::Job(j),
        (None, Some(Ok(c))) => FileUnder::Customer(c),
        _ => {
            let why = "Choose a job or a customer to file this text under.".to_string();
            return inbox_view(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, Some((id, why)), None).await;
        }
    };
    match conversations::attach(&state.db, &state.notify, signed_in.caller.organization_id, id, to, state.clock.now())
        .await
    {
        Ok(t) => match t.job_id {
            Some(job) => Ok(Redirect::to(&format!("/app/jobs/{job}#conversation")).into_response()),
            None => Ok(Redirect::to(&format!("/app/inbox?filed={}", t.id)).into_response()),
        },
        Err(Error::Validation(fields)) => {
            let why = crate::error::Problems(fields).to_string();
            inbox_view(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, Some((id, why)), None).await
        }
        Err(Error::Conflict { message, .. }) => {
            inbox_view(&state, &signed_in, StatusCode::CONFLICT, Some((id, message)), None).await
        }
        Err(e) => Err(e.into()),
    }
}
