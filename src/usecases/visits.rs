//! Booking, rescheduling, reassigning and cancelling visits, and moving
//! them through their states: each use case owns its transaction, checks
//! the exact booking rule (`crate::store::visits`) under the staff-row
//! locks, keeps the ledger, and queues what the customer is told.

use crate::db::{Db, WriteTxn};
use crate::domain::job::{JobStatus, TimelineKind};
use crate::domain::messaging::MessageKind;
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::visit::VisitStatus;
use crate::entities::{job, organization, staff, visit, visit_staff};
use crate::error::Error;
use crate::live::{EventType, LiveEvent};
use crate::messages::{events, NotifyCtx};
use crate::store::timeline::{self, Event};
use crate::store::visits::{
    assign, candidate, check_duration, ensure_feasible, job_in_org, lock_staff, lock_visit, names, normalize_staff,
    open_of_job, staff_ids_of, window, NewVisit, VisitChanges, VisitWithStaff,
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// Books a visit on a job, refusing (409) if anyone assigned could not keep
/// all their promised windows. A refusal for the schedule
/// (`schedule_conflict`, `schedule_too_dense`) offers the crew's next
/// windows as `alternatives` (`usecases::availability::alternatives`),
/// read after the refused transaction is gone.
pub async fn book(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    job_id: i64,
    new: NewVisit,
    now: DateTime<Utc>,
) -> Result<VisitWithStaff, Error> {
    let w = window(org, new.window_start, new.window_end)?;
    check_duration(new.duration_minutes)?;
    let staff_ids = normalize_staff(&new.staff_ids)?;
    let duration = new.duration_minutes;
    match book_checked(db, n, org, job_id, new, w, &staff_ids, now).await {
        Err(Error::Conflict { code: code @ ("schedule_conflict" | "schedule_too_dense"), message, mut details }) => {
            let next = super::availability::alternatives(db, org, job_id, &staff_ids, &w, duration, now).await?;
            details["alternatives"] = serde_json::to_value(next)?;
            Err(Error::Conflict { code, message, details })
        }
        other => other,
    }
}

/// The booking itself, in one transaction (see [`book`]).
#[allow(clippy::too_many_arguments)]
async fn book_checked(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    job_id: i64,
    new: NewVisit,
    w: crate::domain::time::Window,
    staff_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<VisitWithStaff, Error> {
    let staff_ids = staff_ids.to_vec();
    let txn = db.begin().await?;
    let people = lock_staff(&txn, org.id, &staff_ids).await?;
    let job = job_in_org(&txn, org.id, job_id).await?;
    if !job.status.is_open() {
        return Err(Error::Conflict {
            code: "job_closed",
            message: format!("job {} is {}; reopen it before booking visits", job.id, job.status),
            details: json!({"job_id": job.id}),
        });
    }
    for person in &people {
        ensure_feasible(&txn, org, person, candidate(0, &w, new.duration_minutes)).await?;
    }
    let v = visit::ActiveModel {
        organization_id: Set(org.id),
        job_id: Set(job.id),
        kind: Set(new.kind),
        status: Set(VisitStatus::Scheduled),
        window_start: Set(w.start),
        window_end: Set(w.end),
        duration_minutes: Set(new.duration_minutes),
        en_route_at: Set(None),
        arrived_at: Set(None),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    assign(&txn, org.id, v.id, &staff_ids).await?;
    events::introductions(&txn, n, org, &job, &v, &people, &people, now).await?;
    super::ledger::on_booked(&txn, org, &job, &v, staff_ids.first().copied(), now).await?;
    timeline::record(
        &txn,
        org.id,
        Event {
            job_id: job.id,
            visit_id: Some(v.id),
            kind: TimelineKind::VisitBooked,
            summary: format!("{} visit booked with {}", new.kind.as_str().replace('_', "-"), names(&people)),
            data: json!({"kind": v.kind, "staff_ids": staff_ids, "window_start": w.start, "window_end": w.end, "duration_minutes": v.duration_minutes}),
        },
        now,
    )
    .await?;
    if let Some(next) = job.status.after_booking() {
        crate::store::jobs::set_status(&txn, &job, next, "a visit was booked", now).await?;
    }
    n.live.publish(&txn, LiveEvent::visit(EventType::VisitBooked, &v, &staff_ids, now)).await?;
    txn.commit().await?;
    Ok(VisitWithStaff { visit: v, staff_ids })
}

/// Reschedules and/or reassigns a scheduled visit, with the same check as booking.
pub async fn update(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    visit_id: i64,
    changes: VisitChanges,
    now: DateTime<Utc>,
) -> Result<VisitWithStaff, Error> {
    if let Some(d) = changes.duration_minutes {
        check_duration(d)?;
    }
    let requested_staff = changes.staff_ids.as_deref().map(normalize_staff).transpose()?;

    let txn = db.begin().await?;
    let current = lock_visit(&txn, org.id, visit_id).await?;
    let current_staff = staff_ids_of(&txn, &[current.id]).await?.remove(&current.id).unwrap_or_default();
    if current.status != VisitStatus::Scheduled {
        return Err(Error::Conflict {
            code: "visit_not_scheduled",
            message: format!(
                "visit {} is {}; only scheduled visits can be rescheduled or reassigned",
                current.id, current.status
            ),
            details: json!({"visit_id": current.id, "status": current.status}),
        });
    }
    let new_staff = requested_staff.unwrap_or_else(|| current_staff.clone());
    let w = window(
        org,
        changes.window_start.unwrap_or(current.window_start),
        changes.window_end.unwrap_or(current.window_end),
    )?;
    let duration = changes.duration_minutes.unwrap_or(current.duration_minutes);
    let people = lock_staff(&txn, org.id, &new_staff).await?;
    for person in &people {
        ensure_feasible(&txn, org, person, candidate(current.id, &w, duration)).await?;
    }

    let rescheduled =
        w.start != current.window_start || w.end != current.window_end || duration != current.duration_minutes;
    let mut active: visit::ActiveModel = current.clone().into();
    active.window_start = Set(w.start);
    active.window_end = Set(w.end);
    active.duration_minutes = Set(duration);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    let job = job_in_org(&txn, org.id, current.job_id).await?;
    let removed: Vec<i64> = current_staff.iter().filter(|s| !new_staff.contains(s)).copied().collect();
    let added: Vec<i64> = new_staff.iter().filter(|s| !current_staff.contains(s)).copied().collect();
    let removed_people = crate::store::staff::by_ids(&txn, org.id, &removed).await?;
    let crew = || events_crew(&people, &removed_people);
    let reason = changes.reason.as_deref();
    // One message per change: a move that also changes the crew says both.
    let mut customer_told = false;
    if rescheduled {
        let outcome =
            super::ledger::on_rescheduled(&txn, n, org, &job, &current, &updated, new_staff.first().copied(), now)
                .await?;
        if outcome == super::ledger::Rescheduled::Renegotiated {
            crate::messages::changes::visit_rescheduled(&txn, n, org, &job, &current, &updated, crew(), reason, now)
                .await?;
            customer_told = true;
        }
        timeline::record(
            &txn,
            org.id,
            Event {
                job_id: current.job_id,
                visit_id: Some(current.id),
                kind: TimelineKind::VisitRescheduled,
                summary: match reason {
                    Some(r) => format!("Visit rescheduled ({r})"),
                    None => "Visit rescheduled".to_string(),
                },
                data: json!({
                    "from": {"window_start": current.window_start, "window_end": current.window_end, "duration_minutes": current.duration_minutes},
                    "to": {"window_start": w.start, "window_end": w.end, "duration_minutes": duration},
                    "reason": reason,
                    "customer_told": customer_told,
                }),
            },
            now,
        )
        .await?;
    }
    if new_staff != current_staff {
        if !removed.is_empty() {
            visit_staff::Entity::delete_many()
                .filter(visit_staff::Column::VisitId.eq(current.id))
                .filter(visit_staff::Column::StaffId.is_in(removed.clone()))
                .exec(&txn)
                .await?;
        }
        assign(&txn, org.id, current.id, &added).await?;
        if !customer_told {
            if removed.is_empty() {
                // Someone joins: introduce them, as at booking.
                let newcomers: Vec<staff::Model> = people.iter().filter(|p| added.contains(&p.id)).cloned().collect();
                events::introductions(&txn, n, org, &job, &updated, &newcomers, &people, now).await?;
            } else {
                // Someone is replaced: who is coming now, and who is not.
                crate::messages::changes::visit_reassigned(&txn, n, org, &job, &updated, crew(), now).await?;
            }
        }
        timeline::record(
            &txn,
            org.id,
            Event {
                job_id: current.job_id,
                visit_id: Some(current.id),
                kind: TimelineKind::VisitReassigned,
                summary: format!("Visit reassigned to {}", names(&people)),
                data: json!({"added": added, "removed": removed, "staff_ids": new_staff}),
            },
            now,
        )
        .await?;
    }
    // Whoever was taken off hears of it too: the visit leaves their day.
    let concerned: Vec<i64> = new_staff.iter().chain(&removed).copied().collect();
    n.live.publish(&txn, LiveEvent::visit(EventType::VisitChanged, &updated, &concerned, now)).await?;
    txn.commit().await?;
    Ok(VisitWithStaff { visit: updated, staff_ids: new_staff })
}

/// The customer hears that a visit is off, and what happens next: the next
/// visit still planned, or (on an open job) a call about a new time, which
/// is a promise in the ledger.
async fn tell_cancelled<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    job: &job::Model,
    v: &visit::Model,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let org = crate::store::orgs::get(db, job.organization_id).await?;
    let next = visit::Entity::find()
        .filter(visit::Column::JobId.eq(job.id))
        .filter(visit::Column::Id.ne(v.id))
        .filter(visit::Column::Status.is_in([VisitStatus::Scheduled, VisitStatus::EnRoute]))
        .filter(visit::Column::WindowEnd.gte(now))
        .order_by_asc(visit::Column::WindowStart)
        .one(db)
        .await?;
    let open = job.status.is_open();
    let callback_by = (next.is_none() && open).then(|| now + Duration::hours(24));
    if let Some(by) = callback_by {
        let customer = crate::store::customers::get(db, org.id, job.customer_id).await?;
        let zone = crate::error::stored_zone(&customer.timezone, format_args!("customer {}", customer.id))?;
        crate::store::promises::make(
            db,
            org.id,
            crate::store::promises::NewPromise {
                job_id: job.id,
                visit_id: Some(v.id),
                staff_id: None,
                kind: PromiseKind::CallbackBy,
                key: format!("cancel_callback:{}", v.id),
                description: format!(
                    "Call you by {} to agree on a new time",
                    crate::messages::compose::day_and_time(zone, by)
                ),
                window_start: None,
                due_at: by,
                renegotiates: None,
            },
            now,
        )
        .await?;
    }
    crate::messages::changes::visit_cancelled(db, n, &org, job, v, reason, next.as_ref(), callback_by, now).await?;
    Ok(())
}

/// Cancelling a job cancels its visits still to come and every promise
/// still pending on it; the customer hears it all in one message (the
/// caller's), which the ledger names. Returns the visits cancelled.
pub async fn cancel_job(
    db: &WriteTxn,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<visit::Model>, Error> {
    use crate::store::promises;
    let open = open_of_job(db, job.id).await?;
    let mut crews = staff_ids_of(db, &open.iter().map(|v| v.id).collect::<Vec<_>>()).await?;
    for v in &open {
        let mut active: visit::ActiveModel = v.clone().into();
        active.status = Set(VisitStatus::Cancelled);
        active.updated_at = Set(now);
        let cancelled = active.update(db).await?;
        let crew = crews.remove(&v.id).unwrap_or_default();
        n.live.publish(db, LiveEvent::visit(EventType::VisitStatus, &cancelled, &crew, now)).await?;
        timeline::record(
            db,
            org.id,
            Event {
                job_id: job.id,
                visit_id: Some(v.id),
                kind: TimelineKind::VisitStatus,
                summary: "Visit cancelled with the job".to_string(),
                data: json!({"from": v.status, "to": VisitStatus::Cancelled, "reason": reason}),
            },
            now,
        )
        .await?;
    }
    let told = json!({"message": MessageKind::JobCancelled, "at": now});
    for p in promises::for_job(db, org.id, job.id).await?.into_iter().filter(|p| p.outcome == PromiseOutcome::Pending) {
        promises::decide(
            db,
            p.id,
            PromiseOutcome::Cancelled,
            json!({"job_status": JobStatus::Cancelled, "reason": reason, "customer_told": told}),
            None,
            now,
        )
        .await?;
    }
    crate::messages::changes::job_cancelled(db, n, org, job, &open, reason, now).await?;
    Ok(open)
}

fn events_crew<'a>(now: &'a [staff::Model], removed: &'a [staff::Model]) -> crate::messages::changes::Crew<'a> {
    crate::messages::changes::Crew { now, removed }
}

/// Moves a visit to `to` if the move is possible. When `only_assignee` is
/// given, that staff member must be assigned to the visit. Going `en_route`
/// tells the customer, with an ETA `eta_minutes` from now (default: the
/// organization's travel buffer).
#[allow(clippy::too_many_arguments)]
pub async fn set_status(
    db: &Db,
    n: &NotifyCtx,
    org_id: i64,
    visit_id: i64,
    to: VisitStatus,
    eta_minutes: Option<i64>,
    reason: Option<&str>,
    only_assignee: Option<i64>,
    now: DateTime<Utc>,
) -> Result<VisitWithStaff, Error> {
    let txn = db.begin().await?;
    let current = lock_visit(&txn, org_id, visit_id).await?;
    let staff_ids = staff_ids_of(&txn, &[current.id]).await?.remove(&current.id).unwrap_or_default();
    if let Some(me) = only_assignee {
        if !staff_ids.contains(&me) {
            return Err(Error::Forbidden("only staff assigned to this visit can change its status".into()));
        }
    }
    let from = current.status;
    if !from.can_move_to(to) {
        return Err(Error::Conflict {
            code: "invalid_transition",
            message: format!(
                "visit {} is {}; it cannot become {} (possible: {})",
                current.id,
                from.as_str(),
                to.as_str(),
                if from.next_states().is_empty() { "none".to_string() } else { from.next_states().join(", ") }
            ),
            details: json!({"visit_id": current.id, "from": from.as_str(), "to": to.as_str(), "allowed": from.next_states()}),
        });
    }
    let mut active: visit::ActiveModel = current.clone().into();
    active.status = Set(to);
    active.updated_at = Set(now);
    match to {
        VisitStatus::EnRoute => active.en_route_at = Set(Some(now)),
        VisitStatus::Arrived => active.arrived_at = Set(Some(now)),
        VisitStatus::Completed => active.completed_at = Set(Some(now)),
        _ => {}
    }
    let updated = active.update(&txn).await?;
    let on_time = (to == VisitStatus::Arrived).then(|| now >= current.window_start && now <= current.window_end);
    let summary = match (to, on_time) {
        (VisitStatus::EnRoute, _) => "On the way".to_string(),
        (VisitStatus::Arrived, Some(true)) => "Arrived inside the promised window".to_string(),
        (VisitStatus::Arrived, _) => "Arrived outside the promised window".to_string(),
        (VisitStatus::Completed, _) => "Visit completed".to_string(),
        (VisitStatus::Cancelled, _) => "Visit cancelled".to_string(),
        (VisitStatus::Missed, _) => "Visit missed".to_string(),
        (VisitStatus::Scheduled, _) => "Visit scheduled".to_string(),
    };
    timeline::record(
        &txn,
        org_id,
        Event {
            job_id: current.job_id,
            visit_id: Some(current.id),
            kind: TimelineKind::VisitStatus,
            summary,
            data: json!({"from": from.as_str(), "to": to.as_str(), "on_time": on_time}),
        },
        now,
    )
    .await?;
    super::ledger::on_status(&txn, &current, to, now).await?;
    let job = job_in_org(&txn, org_id, current.job_id).await?;
    if to == VisitStatus::EnRoute {
        let org = crate::store::orgs::get(&txn, org_id).await?;
        let crew = crate::store::staff::by_ids(&txn, org_id, &staff_ids).await?;
        let eta = now + Duration::minutes(eta_minutes.unwrap_or(org.travel_buffer_minutes as i64));
        events::on_my_way(&txn, n, &org, &job, &updated, &crew, eta, now).await?;
    }
    if to == VisitStatus::Cancelled {
        tell_cancelled(&txn, n, &job, &updated, reason, now).await?;
    }
    if let Some(next) = job.status.after_visit(current.kind, to) {
        let reason = format!("{} visit {}", current.kind.as_str().replace('_', "-"), to.as_str().replace('_', " "));
        crate::store::jobs::set_status(&txn, &job, next, &reason, now).await?;
    }
    n.live.publish(&txn, LiveEvent::visit(EventType::VisitStatus, &updated, &staff_ids, now)).await?;
    txn.commit().await?;
    Ok(VisitWithStaff { visit: updated, staff_ids })
}
