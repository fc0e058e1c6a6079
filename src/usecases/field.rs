//! What the crew does from the field, beyond the status taps
//! (`usecases::visits::set_status`): saying they are running late with a
//! new arrival time, and leaving a note on the visit.

use crate::db::Db;
use crate::domain::job::TimelineKind;
use crate::domain::messaging::MessageKind;
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{organization, timeline_event};
use crate::error::Error;
use crate::live::{EventType, LiveEvent};
use crate::messages::compose::{self, Parties};
use crate::messages::NotifyCtx;
use crate::store::promises::{self, NewPromise};
use crate::store::timeline::{self, Event};
use crate::store::visits::{job_in_org, lock_visit, staff_ids_of, VisitWithStaff};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

/// How far ahead a new arrival time may be: later than that is a new
/// visit (reschedule it), not a late one.
pub const LATE_AT_MOST_HOURS: i64 = 12;

/// The same note on the same visit within this many minutes is a repeat.
pub const NOTE_REPEAT_MINUTES: i64 = 2;

/// What a *Running late* call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Late {
    /// The old promise is broken, the new one made, the apology queued.
    Told,
    /// The same new time was already told (a double tap): nothing changed.
    AlreadyTold,
}

/// "The new time, said to the customer": `10:40 AM EST` when it is today
/// for them, with the day otherwise.
pub fn arrival_phrase(zone: Zone, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if zone.date_of(at) == zone.date_of(now) {
        format!("{} {} today", compose::clock_time(zone, at), at.with_timezone(&zone.0).format("%Z"))
    } else {
        compose::day_and_time(zone, at)
    }
}

/// The crew will not make the promised arrival: the promise now due is
/// broken, a new arrival promise (by `new_arrival`) is made in its place,
/// and the customer's apology with the new time is queued, all in one
/// transaction; the caller wakes delivery so it goes out at once. The same
/// time sent again (a flaky signal, a double tap) changes nothing.
///
/// `only_assignee`: a field person, who must be on the visit. `by`: who
/// said so (named to the customer when they are on the crew).
#[allow(clippy::too_many_arguments)]
pub async fn running_late(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    visit_id: i64,
    new_arrival: DateTime<Utc>,
    only_assignee: Option<i64>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(VisitWithStaff, Late), Error> {
    let new_arrival = crate::domain::time::truncate_to_second(new_arrival);
    let txn = db.begin().await?;
    let v = lock_visit(&txn, org.id, visit_id).await?;
    let staff_ids = staff_ids_of(&txn, &[v.id]).await?.remove(&v.id).unwrap_or_default();
    if let Some(me) = only_assignee {
        if !staff_ids.contains(&me) {
            return Err(Error::Forbidden("only staff assigned to this visit can say they are running late".into()));
        }
    }
    let previous = promises::latest_arrival(&txn, v.id).await?;
    let key_prefix = format!("late:{}:{}:", v.id, new_arrival.timestamp());
    if previous.as_ref().is_some_and(|p| p.key.starts_with(&key_prefix)) {
        return Ok((VisitWithStaff { visit: v, staff_ids }, Late::AlreadyTold));
    }
    if !matches!(v.status, VisitStatus::Scheduled | VisitStatus::EnRoute) {
        return Err(Error::Conflict {
            code: "visit_not_open",
            message: format!("visit {} is {}; only a visit still to be reached can run late", v.id, v.status),
            details: json!({"visit_id": v.id, "status": v.status}),
        });
    }
    let job = job_in_org(&txn, org.id, v.job_id).await?;
    let (customer, zone) = super::ledger::customer_zone(&txn, &job).await?;
    // What the customer holds now: the pending promise's time, or the window.
    let promised_by = previous.as_ref().filter(|p| p.outcome == PromiseOutcome::Pending).map(|p| p.due_at);
    if new_arrival <= now {
        return Err(Error::field("new_arrival", "must be later than now"));
    }
    if let Some(by) = promised_by {
        if new_arrival <= by {
            return Err(Error::field(
                "new_arrival",
                format!(
                    "is not later than the arrival we promised ({}); nothing is late yet",
                    compose::day_and_time(zone, by)
                ),
            ));
        }
    }
    if new_arrival > now + Duration::hours(LATE_AT_MOST_HOURS) {
        return Err(Error::field(
            "new_arrival",
            format!("is more than {LATE_AT_MOST_HOURS} hours away; reschedule the visit instead"),
        ));
    }
    // The promise we will not keep. Already broken (the window passed):
    // it stays so, and the new one follows it.
    let broken = match &previous {
        Some(p) if p.outcome == PromiseOutcome::Pending => {
            promises::decide(
                &txn,
                p.id,
                PromiseOutcome::Broken,
                json!({
                    "reason": "the crew said they are running late",
                    "new_arrival": new_arrival, "said_by_staff_id": by,
                    "customer_told": {"message": MessageKind::RunningLate, "at": now},
                }),
                Some(((new_arrival - p.due_at).num_minutes()).max(0) as i32),
                now,
            )
            .await?;
            Some(p.clone())
        }
        Some(p) if p.outcome == PromiseOutcome::Broken => Some(p.clone()),
        _ => None,
    };
    let crew = crate::store::staff::by_ids(&txn, org.id, &staff_ids).await?;
    let teller = crew.iter().find(|s| Some(s.id) == by).or(crew.first());
    let new_time = arrival_phrase(zone, new_arrival, now);
    promises::make(
        &txn,
        org.id,
        NewPromise {
            job_id: job.id,
            visit_id: Some(v.id),
            staff_id: teller.map(|s| s.id).or(staff_ids.first().copied()),
            kind: PromiseKind::ArrivalWindow,
            key: format!("{key_prefix}{}", broken.as_ref().map(|p| p.id).unwrap_or(0)),
            description: format!("Arrive by {}", compose::day_and_time(zone, new_arrival)),
            // Any time from now on is on time: we told them we are coming.
            window_start: Some(now),
            due_at: new_arrival,
            renegotiates: broken.as_ref().map(|p| p.id),
        },
        now,
    )
    .await?;
    if let Some(b) = &broken {
        // "We'll call you with a new time": the new time is with them now.
        for p in promises::pending_of_kind(&txn, job.id, PromiseKind::CallbackBy)
            .await?
            .into_iter()
            .filter(|p| p.renegotiates == Some(b.id))
        {
            promises::decide(
                &txn,
                p.id,
                PromiseOutcome::Kept,
                json!({"reason": "a new arrival time was set and sent", "new_arrival": new_arrival}),
                None,
                now,
            )
            .await?;
        }
    }
    let old_window = compose::window_phrase(zone, v.window_start, v.window_end);
    let mut extra = serde_json::Map::new();
    extra.insert("new_arrival".into(), json!(new_time));
    extra.insert("old_window".into(), json!(old_window));
    extra.insert("staff_name".into(), json!(teller.map(|s| compose::first_name(&s.name)).unwrap_or("We")));
    crate::messages::events::about(
        &txn,
        n,
        Parties { org, customer: &customer, job: &job },
        MessageKind::RunningLate,
        format!("running_late:{}:arrival:{}", v.id, new_arrival.timestamp()),
        (Some(v.id), Some(new_arrival)),
        extra,
        now,
    )
    .await?;
    timeline::record(
        &txn,
        org.id,
        Event {
            job_id: job.id,
            visit_id: Some(v.id),
            kind: TimelineKind::RunningLate,
            summary: format!("Running late: new arrival by {new_time} (customer's time); the customer was told"),
            data: json!({
                "new_arrival": new_arrival, "by_staff_id": by,
                "broken_promise_id": broken.as_ref().map(|p| p.id),
                "old_window": {"window_start": v.window_start, "window_end": v.window_end},
            }),
        },
        now,
    )
    .await?;
    // The board and the visit's crew redraw it.
    let made = promises::latest_arrival(&txn, v.id).await?;
    let event =
        LiveEvent { promise_id: made.map(|p| p.id), ..LiveEvent::visit(EventType::VisitChanged, &v, &staff_ids, now) };
    n.live.publish(&txn, event).await?;
    txn.commit().await?;
    Ok((VisitWithStaff { visit: v, staff_ids }, Late::Told))
}

/// A note from the field on a visit ("found a second leak behind the
/// dishwasher"): on the job's timeline; unless `internal`, it is news the
/// customer's next status update carries (the planner reads `Note`s).
#[allow(clippy::too_many_arguments)]
pub async fn note(
    db: &Db,
    org: &organization::Model,
    visit_id: i64,
    text: String,
    internal: bool,
    only_assignee: Option<i64>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<timeline_event::Model, Error> {
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(Error::field("text", "is required"));
    }
    if text.chars().count() > timeline::NOTE_MAX_CHARS {
        return Err(Error::field("text", format!("must be at most {} characters", timeline::NOTE_MAX_CHARS)));
    }
    let txn = db.begin().await?;
    let v = crate::store::visits::get(&txn, org.id, visit_id).await?;
    if let Some(me) = only_assignee {
        if !v.staff_ids.contains(&me) {
            return Err(Error::Forbidden("only the office and the people on this visit can add notes to it".into()));
        }
    }
    let kind = if internal { TimelineKind::InternalNote } else { TimelineKind::Note };
    // The same note sent again at once (a double tap, a resent form) is the
    // one already there.
    let repeat = timeline_event::Entity::find()
        .filter(timeline_event::Column::VisitId.eq(v.visit.id))
        .filter(timeline_event::Column::Kind.eq(kind))
        .filter(timeline_event::Column::Summary.eq(text.clone()))
        .filter(timeline_event::Column::At.gte(now - Duration::minutes(NOTE_REPEAT_MINUTES)))
        .one(&txn)
        .await?;
    if let Some(e) = repeat {
        return Ok(e);
    }
    let e = timeline::record(
        &txn,
        org.id,
        Event {
            job_id: v.visit.job_id,
            visit_id: Some(v.visit.id),
            kind,
            summary: text.clone(),
            data: json!({"text": text, "by_staff_id": by, "internal": internal, "from": "field"}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_new_time_is_said_with_its_day_unless_it_is_today() {
        let ny = Zone::parse("America/New_York").unwrap();
        let now = utc("2026-11-24T14:00:00Z");
        assert_eq!(arrival_phrase(ny, utc("2026-11-24T15:40:00Z"), now), "10:40 AM EST today");
        assert_eq!(arrival_phrase(ny, utc("2026-11-25T15:40:00Z"), now), "Wednesday, November 25, 10:40 AM EST");
        let la = Zone::parse("America/Los_Angeles").unwrap();
        assert_eq!(arrival_phrase(la, utc("2026-11-24T18:40:00Z"), now), "10:40 AM PST today");
    }
}
