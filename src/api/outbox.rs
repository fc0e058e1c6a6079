//! The outbox: every message we planned, and what became of it.

use super::{page, paged, Page};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::people::Channel;
use crate::entities::message;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A message we planned, and what became of it.
#[derive(Serialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    pub id: i64,
    pub job_id: Option<i64>,
    pub visit_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub kind: crate::domain::messaging::MessageKind,
    pub channel: crate::domain::people::Channel,
    /// A phone number (E.164) or an email address.
    pub recipient: String,
    /// Emails only.
    pub subject: Option<String>,
    pub body_text: String,
    /// Emails only.
    pub body_html: Option<String>,
    /// Texts only: how many SMS segments the body takes.
    pub segments: Option<i32>,
    /// Texts only: GSM-7 or UCS-2.
    pub encoding: Option<crate::domain::messaging::SmsEncoding>,
    pub state: crate::domain::messaging::MessageState,
    /// When it is meant to go.
    pub due_at: DateTime<Utc>,
    /// When the next try is.
    pub next_attempt_at: DateTime<Utc>,
    /// After this it is no longer worth sending (a status update overtaken by events).
    pub expires_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// The provider's id (a Twilio SID or an SMTP message id).
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider's delivery receipt, when one came.
    pub provider_status: Option<crate::domain::messaging::ProviderStatus>,
    pub provider_error_code: Option<i32>,
    /// The office sent this again: the failed or uncertain message it repeats.
    pub resent_from_id: Option<i64>,
}

impl From<message::Model> for MessageView {
    fn from(m: message::Model) -> Self {
        MessageView {
            id: m.id,
            job_id: m.job_id,
            visit_id: m.visit_id,
            customer_id: m.customer_id,
            kind: m.kind,
            channel: m.channel,
            recipient: m.recipient,
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            segments: m.segments,
            encoding: m.encoding,
            state: m.state,
            due_at: m.due_at,
            next_attempt_at: m.next_attempt_at,
            expires_at: m.expires_at,
            attempts: m.attempts,
            provider_id: m.provider_id,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
            provider_status: m.provider_status,
            provider_error_code: m.provider_error_code,
            resent_from_id: m.resent_from_id,
        }
    }
}

/// Filters of the outbox.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `list` reads them
struct OutboxQuery {
    job_id: Option<i64>,
    #[param(value_type = Option<crate::domain::messaging::MessageKind>)]
    kind: Option<String>,
    #[param(value_type = Option<crate::domain::people::Channel>)]
    channel: Option<String>,
    #[param(value_type = Option<crate::domain::messaging::MessageState>)]
    state: Option<String>,
}

/// Every message we planned, oldest first, and what became of it. Sign-in
/// links (invitations, password resets) are shown to admins only.
#[utoipa::path(get, path = "/outbox", tag = "outbox", params(OutboxQuery, super::PageQuery),
    responses((status = 200, description = "A page of messages", body = Page<MessageView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let page = page(&q)?;
    let mut p = Problems::default();
    let job_id = q.get("job_id").and_then(|v| p.check("job_id", v.parse::<i64>().map_err(|_| "must be an id".into())));
    let kind = super::one_of(&mut p, &q, "kind", MessageKind::parse, MessageKind::choices);
    let st = super::one_of(&mut p, &q, "state", MessageState::parse, MessageState::choices);
    let channel = super::one_of(&mut p, &q, "channel", Channel::parse, Channel::choices);
    p.into_result()?;
    let mut query = message::Entity::find().filter(message::Column::OrganizationId.eq(caller.organization_id));
    // Sign-in links (invitations, password resets) open an account: only
    // admins may read them, or a dispatcher could take over an admin.
    if caller.role != crate::domain::people::Role::Admin {
        query = query.filter(message::Column::Kind.ne(MessageKind::PasswordReset));
    }
    if let Some(after) = page.after {
        query = query.filter(message::Column::Id.gt(after));
    }
    if let Some(j) = job_id {
        query = query.filter(message::Column::JobId.eq(j));
    }
    if let Some(k) = kind {
        query = query.filter(message::Column::Kind.eq(k));
    }
    if let Some(c) = channel {
        query = query.filter(message::Column::Channel.eq(c));
    }
    if let Some(s) = st {
        query = query.filter(message::Column::State.eq(s));
    }
    let rows = query.order_by_asc(message::Column::Id).limit(page.limit).all(&state.db).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(MessageView::from).collect(), ids, page))
}
