//! A job's conversation on its page: every message to and from the
//! customer in order, with its state (a partial, `staff_conversation.html`,
//! that the job page includes), and the office's reply box, which goes
//! through the outbox like every message.

use super::extract::{SignedForm, SignedIn, WithCsrf};
use super::problem;
use crate::auth::Caller;
use crate::domain::people::Channel;
use crate::entities::job;
use crate::error::Error;
use crate::state::AppState;
use crate::usecases::conversations::{self, Entry};
use crate::web::PageError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// How many of the latest messages the job page shows (two updates a day
/// add up); the outbox has the rest.
const THREAD_SHOWN: usize = 60;

/// The conversation part of the job page: the thread (newest last), and
/// for the office the channels a reply can take now.
pub(super) async fn section(state: &AppState, caller: &Caller, job: &job::Model) -> Result<Value, Error> {
    let customer = crate::store::customers::get(&state.db, caller.organization_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let thread =
        conversations::thread(&state.db, caller.organization_id, job, crate::access::field_staff(caller)).await?;
    let older = thread.len().saturating_sub(THREAD_SHOWN);
    let items: Vec<Value> = thread
        .into_iter()
        .skip(older)
        .map(|e| match e {
            Entry::Out { message, resent_as } => {
                let mut v = super::outbox::message_view(&message, zone, resent_as);
                v["direction"] = json!("outbound");
                v["other_job"] = json!(message.job_id.is_some_and(|j| j != job.id));
                v
            }
            Entry::In(t) => json!({
                "direction": "inbound", "id": t.id, "body": t.body, "kind": t.kind.as_str(),
                "when": super::outbox::local(zone, t.received_at), "from": t.from_number,
                "job_id": t.job_id, "other_job": t.job_id.is_some_and(|j| j != job.id),
            }),
        })
        .collect();
    let office = caller.role.can_dispatch();
    let channels: Vec<Value> = crate::messages::compose::addresses(&customer)
        .into_iter()
        .map(|(c, address, blocked)| {
            json!({"value": c.as_str(), "label": if c == Channel::Sms { "Text" } else { "Email" },
                   "address": address, "blocked": blocked, "checked": blocked.is_none()})
        })
        .collect();
    let reachable = channels.iter().any(|c| c["blocked"].is_null());
    Ok(json!({"items": items, "older": older, "reply": office, "channels": channels, "reachable": reachable,
              "back": format!("/app/jobs/{}#conversation", job.id)}))
}

#[derive(Deserialize)]
pub(super) struct ReplyForm {
    csrf: Option<String>,
    body: Option<String>,
    #[serde(default)]
    sms: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl WithCsrf for ReplyForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The office answers from the job page: the same rules and limits as
/// `POST /api/v1/jobs/{id}/messages`, then back to the thread.
pub(super) async fn reply(
    State(state): State<AppState>,
    SignedIn { caller, .. }: SignedIn,
    super::extract::ClientIp(ip): super::extract::ClientIp,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<ReplyForm>,
) -> Result<Response, PageError> {
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office writes to customers."));
    }
    let Some(job_id) = crate::web::id_in_path(&id) else {
        return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such job."));
    };
    let job = crate::store::jobs::get(&state.db, caller.organization_id, job_id).await?;
    let mut p = crate::error::Problems::default();
    let body = crate::error::required_text(&mut p, "body", f.body, 1000);
    let mut channels = Vec::new();
    if f.sms.is_some() {
        channels.push(Channel::Sms);
    }
    if f.email.is_some() {
        channels.push(Channel::Email);
    }
    if channels.is_empty() {
        p.add("channels", "tick Text, Email or both");
    }
    if !p.0.is_empty() {
        let text = format!("Your message was not sent: {}. Go back and try again.", p);
        return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, &text));
    }
    let admit = |customer: &crate::entities::customer::Model| {
        state
            .limits
            .hit(&[
                (&format!("message:customer:{}", customer.id), crate::limits::MESSAGE_PER_CUSTOMER),
                (&format!("message:ip:{ip}"), crate::limits::MESSAGE_PER_IP),
            ])
            .map_err(Error::TooManyRequests)
    };
    match conversations::reply(
        &state.db,
        &state.notify,
        caller.organization_id,
        job.id,
        body.as_deref().unwrap_or_default(),
        Some(channels),
        caller.staff_id,
        admit,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => {}
        Err(Error::Validation(fields)) => {
            let text = format!("Your message was not sent: {}.", crate::error::Problems(fields));
            return Ok(problem(&state, StatusCode::UNPROCESSABLE_ENTITY, &text));
        }
        Err(e) => return Err(e.into()),
    }
    if state.settings.notifier_enabled {
        let s = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::notify::deliver(&s.notifier()).await {
                tracing::error!(error = %e, "delivering a reply failed");
            }
        });
    }
    Ok(Redirect::to(&format!("/app/jobs/{}#conversation", job.id)).into_response())
}
