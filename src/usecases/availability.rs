//! Suggested windows: the earliest arrival windows each person could be
//! promised for a job's next visit, and the next ones for a crew whose
//! booking just lost its window. The search is `domain::availability`
//! (the booking rule itself, on a grid, within working hours); this reads
//! what it needs in a few queries and gives the answer in the customer's
//! zone.

use crate::domain::availability::{self, Loaded, Person, Search, Suggestion};
use crate::domain::time::{Window, Zone};
use crate::domain::visit::VisitKind;
use crate::entities::{organization, staff};
use crate::error::{Error, Problems};
use crate::store::visits::MAX_DURATION_MINUTES;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;

/// Days searched when none are asked for, and the most that may be.
pub const DEFAULT_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 14;
/// Windows answered when no limit is asked for, and the most that may be.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// Window width when none is asked for (capped by the organization's maximum).
pub const DEFAULT_WINDOW_MINUTES: i32 = 120;
/// The most people one question may name.
pub const MAX_STAFF: usize = 50;
/// How many next windows a refused booking offers.
pub const ALTERNATIVES: usize = 5;

/// What the office asks: windows for the next visit of a job.
#[derive(Debug, Clone)]
pub struct Ask {
    pub job_id: i64,
    pub kind: VisitKind,
    pub duration_minutes: i32,
    /// Default [`DEFAULT_WINDOW_MINUTES`], at most the organization's `max_window_minutes`.
    pub window_minutes: Option<i32>,
    /// The first day; today in the organization's zone when absent.
    pub from: Option<NaiveDate>,
    pub days: u32,
    /// Whom to ask about; everyone whose role makes this kind of visit when absent.
    pub staff_ids: Option<Vec<i64>>,
    pub limit: usize,
}

impl Ask {
    /// The job's next visit as the office books it (`JobStatus::next_visit`:
    /// an hour's estimate, then two hours of work), everyone whose role makes
    /// it, the default window width.
    pub fn next_visit(job: &crate::entities::job::Model, from: Option<NaiveDate>, days: u32, limit: usize) -> Ask {
        let (kind, duration_minutes) = job.status.next_visit();
        Ask { job_id: job.id, kind, duration_minutes, window_minutes: None, from, days, staff_ids: None, limit }
    }
}

/// A window that can be booked as it is: `POST /jobs/{id}/visits` with
/// these `staff_ids`, `window_start` and `window_end` (and the kind and
/// duration asked about) succeeds unless someone took it meanwhile.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AvailableWindow)]
pub struct Offer {
    /// Who would go (the first of `staff_ids`).
    pub staff_id: i64,
    /// Everyone the window is for: the one person of a suggestion, or the
    /// whole crew of a refused booking's alternatives.
    pub staff_ids: Vec<i64>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// The customer's zone, in which the `_local` times are given.
    pub timezone: String,
    pub window_start_local: DateTime<FixedOffset>,
    pub window_end_local: DateTime<FixedOffset>,
    /// Travel this visit adds to the day: the organization's
    /// `travel_buffer_minutes` for each person whose day (in their zone)
    /// already has a visit, 0 for each whose day is empty. Kept models
    /// travel as one flat buffer between consecutive visits, so a visit
    /// adds one leg to a day with visits and none to an empty one.
    pub added_travel_minutes: i64,
}

/// The earliest windows for the job's next visit, per person, best first:
/// earliest, then least added travel (see `domain::availability`).
pub async fn suggest<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    ask: Ask,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>, Error> {
    let job = crate::store::jobs::get(db, org.id, ask.job_id).await?;
    let mut p = Problems::default();
    let max = org.max_window_minutes;
    let window_minutes = match ask.window_minutes {
        None => DEFAULT_WINDOW_MINUTES.min(max),
        Some(w) if (0..=max).contains(&w) => w,
        Some(_) => {
            p.add("window_minutes", format!("must be between 0 and {max} (this organization's max_window_minutes)"));
            0
        }
    };
    let people = match &ask.staff_ids {
        None => crate::store::staff::with_role(db, org.id, ask.kind.done_by()).await?,
        Some(ids) => {
            let found = crate::store::staff::by_ids(db, org.id, ids).await?;
            for id in ids.iter().filter(|id| !found.iter().any(|s| s.id == **id)) {
                p.add("staff_ids", format!("there is no staff member {id}"));
            }
            found
        }
    };
    p.into_result()?;
    if !job.status.is_open() {
        return Err(Error::Conflict {
            code: "job_closed",
            message: format!("job {} is {}; reopen it before booking visits", job.id, job.status),
            details: serde_json::json!({"job_id": job.id}),
        });
    }
    let customer = crate::store::customers::get(db, org.id, job.customer_id).await?;
    suggest_for(db, org, &customer, people, window_minutes, &ask, now).await
}

/// The same, for a customer whose job is not opened yet (the office on the
/// phone): windows for a first visit of `ask.kind`, in the customer's zone.
pub async fn suggest_for_customer<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    customer: &crate::entities::customer::Model,
    kind: VisitKind,
    duration_minutes: i32,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>, Error> {
    let ask = Ask {
        job_id: 0, // no job yet: only the customer's zone is read
        kind,
        duration_minutes,
        window_minutes: None,
        from: None,
        days: DEFAULT_DAYS,
        staff_ids: None,
        limit,
    };
    let window_minutes = DEFAULT_WINDOW_MINUTES.min(org.max_window_minutes);
    let people = crate::store::staff::with_role(db, org.id, kind.done_by()).await?;
    suggest_for(db, org, customer, people, window_minutes, &ask, now).await
}

async fn suggest_for<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    customer: &crate::entities::customer::Model,
    people: Vec<crate::entities::staff::Model>,
    window_minutes: i32,
    ask: &Ask,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>, Error> {
    let customer_zone = crate::store::customers::zone(customer)?;
    let org_zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let search = Search {
        from: ask.from.unwrap_or_else(|| org_zone.date_of(now)),
        days: ask.days,
        window_secs: window_minutes as i64 * 60,
        duration_secs: ask.duration_minutes as i64 * 60,
        buffer_secs: org.travel_buffer_minutes as i64 * 60,
        not_before: now.timestamp(),
        max_reach_secs: (MAX_DURATION_MINUTES as i64 + org.travel_buffer_minutes as i64) * 60,
        limit: ask.limit,
    };
    let found = search_days(db, org, &people, Crews::EachAlone, &search).await?;
    Ok(found.into_iter().map(|s| offer(s, customer_zone)).collect())
}

/// The next windows for a crew whose booking of `refused` was turned down
/// (the window was taken, or never fitted): the earliest from that day on
/// (and from now), the same width and duration, for the whole crew
/// together, at most [`ALTERNATIVES`].
pub async fn alternatives<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    job_id: i64,
    staff_ids: &[i64],
    refused: &Window,
    duration_minutes: i32,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>, Error> {
    let people = crate::store::staff::by_ids(db, org.id, staff_ids).await?;
    let Some(lead) = people.first() else { return Ok(vec![]) };
    let job = crate::store::jobs::get(db, org.id, job_id).await?;
    let customer = crate::store::customers::get(db, org.id, job.customer_id).await?;
    let customer_zone = crate::store::customers::zone(&customer)?;
    let lead_zone = crate::store::staff::zone(lead)?;
    let search = Search {
        from: lead_zone.date_of(refused.start.max(now)),
        days: DEFAULT_DAYS,
        window_secs: (refused.end - refused.start).num_seconds(),
        duration_secs: duration_minutes as i64 * 60,
        buffer_secs: org.travel_buffer_minutes as i64 * 60,
        not_before: now.timestamp(),
        max_reach_secs: (MAX_DURATION_MINUTES as i64 + org.travel_buffer_minutes as i64) * 60,
        limit: ALTERNATIVES,
    };
    let found = search_days(db, org, &people, Crews::AllTogether, &search).await?;
    Ok(found.into_iter().map(|s| offer(s, customer_zone)).collect())
}

/// Whether each person is offered windows alone, or the people as one crew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crews {
    EachAlone,
    AllTogether,
}

impl Crews {
    /// The crews the search weighs, as slices of `persons`.
    fn of(self, persons: &[Person]) -> Vec<&[Person]> {
        match self {
            Crews::EachAlone => persons.iter().map(std::slice::from_ref).collect(),
            Crews::AllTogether => vec![persons],
        }
    }
}

/// Searches the first working day alone, reading only the visits that can
/// touch it (most questions are answered there), then, if that did not
/// settle the answer, every asked day (reading only what the first read
/// did not). Each read is one query for everyone. A
/// candidate whose cluster of visits reaches beyond what was read is
/// undecided, not offered; then the read widens, as booking's does, and
/// the search runs again.
async fn search_days<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    people: &[staff::Model],
    crews: Crews,
    search: &Search,
) -> Result<Vec<Suggestion>, Error> {
    let mut persons = people
        .iter()
        .map(|s| {
            Ok(Person {
                id: s.id,
                zone: crate::store::staff::zone(s)?,
                hours: crate::store::staff::hours(s)?,
                slots: Vec::new(),
            })
        })
        .collect::<Result<Vec<Person>, Error>>()?;
    let ids: Vec<i64> = persons.iter().map(|p| p.id).collect();
    // What has been read so far: a wider search reads only what it lacks.
    let mut have: Option<(i64, i64)> = None;
    let mut days = search.days.min(1);
    loop {
        let part = Search { days, ..*search };
        // Days nobody works (a weekend) hold no candidate: take the next too.
        let Some(needed) = availability::needed(&crews.of(&persons), &part) else {
            if days >= search.days {
                return Ok(vec![]);
            }
            days += 1;
            continue;
        };
        let mut margin = 0;
        let found = loop {
            let (lo, hi) = (needed.lo.saturating_sub(margin), needed.hi.saturating_add(margin));
            let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
            // A visit touches [lo, hi] when it touches a piece of it: read the
            // pieces not read yet, and keep each visit once.
            let pieces = match have {
                None => vec![(lo, hi)],
                Some((a, b)) => [(lo, a), (b, hi)].into_iter().filter(|(x, y)| x < y).collect(),
            };
            for (from, to) in pieces {
                let mut read = crate::store::visits::slots_between(db, org.id, &ids, at(from), at(to)).await?;
                for p in persons.iter_mut() {
                    for slot in read.remove(&p.id).unwrap_or_default() {
                        if !p.slots.iter().any(|s| s.id == slot.id) {
                            p.slots.push(slot);
                        }
                    }
                }
            }
            let (lo, hi) = have.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi)));
            have = Some((lo, hi));
            let found = availability::suggest(&crews.of(&persons), &part, Loaded { lo, hi });
            if found.undecided == 0 || margin > Duration::days(64).num_seconds() {
                break found;
            }
            margin = if margin == 0 { Duration::days(1).num_seconds() } else { margin * 8 };
        };
        if days == search.days || availability::settled(&crews.of(&persons), &part, &found) {
            return Ok(found.suggestions);
        }
        days = search.days;
    }
}

fn offer(s: Suggestion, customer_zone: Zone) -> Offer {
    let start = DateTime::from_timestamp(s.window_start, 0).unwrap_or_default();
    let end = DateTime::from_timestamp(s.window_end, 0).unwrap_or_default();
    Offer {
        staff_id: s.staff_ids.first().copied().unwrap_or_default(),
        staff_ids: s.staff_ids,
        window_start: start,
        window_end: end,
        timezone: customer_zone.name().to_string(),
        window_start_local: customer_zone.local(start),
        window_end_local: customer_zone.local(end),
        added_travel_minutes: s.added_travel_minutes,
    }
}
