//! Replies customers sent us, including the ones we could not match.

use super::{page, paged};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::entities::inbound_message;
use crate::startup::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/inbound", get(list))
}

/// `GET /inbound?matched=false` is the unmatched inbox: texts from numbers
/// that are not a customer of ours. Nothing is ever dropped.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
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
    let items: Vec<Value> = rows
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id, "customer_id": m.customer_id, "job_id": m.job_id, "message_sid": m.message_sid,
                "from": m.from_number, "to": m.to_number, "body": m.body, "kind": m.kind, "received_at": m.received_at,
            })
        })
        .collect();
    Ok(paged(items, ids, page))
}
