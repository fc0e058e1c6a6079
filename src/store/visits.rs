//! Booking, rescheduling, reassigning and moving visits through their states.
//!
//! Every change that adds to someone's day runs in one transaction that
//! first *writes* each affected staff row (bumping `schedule_version`, in id
//! order). That write is the lock: on PostgreSQL it takes the row lock, so
//! two bookings for the same person queue; on SQLite the first write takes
//! the database write lock (with the busy timeout, later writers wait rather
//! than fail, and no stale read snapshot can be upgraded). Only then do we
//! read the day, check it, and write the visit, so a concurrent booking can
//! never slip between our check and our insert.

use crate::domain::feasibility::{self, Infeasible, Slot};
use crate::domain::time::{Window, WindowError, Zone};
use crate::domain::visit::{VisitKind, VisitStatus};
use crate::entities::{customer, job, organization, staff, visit, visit_staff};
use crate::error::Error;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// Longest expected visit duration we accept (12 hours); it bounds how far
/// apart two visits can be and still interact.
pub const MAX_DURATION_MINUTES: i32 = 12 * 60;

#[derive(Debug, Clone)]
pub struct NewVisit {
    pub kind: VisitKind,
    pub staff_ids: Vec<i64>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub duration_minutes: i32,
}

/// A partial update: reschedule (window, duration) and/or reassign (staff).
#[derive(Debug, Clone, Default)]
pub struct VisitChanges {
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i32>,
    pub staff_ids: Option<Vec<i64>>,
    /// Why, in the office's words, for the customer's message.
    pub reason: Option<String>,
}

/// A visit with the people assigned to it.
#[derive(Debug, Clone)]
pub struct VisitWithStaff {
    pub visit: visit::Model,
    pub staff_ids: Vec<i64>,
}

pub fn window(org: &organization::Model, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Window, Error> {
    Window::new(start, end, org.max_window_minutes as i64).map_err(|e| match e {
        WindowError::EndBeforeStart => Error::field("window_end", "is before window_start"),
        WindowError::TooLong { max_minutes } => Error::field(
            "window_end",
            format!("the window is longer than this organization's maximum of {max_minutes} minutes"),
        ),
    })
}

pub fn check_duration(minutes: i32) -> Result<(), Error> {
    if (1..=MAX_DURATION_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(Error::field("duration_minutes", format!("must be between 1 and {MAX_DURATION_MINUTES}")))
    }
}

pub fn normalize_staff(ids: &[i64]) -> Result<Vec<i64>, Error> {
    let set: BTreeSet<i64> = ids.iter().copied().collect();
    if set.is_empty() {
        return Err(Error::field("staff_ids", "assign at least one staff member"));
    }
    if set.len() > 20 {
        return Err(Error::field("staff_ids", "at most 20 people can be assigned to one visit"));
    }
    Ok(set.into_iter().collect())
}

/// Takes the schedule lock of each person (see the module comment) and
/// returns their rows, in id order. Must be the transaction's first write.
pub async fn lock_staff<C: ConnectionTrait>(db: &C, org_id: i64, ids: &[i64]) -> Result<Vec<staff::Model>, Error> {
    for id in ids {
        let res = staff::Entity::update_many()
            .col_expr(staff::Column::ScheduleVersion, Expr::col(staff::Column::ScheduleVersion).add(1))
            .filter(staff::Column::Id.eq(*id))
            .filter(staff::Column::OrganizationId.eq(org_id))
            .exec(db)
            .await?;
        if res.rows_affected == 0 {
            return Err(Error::field("staff_ids", format!("there is no staff member {id}")));
        }
    }
    super::staff::by_ids(db, org_id, ids).await
}

/// Takes the row lock of one visit (a no-op write), or says it is not there.
pub async fn lock_visit<C: ConnectionTrait>(db: &C, org_id: i64, id: i64) -> Result<visit::Model, Error> {
    let res = visit::Entity::update_many()
        .col_expr(visit::Column::UpdatedAt, Expr::col(visit::Column::UpdatedAt).into())
        .filter(visit::Column::Id.eq(id))
        .filter(visit::Column::OrganizationId.eq(org_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound);
    }
    visit::Entity::find_by_id(id).one(db).await?.ok_or(Error::NotFound)
}

fn slot(
    id: i64,
    status: VisitStatus,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    duration_minutes: i32,
    arrived_at: Option<DateTime<Utc>>,
) -> Slot<i64> {
    // Once someone has arrived, the arrival is a fact, not a window.
    let (start, end) = match (status, arrived_at) {
        (VisitStatus::Arrived, Some(at)) => (at, at),
        _ => (window_start, window_end),
    };
    Slot {
        id,
        window_start: start.timestamp(),
        window_end: end.timestamp(),
        duration_secs: duration_minutes as i64 * 60,
    }
}

/// Each person's visits as the booking check sees them (the same visits,
/// read the same way as [`ensure_feasible`] reads them), for everyone in
/// `staff_ids` at once: every visit whose window touches `[lo, hi]`. One
/// query however many people and days, reading only what a slot needs.
pub async fn slots_between<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    staff_ids: &[i64],
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<HashMap<i64, Vec<Slot<i64>>>, Error> {
    use sea_orm::{JoinType, QuerySelect};
    let mut out: HashMap<i64, Vec<Slot<i64>>> = staff_ids.iter().map(|id| (*id, Vec::new())).collect();
    if staff_ids.is_empty() {
        return Ok(out);
    }
    let active: Vec<&str> = VisitStatus::ALL.iter().filter(|s| s.occupies_schedule()).map(|s| s.as_str()).collect();
    let on_visit: sea_orm::RelationDef =
        visit_staff::Entity::belongs_to(visit::Entity).from(visit_staff::Column::VisitId).to(visit::Column::Id).into();
    type Row = (i64, i64, VisitStatus, DateTime<Utc>, DateTime<Utc>, i32, Option<DateTime<Utc>>);
    let rows: Vec<Row> = visit_staff::Entity::find()
        .select_only()
        .column(visit_staff::Column::StaffId)
        .column(visit::Column::Id)
        .column(visit::Column::Status)
        .column(visit::Column::WindowStart)
        .column(visit::Column::WindowEnd)
        .column(visit::Column::DurationMinutes)
        .column(visit::Column::ArrivedAt)
        .join(JoinType::InnerJoin, on_visit)
        .filter(visit_staff::Column::StaffId.is_in(staff_ids.iter().copied()))
        .filter(visit::Column::OrganizationId.eq(org_id))
        .filter(visit::Column::Status.is_in(active))
        .filter(visit::Column::WindowEnd.gte(lo))
        .filter(visit::Column::WindowStart.lte(hi))
        // No window is longer than that: the index reads only this range,
        // not the organization's whole history before `hi`.
        .filter(visit::Column::WindowStart.gte(lo - Duration::minutes(crate::domain::time::LONGEST_WINDOW_MINUTES)))
        .into_tuple()
        .all(db)
        .await?;
    for (person, id, status, window_start, window_end, duration_minutes, arrived_at) in rows {
        if let Some(slots) = out.get_mut(&person) {
            slots.push(slot(id, status, window_start, window_end, duration_minutes, arrived_at));
        }
    }
    Ok(out)
}

/// Refuses (409) when `person` could not keep every promised window that can
/// interact with `candidate` if `candidate` were on their day. `candidate.id`
/// is the visit being changed, or 0 for a new one.
pub async fn ensure_feasible<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    person: &staff::Model,
    candidate: Slot<i64>,
) -> Result<(), Error> {
    let buffer = org.travel_buffer_minutes as i64 * 60;
    let max_reach = MAX_DURATION_MINUTES as i64 * 60 + buffer;
    let mut margin = Duration::days(1);
    let cluster = loop {
        let lo = DateTime::from_timestamp(candidate.window_start, 0).unwrap_or_default() - margin;
        let hi = DateTime::from_timestamp(candidate.window_end, 0).unwrap_or_default() + margin;
        let mut slots: Vec<Slot<i64>> = slots_between(db, org.id, &[person.id], lo, hi)
            .await?
            .remove(&person.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.id != candidate.id)
            .collect();
        slots.push(candidate);
        let (cluster, first, reach) = feasibility::cluster_around(&slots, buffer, candidate.id);
        // A visit we did not load ends before `lo`, so it is free again
        // before `lo + max_reach`; one that starts after `hi` cannot be
        // reached if the cluster is done by `hi`. Otherwise, look further.
        let complete = first >= lo.timestamp() + max_reach && reach <= hi.timestamp();
        if complete || margin > Duration::days(64) {
            break cluster;
        }
        margin = margin * 2;
    };
    match feasibility::check(&cluster, buffer) {
        Ok(_) => Ok(()),
        Err(Infeasible::TooMany { count }) => Err(Error::Conflict {
            code: "schedule_too_dense",
            message: format!(
                "{} would have {count} visits chained back to back; we can only promise days of up to {} linked visits",
                person.name,
                feasibility::MAX_CLUSTER
            ),
            details: json!({"staff_id": person.id, "conflicting_visit_ids": []}),
        }),
        Err(Infeasible::NoOrder { .. }) => {
            let mut named = feasibility::blockers(&cluster, buffer, candidate.id);
            if named.is_empty() {
                named = cluster.iter().map(|s| s.id).filter(|id| *id != candidate.id).collect();
            }
            named.sort_unstable();
            let zone = crate::error::stored_zone(&person.timezone, format_args!("staff {}", person.id))?;
            let described: Vec<serde_json::Value> = cluster
                .iter()
                .filter(|s| named.contains(&s.id))
                .map(|s| {
                    let start = DateTime::from_timestamp(s.window_start, 0).unwrap_or_default();
                    let end = DateTime::from_timestamp(s.window_end, 0).unwrap_or_default();
                    json!({
                        "id": s.id,
                        "window_start": start,
                        "window_end": end,
                        "window_start_local": zone.local(start),
                        "window_end_local": zone.local(end),
                        "duration_minutes": s.duration_secs / 60,
                    })
                })
                .collect();
            let list = named.iter().map(|id| format!("visit {id}")).collect::<Vec<_>>().join(", ");
            Err(Error::Conflict {
                code: "schedule_conflict",
                message: format!(
                    "{} could not keep every promised arrival window (with {} minutes of travel between visits); this conflicts with {list}",
                    person.name, org.travel_buffer_minutes
                ),
                details: json!({
                    "staff_id": person.id,
                    "conflicting_visit_ids": named,
                    "conflicting_visits": described,
                }),
            })
        }
    }
}

pub fn candidate(id: i64, w: &Window, duration_minutes: i32) -> Slot<i64> {
    Slot {
        id,
        window_start: w.start.timestamp(),
        window_end: w.end.timestamp(),
        duration_secs: duration_minutes as i64 * 60,
    }
}

pub async fn job_in_org<C: ConnectionTrait>(db: &C, org_id: i64, job_id: i64) -> Result<job::Model, Error> {
    super::jobs::get(db, org_id, job_id).await
}

pub fn names(people: &[staff::Model]) -> String {
    people.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(" and ")
}

pub async fn assign<C: ConnectionTrait>(db: &C, org_id: i64, visit_id: i64, staff_ids: &[i64]) -> Result<(), Error> {
    if staff_ids.is_empty() {
        return Ok(());
    }
    visit_staff::Entity::insert_many(staff_ids.iter().map(|sid| visit_staff::ActiveModel {
        visit_id: Set(visit_id),
        staff_id: Set(*sid),
        organization_id: Set(org_id),
    }))
    .exec(db)
    .await?;
    Ok(())
}

/// A job's visits still to come (scheduled, or the crew on its way).
pub async fn open_of_job<C: ConnectionTrait>(db: &C, job_id: i64) -> Result<Vec<visit::Model>, Error> {
    Ok(visit::Entity::find()
        .filter(visit::Column::JobId.eq(job_id))
        .filter(visit::Column::Status.is_in([VisitStatus::Scheduled.as_str(), VisitStatus::EnRoute.as_str()]))
        .order_by_asc(visit::Column::WindowStart)
        .all(db)
        .await?)
}

/// Assigned staff per visit.
pub async fn staff_ids_of<C: ConnectionTrait>(db: &C, visit_ids: &[i64]) -> Result<HashMap<i64, Vec<i64>>, Error> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    if visit_ids.is_empty() {
        return Ok(out);
    }
    let rows = visit_staff::Entity::find()
        .filter(visit_staff::Column::VisitId.is_in(visit_ids.iter().copied()))
        .order_by_asc(visit_staff::Column::StaffId)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.visit_id).or_default().push(r.staff_id);
    }
    Ok(out)
}

/// The organization's visits still to come whose window starts in
/// `[from, to)`, earliest first (at most `limit`).
pub async fn upcoming<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<VisitWithStaff>, Error> {
    use sea_orm::QuerySelect;
    let visits = visit::Entity::find()
        .filter(visit::Column::OrganizationId.eq(org_id))
        .filter(visit::Column::Status.is_in([VisitStatus::Scheduled.as_str(), VisitStatus::EnRoute.as_str()]))
        .filter(visit::Column::WindowStart.gte(from))
        .filter(visit::Column::WindowStart.lt(to))
        .order_by_asc(visit::Column::WindowStart)
        .order_by_asc(visit::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    with_staff(db, visits).await
}

async fn with_staff<C: ConnectionTrait>(db: &C, visits: Vec<visit::Model>) -> Result<Vec<VisitWithStaff>, Error> {
    let ids: Vec<i64> = visits.iter().map(|v| v.id).collect();
    let mut staff = staff_ids_of(db, &ids).await?;
    Ok(visits
        .into_iter()
        .map(|v| {
            let staff_ids = staff.remove(&v.id).unwrap_or_default();
            VisitWithStaff { visit: v, staff_ids }
        })
        .collect())
}

pub async fn get<C: ConnectionTrait>(db: &C, org_id: i64, id: i64) -> Result<VisitWithStaff, Error> {
    let v = visit::Entity::find_by_id(id)
        .filter(visit::Column::OrganizationId.eq(org_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(with_staff(db, vec![v]).await?.remove(0))
}

pub async fn for_job<C: ConnectionTrait>(db: &C, org_id: i64, job_id: i64) -> Result<Vec<VisitWithStaff>, Error> {
    let visits = visit::Entity::find()
        .filter(visit::Column::OrganizationId.eq(org_id))
        .filter(visit::Column::JobId.eq(job_id))
        .order_by_asc(visit::Column::WindowStart)
        .order_by_asc(visit::Column::Id)
        .all(db)
        .await?;
    with_staff(db, visits).await
}

/// One stop on a person's day, with what they need to know about it.
#[derive(Debug, Clone)]
pub struct ScheduleEntry {
    pub visit: VisitWithStaff,
    pub job: job::Model,
    pub customer: customer::Model,
}

/// A person's visits whose window opens on `date` in their own zone,
/// ordered by window; cancelled visits are left out.
pub async fn day_of<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    person: &staff::Model,
    date: NaiveDate,
) -> Result<(Zone, DateTime<Utc>, DateTime<Utc>, Vec<ScheduleEntry>), Error> {
    let zone = crate::error::stored_zone(&person.timezone, format_args!("staff {}", person.id))?;
    let (start, end) = zone.day_bounds(date);
    let entries = days_of(db, org_id, std::slice::from_ref(person), date).await?;
    Ok((zone, start, end, entries))
}

/// The visits of any of `people` whose window opens on `date`, each
/// person's day taken in their own zone, ordered by window; cancelled
/// visits are left out. The same few queries however many people there are
/// (the office reads its whole crew's day at once).
pub async fn days_of<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    people: &[staff::Model],
    date: NaiveDate,
) -> Result<Vec<ScheduleEntry>, Error> {
    let mut days = Vec::with_capacity(people.len());
    for p in people {
        let zone = crate::error::stored_zone(&p.timezone, format_args!("staff {}", p.id))?;
        days.push((p.id, zone.day_bounds(date)));
    }
    // One range covering every zone's day, narrowed per person below.
    let (Some(from), Some(to)) = (days.iter().map(|d| d.1 .0).min(), days.iter().map(|d| d.1 .1).max()) else {
        return Ok(vec![]);
    };
    // The visits with their whole crews, one row per crew member, in one query.
    use sea_orm::{JoinType, QuerySelect};
    let crew: sea_orm::RelationDef =
        visit::Entity::belongs_to(visit_staff::Entity).from(visit::Column::Id).to(visit_staff::Column::VisitId).into();
    let rows: Vec<(visit::Model, Option<visit_staff::Model>)> = visit::Entity::find()
        .select_also(visit_staff::Entity)
        .join(JoinType::InnerJoin, crew)
        .filter(visit::Column::OrganizationId.eq(org_id))
        .filter(on_crew_of(days.iter().map(|d| d.0)))
        .filter(visit::Column::Status.ne(VisitStatus::Cancelled.as_str()))
        .filter(visit::Column::WindowStart.gte(from))
        .filter(visit::Column::WindowStart.lt(to))
        .order_by_asc(visit::Column::WindowStart)
        .order_by_asc(visit::Column::WindowEnd)
        .order_by_asc(visit::Column::Id)
        .order_by_asc(visit_staff::Column::StaffId)
        .all(db)
        .await?;
    let mut visits: Vec<VisitWithStaff> = Vec::new();
    for (v, member) in rows {
        let staff_id = member.map(|m| m.staff_id);
        match visits.last_mut() {
            Some(last) if last.visit.id == v.id => last.staff_ids.extend(staff_id),
            _ => visits.push(VisitWithStaff { visit: v, staff_ids: staff_id.into_iter().collect() }),
        }
    }
    let on_their_day = |v: &VisitWithStaff| {
        let at = v.visit.window_start;
        days.iter().any(|(id, (start, end))| v.staff_ids.contains(id) && *start <= at && at < *end)
    };
    visits.retain(on_their_day);
    if visits.is_empty() {
        return Ok(vec![]);
    }
    let job_ids: Vec<i64> = visits.iter().map(|v| v.visit.job_id).collect();
    // Jobs with their customers in one query (a crew's day is read often).
    let jobs: HashMap<i64, (job::Model, customer::Model)> = job::Entity::find()
        .filter(job::Column::Id.is_in(job_ids))
        .find_also_related(customer::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(j, c)| c.map(|c| (j.id, (j, c))))
        .collect();
    let mut entries = Vec::with_capacity(visits.len());
    for v in visits {
        let (job, customer) = jobs
            .get(&v.visit.job_id)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("visit {} has no job or customer", v.visit.id)))?;
        entries.push(ScheduleEntry { visit: v, job, customer });
    }
    Ok(entries)
}

/// Visits whose crew includes any of `staff_ids`.
pub fn on_crew_of(staff_ids: impl IntoIterator<Item = i64>) -> sea_orm::sea_query::SimpleExpr {
    visit::Column::Id.in_subquery(
        Query::select()
            .column(visit_staff::Column::VisitId)
            .from(visit_staff::Entity)
            .and_where(visit_staff::Column::StaffId.is_in(staff_ids))
            .to_owned(),
    )
}

/// Whether the person is on any visit of the job.
pub async fn is_on_job<C: ConnectionTrait>(db: &C, job_id: i64, staff_id: i64) -> Result<bool, Error> {
    use sea_orm::PaginatorTrait;
    let n = visit::Entity::find()
        .filter(visit::Column::JobId.eq(job_id))
        .filter(on_crew_of(std::iter::once(staff_id)))
        .count(db)
        .await?;
    Ok(n > 0)
}
