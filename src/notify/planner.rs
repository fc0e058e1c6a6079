//! The planner: what customers should hear about now. Run by the minute
//! tick; idempotent, because every message it plans has a dedupe key and the
//! database, not the scheduler, remembers what was planned.
//!
//! - **Status updates**: for every open job, at the organization's update
//!   times in the customer's zone. Only the current slot is planned: after
//!   downtime the latest missed slot goes out once, and an update overtaken by
//!   the next slot expires (the worker supersedes it). A zone's slot is
//!   handled once for all its jobs (`update_slots`, a row per zone and slot):
//!   a job opened, or reopened, after its zone's slot was planned hears from
//!   us at the next one.
//! - **Reminders**: the day before a visit, for visits booked earlier than that.

use super::NotifyCtx;
use crate::db::Db;
use crate::domain::job::JobStatus;
use crate::domain::messaging::{current_slot, parse_times, MessageKind};
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{customer, job, organization, staff, visit, visit_staff};
use crate::error::Error;
use crate::messages::compose::{self, Parties, Plan};
use crate::messages::outbox::{self, Link};
use crate::store::update_slots;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Jobs planned per statement; keeps bound parameters under SQLite's limit.
const BATCH: u64 = 400;

/// Rendered batches waiting for the writer, at most; as many go in one
/// transaction.
const WRITE_AHEAD: usize = 3;

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
pub async fn next_update_at<C: sea_orm::ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    customer: &customer::Model,
    j: &job::Model,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Error> {
    if !j.status.is_open() || (customer.sms_opted_out && customer.email_opted_out) {
        return Ok(None);
    }
    let times = parse_times(&org.update_times).unwrap_or_else(|_| default_times());
    let Ok(zone) = Zone::parse(&customer.timezone) else { return Ok(None) };
    let (current, next) = current_slot(zone, &times, now);
    if j.created_at > current {
        return Ok(Some(next));
    }
    let handled = crate::store::update_slots::is_handled(db, org.id, &customer.timezone, current).await?;
    Ok(Some(if handled { next } else { current }))
}

/// A zone's update slots at the tick: the current one, the one before it
/// (news since then) and the next (when the update expires).
#[derive(Clone, Copy)]
struct Slots {
    zone: Zone,
    slot: DateTime<Utc>,
    previous: DateTime<Utc>,
    next: DateTime<Utc>,
}

/// Open jobs read per page (one keyset page: `id > last ORDER BY id`).
const PAGE: u64 = 2000;

/// Plans the current slot's update of every open job in the zones whose
/// slot is not handled yet, then marks those zones' slots handled. One pass over the open jobs in keyset pages (whatever their zones: a
/// pass per zone read every job once per zone), each page's jobs sorted
/// into per-zone batches that are planned as they fill; memory holds one
/// page and at most one unfinished batch per zone, however many jobs are open.
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
    let slots: HashMap<String, Slots> = zones
        .into_iter()
        .filter_map(|name| {
            let zone = Zone::parse(&name).ok()?;
            let (slot, next) = current_slot(zone, &times, now);
            let previous = current_slot(zone, &times, slot - Duration::seconds(1)).0;
            Some((name, Slots { zone, slot, previous, next }))
        })
        .collect();
    // The zones whose current slot is handled already: one row each, not a
    // mark on every job.
    let handled = update_slots::handled_among(db, org.id, slots.values().map(|s| s.slot)).await?;
    let slots: HashMap<String, Slots> =
        slots.into_iter().filter(|(name, s)| !handled.iter().any(|(z, at)| z == name && *at == s.slot)).collect();
    if slots.is_empty() {
        return Ok(report);
    }
    // Only the jobs of those zones that existed at their zone's slot (any
    // other zone's jobs meet a NULL and are left out).
    let slot_of_zone = slots.iter().fold(sea_orm::sea_query::CaseStatement::new(), |case, (name, s)| {
        case.case(Expr::col((customer::Entity, customer::Column::Timezone)).eq(name.as_str()), s.slot)
    });
    let waiting = Expr::col((job::Entity, job::Column::CreatedAt)).lte(slot_of_zone);
    let wording = compose::wording_of(db, org.id).await?;
    // Where this planning's messages will be in the outbox: after the last id now.
    let these: Vec<(&str, DateTime<Utc>)> = slots.iter().map(|(zone, s)| (zone.as_str(), s.slot)).collect();
    update_slots::begin(db, org.id, &these, update_slots::last_message_id(db).await?).await?;
    // Reading and rendering the next batch overlaps writing the last one:
    // a writer task takes the rendered batches in order while this one
    // reads and renders (two cores, or the database's own process, busy at
    // once instead of in turn). The batches rendered while one transaction
    // ran go together in the next (fewer commits when writing is slower).
    let (to_writer, mut batches_in) = tokio::sync::mpsc::channel::<Rendered>(WRITE_AHEAD);
    let writer = {
        let db = db.clone();
        let org_id = org.id;
        tokio::spawn(async move {
            let mut written = (0u64, 0u64);
            while let Some(first) = batches_in.recv().await {
                let mut group = vec![first];
                while group.len() < WRITE_AHEAD {
                    let Ok(more) = batches_in.try_recv() else { break };
                    group.push(more);
                }
                let (planned, inserted) = write_batches(&db, org_id, group, now).await?;
                written.0 += planned;
                written.1 += inserted;
            }
            Ok::<_, Error>(written)
        })
    };
    let read = read_and_render(db, n, org, &wording, &slots, waiting, now, &to_writer).await;
    drop(to_writer);
    // The writer's error is the cause when it stopped taking batches.
    let written = writer.await.map_err(|e| Error::Internal(format!("the planner's writer stopped: {e}")))??;
    read?;
    // Every zone's slot is handled: said once per zone, with where its
    // messages end. (A tick that failed before this line plans the slot
    // again; its messages' dedupe keys keep what was already stored from
    // being stored twice.)
    update_slots::planned(db, org.id, &these, update_slots::last_message_id(db).await?, now).await?;
    report.jobs_planned += written.0;
    report.status_updates += written.1;
    Ok(report)
}

/// The reading half of [`plan_status_updates`]: one pass over the waiting
/// jobs, each zone's batch rendered as it fills and handed to the writer.
/// Stops early (without an error of its own) when the writer has stopped.
#[allow(clippy::too_many_arguments)]
async fn read_and_render(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    wording: &crate::messages::templates::Wording,
    slots: &HashMap<String, Slots>,
    waiting: sea_orm::sea_query::SimpleExpr,
    now: DateTime<Utc>,
    to_writer: &tokio::sync::mpsc::Sender<Rendered>,
) -> Result<(), Error> {
    let mut batches: HashMap<&str, Vec<(job::Model, customer::Model)>> = HashMap::new();
    let mut after = 0i64;
    loop {
        // On SQLite `organization_id + 0`: the page walks the primary key
        // from `after` instead of going through the organization's index
        // (a look-up of each row by id). (PostgreSQL walks the primary key
        // by itself.) Each job comes with its customer, in the same row.
        let of_org = match db.backend() {
            sea_orm::DatabaseBackend::Sqlite => Expr::col((job::Entity, job::Column::OrganizationId)).add(0).eq(org.id),
            _ => job::Column::OrganizationId.eq(org.id),
        };
        let page = job::Entity::find()
            .find_also_related(customer::Entity)
            .filter(of_org)
            .filter(job::Column::Status.is_in(open_statuses()))
            .filter(job::Column::Id.gt(after))
            .filter(waiting.clone())
            .order_by_asc(job::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some((last, _)) = page.last() else { break };
        after = last.id;
        let more = page.len() as u64 == PAGE;
        for (j, c) in page {
            let Some(c) = c else { continue };
            let Some((name, s)) = slots.get_key_value(c.timezone.as_str()) else { continue };
            if j.created_at > s.slot {
                continue;
            }
            let batch = batches.entry(name.as_str()).or_default();
            batch.push((j, c));
            if batch.len() as u64 >= BATCH {
                let full = std::mem::take(batch);
                let rendered = render_batch(db, n, org, wording, *s, &full, now).await?;
                if to_writer.send(rendered).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !more {
            break;
        }
    }
    for (name, batch) in batches {
        if batch.is_empty() {
            continue;
        }
        let rendered = render_batch(db, n, org, wording, slots[name], &batch, now).await?;
        if to_writer.send(rendered).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// One batch's status updates, rendered and ready to store.
struct Rendered {
    ids: Vec<i64>,
    drafts: Vec<compose::Draft>,
    links: Vec<(Link, i64)>,
}

/// Renders the status updates of one batch of jobs (one zone): what
/// [`write_batch`] stores.
async fn render_batch(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    wording: &crate::messages::templates::Wording,
    s: Slots,
    jobs: &[(job::Model, customer::Model)],
    now: DateTime<Utc>,
) -> Result<Rendered, Error> {
    let Slots { zone, slot, previous, next } = s;
    let ids: Vec<i64> = jobs.iter().map(|(j, _)| j.id).collect();
    let news = crate::messages::news::since(db, &ids, zone, previous, slot).await?;
    let promises = crate::messages::news::next_promises(db, &ids, zone, now).await?;

    let mut drafts = Vec::new();
    let mut links: Vec<(Link, i64)> = Vec::new();
    for (j, c) in jobs {
        let parties = Parties { org, customer: c, job: j };
        let link = outbox::job_link(&n.public_url, j);
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
        let d = compose::drafts(&n.templates, wording, &parties, plan).map_err(|e| Error::Internal(e.to_string()))?;
        if !d.is_empty() {
            drafts.extend(d);
            links.push((link, j.id));
        }
    }

    Ok(Rendered { ids, drafts, links })
}

/// Stores rendered batches in one transaction: their messages and the
/// links made for them. (Each update's promise is recorded by the ledger's
/// watch once its messages settle: `ledger::record_updates`.)
async fn write_batches(db: &Db, org_id: i64, group: Vec<Rendered>, now: DateTime<Utc>) -> Result<(u64, u64), Error> {
    let (mut planned, mut inserted) = (0u64, 0u64);
    let txn = db.begin().await?;
    for Rendered { ids, drafts, links } in group {
        let new = outbox::enqueue(&txn, org_id, drafts, None, now).await?;
        if new > 0 {
            let refs: Vec<(&Link, i64)> = links.iter().map(|(l, j)| (l, *j)).collect();
            outbox::insert_links(&txn, org_id, &refs, now).await?;
        }
        planned += ids.len() as u64;
        inserted += new;
    }
    txn.commit().await?;
    Ok((planned, inserted))
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
        let link = outbox::job_link(&n.public_url, j);
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
