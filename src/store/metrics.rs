//! Promise KPIs over a period, computed from the ledger.

use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::entities::{estimate, promise, rating, staff, visit};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;

/// `kept / decided` to four places; none when nothing was decided.
fn rate(kept: u64, decided: u64) -> Option<f64> {
    (decided > 0).then(|| (kept as f64 / decided as f64 * 10_000.0).round() / 10_000.0)
}

/// Two places; none for no values.
fn average(values: impl ExactSizeIterator<Item = f64>) -> Option<f64> {
    let n = values.len();
    (n > 0).then(|| (values.sum::<f64>() / n as f64 * 100.0).round() / 100.0)
}

/// Promises counted by outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counts {
    pub total: u64,
    pub pending: u64,
    pub kept: u64,
    pub broken: u64,
    pub renegotiated: u64,
    pub cancelled: u64,
    /// Messages that could not go out for want of a provider: neither kept nor broken.
    pub not_sent: u64,
    /// Kept, though early: the customer had our ETA first.
    pub early_told: u64,
    /// Kept out of decided (kept + broken + renegotiated); null when none was decided.
    pub kept_rate: Option<f64>,
}

/// One staff member's promises, counted by outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffCounts {
    pub staff_id: i64,
    pub name: Option<String>,
    pub total: u64,
    pub pending: u64,
    pub kept: u64,
    pub broken: u64,
    pub renegotiated: u64,
    pub cancelled: u64,
    pub not_sent: u64,
    pub early_told: u64,
    pub kept_rate: Option<f64>,
}

impl StaffCounts {
    fn new(staff_id: i64, name: Option<String>, c: Counts) -> StaffCounts {
        StaffCounts {
            staff_id,
            name,
            total: c.total,
            pending: c.pending,
            kept: c.kept,
            broken: c.broken,
            renegotiated: c.renegotiated,
            cancelled: c.cancelled,
            not_sent: c.not_sent,
            early_told: c.early_told,
            kept_rate: c.kept_rate,
        }
    }
}

/// Arrival windows kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct Arrivals {
    pub decided: u64,
    pub on_time: u64,
    pub early_told: u64,
    /// On time (or early with the customer told) out of decided.
    pub on_time_rate: Option<f64>,
    /// Late arrivals by how late: "0-15", "15-30", "30+" minutes.
    pub late_by_minutes: BTreeMap<String, u64>,
}

/// Twice-daily status updates sent on time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Updates {
    pub decided: u64,
    pub on_time: u64,
    pub on_time_rate: Option<f64>,
}

/// From an estimate visit to the estimate sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Turnaround {
    pub count: usize,
    pub average_hours: Option<f64>,
}

/// Customers' ratings of visits.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ratings {
    pub count: usize,
    /// 1–5, two places.
    pub average: Option<f64>,
}

/// Promise KPIs over a period.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PromiseMetrics)]
pub struct PromiseMetrics {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub overall: Counts,
    /// By promise kind.
    pub by_kind: BTreeMap<String, Counts>,
    pub by_staff: Vec<StaffCounts>,
    pub arrivals: Arrivals,
    pub status_updates: Updates,
    pub estimate_turnaround: Turnaround,
    pub rating: Ratings,
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
    fn counts(&self) -> Counts {
        let decided = self.kept + self.broken + self.renegotiated;
        Counts {
            total: self.total,
            pending: self.pending,
            kept: self.kept,
            broken: self.broken,
            renegotiated: self.renegotiated,
            cancelled: self.cancelled,
            not_sent: self.not_sent,
            early_told: self.early_told,
            kept_rate: rate(self.kept, decided),
        }
    }
}

/// KPIs for promises due in `[from, to)`.
pub async fn promises<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<PromiseMetrics, Error> {
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
    Ok(PromiseMetrics {
        from,
        to,
        overall: overall.counts(),
        by_kind: by_kind.iter().map(|(k, t)| (k.to_string(), t.counts())).collect(),
        by_staff: by_staff.iter().map(|(id, t)| StaffCounts::new(*id, names.get(id).cloned(), t.counts())).collect(),
        arrivals: Arrivals {
            decided: arrivals,
            on_time,
            early_told,
            on_time_rate: rate(on_time + early_told, arrivals),
            late_by_minutes: buckets.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        },
        status_updates: Updates {
            decided: updates.kept + updates.broken,
            on_time: updates.kept,
            on_time_rate: rate(updates.kept, updates.kept + updates.broken),
        },
        estimate_turnaround: Turnaround {
            count: turnaround_hours.len(),
            average_hours: average(turnaround_hours.iter().copied()),
        },
        rating: Ratings { count: ratings.len(), average: average(ratings.iter().map(|r| r.score as f64)) },
    })
}
