//! Keeping the ledger: promises made when visits are booked and updates
//! planned, decided when crews arrive and messages go out, and watched every
//! tick so a window at risk reaches the office before the customer notices.

use crate::db::Db;
use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::visit::VisitStatus;
use crate::entities::{message, promise, visit};
use crate::error::Error;
use crate::live::{EventType, LiveEvent};
use crate::messages::compose::{self};
use crate::messages::NotifyCtx;
use crate::store::promises;
use crate::usecases::ledger::{customer_zone, running_late};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

/// What the tick did to the ledger.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchReport {
    pub at_risk: u64,
    pub broken: u64,
    pub apologies: u64,
    pub updates_decided: u64,
}

/// Watches pending promises: alerts at-risk windows, breaks missed ones,
/// apologizes after the grace period, decides update slots and deadlines.
pub async fn watch(db: &Db, n: &NotifyCtx, now: DateTime<Utc>) -> Result<WatchReport, Error> {
    let mut report = WatchReport::default();
    report.updates_decided += record_updates(db, now).await?;
    report.updates_decided += decide_updates(db, now).await?;
    // Update slots are decided in batches above; the rest one by one.
    let pending = promise::Entity::find()
        .filter(promise::Column::Outcome.eq(PromiseOutcome::Pending))
        .filter(promise::Column::Kind.ne(PromiseKind::StatusUpdate))
        .filter(promise::Column::DueAt.lte(now + Duration::hours(24)))
        .order_by_asc(promise::Column::DueAt)
        .order_by_asc(promise::Column::Id)
        .all(db)
        .await?;
    for p in pending {
        let txn = db.begin().await?;
        match p.kind {
            PromiseKind::ArrivalWindow => {
                let Some(v) = p.visit_id else { continue };
                let Some(v) = visit::Entity::find_by_id(v).one(&txn).await? else { continue };
                let org = crate::store::orgs::get(&txn, p.organization_id).await?;
                let status = v.status;
                if now > p.due_at && status != VisitStatus::Arrived && !status.is_final() {
                    if promises::decide(
                        &txn,
                        p.id,
                        PromiseOutcome::Broken,
                        json!({"reason": "no arrival by the end of the window", "visit_status": v.status}),
                        None,
                        p.due_at,
                    )
                    .await?
                    {
                        report.broken += 1;
                    }
                } else if p.at_risk_at.is_none()
                    && status == VisitStatus::Scheduled
                    && now < p.due_at
                    && now >= p.due_at - Duration::minutes(org.at_risk_lead_minutes as i64)
                {
                    promise::Entity::update_many()
                        .col_expr(promise::Column::AtRiskAt, Expr::value(now))
                        .filter(promise::Column::Id.eq(p.id))
                        .exec(&txn)
                        .await?;
                    let job = crate::store::jobs::get(&txn, org.id, p.job_id).await?;
                    let (customer, zone) = customer_zone(&txn, &job).await?;
                    let text = format!(
                        "Nobody is on the way yet and the window closes at {} (customer's time). Call the crew, or set a new window so we can tell {} honestly.",
                        compose::clock_time(zone, p.due_at),
                        compose::first_name(&customer.name)
                    );
                    crate::messages::alerts::alert_dispatchers(
                        &txn,
                        n,
                        &org,
                        &customer,
                        &job,
                        &format!("at_risk:{}", p.id),
                        "Arrival window at risk",
                        &text,
                        now,
                    )
                    .await?;
                    let crew =
                        crate::store::visits::staff_ids_of(&txn, &[v.id]).await?.remove(&v.id).unwrap_or_default();
                    let event = LiveEvent {
                        promise_id: Some(p.id),
                        ..LiveEvent::visit(EventType::PromiseAtRisk, &v, &crew, now)
                    };
                    n.live.publish(&txn, event).await?;
                    report.at_risk += 1;
                }
            }
            _ => {
                if p.due_at < now
                    && promises::decide(
                        &txn,
                        p.id,
                        PromiseOutcome::Broken,
                        json!({"reason": "the deadline passed"}),
                        None,
                        p.due_at,
                    )
                    .await?
                {
                    report.broken += 1;
                }
            }
        }
        txn.commit().await?;
    }
    report.apologies += apologize_after_grace(db, n, now).await?;
    Ok(report)
}

/// Status updates planned since `update_slots` came: each update's promise
/// is recorded once, decided, when its messages have settled (kept, not
/// sent or broken, by [`settle`]) — one write per update, none at planning.
/// A slot's messages are found by the outbox ids its planning stored
/// between; the slots one planning handled share that range and are read
/// in one pass. An update still on its way holds the slot's `decided_through`
/// below it, and the next watch reads on from there.
async fn record_updates(db: &Db, now: DateTime<Utc>) -> Result<u64, Error> {
    use crate::entities::update_slot;
    use std::collections::{BTreeMap, HashMap};
    const PAGE: u64 = 2000;
    let open = crate::store::update_slots::undecided(db, now).await?;
    let mut passes: BTreeMap<(i64, i64, i64), Vec<update_slot::Model>> = BTreeMap::new();
    for row in open {
        let from = row.decided_through.unwrap_or(row.first_message_id);
        let to = row.last_message_id.unwrap_or(from);
        passes.entry((row.organization_id, from, to)).or_default().push(row);
    }
    let mut recorded = 0;
    for ((org_id, from, to), rows) in passes {
        // The zone of each slot instant, for the promise's words (zones whose
        // slots fall at the same instant read the same local time).
        let zones: HashMap<i64, crate::domain::time::Zone> = rows
            .iter()
            .filter_map(|r| Some((r.slot.timestamp(), crate::domain::time::Zone::parse(&r.zone).ok()?)))
            .collect();
        let (mut cursor, mut on_its_way): (i64, Option<i64>) = (from, None);
        loop {
            let page = message::Entity::find()
                .filter(message::Column::OrganizationId.eq(org_id))
                .filter(message::Column::Kind.eq(MessageKind::StatusUpdate))
                .filter(message::Column::Id.gt(cursor))
                .filter(message::Column::Id.lte(to))
                .order_by_asc(message::Column::Id)
                .limit(PAGE)
                .all(db)
                .await?;
            let Some(last) = page.last() else { break };
            let full = page.len() as u64 == PAGE;
            cursor = last.id;
            // One update, every channel: its messages were stored together.
            let mut order: Vec<(i64, i64)> = Vec::new();
            let mut updates: HashMap<(i64, i64), Vec<message::Model>> = HashMap::new();
            for m in page {
                let Some(job) = m.job_id else { continue };
                let key = (job, m.due_at.timestamp());
                if !updates.contains_key(&key) {
                    order.push(key);
                }
                updates.entry(key).or_default().push(m);
            }
            // A full page may have cut the last update's channels apart:
            // that one is read again, whole, with the next page.
            if full {
                if let Some(key) = order.pop() {
                    cursor = updates[&key].iter().map(|m| m.id).min().unwrap_or(cursor) - 1;
                }
            }
            let mut decided = Vec::new();
            for key in &order {
                let msgs = &updates[key];
                let Some(zone) = zones.get(&key.1) else { continue };
                // Nothing was promised when every channel was closed to us.
                if msgs.iter().all(|m| m.state == MessageState::Suppressed) {
                    continue;
                }
                let Some((outcome, evidence, at)) = settle(msgs, now) else {
                    let first = msgs.iter().map(|m| m.id).min().unwrap_or(cursor);
                    on_its_way = Some(on_its_way.map_or(first, |w| w.min(first)));
                    continue;
                };
                let due_at = msgs[0].due_at;
                decided.push(promises::Decided {
                    promise: promises::NewPromise {
                        job_id: key.0,
                        visit_id: None,
                        staff_id: None,
                        kind: PromiseKind::StatusUpdate,
                        key: format!("status_update:{}:{}", key.0, key.1),
                        description: format!("Status update at {}", compose::clock_time(*zone, due_at)),
                        window_start: None,
                        due_at,
                        renegotiates: None,
                    },
                    outcome,
                    evidence,
                    decided_at: at,
                });
            }
            recorded += decided.len() as u64;
            promises::record_decided(db, org_id, decided).await?;
            if !full {
                break;
            }
        }
        let through = on_its_way.map_or(to, |first| first - 1);
        let done_at = on_its_way.is_none().then_some(now);
        crate::store::update_slots::decided(db, org_id, &rows, through, done_at).await?;
    }
    Ok(recorded)
}

/// Pending update promises written at planning, before `update_slots`
/// (a database upgraded with some still pending): decided by [`settle`]
/// in batches, one query for the batch's messages, one transaction.
async fn decide_updates(db: &Db, now: DateTime<Utc>) -> Result<u64, Error> {
    use std::collections::HashMap;
    let mut decided = 0;
    let mut after = 0i64;
    loop {
        let batch = promise::Entity::find()
            .filter(promise::Column::Outcome.eq(PromiseOutcome::Pending))
            .filter(promise::Column::Kind.eq(PromiseKind::StatusUpdate))
            .filter(promise::Column::DueAt.lte(now))
            .filter(promise::Column::Id.gt(after))
            .order_by_asc(promise::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let mut by_slot: HashMap<(i64, i64), Vec<message::Model>> = HashMap::new();
        for m in message::Entity::find()
            .filter(message::Column::Kind.eq(MessageKind::StatusUpdate))
            .filter(message::Column::JobId.is_in(batch.iter().map(|p| p.job_id)))
            .filter(message::Column::DueAt.gte(batch.iter().map(|p| p.due_at).min().unwrap_or(now)))
            .filter(message::Column::DueAt.lte(now))
            .all(db)
            .await?
        {
            if let Some(job) = m.job_id {
                by_slot.entry((job, m.due_at.timestamp())).or_default().push(m);
            }
        }
        let txn = db.begin().await?;
        for p in &batch {
            let msgs = by_slot.get(&(p.job_id, p.due_at.timestamp())).map(Vec::as_slice).unwrap_or(&[]);
            let result = settle(msgs, now);
            if let Some((o, evidence, at)) = result {
                if promises::decide(&txn, p.id, o, evidence, None, at).await? {
                    decided += 1;
                }
            }
        }
        txn.commit().await?;
    }
    Ok(decided)
}

/// What a status update's messages (every channel it went on) say of its
/// promise: kept when one went out (or waits for quiet hours to end), not
/// sent when nothing could send any, broken when every one ended otherwise;
/// `None` while one is still on its way.
fn settle(msgs: &[message::Model], now: DateTime<Utc>) -> Option<(PromiseOutcome, serde_json::Value, DateTime<Utc>)> {
    if let Some(m) =
        msgs.iter().find(|m| matches!(m.state, MessageState::Sent | MessageState::Held | MessageState::Uncertain))
    {
        Some((
            PromiseOutcome::Kept,
            json!({"message_id": m.id, "state": m.state, "channel": m.channel}),
            m.sent_at.unwrap_or(now),
        ))
    } else if msgs
        .iter()
        .any(|m| matches!(m.state, MessageState::Pending | MessageState::Retry | MessageState::Sending))
    {
        None
    } else if !msgs.is_empty() && msgs.iter().all(|m| m.state == MessageState::NoProvider) {
        // Rendered and kept in the outbox, but nothing can send it:
        // not a promise we broke, and not one we kept.
        Some((
            PromiseOutcome::NotSent,
            json!({"reason": "not sent: no SMS or email provider is configured", "messages": msgs.iter().map(|m| m.id).collect::<Vec<_>>()}),
            now,
        ))
    } else {
        let why: Vec<String> = msgs.iter().map(|m| format!("{} {}", m.channel, m.state)).collect();
        Some((PromiseOutcome::Broken, json!({"reason": "no message went out", "messages": why}), now))
    }
}

/// Missed windows with no new window after the grace period: apologize and
/// promise a call within 30 minutes.
async fn apologize_after_grace(db: &Db, n: &NotifyCtx, now: DateTime<Utc>) -> Result<u64, Error> {
    let broken = promise::Entity::find()
        .filter(promise::Column::Kind.eq(PromiseKind::ArrivalWindow))
        .filter(promise::Column::Outcome.eq(PromiseOutcome::Broken))
        .filter(promise::Column::DecidedAt.gte(now - Duration::hours(12)))
        .all(db)
        .await?;
    let mut sent = 0;
    for p in broken {
        let org = crate::store::orgs::get(db, p.organization_id).await?;
        let decided = p.decided_at.unwrap_or(p.due_at);
        if now < decided + Duration::minutes(org.late_grace_minutes as i64) {
            continue;
        }
        let Some(v) = p.visit_id else { continue };
        let Some(v) = visit::Entity::find_by_id(v).one(db).await? else { continue };
        // Arrived late, or a new window was already set: nothing to add.
        if v.status != VisitStatus::Scheduled && v.status != VisitStatus::EnRoute {
            continue;
        }
        let successor = promise::Entity::find().filter(promise::Column::Renegotiates.eq(p.id)).one(db).await?;
        if successor.is_some() {
            continue;
        }
        let txn = db.begin().await?;
        let job = crate::store::jobs::get(&txn, org.id, p.job_id).await?;
        let (customer, zone) = customer_zone(&txn, &job).await?;
        running_late(&txn, n, &org, &job, &customer, zone, p.id, None, now).await?;
        txn.commit().await?;
        sent += 1;
    }
    Ok(sent)
}
