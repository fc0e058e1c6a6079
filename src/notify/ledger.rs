//! Keeping the ledger: promises made when visits are booked and updates
//! planned, decided when crews arrive and messages go out, and watched every
//! tick so a window at risk reaches the office before the customer notices.

use super::compose::{self, Parties, Plan};
use super::{outbox, NotifyCtx};
use crate::db::Db;
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{customer, job, message, organization, promise, visit};
use crate::error::ApiError;
use crate::store::promises::{self, kind, outcome, NewPromise};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

async fn customer_zone<C: ConnectionTrait>(db: &C, job: &job::Model) -> Result<(customer::Model, Zone), ApiError> {
    let c = customer::Entity::find_by_id(job.customer_id).one(db).await?.ok_or(ApiError::NotFound)?;
    let z = Zone::parse(&c.timezone).unwrap_or(Zone(chrono_tz::UTC));
    Ok((c, z))
}

fn arrival(v: &visit::Model, lead: Option<i64>, zone: Zone, renegotiates: Option<i64>) -> NewPromise {
    NewPromise {
        job_id: v.job_id,
        visit_id: Some(v.id),
        staff_id: lead,
        kind: kind::ARRIVAL_WINDOW,
        key: format!("arrival:{}:{}:{}", v.id, v.window_start.timestamp(), v.window_end.timestamp()),
        description: format!("Arrive {}", compose::window_phrase(zone, v.window_start, v.window_end)),
        window_start: Some(v.window_start),
        due_at: v.window_end,
        renegotiates,
    }
}

/// A booking promises the arrival window and, for an estimate visit, the estimate.
pub async fn on_booked<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    job: &job::Model,
    v: &visit::Model,
    lead: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (_, zone) = customer_zone(db, job).await?;
    promises::make(db, org.id, arrival(v, lead, zone, None), now).await?;
    if v.kind == "estimate" {
        let due = v.window_end + Duration::hours(org.estimate_turnaround_hours as i64);
        promises::make(
            db,
            org.id,
            NewPromise {
                job_id: job.id,
                visit_id: Some(v.id),
                staff_id: lead,
                kind: kind::ESTIMATE_BY,
                key: format!("estimate_by:{}", v.id),
                description: format!(
                    "Send the written estimate by {}",
                    due.with_timezone(&zone.0).format("%A, %B %-d, %-I:%M %p %Z")
                ),
                window_start: None,
                due_at: due,
                renegotiates: None,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// What a new window meant for the customer's arrival promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescheduled {
    /// The window did not move.
    Unchanged,
    /// The old window was still pending: it is renegotiated, and the caller
    /// tells the customer the new one (the ledger says so).
    Renegotiated,
    /// The old window was already broken: our apology with the new window
    /// went out here.
    Apologized,
}

/// A new window: a pending promise is renegotiated (the customer is told the
/// new one: see `events::visit_rescheduled`); a broken one gets its
/// successor, and the customer our apology with the new window.
#[allow(clippy::too_many_arguments)]
pub async fn on_rescheduled<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    before: &visit::Model,
    after: &visit::Model,
    lead: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Rescheduled, ApiError> {
    if before.window_start == after.window_start && before.window_end == after.window_end {
        return Ok(Rescheduled::Unchanged);
    }
    let (customer, zone) = customer_zone(db, job).await?;
    let previous = promises::latest_arrival(db, after.id).await?;
    let mut renegotiates = None;
    let mut result = Rescheduled::Renegotiated;
    if let Some(p) = &previous {
        match p.outcome.as_str() {
            outcome::PENDING => {
                promises::decide(
                    db,
                    p.id,
                    outcome::RENEGOTIATED,
                    json!({
                        "reason": "rescheduled before the window",
                        "new_window_start": after.window_start, "new_window_end": after.window_end,
                        "customer_told": {"message": "visit_rescheduled", "at": now},
                    }),
                    None,
                    now,
                )
                .await?;
            }
            outcome::BROKEN => {
                renegotiates = Some(p.id);
                result = Rescheduled::Apologized;
            }
            _ => {}
        }
    }
    promises::make(db, org.id, arrival(after, lead, zone, renegotiates), now).await?;
    if let Some(broken) = renegotiates {
        running_late(db, n, org, job, &customer, zone, broken, Some(after), now).await?;
        // "We'll call you with a new time": the new time is now with the customer.
        for p in promises::pending_of_kind(db, job.id, kind::CALLBACK_BY)
            .await?
            .into_iter()
            .filter(|p| p.renegotiates == Some(broken))
        {
            promises::decide(
                db,
                p.id,
                outcome::KEPT,
                json!({"reason": "a new window was set and sent", "new_window_start": after.window_start}),
                None,
                now,
            )
            .await?;
        }
    }
    Ok(result)
}

/// A crew's status tap decides the arrival promise.
pub async fn on_status<C: ConnectionTrait>(
    db: &C,
    v: &visit::Model,
    to: VisitStatus,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(p) = promises::latest_arrival(db, v.id).await? else { return Ok(()) };
    match to {
        VisitStatus::Arrived => {
            let start = p.window_start.unwrap_or(p.due_at);
            let late = (now - p.due_at).num_minutes();
            if p.outcome == outcome::PENDING {
                if now >= start && now <= p.due_at {
                    promises::decide(
                        db,
                        p.id,
                        outcome::KEPT,
                        json!({"visit_status": "arrived", "arrived_at": now}),
                        Some(0),
                        now,
                    )
                    .await?;
                } else if now < start {
                    let early = (start - now).num_minutes();
                    // Early is no broken promise when we told the customer
                    // our ETA first (On my way): they expected us.
                    match eta_told(db, v.id, now).await? {
                        Some(m) => {
                            promises::decide(
                                db,
                                p.id,
                                outcome::KEPT,
                                json!({
                                    "visit_status": "arrived", "arrived_at": now, "early": "you were told",
                                    "minutes_early": early, "eta_message_id": m.id,
                                }),
                                Some(0),
                                now,
                            )
                            .await?;
                        }
                        None => {
                            promises::decide(db, p.id, outcome::BROKEN, json!({"visit_status": "arrived", "arrived_at": now, "reason": format!("arrived {early} minutes before the window")}), Some(0), now).await?;
                        }
                    }
                } else {
                    promises::decide(db, p.id, outcome::BROKEN, json!({"visit_status": "arrived", "arrived_at": now, "reason": format!("arrived {late} minutes after the window")}), Some(late as i32), now).await?;
                }
            } else if p.outcome == outcome::BROKEN && p.lateness_minutes.is_none() {
                // Missed at the window's end; now we know by how much.
                promise::Entity::update_many()
                    .col_expr(promise::Column::LatenessMinutes, Expr::value(late.max(0) as i32))
                    .filter(promise::Column::Id.eq(p.id))
                    .exec(db)
                    .await?;
            }
        }
        VisitStatus::Cancelled => {
            promises::decide(
                db,
                p.id,
                outcome::CANCELLED,
                json!({"visit_status": "cancelled", "customer_told": {"message": "visit_cancelled", "at": now}}),
                None,
                now,
            )
            .await?;
        }
        VisitStatus::Missed => {
            promises::decide(db, p.id, outcome::BROKEN, json!({"visit_status": "missed"}), None, now).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The *On my way* message that told the customer our ETA for this visit,
/// if one went (or is going) out before `now`.
async fn eta_told<C: ConnectionTrait>(
    db: &C,
    visit_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<message::Model>, ApiError> {
    use super::outbox::state;
    Ok(message::Entity::find()
        .filter(message::Column::VisitId.eq(visit_id))
        .filter(message::Column::Kind.eq("on_my_way"))
        .filter(message::Column::CreatedAt.lte(now))
        .filter(message::Column::State.is_in([
            state::SENT,
            state::HELD,
            state::UNCERTAIN,
            state::PENDING,
            state::RETRY,
            state::SENDING,
        ]))
        .order_by_asc(message::Column::Id)
        .one(db)
        .await?)
}

/// "We're running late, and that's on us": with the new window if there is
/// one, otherwise with a call-back promise.
#[allow(clippy::too_many_arguments)]
async fn running_late<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    customer: &customer::Model,
    zone: Zone,
    broken: i64,
    new_visit: Option<&visit::Model>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let parties = Parties { org, customer, job };
    let link = outbox::new_link(&n.public_url);
    let mut ctx = compose::base_ctx(&parties, &link.url);
    let (key, callback_by) = match new_visit {
        Some(v) => {
            ctx.insert("new_window".into(), json!(compose::window_phrase(zone, v.window_start, v.window_end)));
            (format!("running_late:{broken}:window:{}", v.window_start.timestamp()), None)
        }
        None => {
            let by = now + Duration::minutes(30);
            ctx.insert("callback_by".into(), json!(compose::clock_time(zone, by)));
            (format!("running_late:{broken}:callback"), Some(by))
        }
    };
    let plan =
        Plan { kind: "running_late", key, visit_id: new_visit.map(|v| v.id), due_at: now, expires_at: None, ctx: &ctx };
    let drafts = compose::drafts(&n.templates, &parties, plan).map_err(|e| ApiError::Internal(e.to_string()))?;
    outbox::enqueue(db, org.id, drafts, Some((&link, job.id)), now).await?;
    if let Some(by) = callback_by {
        promises::make(
            db,
            org.id,
            NewPromise {
                job_id: job.id,
                visit_id: None,
                staff_id: None,
                kind: kind::CALLBACK_BY,
                key: format!("late_callback:{broken}"),
                description: format!("Call the customer by {} about a new time", compose::clock_time(zone, by)),
                window_start: None,
                due_at: by,
                renegotiates: Some(broken),
            },
            now,
        )
        .await?;
    }
    Ok(())
}

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
pub async fn watch(db: &Db, n: &NotifyCtx, now: DateTime<Utc>) -> Result<WatchReport, ApiError> {
    let mut report = WatchReport::default();
    report.updates_decided += decide_updates(db, now).await?;
    // Update slots are decided in batches above; the rest one by one.
    let pending = promise::Entity::find()
        .filter(promise::Column::Outcome.eq(outcome::PENDING))
        .filter(promise::Column::Kind.ne(kind::STATUS_UPDATE))
        .filter(promise::Column::DueAt.lte(now + Duration::hours(24)))
        .order_by_asc(promise::Column::DueAt)
        .order_by_asc(promise::Column::Id)
        .all(db)
        .await?;
    for p in pending {
        let txn = db.begin().await?;
        match p.kind.as_str() {
            kind::ARRIVAL_WINDOW => {
                let Some(v) = p.visit_id else { continue };
                let Some(v) = visit::Entity::find_by_id(v).one(&txn).await? else { continue };
                let org = crate::store::orgs::get(&txn, p.organization_id).await?;
                let status = VisitStatus::parse(&v.status).unwrap_or(VisitStatus::Scheduled);
                if now > p.due_at && status != VisitStatus::Arrived && !status.is_final() {
                    if promises::decide(
                        &txn,
                        p.id,
                        outcome::BROKEN,
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
                    super::alerts::alert_dispatchers(
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
                    report.at_risk += 1;
                }
            }
            _ => {
                if p.due_at < now
                    && promises::decide(
                        &txn,
                        p.id,
                        outcome::BROKEN,
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

/// Update slots that are due: kept when a message for the slot went out
/// (or waits for quiet hours to end), broken when every message for it
/// ended otherwise, undecided while one is still on its way. Decided in
/// batches: one query for the batch's messages, one transaction.
async fn decide_updates(db: &Db, now: DateTime<Utc>) -> Result<u64, ApiError> {
    use super::outbox::state;
    use std::collections::HashMap;
    let mut decided = 0;
    let mut after = 0i64;
    loop {
        let batch = promise::Entity::find()
            .filter(promise::Column::Outcome.eq(outcome::PENDING))
            .filter(promise::Column::Kind.eq(kind::STATUS_UPDATE))
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
            .filter(message::Column::Kind.eq("status_update"))
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
            let result = if let Some(m) =
                msgs.iter().find(|m| matches!(m.state.as_str(), state::SENT | state::HELD | state::UNCERTAIN))
            {
                Some((
                    outcome::KEPT,
                    json!({"message_id": m.id, "state": m.state, "channel": m.channel}),
                    m.sent_at.unwrap_or(now),
                ))
            } else if msgs.iter().any(|m| matches!(m.state.as_str(), state::PENDING | state::RETRY | state::SENDING)) {
                None
            } else if !msgs.is_empty() && msgs.iter().all(|m| m.state == state::NO_PROVIDER) {
                // Rendered and kept in the outbox, but nothing can send it:
                // not a promise we broke, and not one we kept.
                Some((
                    outcome::NOT_SENT,
                    json!({"reason": "not sent: no SMS or email provider is configured", "messages": msgs.iter().map(|m| m.id).collect::<Vec<_>>()}),
                    now,
                ))
            } else {
                let why: Vec<String> = msgs.iter().map(|m| format!("{} {}", m.channel, m.state)).collect();
                Some((outcome::BROKEN, json!({"reason": "no message went out", "messages": why}), now))
            };
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

/// Missed windows with no new window after the grace period: apologize and
/// promise a call within 30 minutes.
async fn apologize_after_grace(db: &Db, n: &NotifyCtx, now: DateTime<Utc>) -> Result<u64, ApiError> {
    let broken = promise::Entity::find()
        .filter(promise::Column::Kind.eq(kind::ARRIVAL_WINDOW))
        .filter(promise::Column::Outcome.eq(outcome::BROKEN))
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
        if v.status != VisitStatus::Scheduled.as_str() && v.status != VisitStatus::EnRoute.as_str() {
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
