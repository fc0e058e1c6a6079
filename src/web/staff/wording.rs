//! The message wording editor (`/app/wording`): for each message kind the
//! company's own wording of the text, the email's subject, plain text and
//! HTML, beside a live preview for a real job's customer (the text with its
//! segments and encoding, the email in a sandboxed frame). Admins save
//! (a template that does not compile is refused with its line; nothing is
//! saved) and restore the defaults; dispatchers read and preview.

use super::extract::{SignedForm, SignedIn};
use super::{problem, screen};
use crate::domain::messaging::{MessageKind, SmsEncoding};
use crate::domain::people::Role;
use crate::error::Error;
use crate::messages::templates::Part;
use crate::state::AppState;
use crate::usecases::wording;
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// This page's content policy: its own script, and email previews in
/// sandboxed frames that may show the company's images.
const POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// When each kind is sent, in a line.
fn when_sent(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Introduction => "When a visit is booked, or someone is added to it: who is coming, and when.",
        MessageKind::StatusUpdate => {
            "At the company's update times, in the customer's zone, for every open job: news, or \"no news yet\"."
        }
        MessageKind::Reminder => "The day before a visit that was booked earlier than that.",
        MessageKind::OnMyWay => "When the crew taps On my way, with their arrival time.",
        MessageKind::Reply => "Wraps what the office writes to a customer from a job (the body is the office's own).",
        MessageKind::PricingBreakdown => "When an estimate is sent or revised: the prices, and what changed.",
        MessageKind::RunningLate => "When we missed a window: our apology, and a new window or a call.",
        MessageKind::ThankYou => "When the job is completed: thanks, and a one-tap rating.",
        MessageKind::FollowUpResolution => "When a follow-up opened by a low rating is closed: what we did.",
        MessageKind::VisitRescheduled => "When the office moves a visit: the old and the new window.",
        MessageKind::VisitCancelled => "When the office cancels a visit: what happens next.",
        MessageKind::VisitReassigned => "When someone else is coming: who, and who is not.",
        MessageKind::JobCancelled => "When the office cancels the job, with its visits.",
        MessageKind::DispatcherAlert | MessageKind::PasswordReset => "",
    }
}

fn label(s: &str) -> String {
    if s == "follow_up_resolution" {
        return "Follow-up closed".into();
    }
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

fn part_label(p: Part) -> &'static str {
    match p {
        Part::Sms => "Text message",
        Part::Subject => "Email subject",
        Part::EmailText => "Email, plain text",
        Part::EmailHtml => "Email, HTML",
    }
}

#[derive(Deserialize, Default)]
pub(super) struct EditorQuery {
    kind: Option<String>,
    job: Option<String>,
    saved: Option<String>,
}

pub(super) async fn editor(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<EditorQuery>,
) -> Result<Response, PageError> {
    let kind = q.kind.as_deref().and_then(|k| wording::parse_kind(k).ok()).unwrap_or(MessageKind::StatusUpdate);
    let job = q.job.as_deref().and_then(|j| j.parse::<i64>().ok());
    let notice = q.saved.map(|s| match s.as_str() {
        "reset" => "The default wording is back; the next message uses it.".to_string(),
        _ => "Saved. The next message of this kind uses this wording.".to_string(),
    });
    view(&state, &signed_in, kind, job, HashMap::new(), HashMap::new(), notice, StatusCode::OK).await
}

/// The editor for `kind`: `typed` holds unsaved drafts by part (shown and
/// previewed), `errors` why a part was refused.
#[allow(clippy::too_many_arguments)]
async fn view(
    state: &AppState,
    signed_in: &SignedIn,
    kind: MessageKind,
    job: Option<i64>,
    typed: HashMap<Part, String>,
    mut errors: HashMap<String, String>,
    notice: Option<String>,
    mut status: StatusCode,
) -> Result<Response, PageError> {
    let SignedIn { me, caller, .. } = signed_in;
    if !caller.role.can_dispatch() {
        return Ok(problem(state, StatusCode::FORBIDDEN, "Only the office sees the message wording."));
    }
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let all = wording::list(&state.db, &state.notify.templates, org.id).await?;
    let Some(this) = all.iter().find(|k| k.kind == kind) else {
        return Ok(problem(state, StatusCode::NOT_FOUND, "There is no such message."));
    };
    let (jobs, _) = crate::usecases::conversations::jobs_and_customers(&state.db, org.id, 100).await?;
    let job_id = job.filter(|j| jobs.iter().any(|(x, _)| x.id == *j)).or(jobs.first().map(|(j, _)| j.id));
    // The preview: unsaved drafts where they differ from what is saved.
    let drafts: Vec<(Part, String)> = this
        .parts
        .iter()
        .filter_map(|p| typed.get(&p.part).filter(|t| **t != p.body).map(|t| (p.part, t.clone())))
        .collect();
    let preview = match job_id {
        Some(j) => match wording::preview(&state.db, &state.notify, org.id, kind, j, drafts, state.clock.now()).await {
            Ok(v) => Some(json!({
                "sms": v.sms, "segments": v.segments, "characters": v.sms.chars().count(),
                "encoding": if v.encoding == SmsEncoding::Gsm7 { "GSM-7" } else { "UCS-2" },
                "subject": v.subject, "text": v.text, "html": v.html, "customer": v.customer_name,
                "timezone": v.timezone, "examples": v.examples,
                "channels": v.channels.iter().map(|c| if *c == crate::domain::people::Channel::Sms { "text" } else { "email" }).collect::<Vec<_>>(),
            })),
            Err(Error::Validation(fields)) => {
                for f in fields {
                    let part = f.field.trim_start_matches("parts.").to_string();
                    errors.entry(part).or_insert(f.message);
                }
                status = StatusCode::UNPROCESSABLE_ENTITY;
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let parts: Vec<Value> = this
        .parts
        .iter()
        .map(|p| {
            let body = typed.get(&p.part).cloned().unwrap_or_else(|| p.body.clone());
            // Room for what is there, long lines wrapped, and a line more.
            let rows = body.lines().map(|l| 1 + l.chars().count() / 60).sum::<usize>().clamp(1, 17) + 1;
            json!({"name": p.part.as_str(), "label": part_label(p.part), "body": body, "customized": p.customized,
                   "changed": body != p.body, "error": errors.get(p.part.as_str()), "rows": rows,
                   "default": p.default})
        })
        .collect();
    let kinds: Vec<Value> = all
        .iter()
        .map(|k| {
            json!({"value": k.kind.as_str(), "label": label(k.kind.as_str()),
                        "customized": k.parts.iter().any(|p| p.customized), "current": k.kind == kind})
        })
        .collect();
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|(j, name)| json!({"id": j.id, "label": format!("Job {} · {} · {}", j.id, name, j.title), "selected": Some(j.id) == job_id}))
        .collect();
    let mut r = screen(
        state,
        signed_in,
        &org.name,
        "/app/wording",
        "staff_wording.html",
        status,
        json!({
            "admin": caller.role == Role::Admin, "kinds": kinds, "jobs": jobs, "job_id": job_id,
            "kind": {"value": kind.as_str(), "label": label(kind.as_str()), "when": when_sent(kind)},
            "parts": parts, "names": this.names, "preview": preview, "notice": notice,
            "refused": !errors.is_empty(),
        }),
    );
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    Ok(r)
}

/// The editor's form: the four parts, the job to preview for, and what to do.
#[derive(Deserialize)]
pub(super) struct EditorForm {
    csrf: Option<String>,
    job_id: Option<String>,
    sms: Option<String>,
    subject: Option<String>,
    email_text: Option<String>,
    email_html: Option<String>,
    /// `preview`, `save`, or `reset:<part>`.
    action: Option<String>,
}

impl super::extract::WithCsrf for EditorForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// Browsers send a textarea's lines ending in CR LF.
fn lf(s: String) -> String {
    s.replace("\r\n", "\n")
}

/// Preview (anyone in the office), save or restore a default (admins).
pub(super) async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(kind): Path<String>,
    SignedForm(f): SignedForm<EditorForm>,
) -> Result<Response, PageError> {
    let caller = signed_in.caller;
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office sees the message wording."));
    }
    let Ok(kind) = wording::parse_kind(&kind) else {
        return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such message."));
    };
    let job = f.job_id.as_deref().and_then(|j| j.trim().parse::<i64>().ok());
    let typed: HashMap<Part, String> = [
        (Part::Sms, f.sms),
        (Part::Subject, f.subject),
        (Part::EmailText, f.email_text),
        (Part::EmailHtml, f.email_html),
    ]
    .into_iter()
    .filter_map(|(p, v)| v.map(|v| (p, lf(v))))
    .collect();
    let action = f.action.unwrap_or_else(|| "preview".into());
    let back = |saved: &str| {
        let job = job.map(|j| format!("&job={j}")).unwrap_or_default();
        Redirect::to(&format!("/app/wording?kind={kind}{job}&saved={saved}#editor")).into_response()
    };
    if action == "preview" {
        return view(&state, &signed_in, kind, job, typed, HashMap::new(), None, StatusCode::OK).await;
    }
    if caller.role != Role::Admin {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only admins change the wording of our messages."));
    }
    let now = state.clock.now();
    let t = &state.notify.templates;
    if let Some(part) = action.strip_prefix("reset:") {
        let Ok(part) = wording::parse_part(part) else {
            return Ok(problem(&state, StatusCode::NOT_FOUND, "There is no such part."));
        };
        wording::reset(&state.db, t, caller.organization_id, kind, part, caller.staff_id, now).await?;
        return Ok(back("reset"));
    }
    // Save: every changed part is checked first; one refused saves none.
    let current = wording::one(&state.db, t, caller.organization_id, kind).await?;
    let changed: Vec<(Part, String)> = current
        .parts
        .iter()
        .filter_map(|p| typed.get(&p.part).filter(|b| **b != p.body).map(|b| (p.part, b.clone())))
        .collect();
    let mut errors = HashMap::new();
    for (part, body) in &changed {
        if let Err(Error::Validation(f)) = wording::check(t, kind, *part, body, part.as_str()) {
            for e in f {
                errors.insert(e.field, e.message);
            }
        }
    }
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return view(&state, &signed_in, kind, job, typed, errors, None, status).await;
    }
    for (part, body) in changed {
        wording::save(&state.db, t, caller.organization_id, kind, part, &body, caller.staff_id, now).await?;
    }
    Ok(back("1"))
}

/// The editor's live preview (served by Kept; the page works without it).
pub(super) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        include_str!("../../../templates/assets/wording.js"),
    )
        .into_response()
}
