//! Keeping the ledger as things happen: the promises a booking makes, what
//! a new window or a status tap decides, and our apology when a window is
//! missed. (Watching the ledger every tick is the notifier's:
//! `crate::notify::ledger`.)

use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::time::Zone;
use crate::domain::visit::{VisitKind, VisitStatus};
use crate::entities::{customer, job, message, organization, promise, visit};
use crate::error::Error;
use crate::messages::compose::{self, Parties, Plan};
use crate::messages::{outbox, NotifyCtx};
use crate::store::promises::{self, NewPromise};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

pub async fn customer_zone<C: ConnectionTrait>(db: &C, job: &job::Model) -> Result<(customer::Model, Zone), Error> {
    let c = customer::Entity::find_by_id(job.customer_id).one(db).await?.ok_or(Error::NotFound)?;
    let z = crate::error::stored_zone(&c.timezone, format_args!("customer {}", c.id))?;
    Ok((c, z))
}

fn arrival(v: &visit::Model, lead: Option<i64>, zone: Zone, renegotiates: Option<i64>) -> NewPromise {
    NewPromise {
        job_id: v.job_id,
        visit_id: Some(v.id),
        staff_id: lead,
        kind: PromiseKind::ArrivalWindow,
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
) -> Result<(), Error> {
    let (_, zone) = customer_zone(db, job).await?;
    promises::make(db, org.id, arrival(v, lead, zone, None), now).await?;
    if v.kind == VisitKind::Estimate {
        let due = v.window_end + Duration::hours(org.estimate_turnaround_hours as i64);
        promises::make(
            db,
            org.id,
            NewPromise {
                job_id: job.id,
                visit_id: Some(v.id),
                staff_id: lead,
                kind: PromiseKind::EstimateBy,
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
) -> Result<Rescheduled, Error> {
    if before.window_start == after.window_start && before.window_end == after.window_end {
        return Ok(Rescheduled::Unchanged);
    }
    let (customer, zone) = customer_zone(db, job).await?;
    let previous = promises::latest_arrival(db, after.id).await?;
    let mut renegotiates = None;
    let mut result = Rescheduled::Renegotiated;
    if let Some(p) = &previous {
        match p.outcome {
            PromiseOutcome::Pending => {
                promises::decide(
                    db,
                    p.id,
                    PromiseOutcome::Renegotiated,
                    json!({
                        "reason": "rescheduled before the window",
                        "new_window_start": after.window_start, "new_window_end": after.window_end,
                        "customer_told": {"message": MessageKind::VisitRescheduled, "at": now},
                    }),
                    None,
                    now,
                )
                .await?;
            }
            PromiseOutcome::Broken => {
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
        for p in promises::pending_of_kind(db, job.id, PromiseKind::CallbackBy)
            .await?
            .into_iter()
            .filter(|p| p.renegotiates == Some(broken))
        {
            promises::decide(
                db,
                p.id,
                PromiseOutcome::Kept,
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
) -> Result<(), Error> {
    let Some(p) = promises::latest_arrival(db, v.id).await? else { return Ok(()) };
    match to {
        VisitStatus::Arrived => {
            let start = p.window_start.unwrap_or(p.due_at);
            let late = (now - p.due_at).num_minutes();
            if p.outcome == PromiseOutcome::Pending {
                if now >= start && now <= p.due_at {
                    promises::decide(
                        db,
                        p.id,
                        PromiseOutcome::Kept,
                        json!({"visit_status": VisitStatus::Arrived, "arrived_at": now}),
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
                                PromiseOutcome::Kept,
                                json!({
                                    "visit_status": VisitStatus::Arrived, "arrived_at": now, "early": "you were told",
                                    "minutes_early": early, "eta_message_id": m.id,
                                }),
                                Some(0),
                                now,
                            )
                            .await?;
                        }
                        None => {
                            promises::decide(db, p.id, PromiseOutcome::Broken, json!({"visit_status": VisitStatus::Arrived, "arrived_at": now, "reason": format!("arrived {early} minutes before the window")}), Some(0), now).await?;
                        }
                    }
                } else {
                    promises::decide(db, p.id, PromiseOutcome::Broken, json!({"visit_status": VisitStatus::Arrived, "arrived_at": now, "reason": format!("arrived {late} minutes after the window")}), Some(late as i32), now).await?;
                }
            } else if p.outcome == PromiseOutcome::Broken && p.lateness_minutes.is_none() {
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
                PromiseOutcome::Cancelled,
                json!({"visit_status": VisitStatus::Cancelled, "customer_told": {"message": MessageKind::VisitCancelled, "at": now}}),
                None,
                now,
            )
            .await?;
        }
        VisitStatus::Missed => {
            promises::decide(db, p.id, PromiseOutcome::Broken, json!({"visit_status": VisitStatus::Missed}), None, now)
                .await?;
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
) -> Result<Option<message::Model>, Error> {
    Ok(message::Entity::find()
        .filter(message::Column::VisitId.eq(visit_id))
        .filter(message::Column::Kind.eq(MessageKind::OnMyWay))
        .filter(message::Column::CreatedAt.lte(now))
        .filter(message::Column::State.is_in([
            MessageState::Sent,
            MessageState::Held,
            MessageState::Uncertain,
            MessageState::Pending,
            MessageState::Retry,
            MessageState::Sending,
        ]))
        .order_by_asc(message::Column::Id)
        .one(db)
        .await?)
}

/// "We're running late, and that's on us": with the new window if there is
/// one, otherwise with a call-back promise.
#[allow(clippy::too_many_arguments)]
pub async fn running_late<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    customer: &customer::Model,
    zone: Zone,
    broken: i64,
    new_visit: Option<&visit::Model>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let parties = Parties { org, customer, job };
    let wording = compose::wording_of(db, org.id).await?;
    let link = outbox::job_link(&n.public_url, job);
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
    let plan = Plan {
        kind: MessageKind::RunningLate,
        key,
        visit_id: new_visit.map(|v| v.id),
        due_at: now,
        expires_at: None,
        ctx: &ctx,
    };
    let drafts = compose::drafts(&n.templates, &wording, &parties, plan).map_err(|e| Error::Internal(e.to_string()))?;
    outbox::enqueue(db, org.id, drafts, Some((&link, job.id)), now).await?;
    if let Some(by) = callback_by {
        promises::make(
            db,
            org.id,
            NewPromise {
                job_id: job.id,
                visit_id: None,
                staff_id: None,
                kind: PromiseKind::CallbackBy,
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
