//! What a status update tells: what we told the customer since the last
//! one, and each job's next promised arrival. The planner reads these for
//! every update; the wording editor's preview reads them for one job.

use super::compose;
use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::entities::{staff, visit, visit_staff};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Messages since the last update that changed what the customer expects
/// (an apology, a move, a cancellation, a new crew, an ETA), one line each
/// however many channels carried them: `(job, when, what)`.
pub async fn told_since<C: ConnectionTrait>(
    db: &C,
    job_ids: &[i64],
    zone: Zone,
    previous: DateTime<Utc>,
    slot: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, String)>, Error> {
    use crate::entities::message;
    const NEWS: &[MessageKind] = &[
        MessageKind::RunningLate,
        MessageKind::VisitRescheduled,
        MessageKind::VisitCancelled,
        MessageKind::VisitReassigned,
        MessageKind::OnMyWay,
        MessageKind::JobCancelled,
    ];
    let messages = message::Entity::find()
        .filter(message::Column::JobId.is_in(job_ids.iter().copied()))
        .filter(message::Column::Kind.is_in(NEWS.iter().copied()))
        .filter(message::Column::CreatedAt.gt(previous))
        .filter(message::Column::CreatedAt.lte(slot))
        .filter(message::Column::State.ne(MessageState::Suppressed))
        .order_by_asc(message::Column::Id)
        .all(db)
        .await?;
    let visits: HashMap<i64, visit::Model> = visit::Entity::find()
        .filter(visit::Column::Id.is_in(messages.iter().filter_map(|m| m.visit_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for m in messages {
        // One event, several channels: the dedupe key less its channel.
        let event = m.dedupe_key.rsplit_once(':').map(|(e, _)| e.to_string()).unwrap_or(m.dedupe_key.clone());
        let Some(job_id) = m.job_id else { continue };
        if !seen.insert(event) {
            continue;
        }
        let v = m.visit_id.and_then(|id| visits.get(&id));
        let window = v.map(|v| compose::window_phrase(zone, v.window_start, v.window_end));
        let kind = v.map(|v| format!("{} visit", v.kind.as_str().replace('_', "-"))).unwrap_or_else(|| "visit".into());
        let text = match (m.kind, window) {
            (MessageKind::RunningLate, Some(w)) => {
                format!("We were running late and apologized; your new arrival window is {w}")
            }
            (MessageKind::RunningLate, None) => {
                "We were running late and apologized; we're calling you about a new time".into()
            }
            (MessageKind::VisitRescheduled, Some(w)) => format!("We moved your {kind} to {w}"),
            (MessageKind::VisitCancelled, _) => format!("We cancelled your {kind}"),
            (MessageKind::VisitReassigned, _) => format!("A change of crew for your {kind}"),
            (MessageKind::OnMyWay, _) => "We were on our way and sent you our arrival time".into(),
            (MessageKind::JobCancelled, _) => "We cancelled the job".into(),
            (other, _) => other.as_str().replace('_', " "),
        };
        out.push((job_id, m.created_at, text));
    }
    Ok(out)
}

/// Each job's next promised arrival: who comes, for what, and when.
pub async fn next_promises<C: ConnectionTrait>(
    db: &C,
    job_ids: &[i64],
    zone: Zone,
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Value>, Error> {
    let visits = visit::Entity::find()
        .filter(visit::Column::JobId.is_in(job_ids.iter().copied()))
        .filter(visit::Column::Status.is_in([VisitStatus::Scheduled, VisitStatus::EnRoute]))
        .filter(visit::Column::WindowEnd.gte(now))
        .order_by_asc(visit::Column::WindowStart)
        .order_by_asc(visit::Column::Id)
        .all(db)
        .await?;
    let mut first: HashMap<i64, visit::Model> = HashMap::new();
    for v in visits {
        first.entry(v.job_id).or_insert(v);
    }
    let visit_ids: Vec<i64> = first.values().map(|v| v.id).collect();
    let assignments = visit_staff::Entity::find().filter(visit_staff::Column::VisitId.is_in(visit_ids)).all(db).await?;
    let people: HashMap<i64, String> = staff::Entity::find()
        .filter(staff::Column::Id.is_in(assignments.iter().map(|a| a.staff_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut out = HashMap::new();
    for (job_id, v) in first {
        let names: Vec<&str> = assignments
            .iter()
            .filter(|a| a.visit_id == v.id)
            .filter_map(|a| people.get(&a.staff_id).map(String::as_str))
            .collect();
        let who = if names.is_empty() { "We".to_string() } else { names.join(" and ") };
        let verb = if names.len() > 1 { "arrive" } else { "arrives" };
        let label = format!("{who} {verb} for the {} visit", v.kind.as_str().replace('_', "-"));
        out.insert(job_id, json!({"label": label, "when": compose::window_phrase(zone, v.window_start, v.window_end)}));
    }
    Ok(out)
}

/// The news each job's status update for `slot` carries: the office's notes
/// since the previous slot and what we told the customer since (an
/// apology, a move, an ETA), newest first.
pub async fn since<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    zone: Zone,
    previous: DateTime<Utc>,
    slot: DateTime<Utc>,
) -> Result<HashMap<i64, Vec<Value>>, Error> {
    use crate::domain::job::TimelineKind;
    use crate::entities::timeline_event;
    let mut news: HashMap<i64, Vec<(DateTime<Utc>, Value)>> = HashMap::new();
    for e in timeline_event::Entity::find()
        .filter(timeline_event::Column::JobId.is_in(ids.iter().copied()))
        .filter(timeline_event::Column::Kind.eq(TimelineKind::Note))
        .filter(timeline_event::Column::At.gt(previous))
        .filter(timeline_event::Column::At.lte(slot))
        .order_by_desc(timeline_event::Column::At)
        .order_by_desc(timeline_event::Column::Id)
        .all(db)
        .await?
    {
        let when = e.at.with_timezone(&zone.0).format("%a %-I:%M %p").to_string();
        news.entry(e.job_id).or_default().push((e.at, json!({"text": e.summary, "when": when})));
    }
    for (job_id, at, text) in told_since(db, ids, zone, previous, slot).await? {
        let when = at.with_timezone(&zone.0).format("%a %-I:%M %p").to_string();
        news.entry(job_id).or_default().push((at, json!({"text": text, "when": when})));
    }
    Ok(news
        .into_iter()
        .map(|(job, mut items)| {
            items.sort_by_key(|item| std::cmp::Reverse(item.0));
            (job, items.into_iter().map(|(_, v)| v).collect())
        })
        .collect())
}
