//! Promise KPIs over a period, computed from the ledger.

use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::entities::{estimate, promise, rating, staff, visit};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

fn rate(kept: u64, decided: u64) -> Value {
    if decided == 0 {
        Value::Null
    } else {
        json!((kept as f64 / decided as f64 * 10_000.0).round() / 10_000.0)
    }
}

#[derive(Default)]
struct Tally {
    total: u64,
    pending: u64,
    kept: u64,
    broken: u64,
    renegotiated: u64,
    cancelled: u64,
    not_sent: u64,
    /// Kept, though early: the customer had our ETA first.
    early_told: u64,
}

impl Tally {
    fn add(&mut self, p: &promise::Model) {
        self.total += 1;
        if p.outcome == PromiseOutcome::Kept && crate::store::promises::evidence(p)["early"] == "you were told" {
            self.early_told += 1;
        }
        match p.outcome {
            PromiseOutcome::Kept => self.kept += 1,
            PromiseOutcome::Broken => self.broken += 1,
            PromiseOutcome::Renegotiated => self.renegotiated += 1,
            PromiseOutcome::Cancelled => self.cancelled += 1,
            PromiseOutcome::NotSent => self.not_sent += 1,
            PromiseOutcome::Pending => self.pending += 1,
        }
    }

    /// Kept out of decided promises; cancelled ones (the customer called it
    /// off), messages not sent for want of a provider, and pending ones do
    /// not count either way.
    fn json(&self) -> Value {
        let decided = self.kept + self.broken + self.renegotiated;
        json!({
            "total": self.total, "pending": self.pending, "kept": self.kept, "broken": self.broken,
            "renegotiated": self.renegotiated, "cancelled": self.cancelled, "not_sent": self.not_sent,
            "early_told": self.early_told, "kept_rate": rate(self.kept, decided),
        })
    }
}

/// KPIs for promises due in `[from, to)`.
pub async fn promises<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Value, Error> {
    let rows = promise::Entity::find()
        .filter(promise::Column::OrganizationId.eq(org_id))
        .filter(promise::Column::DueAt.gte(from))
        .filter(promise::Column::DueAt.lt(to))
        .all(db)
        .await?;
    let mut overall = Tally::default();
    let mut by_kind: BTreeMap<&str, Tally> = PromiseKind::ALL.iter().map(|k| (k.as_str(), Tally::default())).collect();
    let mut by_staff: BTreeMap<i64, Tally> = BTreeMap::new();
    let (mut arrivals, mut on_time, mut early_told) = (0u64, 0u64, 0u64);
    let mut buckets: BTreeMap<&str, u64> = [("0-15", 0), ("15-30", 0), ("30+", 0)].into_iter().collect();
    let mut estimate_visits: HashSet<i64> = HashSet::new();
    for p in &rows {
        overall.add(p);
        if let Some(t) = by_kind.get_mut(p.kind.as_str()) {
            t.add(p);
        }
        if let Some(s) = p.staff_id {
            by_staff.entry(s).or_default().add(p);
        }
        if p.kind == PromiseKind::ArrivalWindow
            && p.outcome != PromiseOutcome::Cancelled
            && p.outcome != PromiseOutcome::Pending
            && p.outcome != PromiseOutcome::Renegotiated
            && p.outcome != PromiseOutcome::NotSent
        {
            arrivals += 1;
            if p.outcome == PromiseOutcome::Kept && crate::store::promises::evidence(p)["early"] == "you were told" {
                early_told += 1;
            } else if p.outcome == PromiseOutcome::Kept {
                on_time += 1;
            } else if let Some(late) = p.lateness_minutes.filter(|l| *l > 0) {
                let b = if late <= 15 {
                    "0-15"
                } else if late <= 30 {
                    "15-30"
                } else {
                    "30+"
                };
                *buckets.entry(b).or_default() += 1;
            } else if p.outcome == PromiseOutcome::Broken {
                // Missed and never arrived (or arrived early): the worst bucket.
                *buckets.entry("30+").or_default() += 1;
            }
        }
        if p.kind == PromiseKind::EstimateBy {
            if let Some(v) = p.visit_id {
                estimate_visits.insert(v);
            }
        }
    }
    let names: HashMap<i64, String> = staff::Entity::find()
        .filter(staff::Column::OrganizationId.eq(org_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    // Estimate turnaround: from the estimate visit's arrival window end to the estimate being sent.
    let visits: HashMap<i64, visit::Model> = visit::Entity::find()
        .filter(visit::Column::Id.is_in(estimate_visits.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut turnaround_hours = Vec::new();
    for v in visits.values() {
        let first_sent = estimate::Entity::find()
            .filter(estimate::Column::JobId.eq(v.job_id))
            .filter(estimate::Column::SentAt.is_not_null())
            .all(db)
            .await?
            .into_iter()
            .filter_map(|e| e.sent_at)
            .min();
        if let Some(sent) = first_sent {
            turnaround_hours.push((sent - v.window_end).num_minutes() as f64 / 60.0);
        }
    }
    let ratings = rating::Entity::find()
        .filter(rating::Column::OrganizationId.eq(org_id))
        .filter(rating::Column::CreatedAt.gte(from))
        .filter(rating::Column::CreatedAt.lt(to))
        .all(db)
        .await?;
    let updates = &by_kind[PromiseKind::StatusUpdate.as_str()];
    Ok(json!({
        "from": from, "to": to,
        "overall": overall.json(),
        "by_kind": by_kind.iter().map(|(k, t)| (k.to_string(), t.json())).collect::<serde_json::Map<_, _>>(),
        "by_staff": by_staff.iter().map(|(id, t)| {
            let mut v = t.json();
            v["staff_id"] = json!(id);
            v["name"] = json!(names.get(id));
            v
        }).collect::<Vec<_>>(),
        "arrivals": {"decided": arrivals, "on_time": on_time, "early_told": early_told, "on_time_rate": rate(on_time + early_told, arrivals), "late_by_minutes": buckets},
        "status_updates": {"decided": updates.kept + updates.broken, "on_time": updates.kept, "on_time_rate": rate(updates.kept, updates.kept + updates.broken)},
        "estimate_turnaround": {
            "count": turnaround_hours.len(),
            "average_hours": if turnaround_hours.is_empty() { Value::Null } else { json!((turnaround_hours.iter().sum::<f64>() / turnaround_hours.len() as f64 * 100.0).round() / 100.0) },
        },
        "rating": {
            "count": ratings.len(),
            "average": if ratings.is_empty() { Value::Null } else { json!((ratings.iter().map(|r| r.score as f64).sum::<f64>() / ratings.len() as f64 * 100.0).round() / 100.0) },
        },
    }))
}
