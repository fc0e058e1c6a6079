//! The outbox: every message we planned, and what became of it.

use super::{page, paged};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::messaging::{MessageKind, MessageState};
use crate::entities::message;
use crate::startup::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/outbox", get(list))
}

pub const KINDS: &[&str] = crate::messages::templates::KINDS;

#[derive(Serialize)]
pub struct MessageView {
    pub id: i64,
    pub job_id: Option<i64>,
    pub visit_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub segments: Option<i32>,
    pub encoding: Option<String>,
    pub state: String,
    pub due_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider's delivery receipt, when one came.
    pub provider_status: Option<String>,
    pub provider_error_code: Option<i32>,
}

impl From<message::Model> for MessageView {
    fn from(m: message::Model) -> Self {
        MessageView {
            id: m.id,
            job_id: m.job_id,
            visit_id: m.visit_id,
            customer_id: m.customer_id,
            kind: m.kind.to_string(),
            channel: m.channel.to_string(),
            recipient: m.recipient,
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            segments: m.segments,
            encoding: m.encoding.map(|e| e.to_string()),
            state: m.state.to_string(),
            due_at: m.due_at,
            next_attempt_at: m.next_attempt_at,
            expires_at: m.expires_at,
            attempts: m.attempts,
            provider_id: m.provider_id,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
            provider_status: m.provider_status.map(|s| s.to_string()),
            provider_error_code: m.provider_error_code,
        }
    }
}

/// `GET /outbox?job_id=&kind=&channel=&state=&limit=&after=`
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = page(&q)?;
    let mut p = Problems::default();
    let job_id = q.get("job_id").and_then(|v| p.check("job_id", v.parse::<i64>().map_err(|_| "must be an id".into())));
    let kind = q.get("kind").and_then(|v| {
        p.check(
            "kind",
            KINDS.contains(&v.as_str()).then(|| v.clone()).ok_or(format!("'{v}' is not one of {}", KINDS.join(", "))),
        )
    });
    let st = q.get("state").and_then(|v| {
        p.check(
            "state",
            MessageState::parse(v)
                .map(|s| s.as_str().to_string())
                .ok_or(format!("'{v}' is not one of {}", MessageState::choices())),
        )
    });
    let channel = q.get("channel").and_then(|v| {
        p.check(
            "channel",
            crate::domain::people::Channel::parse(v)
                .map(|c| c.as_str().to_string())
                .ok_or(format!("'{v}' is not one of {}", crate::domain::people::Channel::choices())),
        )
    });
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
