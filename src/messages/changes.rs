//! Telling the customer that a promise they hold changed: a visit moved,
//! cancelled or handed to someone else, or the job cancelled. Each is one
//! message per change (its dedupe key names the change), enqueued in the
//! same transaction as the change, in the customer's zone, through the
//! outbox like every other message (quiet hours, opt-outs, retries).

use super::compose::{self, Parties};
use super::NotifyCtx;
use crate::domain::messaging::MessageKind;
use crate::domain::time::Zone;
use crate::entities::{customer, job, organization, staff, visit};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{json, Map, Value};

async fn customer_and_zone<C: ConnectionTrait>(db: &C, job: &job::Model) -> Result<(customer::Model, Zone), Error> {
    let c = customer::Entity::find_by_id(job.customer_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal(format!("job {} has no customer", job.id)))?;
    let zone = Zone::parse(&c.timezone)
        .map_err(|e| Error::Internal(format!("customer {} has time zone {:?}: {e}", c.id, c.timezone)))?;
    Ok((c, zone))
}

fn names(people: &[staff::Model]) -> Value {
    json!(people.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
}

/// One message of `kind` about this change, once per `key`; returns the key.
#[allow(clippy::too_many_arguments)]
async fn send<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    customer: &customer::Model,
    kind: MessageKind,
    key: String,
    visit_id: Option<i64>,
    expires_at: Option<DateTime<Utc>>,
    extra: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let parties = Parties { org, customer, job };
    super::events::about(db, n, parties, kind, key.clone(), (visit_id, expires_at), extra, now).await?;
    Ok(key)
}

/// The crew of a visit as the customer meets them: the lead, the others,
/// and who is no longer coming.
pub struct Crew<'a> {
    pub now: &'a [staff::Model],
    pub removed: &'a [staff::Model],
}

/// "We've moved your visit": the old window, the new one, why (if the
/// office said), and who is coming (now).
#[allow(clippy::too_many_arguments)]
pub async fn visit_rescheduled<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    before: &visit::Model,
    after: &visit::Model,
    crew: Crew<'_>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let (customer, zone) = customer_and_zone(db, job).await?;
    let mut extra = Map::new();
    extra.insert("visit".into(), compose::visit_ctx(after, zone));
    extra.insert("old_window".into(), json!(compose::window_phrase(zone, before.window_start, before.window_end)));
    extra.insert("reason".into(), json!(reason));
    if let Some(lead) = crew.now.first() {
        extra.insert("staff".into(), compose::staff_ctx(lead));
        extra.insert("others".into(), names(&crew.now[1..]));
    }
    extra.insert("crew_changed".into(), json!(!crew.removed.is_empty()));
    extra.insert("removed".into(), names(crew.removed));
    let key =
        format!("visit_rescheduled:{}:{}:{}", after.id, after.window_start.timestamp(), after.window_end.timestamp());
    send(
        db,
        n,
        org,
        job,
        &customer,
        MessageKind::VisitRescheduled,
        key,
        Some(after.id),
        Some(after.window_end),
        extra,
        now,
    )
    .await
}

/// "We've cancelled your visit", and what happens next: the next visit
/// still planned, or when we will be in touch about a new time.
#[allow(clippy::too_many_arguments)]
pub async fn visit_cancelled<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    v: &visit::Model,
    reason: Option<&str>,
    next_visit: Option<&visit::Model>,
    callback_by: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let (customer, zone) = customer_and_zone(db, job).await?;
    let mut extra = Map::new();
    extra.insert("visit".into(), compose::visit_ctx(v, zone));
    extra.insert("reason".into(), json!(reason));
    extra.insert(
        "next_visit".into(),
        json!(next_visit.map(|nv| compose::window_phrase(zone, nv.window_start, nv.window_end))),
    );
    extra.insert("callback_by".into(), json!(callback_by.map(|t| compose::day_and_time(zone, t))));
    send(
        db,
        n,
        org,
        job,
        &customer,
        MessageKind::VisitCancelled,
        format!("visit_cancelled:{}", v.id),
        Some(v.id),
        None,
        extra,
        now,
    )
    .await
}

/// "A change of crew": who is coming now (photo and bio of the lead), and
/// who is not, at the same time.
#[allow(clippy::too_many_arguments)]
pub async fn visit_reassigned<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    v: &visit::Model,
    crew: Crew<'_>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let Some(lead) = crew.now.first() else {
        return Err(Error::Internal(format!("visit {} has nobody assigned", v.id)));
    };
    let (customer, zone) = customer_and_zone(db, job).await?;
    let mut extra = Map::new();
    extra.insert("visit".into(), compose::visit_ctx(v, zone));
    extra.insert("staff".into(), compose::staff_ctx(lead));
    extra.insert("others".into(), names(&crew.now[1..]));
    extra.insert("removed".into(), names(crew.removed));
    let ids: Vec<String> = crew.now.iter().map(|s| s.id.to_string()).collect();
    let key = format!("visit_reassigned:{}:{}", v.id, ids.join("-"));
    send(db, n, org, job, &customer, MessageKind::VisitReassigned, key, Some(v.id), Some(v.window_end), extra, now)
        .await
}

/// "We've cancelled the job", naming the visits that are cancelled with it.
pub async fn job_cancelled<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    cancelled_visits: &[visit::Model],
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let (customer, zone) = customer_and_zone(db, job).await?;
    let mut extra = Map::new();
    extra.insert("reason".into(), json!(reason));
    extra.insert(
        "cancelled_visits".into(),
        json!(cancelled_visits
            .iter()
            .map(|v| compose::window_phrase(zone, v.window_start, v.window_end))
            .collect::<Vec<_>>()),
    );
    send(
        db,
        n,
        org,
        job,
        &customer,
        MessageKind::JobCancelled,
        format!("job_cancelled:{}", job.id),
        None,
        None,
        extra,
        now,
    )
    .await
}
