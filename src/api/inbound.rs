//! Replies customers sent us, including the ones we could not match.

use super::{page, paged, Page};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::entities::inbound_message;
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

/// A text a customer (or anyone) sent to our number.
#[derive(Serialize, ToSchema)]
#[schema(as = Inbound)]
pub struct InboundView {
    pub id: i64,
    /// The customer it came from; null when the number is nobody's.
    pub customer_id: Option<i64>,
    /// The job it was filed under, when one was open.
    pub job_id: Option<i64>,
    /// Twilio's id of the message.
    pub message_sid: String,
    /// The sender's number (E.164).
    pub from: String,
    /// Our number it was sent to.
    pub to: String,
    pub body: String,
    /// What we made of it: a reply, an opt-out (STOP), an opt-in (START), HELP….
    pub kind: crate::domain::messaging::InboundKind,
    pub received_at: DateTime<Utc>,
}

impl From<inbound_message::Model> for InboundView {
    fn from(m: inbound_message::Model) -> Self {
        InboundView {
            id: m.id,
            customer_id: m.customer_id,
            job_id: m.job_id,
            message_sid: m.message_sid,
            from: m.from_number,
            to: m.to_number,
            body: m.body,
            kind: m.kind,
            received_at: m.received_at,
        }
    }
}

/// Filters of the inbox.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `list` reads them
struct InboundQuery {
    /// `true`: only texts from customers; `false`: the unmatched inbox.
    matched: Option<bool>,
    /// Only texts filed under this job.
    job_id: Option<i64>,
}

/// Texts customers sent us, oldest first. `?matched=false` is the unmatched
/// inbox: texts from numbers that are not a customer of ours. Nothing is
/// ever dropped.
#[utoipa::path(get, path = "/inbound", tag = "inbound", params(InboundQuery, super::PageQuery),
    responses((status = 200, description = "A page of texts", body = Page<InboundView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<InboundView>>, ApiError> {
    let page = page(&q)?;
    let mut p = Problems::default();
    let matched = q.get("matched").and_then(|v| match v.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        other => {
            p.add("matched", format!("'{other}' is not true or false"));
            None
        }
    });
    let job_id = q.get("job_id").and_then(|v| p.check("job_id", v.parse::<i64>().map_err(|_| "must be an id".into())));
    p.into_result()?;
    let mut query =
        inbound_message::Entity::find().filter(inbound_message::Column::OrganizationId.eq(caller.organization_id));
    if let Some(after) = page.after {
        query = query.filter(inbound_message::Column::Id.gt(after));
    }
    match matched {
        Some(true) => query = query.filter(inbound_message::Column::CustomerId.is_not_null()),
        Some(false) => query = query.filter(inbound_message::Column::CustomerId.is_null()),
        None => {}
    }
    if let Some(j) = job_id {
        query = query.filter(inbound_message::Column::JobId.eq(j));
    }
    let rows = query.order_by_asc(inbound_message::Column::Id).limit(page.limit).all(&state.db).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(InboundView::from).collect(), ids, page))
}
