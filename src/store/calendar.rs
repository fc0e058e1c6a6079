//! Calendar feeds: one secret per field person (only its hash is kept),
//! and what a feed lists: the person's visits in a range, with how often
//! and when each last changed.

use crate::domain::tokens::hash_token;
use crate::entities::{calendar_feed, customer, job, timeline_event, visit};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashMap;

/// Gives `staff_id` a feed with this secret, replacing any they had (so
/// the old address stops working at once).
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    staff_id: i64,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    calendar_feed::Entity::delete_many().filter(calendar_feed::Column::StaffId.eq(staff_id)).exec(db).await?;
    calendar_feed::ActiveModel {
        organization_id: Set(org_id),
        staff_id: Set(staff_id),
        token_hash: Set(hash_token(token)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Ends `staff_id`'s feed; whether there was one.
pub async fn revoke<C: ConnectionTrait>(db: &C, org_id: i64, staff_id: i64) -> Result<bool, Error> {
    let gone = calendar_feed::Entity::delete_many()
        .filter(calendar_feed::Column::OrganizationId.eq(org_id))
        .filter(calendar_feed::Column::StaffId.eq(staff_id))
        .exec(db)
        .await?;
    Ok(gone.rows_affected > 0)
}

/// The feed a secret opens, if it is live.
pub async fn by_token<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<calendar_feed::Model>, Error> {
    Ok(calendar_feed::Entity::find().filter(calendar_feed::Column::TokenHash.eq(hash_token(token))).one(db).await?)
}

/// Whether `staff_id` has a live feed, since when.
pub async fn of_staff<C: ConnectionTrait>(db: &C, staff_id: i64) -> Result<Option<calendar_feed::Model>, Error> {
    Ok(calendar_feed::Entity::find().filter(calendar_feed::Column::StaffId.eq(staff_id)).one(db).await?)
}

/// One visit of a feed, with what the event says about it.
pub struct FeedVisit {
    pub visit: visit::Model,
    pub job: job::Model,
    pub customer: customer::Model,
    /// How many times the visit changed since it was booked (its timeline
    /// rows less the booking): the event's SEQUENCE.
    pub changes: u32,
    /// The latest of the visit's own `updated_at` and its timeline rows.
    pub last_modified: DateTime<Utc>,
    /// The newest arrival promise's time when it is no longer the window
    /// (the crew said they are running late).
    pub new_arrival: Option<DateTime<Utc>>,
}

/// `staff_id`'s visits whose window starts in [from, to), cancelled ones
/// included, earliest first.
pub async fn visits_of<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    staff_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<FeedVisit>, Error> {
    use crate::domain::promise::PromiseKind;
    use crate::entities::promise;
    let visits = visit::Entity::find()
        .filter(visit::Column::OrganizationId.eq(org_id))
        .filter(crate::store::visits::on_crew_of(std::iter::once(staff_id)))
        .filter(visit::Column::WindowStart.gte(from))
        .filter(visit::Column::WindowStart.lt(to))
        .order_by_asc(visit::Column::WindowStart)
        .order_by_asc(visit::Column::Id)
        .all(db)
        .await?;
    if visits.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<i64> = visits.iter().map(|v| v.id).collect();
    let jobs: HashMap<i64, (job::Model, customer::Model)> = job::Entity::find()
        .filter(job::Column::Id.is_in(visits.iter().map(|v| v.job_id)))
        .find_also_related(customer::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(j, c)| c.map(|c| (j.id, (j, c))))
        .collect();
    let mut history: HashMap<i64, (u32, DateTime<Utc>)> = HashMap::new();
    for e in timeline_event::Entity::find().filter(timeline_event::Column::VisitId.is_in(ids.clone())).all(db).await? {
        let Some(v) = e.visit_id else { continue };
        let entry = history.entry(v).or_insert((0, e.at));
        entry.0 += 1;
        entry.1 = entry.1.max(e.at);
    }
    let mut late: HashMap<i64, promise::Model> = HashMap::new();
    for p in promise::Entity::find()
        .filter(promise::Column::VisitId.is_in(ids))
        .filter(promise::Column::Kind.eq(PromiseKind::ArrivalWindow))
        .order_by_asc(promise::Column::Id)
        .all(db)
        .await?
    {
        if let Some(v) = p.visit_id {
            late.insert(v, p);
        }
    }
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let (job, customer) = jobs
            .get(&v.job_id)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("visit {} has no job or customer", v.id)))?;
        let (rows, at) = history.get(&v.id).copied().unwrap_or((1, v.updated_at));
        let new_arrival = late.get(&v.id).filter(|p| p.due_at != v.window_end).map(|p| p.due_at);
        out.push(FeedVisit {
            changes: rows.saturating_sub(1),
            last_modified: at.max(v.updated_at),
            new_arrival,
            visit: v,
            job,
            customer,
        });
    }
    Ok(out)
}
