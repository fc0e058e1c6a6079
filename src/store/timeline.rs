use crate::domain::job::TimelineKind;
use crate::entities::timeline_event;
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;

/// Something that happened on a job, in the order it happened.
pub struct Event {
    pub job_id: i64,
    pub visit_id: Option<i64>,
    pub kind: TimelineKind,
    pub summary: String,
    pub data: Value,
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    event: Event,
    at: DateTime<Utc>,
) -> Result<timeline_event::Model, Error> {
    Ok(timeline_event::ActiveModel {
        organization_id: Set(organization_id),
        job_id: Set(event.job_id),
        visit_id: Set(event.visit_id),
        kind: Set(event.kind),
        summary: Set(event.summary),
        data: Set(event.data.to_string()),
        at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The longest note a job takes.
pub const NOTE_MAX_CHARS: usize = 2000;

/// News for the customer ("parts ordered", "crew flying in"): a note on
/// the job's timeline that the next status update carries.
pub async fn add_note<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    job_id: i64,
    text: String,
    by_staff_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<timeline_event::Model, Error> {
    let data = serde_json::json!({"text": text, "by_staff_id": by_staff_id});
    record(db, organization_id, Event { job_id, visit_id: None, kind: TimelineKind::Note, summary: text, data }, at)
        .await
}

pub async fn for_job<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    job_id: i64,
) -> Result<Vec<timeline_event::Model>, Error> {
    Ok(timeline_event::Entity::find()
        .filter(timeline_event::Column::OrganizationId.eq(organization_id))
        .filter(timeline_event::Column::JobId.eq(job_id))
        .order_by_asc(timeline_event::Column::At)
        .order_by_asc(timeline_event::Column::Id)
        .all(db)
        .await?)
}

/// The job's messages, oldest first.
pub async fn messages_for_job<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    job_id: i64,
) -> Result<Vec<crate::entities::message::Model>, Error> {
    use crate::entities::message;
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(organization_id))
        .filter(message::Column::JobId.eq(job_id))
        .order_by_asc(message::Column::Id)
        .all(db)
        .await?)
}

/// The organization's latest messages, newest first (at most `limit`),
/// whatever became of them.
pub async fn recent_messages<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    limit: u64,
) -> Result<Vec<crate::entities::message::Model>, Error> {
    use crate::entities::message;
    use sea_orm::QuerySelect;
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(organization_id))
        .order_by_desc(message::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A customer's latest messages, both ways, newest first (at most `limit`
/// of each): what we sent them, and the texts they sent us.
pub async fn customer_thread<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    customer_id: i64,
    limit: u64,
) -> Result<(Vec<crate::entities::message::Model>, Vec<crate::entities::inbound_message::Model>), Error> {
    use crate::entities::{inbound_message, message};
    use sea_orm::QuerySelect;
    let sent = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(organization_id))
        .filter(message::Column::CustomerId.eq(customer_id))
        .order_by_desc(message::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let received = inbound_message::Entity::find()
        .filter(inbound_message::Column::OrganizationId.eq(organization_id))
        .filter(inbound_message::Column::CustomerId.eq(customer_id))
        .order_by_desc(inbound_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok((sent, received))
}

/// The latest `per_job` events of the given kinds on each of these jobs,
/// newest first (the news a crew reads before knocking).
pub async fn latest_of_kinds<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    job_ids: &[i64],
    kinds: &[TimelineKind],
    per_job: usize,
) -> Result<std::collections::HashMap<i64, Vec<timeline_event::Model>>, Error> {
    let mut out: std::collections::HashMap<i64, Vec<timeline_event::Model>> = Default::default();
    if job_ids.is_empty() {
        return Ok(out);
    }
    for e in timeline_event::Entity::find()
        .filter(timeline_event::Column::OrganizationId.eq(organization_id))
        .filter(timeline_event::Column::JobId.is_in(job_ids.iter().copied()))
        .filter(timeline_event::Column::Kind.is_in(kinds.iter().copied()))
        .order_by_desc(timeline_event::Column::At)
        .order_by_desc(timeline_event::Column::Id)
        .all(db)
        .await?
    {
        let list = out.entry(e.job_id).or_default();
        if list.len() < per_job {
            list.push(e);
        }
    }
    Ok(out)
}
