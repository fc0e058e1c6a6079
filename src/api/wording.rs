//! The company's wording of its messages (`/message-templates`): read each
//! kind's parts beside the default, change one (refused with the line and
//! the reason when it does not compile, nothing saved), restore the
//! default, and preview a message for a real job with unsaved drafts.

use super::ApiJson;
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::domain::messaging::{MessageKind, SmsEncoding};
use crate::messages::templates::Part;
use crate::state::AppState;
use crate::usecases::wording::{self, KindWording, PartWording};
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(save, reset)).routes(routes!(preview))
}

/// One part of a message kind: what is used now, and the default.
#[derive(Serialize, ToSchema)]
pub struct TemplatePart {
    pub part: Part,
    /// The wording used now (minijinja; the company's own when `customized`).
    pub body: String,
    /// Whether the organization changed it.
    pub customized: bool,
    /// The default (`templates/messages/<kind>/`), which `DELETE` restores.
    pub default: String,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<PartWording> for TemplatePart {
    fn from(p: PartWording) -> Self {
        TemplatePart {
            part: p.part,
            body: p.body,
            customized: p.customized,
            default: p.default,
            updated_at: p.updated_at,
        }
    }
}

/// A message kind with its parts.
#[derive(Serialize, ToSchema)]
pub struct MessageTemplate {
    pub kind: MessageKind,
    /// Whether any part is the organization's own.
    pub customized: bool,
    /// `sms`, `subject`, `email_text`, `email_html`.
    pub parts: Vec<TemplatePart>,
    /// The names its wording may use, e.g. `customer.first_name`.
    pub variables: Vec<String>,
}

impl From<KindWording> for MessageTemplate {
    fn from(k: KindWording) -> Self {
        MessageTemplate {
            kind: k.kind,
            customized: k.parts.iter().any(|p| p.customized),
            parts: k.parts.into_iter().map(Into::into).collect(),
            variables: k.names,
        }
    }
}

/// Every message kind we send customers.
#[derive(Serialize, ToSchema)]
pub struct MessageTemplates {
    pub items: Vec<MessageTemplate>,
}

/// Each message kind we send customers, with its parts (`sms`, `subject`,
/// `email_text`, `email_html`), whether the organization changed them, and
/// the default.
#[utoipa::path(get, path = "/message-templates", tag = "message-templates",
    responses((status = 200, description = "Every kind's wording", body = MessageTemplates)))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<MessageTemplates>, ApiError> {
    let kinds = wording::list(&state.db, &state.notify.templates, caller.organization_id).await?;
    Ok(Json(MessageTemplates { items: kinds.into_iter().map(Into::into).collect() }))
}

/// New wording for one part.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WordingInput {
    /// Required: the template (minijinja), up to 20,000 characters.
    #[schema(required = true, nullable = false)]
    body: Option<String>,
}

/// Change the wording of one part of a message kind (admins). It must
/// compile and render with the values the message is given; otherwise the
/// answer is 422 naming `body` with the line and the reason, and nothing is
/// saved. Audited.
#[utoipa::path(put, path = "/message-templates/{kind}/{part}", tag = "message-templates", request_body = WordingInput,
    params(("kind" = MessageKind, Path, description = "The message kind"), ("part" = Part, Path, description = "The part")),
    responses((status = 200, description = "Saved; used from the next message on", body = TemplatePart)))]
async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, part)): Path<(String, String)>,
    ApiJson(input): ApiJson<WordingInput>,
) -> Result<Json<TemplatePart>, ApiError> {
    let (kind, part) = kind_and_part(&kind, &part)?;
    let Some(body) = input.body else { return Err(ApiError::field("body", "is required")) };
    let saved = wording::save(
        &state.db,
        &state.notify.templates,
        caller.organization_id,
        kind,
        part,
        &body,
        caller.staff_id,
        state.clock.now(),
    )
    .await?;
    Ok(Json(saved.into()))
}

fn kind_and_part(kind: &str, part: &str) -> Result<(MessageKind, Part), ApiError> {
    let k = wording::parse_kind(kind);
    let p = wording::parse_part(part);
    match (k, p) {
        (Ok(k), Ok(p)) => Ok((k, p)),
        (k, p) => {
            let mut fields = Vec::new();
            for e in [k.err(), p.err()].into_iter().flatten() {
                if let crate::error::Error::Validation(mut f) = e {
                    fields.append(&mut f);
                }
            }
            Err(ApiError::Validation(fields))
        }
    }
}

/// Restore the default wording of one part (admins). Audited when the
/// organization had its own.
#[utoipa::path(delete, path = "/message-templates/{kind}/{part}", tag = "message-templates",
    params(("kind" = MessageKind, Path, description = "The message kind"), ("part" = Part, Path, description = "The part")),
    responses(
        (status = 200, description = "The default is used again", body = TemplatePart),
        (status = 422, description = "No such kind or part", body = super::error::ErrorBody),
    ))]
async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, part)): Path<(String, String)>,
) -> Result<Json<TemplatePart>, ApiError> {
    let (kind, part) = kind_and_part(&kind, &part)?;
    let part = wording::reset(
        &state.db,
        &state.notify.templates,
        caller.organization_id,
        kind,
        part,
        caller.staff_id,
        state.clock.now(),
    )
    .await?;
    Ok(Json(part.into()))
}

/// What to preview.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewInput {
    /// Required: the job whose customer the message is for.
    #[schema(required = true, nullable = false)]
    job_id: Option<i64>,
    /// Unsaved drafts by part (`sms`, `subject`, `email_text`,
    /// `email_html`); the other parts as the organization has them.
    #[serde(default)]
    parts: BTreeMap<String, String>,
}

/// How an SMS is encoded, as carriers count it.
#[derive(Serialize, ToSchema)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// The text message as the customer would receive it.
#[derive(Serialize, ToSchema)]
pub struct SmsPreview {
    pub body: String,
    /// How many SMS segments it takes (160 GSM-7 characters, or 70 UCS-2, for one; 153 or 67 each when split).
    pub segments: i32,
    /// `GSM-7`, or `UCS-2` when a character (an emoji, a curly quote) is outside the GSM alphabet.
    pub encoding: Encoding,
    pub characters: usize,
}

/// The email as the customer would receive it.
#[derive(Serialize, ToSchema)]
pub struct EmailPreview {
    pub subject: String,
    pub text: String,
    /// Show it sandboxed: it is the company's own HTML.
    pub html: String,
}

/// A message rendered for a job's customer.
#[derive(Serialize, ToSchema)]
pub struct MessagePreview {
    pub kind: MessageKind,
    pub job_id: i64,
    /// The customer it is for, and the zone its times are in.
    pub customer_name: String,
    pub timezone: String,
    /// The channels the customer would get it by now (chosen, not opted out, not dead).
    #[schema(value_type = Vec<crate::domain::people::Channel>)]
    pub channels: Vec<crate::domain::people::Channel>,
    pub sms: SmsPreview,
    pub email: EmailPreview,
    /// Names filled with example values because the job has no such event
    /// yet (e.g. `old_window` for a visit that never moved).
    pub examples: Vec<String>,
}

/// Render a message of `kind` as the job's customer would read it, in
/// their zone, with unsaved drafts of some parts: the SMS with its
/// segments and encoding, the email's subject, text and HTML. Nothing is
/// saved or sent; a draft that does not compile is 422 naming
/// `parts.<part>` with the line and the reason.
#[utoipa::path(post, path = "/message-templates/{kind}/preview", tag = "message-templates", request_body = PreviewInput,
    params(("kind" = MessageKind, Path, description = "The message kind")),
    responses((status = 200, description = "The message as the customer would read it", body = MessagePreview)))]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    ApiJson(input): ApiJson<PreviewInput>,
) -> Result<Json<MessagePreview>, ApiError> {
    let mut p = crate::error::Problems::default();
    let kind = p.check("kind", wording::parse_kind(&kind).map_err(message_of));
    let mut drafts = Vec::new();
    for (name, body) in input.parts {
        if let Some(part) = p.check(&format!("parts.{name}"), wording::parse_part(&name).map_err(message_of)) {
            drafts.push((part, body));
        }
    }
    let job_id = p.check("job_id", input.job_id.ok_or_else(|| "is required".to_string()));
    p.into_result()?;
    let (Some(kind), Some(job_id)) = (kind, job_id) else { return Err(ApiError::field("job_id", "is required")) };
    let v = wording::preview(&state.db, &state.notify, caller.organization_id, kind, job_id, drafts, state.clock.now())
        .await?;
    Ok(Json(MessagePreview {
        kind: v.kind,
        job_id: v.job_id,
        customer_name: v.customer_name,
        timezone: v.timezone,
        channels: v.channels,
        sms: SmsPreview {
            characters: v.sms.chars().count(),
            body: v.sms,
            segments: v.segments,
            encoding: match v.encoding {
                SmsEncoding::Gsm7 => Encoding::Gsm7,
                SmsEncoding::Ucs2 => Encoding::Ucs2,
            },
        },
        email: EmailPreview { subject: v.subject, text: v.text, html: v.html },
        examples: v.examples,
    }))
}

fn message_of(e: crate::error::Error) -> String {
    match e {
        crate::error::Error::Validation(f) => f.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}
