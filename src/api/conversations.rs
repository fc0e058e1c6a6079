//! Talking with customers: a job's conversation (every message to and from
//! its customer, in order), sending a failed or uncertain message again,
//! and filing a text from the unmatched inbox.

use super::{path_id, ApiJson};
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::domain::messaging::{ProviderStatus, SmsEncoding};
use crate::domain::people::Channel;
use crate::state::AppState;
use crate::usecases::conversations::{self, Entry, FileUnder};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(conversation)).routes(routes!(resend)).routes(routes!(attach))
}

/// Which way a message went.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// We sent it (or meant to): an outbox message.
    Outbound,
    /// The customer texted us.
    Inbound,
}

/// One message of a conversation.
#[derive(Serialize, ToSchema)]
pub struct ConversationItem {
    pub direction: Direction,
    /// The outbox message's id (`outbound`) or the text's (`inbound`).
    pub id: i64,
    pub job_id: Option<i64>,
    pub channel: Channel,
    /// Outbound: the message kind (`status_update`, `reply`, …); inbound:
    /// what we made of it (`reply`, `stop`, `start`, `help`).
    pub kind: String,
    /// Outbound: the outbox state (`pending`, `held`, `sent`, `failed`,
    /// `uncertain`, …); inbound: `received`.
    pub state: String,
    /// When it was planned (outbound) or received (inbound).
    pub at: DateTime<Utc>,
    /// Outbound: when the provider took it.
    pub sent_at: Option<DateTime<Utc>>,
    /// Their number or address (outbound), or the number it came from (inbound).
    pub address: String,
    /// Emails only.
    pub subject: Option<String>,
    /// What it says (the email's plain text).
    pub body: String,
    /// Texts we sent: segments and encoding.
    pub segments: Option<i32>,
    pub encoding: Option<SmsEncoding>,
    pub attempts: Option<i32>,
    pub last_error: Option<String>,
    /// Twilio's delivery receipt, when one came.
    pub provider_status: Option<ProviderStatus>,
    /// This message sends again the one named (the office chose to).
    pub resent_from_id: Option<i64>,
    /// The office sent this one again as the message named.
    pub resent_as_id: Option<i64>,
}

impl From<Entry> for ConversationItem {
    fn from(e: Entry) -> Self {
        match e {
            Entry::Out { message: m, resent_as } => ConversationItem {
                direction: Direction::Outbound,
                id: m.id,
                job_id: m.job_id,
                channel: m.channel,
                kind: m.kind.as_str().into(),
                state: m.state.as_str().into(),
                at: m.created_at,
                sent_at: m.sent_at,
                address: m.recipient,
                subject: m.subject,
                body: m.body_text,
                segments: m.segments,
                encoding: m.encoding,
                attempts: Some(m.attempts),
                last_error: m.last_error,
                provider_status: m.provider_status,
                resent_from_id: m.resent_from_id,
                resent_as_id: resent_as,
            },
            Entry::In(t) => ConversationItem {
                direction: Direction::Inbound,
                id: t.id,
                job_id: t.job_id,
                channel: Channel::Sms,
                kind: t.kind.as_str().into(),
                state: "received".into(),
                at: t.received_at,
                sent_at: None,
                address: t.from_number,
                subject: None,
                body: t.body,
                segments: None,
                encoding: None,
                attempts: None,
                last_error: None,
                provider_status: None,
                resent_from_id: None,
                resent_as_id: None,
            },
        }
    }
}

/// A job's conversation with its customer.
#[derive(Serialize, ToSchema)]
pub struct Conversation {
    pub job_id: i64,
    pub customer_id: i64,
    /// Oldest first.
    pub items: Vec<ConversationItem>,
}

/// Every message we sent the job's customer and every text they sent us,
/// in order, with direction, channel, state and time. The office sees the
/// customer's whole thread (all their jobs); estimators and technicians
/// only this job's messages, and prices only where they wrote the estimate.
#[utoipa::path(get, path = "/jobs/{id}/conversation", tag = "messages",
    params(("id" = i64, Path, description = "The job")),
    responses((status = 200, description = "The conversation", body = Conversation)))]
async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    let job = crate::store::jobs::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let items =
        conversations::thread(&state.db, caller.organization_id, &job, crate::access::field_staff(&caller)).await?;
    Ok(Json(Conversation {
        job_id: job.id,
        customer_id: job.customer_id,
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Send a `failed` or `uncertain` message again, as it was, to the
/// customer's address for that channel now: a new outbox message linked to
/// the old one (`resent_from_id`), once per message, in the audit log. 409
/// `not_resendable` for any other state, `already_resent` (naming the
/// resend) for a second try, `unreachable` when the customer opted out of
/// the channel or a provider reported the address dead.
#[utoipa::path(post, path = "/messages/{id}/resend", tag = "messages",
    params(("id" = i64, Path, description = "The outbox message")),
    responses(
        (status = 201, description = "Queued again", body = super::outbox::MessageView),
        (status = 409, description = "Not failed or uncertain (`not_resendable`), already sent again (`already_resent`, `resent_as_id`), or the customer cannot be reached on that channel (`unreachable`)", body = super::error::ErrorBody),
    ))]
async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<super::outbox::MessageView>), ApiError> {
    let m = conversations::resend(
        &state.db,
        &state.notify,
        caller.organization_id,
        path_id(&id)?,
        caller.staff_id,
        state.clock.now(),
    )
    .await?;
    if state.settings.notifier_enabled {
        let s = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::notify::deliver(&s.notifier()).await {
                tracing::error!(error = %e, "delivering a resent message failed");
            }
        });
    }
    Ok((StatusCode::CREATED, Json(m.into())))
}

/// Where to file the text: one of the two.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AttachInput {
    /// The customer (and their open job, or their latest, if they have one).
    customer_id: Option<i64>,
    /// The job (and its customer).
    job_id: Option<i64>,
}

/// File a text from the unmatched inbox under a customer
/// (`{"customer_id"}`) or a job (`{"job_id"}`): it joins their
/// conversation and the job's timeline. The sender's number is not added to
/// the customer. 409 `already_filed` for a text that is someone's already.
#[utoipa::path(post, path = "/inbound/{id}/attach", tag = "inbound", request_body = AttachInput,
    params(("id" = i64, Path, description = "The text (from `GET /inbound?matched=false`)")),
    responses(
        (status = 200, description = "Filed", body = super::inbound::InboundView),
        (status = 409, description = "Already filed (`already_filed`)", body = super::error::ErrorBody),
    ))]
async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AttachInput>,
) -> Result<Json<super::inbound::InboundView>, ApiError> {
    let to = match (input.customer_id, input.job_id) {
        (Some(c), None) => FileUnder::Customer(c),
        (None, Some(j)) => FileUnder::Job(j),
        (Some(_), Some(_)) => {
            return Err(ApiError::field("job_id", "send customer_id or job_id, not both"));
        }
        (None, None) => return Err(ApiError::field("customer_id", "send customer_id or job_id")),
    };
    let text =
        conversations::attach(&state.db, &state.notify, caller.organization_id, path_id(&id)?, to, state.clock.now())
            .await?;
    Ok(Json(text.into()))
}
