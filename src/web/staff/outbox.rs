//! The outbox for the office (`/app/outbox`): every message we planned,
//! newest first, filtered by kind, channel, state and job; each with what
//! the customer reads (the text, the email in a sandboxed frame), its
//! attempts and last error, and in plain words why it waits (quiet hours
//! until …), was superseded or failed; and for failed and uncertain ones an
//! explicit, audited "Send again".

use super::extract::{SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::people::{Channel, Role};
use crate::domain::time::Zone;
use crate::entities::message;
use crate::error::Problems;
use crate::state::AppState;
use crate::usecases::conversations::{self, OutboxFilter};
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Messages per page.
const PAGE: u64 = 30;

/// "Sat Nov 21, 8:00 AM EST"
pub(super) fn local(zone: Zone, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone.0).format("%a %b %-d, %-I:%M %p %Z").to_string()
}

/// Why a message is where it is, in words a dispatcher can act on.
pub(super) fn why(m: &message::Model, zone: Zone) -> String {
    let err = m.last_error.clone().unwrap_or_default();
    match m.state {
        MessageState::Held => format!(
            "Held for quiet hours until {} (the customer's time); it goes out then by itself.",
            local(zone, m.next_attempt_at)
        ),
        MessageState::Superseded => match m.expires_at {
            Some(e) => format!("Superseded: {err}. It was only worth sending until {}.", local(zone, e)),
            None => format!("Superseded: {err}."),
        },
        MessageState::Uncertain => format!(
            "Uncertain: the provider did not answer in time ({err}), so it may or may not have arrived. We never send it again by ourselves."
        ),
        MessageState::Failed => format!("Failed: {err}"),
        MessageState::Retry => format!("Retrying at {}: {err}", local(zone, m.next_attempt_at)),
        MessageState::Suppressed => format!("Not sent: {err}"),
        MessageState::NoProvider => format!("Not sent: {err}. The customer would have read what is below."),
        MessageState::Pending => format!("Waiting to go out (due {}).", local(zone, m.due_at)),
        MessageState::Sending => "Being sent now.".into(),
        MessageState::Sent => {
            let when = m.sent_at.map(|t| local(zone, t)).unwrap_or_default();
            match m.provider_status {
                Some(s) => format!("Sent {when}; the carrier says {s}."),
                None => format!("Sent {when}."),
            }
        }
    }
}

fn label(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// One message as the pages show it (the outbox and a job's conversation).
pub(super) fn message_view(m: &message::Model, zone: Zone, resent_as: Option<i64>) -> Value {
    let resendable = matches!(m.state, MessageState::Failed | MessageState::Uncertain)
        && resent_as.is_none()
        && m.kind != MessageKind::PasswordReset;
    let segments = match (m.segments, m.encoding) {
        (Some(n), Some(e)) => Some(format!(
            "{n} segment{} · {}",
            if n == 1 { "" } else { "s" },
            if e == crate::domain::messaging::SmsEncoding::Gsm7 { "GSM-7" } else { "UCS-2" }
        )),
        _ => None,
    };
    json!({
        "id": m.id, "job_id": m.job_id, "kind": label(m.kind.as_str()), "kind_value": m.kind.as_str(),
        "channel": if m.channel == Channel::Sms { "Text" } else { "Email" },
        "recipient": m.recipient, "state": m.state.as_str().replace('_', " "), "state_value": m.state.as_str(),
        "when": local(zone, m.created_at), "why": why(m, zone), "attempts": m.attempts,
        "last_error": m.last_error, "subject": m.subject, "body": m.body_text, "html": m.body_html,
        "segments": segments, "resendable": resendable, "resent_as": resent_as, "resent_from": m.resent_from_id,
    })
}

#[derive(Deserialize, Default)]
pub(super) struct OutboxQuery {
    kind: Option<String>,
    channel: Option<String>,
    state: Option<String>,
    job: Option<String>,
    before: Option<String>,
    resent: Option<String>,
}

pub(super) async fn outbox_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, PageError> {
    let SignedIn { me, caller, .. } = &signed_in;
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office sees the outbox."));
    }
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let org_zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let mut p = Problems::default();
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let kind = given(&q.kind).and_then(|v| {
        p.check("kind", MessageKind::parse(&v).ok_or(format!("'{v}' is not one of {}", MessageKind::choices())))
    });
    let channel = given(&q.channel)
        .and_then(|v| p.check("channel", Channel::parse(&v).ok_or(format!("'{v}' is not one of sms, email"))));
    let st = given(&q.state).and_then(|v| {
        p.check("state", MessageState::parse(&v).ok_or(format!("'{v}' is not one of {}", MessageState::choices())))
    });
    let job_id =
        given(&q.job).and_then(|v| p.check("job", v.parse::<i64>().map_err(|_| format!("'{v}' is not a job number"))));
    let before = given(&q.before).and_then(|v| v.parse::<i64>().ok());
    let error = (!p.0.is_empty()).then(|| p.to_string());
    let filter = OutboxFilter { kind, channel, state: st, job_id, before, admin: caller.role == Role::Admin };
    let (rows, resent) = if error.is_none() {
        conversations::outbox(&state.db, org.id, &filter, PAGE).await?
    } else {
        (Vec::new(), HashMap::new())
    };
    let customers = crate::store::customers::by_ids(&state.db, rows.iter().filter_map(|m| m.customer_id)).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|m| {
            let c = m.customer_id.and_then(|id| customers.get(&id));
            let zone = c.and_then(|c| Zone::parse(&c.timezone).ok()).unwrap_or(org_zone);
            let mut v = message_view(m, zone, resent.get(&m.id).copied());
            v["customer"] = json!(c.map(|c| c.name.clone()));
            v
        })
        .collect();
    let older = (rows.len() as u64 == PAGE).then(|| rows.last().map(|m| m.id)).flatten();
    let keep = |k: &str, v: &Option<String>| given(v).map(|v| format!("&{k}={}", urlencoding(&v))).unwrap_or_default();
    let query = format!(
        "{}{}{}{}",
        keep("kind", &q.kind),
        keep("channel", &q.channel),
        keep("state", &q.state),
        keep("job", &q.job)
    );
    let kinds: Vec<Value> = MessageKind::ALL
        .iter()
        .filter(|k| caller.role == Role::Admin || **k != MessageKind::PasswordReset)
        .map(|k| json!({"value": k.as_str(), "label": label(k.as_str()), "selected": kind == Some(*k)}))
        .collect();
    let states: Vec<Value> = MessageState::ALL
        .iter()
        .map(|s| json!({"value": s.as_str(), "label": s.as_str().replace('_', " "), "selected": st == Some(*s)}))
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(screen(
        &state,
        &signed_in,
        &org.name,
        "/app/outbox",
        "staff_outbox.html",
        status,
        json!({
            "items": items, "error": error, "kinds": kinds, "states": states,
            "channel": channel.map(|c| c.as_str()), "job": job_id, "older": older, "query": query,
            "filtered": kind.is_some() || channel.is_some() || st.is_some() || job_id.is_some(),
            "resent": given(&q.resent),
            "back": format!("/app/outbox?{}", query.trim_start_matches('&')),
        }),
    ))
}

/// Percent-encodes a query value (the filters are plain words and numbers).
fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct ResendForm {
    csrf: Option<String>,
    back: Option<String>,
}

impl WithCsrf for ResendForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// "Send again", as the office chose (`usecases::conversations::resend`):
/// back to where the button was, saying which message went again.
pub(super) async fn resend(
    State(state): State<AppState>,
    SignedIn { caller, .. }: SignedIn,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<ResendForm>,
) -> Result<Response, PageError> {
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office sends messages again."));
    }
    let Some(id) = crate::web::id_in_path(&id) else {
        return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such message."));
    };
    let m = match crate::usecases::conversations::resend(
        &state.db,
        &state.notify,
        caller.organization_id,
        id,
        caller.staff_id,
        state.clock.now(),
    )
    .await
    {
        Ok(m) => m,
        Err(e) => return Ok(super::refused(&state, e, "There is no such message.")),
    };
    if state.settings.notifier_enabled {
        let s = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::notify::deliver(&s.notifier()).await {
                tracing::error!(error = %e, "delivering a resent message failed");
            }
        });
    }
    let back = f.back.filter(|b| b.starts_with("/app/") && !b.contains("//")).unwrap_or_else(|| "/app/outbox?".into());
    let (path, anchor) = match back.split_once('#') {
        Some((p, a)) => (p.to_string(), format!("#{a}")),
        None => (back.clone(), String::new()),
    };
    let sep = if path.contains('?') {
        if path.ends_with('?') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    Ok(Redirect::to(&format!("{path}{sep}resent={}{anchor}", m.id)).into_response())
}
