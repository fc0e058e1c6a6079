//! The planner: what customers should hear about now. Run by the minute
//! tick; idempotent, because every message it plans has a dedupe key and the
//! database, not the scheduler, remembers what was planned.
//!
//! - **Status updates**: for every open job, at the organization's update
//!   times in the customer's zone. Only the current slot is planned: after
//!   downtime the latest missed slot goes out once, and an update overtaken by
//!   the next slot expires (the worker supersedes it).
//! - **Reminders**: the day before a visit, for visits booked earlier than that.

use super::NotifyCtx;
use crate::db::Db;
use crate::domain::job::JobStatus;
use crate::domain::messaging::{current_slot, parse_times, MessageKind};
use crate::domain::promise::PromiseKind;
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{customer, job, organization, staff, visit, visit_staff};
use crate::error::Error;
use crate::messages::compose::{self, Parties, Plan};
use crate::messages::outbox::{self, Link};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Jobs planned per transaction; keeps bound parameters under SQLite's limit.
const BATCH: u64 = 400;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs whose current update slot was handled this tick.
    pub jobs_planned: u64,
    /// Status-update messages inserted (per channel).
    pub status_updates: u64,
    pub reminders: u64,
}

fn default_times() -> Vec<NaiveTime> {
    parse_times("08:30,16:30").unwrap_or_default()
}

fn open_statuses() -> Vec<JobStatus> {
    JobStatus::ALL.iter().copied().filter(|s| s.is_open()).collect()
}

/// Plans everything due at `now`.
pub async fn tick(db: &Db, n: &NotifyCtx, now: DateTime<Utc>) -> Result<TickReport, Error> {
    let mut report = TickReport::default();
    for org in organization::Entity::find().all(db).await? {
        let r = plan_status_updates(db, n, &org, now).await?;
        report.jobs_planned += r.jobs_planned;
        report.status_updates += r.status_updates;
        report.reminders += plan_reminders(db, n, &org, now).await?;
    }
    Ok(report)
}

/// When the job's next update is planned: the current slot if it has not
/// been handled yet, otherwise the next one. `None` for closed jobs.
pub fn next_update_at(
    org: &organization::Model,
    customer: &customer::Model,
    j: &job::Model,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !j.status.is_open() || (customer.sms_opted_out && customer.email_opted_out) {
        return None;
    }
    let times = parse_times(&org.update_times).unwrap_or_else(|_| default_times());
    let zone = Zone::parse(&customer.timezone).ok()?;
    let (current, next) = current_slot(zone, &times, now);
    let handled = j.last_update_slot.is_some_and(|s| s >= current);
    if !handled && j.created_at <= current {
        Some(current)
    } else {
        Some(next)
    }
}

async fn plan_status_updates(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    now: DateTime<Utc>,
) -> Result<TickReport, Error> {
    let mut report = TickReport::default();
    let times = parse_times(&org.update_times).unwrap_or_else(|_| default_times());
    // The zones our open jobs' customers live in.
    let zones: Vec<String> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Timezone)
        .distinct()
        .filter(customer::Column::OrganizationId.eq(org.id))
        .filter(
            customer::Column::Id.in_subquery(
                Query::select()
                    .column(job::Column::CustomerId)
                    .from(job::Entity)
                    .and_where(job::Column::OrganizationId.eq(org.id))
                    .and_where(job::Column::Status.is_in(open_statuses()))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    for zone_name in zones {
        let Ok(zone) = Zone::parse(&zone_name) else { continue };
        let (slot, next) = current_slot(zone, &times, now);
        let previous = current_slot(zone, &times, slot - Duration::seconds(1)).0;
        // One scan finds every job still waiting for this slot; then the
        // batches fetch by primary key. (Paging with `id > after LIMIT n`
        // made PostgreSQL rescan the remaining jobs for every batch.)
        let waiting: Vec<i64> = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .join(JoinType::InnerJoin, job::Relation::Customer.def())
            .filter(job::Column::OrganizationId.eq(org.id))
            .filter(job::Column::Status.is_in(open_statuses()))
            .filter(customer::Column::Timezone.eq(zone_name.as_str()))
            .filter(
                Condition::any().add(job::Column::LastUpdateSlot.is_null()).add(job::Column::LastUpdateSlot.lt(slot)),
            )
            .filter(job::Column::CreatedAt.lte(slot))
            .order_by_asc(job::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        for ids in waiting.chunks(BATCH as usize) {
            let jobs = job::Entity::find()
                .filter(job::Column::Id.is_in(ids.iter().copied()))
                .order_by_asc(job::Column::Id)
                .all(db)
                .await?;
            let (planned, inserted) = plan_batch(db, n, org, zone, &jobs, slot, previous, next, now).await?;
            report.jobs_planned += planned;
            report.status_updates += inserted;
        }
    }
    Ok(report)
}

/// Renders and stores the status updates of one batch of jobs, and marks
/// the slot handled, in one transaction. All reads happen first, so on
/// SQLite the transaction's first statement is a write.
#[allow(clippy::too_many_arguments)]
async fn plan_batch(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    zone: Zone,
    jobs: &[job::Model],
    slot: DateTime<Utc>,
    previous: DateTime<Utc>,
    next: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(u64, u64), Error> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    let customers = crate::store::customers::by_ids(db, jobs.iter().map(|j| j.customer_id)).await?;
    let news = crate::messages::news::since(db, &ids, zone, previous, slot).await?;
    let promises = crate::messages::news::next_promises(db, &ids, zone, now).await?;

    let wording = compose::wording_of(db, org.id).await?;
    let mut drafts = Vec::new();
    let mut links: Vec<(Link, i64)> = Vec::new();
    let mut promised = Vec::new();
    for j in jobs {
        let Some(c) = customers.get(&j.customer_id) else { continue };
        let parties = Parties { org, customer: c, job: j };
        let link = outbox::new_link(&n.public_url);
        let mut ctx = compose::base_ctx(&parties, &link.url);
        let local_hour = chrono::Timelike::hour(&slot.with_timezone(&zone.0));
        ctx.insert("slot".into(), json!(crate::domain::messaging::part_of_day(local_hour)));
        ctx.insert("news".into(), json!(news.get(&j.id).cloned().unwrap_or_default()));
        ctx.insert("next_promise".into(), promises.get(&j.id).cloned().unwrap_or(Value::Null));
        ctx.insert("next_update".into(), json!(compose::clock_time(zone, next)));
        let plan = Plan {
            kind: MessageKind::StatusUpdate,
            key: format!("status_update:{}:{}", j.id, slot.timestamp()),
            visit_id: None,
            due_at: slot,
            expires_at: Some(next),
            ctx: &ctx,
        };
        let d = compose::drafts(&n.templates, &wording, &parties, plan).map_err(|e| Error::Internal(e.to_string()))?;
        if d.iter().any(|d| d.blocked.is_none()) {
            promised.push(j.id);
        }
        if !d.is_empty() {
            drafts.extend(d);
            links.push((link, j.id));
        }
    }

    let txn = db.begin().await?;
    job::Entity::update_many()
        .col_expr(job::Column::LastUpdateSlot, Expr::value(slot))
        .filter(job::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    let inserted = outbox::enqueue(&txn, org.id, drafts, None, now).await?;
    if inserted > 0 {
        let refs: Vec<(&Link, i64)> = links.iter().map(|(l, j)| (l, *j)).collect();
        outbox::insert_links(&txn, org.id, &refs, now).await?;
    }
    // Each planned slot is a promise to the customer, decided by its messages.
    crate::store::promises::make_many(
        &txn,
        org.id,
        promised
            .iter()
            .map(|job_id| crate::store::promises::NewPromise {
                job_id: *job_id,
                visit_id: None,
                staff_id: None,
                kind: PromiseKind::StatusUpdate,
                key: format!("status_update:{job_id}:{}", slot.timestamp()),
                description: format!("Status update at {}", compose::clock_time(zone, slot)),
                window_start: None,
                due_at: slot,
                renegotiates: None,
            })
            .collect(),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((ids.len() as u64, inserted))
}

/// Day-before reminders for visits starting within 24 hours that were booked
/// (or last moved) before the reminder would have been due.
async fn plan_reminders(db: &Db, n: &NotifyCtx, org: &organization::Model, now: DateTime<Utc>) -> Result<u64, Error> {
    let visits = visit::Entity::find()
        .filter(visit::Column::OrganizationId.eq(org.id))
        .filter(visit::Column::Status.eq(VisitStatus::Scheduled))
        .filter(visit::Column::WindowStart.gt(now))
        .filter(visit::Column::WindowStart.lte(now + Duration::hours(24)))
        .filter(
            Condition::any()
                .add(visit::Column::RemindedFor.is_null())
                .add(Expr::col(visit::Column::RemindedFor).ne(Expr::col(visit::Column::WindowStart))),
        )
        .order_by_asc(visit::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    if visits.is_empty() {
        return Ok(0);
    }
    let jobs: HashMap<i64, job::Model> = job::Entity::find()
        .filter(job::Column::Id.is_in(visits.iter().map(|v| v.job_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    let customers = crate::store::customers::by_ids(db, jobs.values().map(|j| j.customer_id)).await?;
    let assignments = visit_staff::Entity::find()
        .filter(visit_staff::Column::VisitId.is_in(visits.iter().map(|v| v.id)))
        .order_by_asc(visit_staff::Column::StaffId)
        .all(db)
        .await?;
    let people: HashMap<i64, staff::Model> = staff::Entity::find()
        .filter(staff::Column::Id.is_in(assignments.iter().map(|a| a.staff_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();

    let wording = compose::wording_of(db, org.id).await?;
    let mut drafts = Vec::new();
    let mut links = Vec::new();
    for v in &visits {
        let due = v.window_start - Duration::hours(24);
        // Booked within the last day: the introduction already said it all.
        if v.updated_at > due {
            continue;
        }
        let (Some(j), Some(c)) = (jobs.get(&v.job_id), jobs.get(&v.job_id).and_then(|j| customers.get(&j.customer_id)))
        else {
            continue;
        };
        if !j.status.is_open() {
            continue;
        }
        let crew: Vec<&staff::Model> =
            assignments.iter().filter(|a| a.visit_id == v.id).filter_map(|a| people.get(&a.staff_id)).collect();
        let Some(lead) = crew.first() else { continue };
        let zone = crate::error::stored_zone(&c.timezone, format_args!("customer {}", c.id))?;
        let parties = Parties { org, customer: c, job: j };
        let link = outbox::new_link(&n.public_url);
        let mut ctx = compose::base_ctx(&parties, &link.url);
        ctx.insert("staff".into(), compose::staff_ctx(lead));
        ctx.insert("others".into(), json!(crew.iter().skip(1).map(|s| s.name.clone()).collect::<Vec<_>>()));
        ctx.insert("visit".into(), compose::visit_ctx(v, zone));
        let plan = Plan {
            kind: MessageKind::Reminder,
            key: format!("reminder:{}:{}", v.id, v.window_start.timestamp()),
            visit_id: Some(v.id),
            due_at: now,
            expires_at: Some(v.window_start),
            ctx: &ctx,
        };
        let d = compose::drafts(&n.templates, &wording, &parties, plan).map_err(|e| Error::Internal(e.to_string()))?;
        if !d.is_empty() {
            drafts.extend(d);
            links.push((link, j.id));
        }
    }
    let txn = db.begin().await?;
    for v in &visits {
        visit::Entity::update_many()
            .col_expr(visit::Column::RemindedFor, Expr::value(v.window_start))
            .filter(visit::Column::Id.eq(v.id))
            .filter(visit::Column::WindowStart.eq(v.window_start))
            .exec(&txn)
            .await?;
    }
    let inserted = outbox::enqueue(&txn, org.id, drafts, None, now).await?;
    if inserted > 0 {
        let refs: Vec<(&Link, i64)> = links.iter().map(|(l, j)| (l, *j)).collect();
        outbox::insert_links(&txn, org.id, &refs, now).await?;
    }
    txn.commit().await?;
    Ok(inserted)
}
