//! Suggested windows: for a visit of a given duration, the earliest arrival
//! windows on a grid that a person (or a whole crew) could be promised
//! without breaking any promise already made.
//!
//! "Could be promised" is decided by the booking rule itself: the candidate
//! is added to the person's visits and the cluster around it is checked
//! with [`feasibility::cluster_around`] and [`feasibility::check`], exactly
//! as `store::visits::ensure_feasible` does when the booking arrives. So a
//! suggestion books unless the day changed in between. On top of that rule,
//! a suggestion also keeps to the person's working hours: the window opens
//! inside a working span and the visit is done by the span's end even when
//! the crew arrives at the window's last minute (booking itself does not
//! look at working hours, so this only ever removes candidates).
//!
//! Candidates start on a grid of [`GRID_MINUTES`] on the wall clock of the
//! crew's first member (08:00, 08:30, …), on each of the asked days in
//! their zone. A wall time the clocks skip is no candidate; one that
//! happens twice is the first of the two, as a dispatcher's typed time is.
//!
//! **Added travel.** Kept's travel model is one flat buffer (the
//! organization's `travel_buffer_minutes`) between consecutive visits, with
//! no map. A visit on a day (the person's local day) that already holds
//! visits adds exactly one such leg wherever it goes in the order; on an
//! empty day it adds none (the trip from home is not counted, as booking
//! does not count it). So `added_travel_minutes` is the buffer for each
//! member whose day already has a visit, and 0 for each whose day is empty.
//!
//! **Rank.** Earliest window first; at the same start, least added travel
//! (an empty day first); then by staff ids, so the order is stable.

use super::feasibility::{self, Slot};
use super::people::{WorkingHours, WEEKDAYS};
use super::time::Zone;
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Timelike, Utc};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The spacing of candidate window starts, on the wall clock.
pub const GRID_MINUTES: u32 = 30;

/// The id the candidate visit carries in the check (no stored visit has it).
const CANDIDATE: i64 = 0;

/// Working hours per weekday, Monday first, as wall-clock spans in the
/// person's zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeekHours(pub [Vec<(NaiveTime, NaiveTime)>; 7]);

impl WeekHours {
    /// Reads the stored form (`{"mon": [["08:00", "17:00"]], …}`).
    pub fn parse(hours: &WorkingHours) -> Result<WeekHours, String> {
        super::people::validate_working_hours(hours)?;
        let mut week = WeekHours::default();
        for (day, spans) in hours {
            let i = WEEKDAYS.iter().position(|d| d == day).ok_or_else(|| format!("'{day}' is not a weekday"))?;
            for [from, to] in spans {
                let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("'{s}' is not HH:MM"));
                week.0[i].push((t(from)?, t(to)?));
            }
            week.0[i].sort();
        }
        Ok(week)
    }

    pub fn on(&self, date: NaiveDate) -> &[(NaiveTime, NaiveTime)] {
        &self.0[date.weekday().num_days_from_monday() as usize]
    }
}

/// One person as the search sees them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub zone: Zone,
    pub hours: WeekHours,
    /// Their visits that hold a place in their day (as booking reads them),
    /// every one whose window touches the loaded range.
    pub slots: Vec<Slot<i64>>,
}

/// The range the visits were loaded for (seconds since the epoch): every
/// visit whose window touches `[lo, hi]` is in [`Person::slots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub lo: i64,
    pub hi: i64,
}

impl Loaded {
    /// Everything there is (tests, and callers that loaded it all).
    pub const ALL: Loaded = Loaded { lo: i64::MIN / 4, hi: i64::MAX / 4 };
}

/// What to look for.
#[derive(Debug, Clone, Copy)]
pub struct Search {
    /// The first day, in each crew's first member's zone.
    pub from: NaiveDate,
    pub days: u32,
    pub window_secs: i64,
    pub duration_secs: i64,
    pub buffer_secs: i64,
    /// No window opens before this (now).
    pub not_before: i64,
    /// How far a visit can reach past its window's end (the longest
    /// duration plus the buffer), as booking assumes when it loads a day.
    pub max_reach_secs: i64,
    /// Stop once this many are found (every candidate at the last start
    /// time found is still weighed, so the rank is exact).
    pub limit: usize,
}

/// A window the crew could be promised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub staff_ids: Vec<i64>,
    pub window_start: i64,
    pub window_end: i64,
    pub added_travel_minutes: i64,
}

/// The answer, and how many candidates could not be decided because the
/// visits around them reach beyond the loaded range (load more and ask
/// again to decide them; they are never suggested undecided).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub suggestions: Vec<Suggestion>,
    pub undecided: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Fits,
    Clash,
    Undecided,
}

/// The booking rule for one person and one candidate visit: the cluster
/// around the candidate, checked exactly (see the module comment).
fn verdict(person: &Person, candidate: Slot<i64>, buffer_secs: i64, loaded: Loaded, max_reach: i64) -> Verdict {
    let mut slots = Vec::with_capacity(person.slots.len() + 1);
    slots.extend(person.slots.iter().copied());
    slots.push(candidate);
    let (cluster, first, reach) = feasibility::cluster_around(&slots, buffer_secs, CANDIDATE);
    // As booking reasons: a visit not loaded ends before `lo`, so it is free
    // again before `lo + max_reach`; one that starts after `hi` cannot be
    // reached if the cluster is done by `hi`.
    if first < loaded.lo.saturating_add(max_reach) || reach > loaded.hi {
        return Verdict::Undecided;
    }
    match feasibility::check(&cluster, buffer_secs) {
        Ok(_) => Verdict::Fits,
        Err(_) => Verdict::Clash,
    }
}

/// Whether `[start, finish]` lies inside one of the person's working spans
/// of the local day `start` falls on.
fn within_hours(person: &Person, start: i64, finish: i64) -> bool {
    let Some(at) = DateTime::<Utc>::from_timestamp(start, 0) else { return false };
    let date = person.zone.date_of(at);
    person.hours.on(date).iter().any(|(from, to)| {
        match (person.zone.at_local(date, *from), person.zone.at_local(date, *to)) {
            (Ok(a), Ok(b)) => a.timestamp() <= start && finish <= b.timestamp(),
            _ => false,
        }
    })
}

/// Buffer minutes this visit adds to the person's day (see the module comment).
fn added_travel(person: &Person, start: i64, buffer_secs: i64) -> i64 {
    let Some(at) = DateTime::<Utc>::from_timestamp(start, 0) else { return 0 };
    let (day_start, day_end) = person.zone.day_bounds(person.zone.date_of(at));
    let (lo, hi) = (day_start.timestamp(), day_end.timestamp());
    let busy = person.slots.iter().any(|s| lo <= s.window_start && s.window_start < hi);
    if busy {
        buffer_secs / 60
    } else {
        0
    }
}

/// The window starts on the grid for the crew's first member on one of
/// their local days, ascending.
fn grid_day(lead: &Person, date: NaiveDate) -> Vec<i64> {
    let mut starts = Vec::new();
    let step = GRID_MINUTES * 60;
    for (from, to) in lead.hours.on(date) {
        let mut secs = from.num_seconds_from_midnight().div_ceil(step) * step;
        while secs < to.num_seconds_from_midnight() {
            if let Some(t) = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0) {
                if let Ok(at) = lead.zone.at_local(date, t) {
                    starts.push(at.timestamp());
                }
            }
            secs += step;
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// One crew's grid over the asked days, made a day at a time as the search
/// reaches it (the search usually stops within the first day or two, so
/// the later days' wall-clock conversions are never paid for).
struct Grid<'a> {
    lead: &'a Person,
    search: &'a Search,
    day: u32,
    starts: std::vec::IntoIter<i64>,
    last: Option<i64>,
}

impl Iterator for Grid<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        loop {
            if let Some(start) = self.starts.next() {
                // Days follow each other, so starts only grow; a repeat
                // (never expected) is skipped rather than weighed twice.
                if self.last.is_some_and(|last| start <= last) {
                    continue;
                }
                self.last = Some(start);
                return Some(start);
            }
            if self.day >= self.search.days {
                return None;
            }
            let date = self.search.from.checked_add_days(Days::new(self.day as u64))?;
            self.day += 1;
            self.starts = grid_day(self.lead, date).into_iter();
        }
    }
}

/// The visits a search must see to decide every candidate of its days
/// (visits outside it only make a candidate undecided, never wrong): from
/// the longest reach before the first working span's start, to the end of
/// the last working span plus the buffer, each crew read on its first
/// member's wall clock (a candidate starts in a span of theirs and is done
/// by its end); and every member's whole local days in between, which
/// tell whether a window adds travel. `None` when no crew works then.
pub fn needed(crews: &[&[Person]], search: &Search) -> Option<Loaded> {
    let mut range: Option<(i64, i64)> = None;
    let mut widen = |a: i64, b: i64| range = Some(range.map_or((a, b), |(lo, hi)| (lo.min(a), hi.max(b))));
    for crew in crews {
        let Some(lead) = crew.first() else { continue };
        let mut spans: Option<(i64, i64)> = None;
        for d in 0..search.days {
            let Some(date) = search.from.checked_add_days(Days::new(d as u64)) else { break };
            let (day_start, day_end) = lead.zone.day_bounds(date);
            for (from, to) in lead.hours.on(date) {
                // A wall time the clocks skip: the day's edge instead.
                let a = lead.zone.at_local(date, *from).unwrap_or(day_start).timestamp();
                let b = lead.zone.at_local(date, *to).unwrap_or(day_end).timestamp();
                spans = Some(spans.map_or((a, b), |(lo, hi)| (lo.min(a), hi.max(b))));
            }
        }
        let Some((first, last)) = spans else { continue };
        widen(first.saturating_sub(search.max_reach_secs), last.saturating_add(search.buffer_secs));
        for member in crew.iter() {
            let day = |t: i64| member.zone.date_of(DateTime::from_timestamp(t, 0).unwrap_or_default());
            let (from, _) = member.zone.day_bounds(day(first));
            let (_, to) = member.zone.day_bounds(day(last - 1));
            widen(from.timestamp(), to.timestamp());
        }
    }
    range.map(|(lo, hi)| Loaded { lo, hi })
}

/// Whether the first `search.limit` of `found` are the whole search's
/// first, though only `search.days` days were searched: there are that many,
/// and the last of them starts before any crew's next day does (every
/// candidate not weighed starts then or later).
pub fn settled(crews: &[&[Person]], search: &Search, found: &Found) -> bool {
    if search.limit == 0 {
        return true;
    }
    let Some(last) = found.suggestions.get(search.limit - 1) else { return false };
    let Some(after) = search.from.checked_add_days(Days::new(search.days as u64)) else { return true };
    crews.iter().filter_map(|c| c.first()).all(|lead| last.window_start < lead.zone.start_of_day(after).timestamp())
}

/// The earliest windows each crew could be promised, best first (see the
/// module comment for the rule and the rank). Each crew is booked as one
/// visit: a window is offered only if every member can take it. For
/// suggestions per person, pass one-person crews.
pub fn suggest(crews: &[&[Person]], search: &Search, loaded: Loaded) -> Found {
    // The crews' grids merged in order of (start, crew), as if sorted.
    let mut grids: Vec<std::iter::Peekable<Grid>> = crews
        .iter()
        .filter_map(|crew| crew.first())
        .map(|lead| Grid { lead, search, day: 0, starts: Vec::new().into_iter(), last: None }.peekable())
        .collect();
    let crew_of: Vec<&[Person]> = crews.iter().copied().filter(|c| !c.is_empty()).collect();
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> =
        grids.iter_mut().enumerate().filter_map(|(c, g)| g.peek().map(|s| Reverse((*s, c)))).collect();
    let mut found = Found::default();
    while let Some(&Reverse((start, _))) = heap.peek() {
        if found.suggestions.len() >= search.limit {
            break;
        }
        // Every crew at this start time is weighed before stopping.
        while let Some(&Reverse((at, c))) = heap.peek() {
            if at != start {
                break;
            }
            heap.pop();
            grids[c].next();
            if let Some(next) = grids[c].peek() {
                heap.push(Reverse((*next, c)));
            }
            let crew = crew_of[c];
            if start < search.not_before {
                continue;
            }
            let end = start + search.window_secs;
            let finish = end + search.duration_secs;
            if !crew.iter().all(|p| within_hours(p, start, finish)) {
                continue;
            }
            let candidate =
                Slot { id: CANDIDATE, window_start: start, window_end: end, duration_secs: search.duration_secs };
            let mut verdict_all = Verdict::Fits;
            for person in crew.iter() {
                match verdict(person, candidate, search.buffer_secs, loaded, search.max_reach_secs) {
                    Verdict::Fits => {}
                    v => {
                        verdict_all = v;
                        if v == Verdict::Clash {
                            break;
                        }
                    }
                }
            }
            match verdict_all {
                Verdict::Fits => found.suggestions.push(Suggestion {
                    staff_ids: crew.iter().map(|p| p.id).collect(),
                    window_start: start,
                    window_end: end,
                    added_travel_minutes: crew.iter().map(|p| added_travel(p, start, search.buffer_secs)).sum(),
                }),
                Verdict::Undecided => found.undecided += 1,
                Verdict::Clash => {}
            }
        }
    }
    found.suggestions.sort_by(|a, b| {
        (a.window_start, a.added_travel_minutes, &a.staff_ids).cmp(&(
            b.window_start,
            b.added_travel_minutes,
            &b.staff_ids,
        ))
    });
    found.suggestions.truncate(search.limit);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use proptest::prelude::*;

    const M: i64 = 60;

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap()
    }

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn weekdays(from: &str, to: &str) -> WeekHours {
        let mut w = WeekHours::default();
        for d in 0..5 {
            w.0[d] = vec![(t(from), t(to))];
        }
        w
    }

    fn at(z: Zone, d: &str, time: &str) -> i64 {
        z.at_local(date(d), t(time)).unwrap().timestamp()
    }

    fn search(from: &str, days: u32, window_min: i64, duration_min: i64) -> Search {
        Search {
            from: date(from),
            days,
            window_secs: window_min * M,
            duration_secs: duration_min * M,
            buffer_secs: 30 * M,
            not_before: i64::MIN,
            max_reach_secs: (12 * 60 + 30) * M,
            limit: usize::MAX,
        }
    }

    fn person(id: i64, z: Zone, slots: Vec<Slot<i64>>) -> Person {
        Person { id, zone: z, hours: weekdays("08:00", "17:00"), slots }
    }

    #[test]
    fn working_hours_parse_from_their_stored_form() {
        let hours = crate::domain::people::default_working_hours();
        let week = WeekHours::parse(&hours).unwrap();
        assert_eq!(week.on(date("2026-11-23")), &[(t("08:00"), t("17:00"))], "a Monday");
        assert!(week.on(date("2026-11-22")).is_empty(), "a Sunday");
        let mut bad = hours.clone();
        bad.insert("mon".into(), vec![["9".into(), "17:00".into()]]);
        assert!(WeekHours::parse(&bad).is_err());
    }

    #[test]
    fn an_empty_day_offers_every_grid_start_that_ends_in_working_hours() {
        let ny = zone("America/New_York");
        let p = person(7, ny, vec![]);
        let found = suggest(&[std::slice::from_ref(&p)], &search("2026-11-23", 1, 120, 60), Loaded::ALL);
        let starts: Vec<i64> = found.suggestions.iter().map(|s| s.window_start).collect();
        // 08:00 … 14:00: a two-hour window and an hour's work end by 17:00.
        let expected: Vec<i64> = (0..=12).map(|k| at(ny, "2026-11-23", "08:00") + k * 30 * M).collect();
        assert_eq!(starts, expected);
        assert!(found.suggestions.iter().all(|s| s.added_travel_minutes == 0 && s.staff_ids == vec![7]));
        assert_eq!(found.suggestions[0].window_end - found.suggestions[0].window_start, 120 * M);
    }

    #[test]
    fn a_booked_morning_pushes_the_first_window_past_the_visit_and_its_buffer() {
        let ny = zone("America/New_York");
        // 08:00–09:00 window, 90 minutes on site: free at 10:30 at the latest, 11:00 with the buffer.
        let booked = Slot {
            id: 41,
            window_start: at(ny, "2026-11-23", "08:00"),
            window_end: at(ny, "2026-11-23", "09:00"),
            duration_secs: 90 * M,
        };
        let p = person(7, ny, vec![booked]);
        let found = suggest(&[std::slice::from_ref(&p)], &search("2026-11-23", 1, 0, 60), Loaded::ALL);
        // Nothing fits before it (working hours start at 08:00, and an hour
        // at 08:00 would make the booked window late); after it, the crew is
        // free at 09:30 at the earliest, 10:00 with the buffer.
        let first = &found.suggestions[0];
        assert_eq!(first.window_start, at(ny, "2026-11-23", "10:00"));
        assert_eq!(first.added_travel_minutes, 30, "the day has a visit: one more leg");
    }

    #[test]
    fn the_rank_is_earliest_first_then_least_added_travel() {
        let ny = zone("America/New_York");
        let busy = person(
            1,
            ny,
            vec![Slot {
                id: 9,
                window_start: at(ny, "2026-11-23", "15:00"),
                window_end: at(ny, "2026-11-23", "15:00"),
                duration_secs: 60 * M,
            }],
        );
        let free = person(2, ny, vec![]);
        let mut s = search("2026-11-23", 1, 60, 60);
        s.limit = 4;
        let found = suggest(&[std::slice::from_ref(&busy), std::slice::from_ref(&free)], &s, Loaded::ALL);
        let got: Vec<(i64, Vec<i64>, i64)> =
            found.suggestions.iter().map(|s| (s.window_start, s.staff_ids.clone(), s.added_travel_minutes)).collect();
        let eight = at(ny, "2026-11-23", "08:00");
        assert_eq!(
            got,
            vec![(eight, vec![2], 0), (eight, vec![1], 30), (eight + 1800, vec![2], 0), (eight + 1800, vec![1], 30)]
        );
    }

    #[test]
    fn nothing_before_now_and_nothing_on_a_day_off() {
        let ny = zone("America/New_York");
        let p = person(7, ny, vec![]);
        let mut s = search("2026-11-21", 3, 120, 60); // Saturday, Sunday, Monday
        s.not_before = at(ny, "2026-11-23", "09:10");
        let found = suggest(&[std::slice::from_ref(&p)], &s, Loaded::ALL);
        assert_eq!(found.suggestions[0].window_start, at(ny, "2026-11-23", "09:30"));
    }

    #[test]
    fn a_crew_is_offered_only_what_every_member_can_take_in_their_own_hours() {
        let ny = zone("America/New_York");
        let la = zone("America/Los_Angeles");
        // Lena in New York works 08:00–17:00; Tomás in Los Angeles starts at 08:00 his time (11:00 in NY).
        let lena = person(1, ny, vec![]);
        let tomas = person(2, la, vec![]);
        let crew = [lena, tomas];
        let found = suggest(&[&crew[..]], &search("2026-11-23", 1, 60, 60), Loaded::ALL);
        let starts: Vec<i64> = found.suggestions.iter().map(|s| s.window_start).collect();
        assert_eq!(starts.first(), Some(&at(ny, "2026-11-23", "11:00")));
        assert_eq!(starts.last(), Some(&at(ny, "2026-11-23", "15:00")), "done by 17:00 in New York");
        assert!(found.suggestions.iter().all(|s| s.staff_ids == vec![1, 2]));
    }

    #[test]
    fn the_grid_follows_the_wall_clock_across_a_dst_change() {
        let ny = zone("America/New_York");
        let mut p = person(7, ny, vec![]);
        p.hours = WeekHours([(); 7].map(|_| vec![(t("09:00"), t("11:00"))]));
        // 2026-03-08 is the spring-forward Sunday; 2026-03-07 a Saturday.
        let found = suggest(&[std::slice::from_ref(&p)], &search("2026-03-07", 2, 60, 60), Loaded::ALL);
        let local: Vec<String> = found
            .suggestions
            .iter()
            .map(|s| ny.local(DateTime::from_timestamp(s.window_start, 0).unwrap()).to_rfc3339())
            .collect();
        assert_eq!(local, vec!["2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00"]);
    }

    #[test]
    fn a_cluster_reaching_past_what_was_loaded_is_left_undecided() {
        let ny = zone("America/New_York");
        let booked = Slot {
            id: 5,
            window_start: at(ny, "2026-11-23", "08:00"),
            window_end: at(ny, "2026-11-23", "12:00"),
            duration_secs: 60 * M,
        };
        let p = person(7, ny, vec![booked]);
        let loaded = Loaded { lo: at(ny, "2026-11-23", "07:00"), hi: at(ny, "2026-11-24", "07:00") };
        let found = suggest(&[std::slice::from_ref(&p)], &search("2026-11-23", 1, 60, 60), loaded);
        assert!(found.undecided > 0, "a visit before 07:00 could still reach these");
        let found = suggest(&[std::slice::from_ref(&p)], &search("2026-11-23", 1, 60, 60), Loaded::ALL);
        assert_eq!(found.undecided, 0);
    }

    #[test]
    fn a_search_needs_the_visits_from_the_longest_reach_before_work_to_the_end_of_the_day() {
        let ny = zone("America/New_York");
        let p = person(7, ny, vec![]);
        let s = search("2026-11-23", 1, 120, 60);
        let need = needed(&[std::slice::from_ref(&p)], &s).unwrap();
        assert_eq!(need.lo, at(ny, "2026-11-23", "08:00") - s.max_reach_secs);
        // The whole day, which tells whether a window adds travel.
        assert_eq!(need.hi, at(ny, "2026-11-24", "00:00"));
        // Saturday and Sunday: nobody works, nothing to read.
        assert_eq!(needed(&[std::slice::from_ref(&p)], &search("2026-11-21", 2, 120, 60)), None);
        // A visit the next morning is outside it, and the day is still decided.
        let tuesday = Slot {
            id: 3,
            window_start: at(ny, "2026-11-24", "08:00"),
            window_end: at(ny, "2026-11-24", "09:00"),
            duration_secs: 60 * M,
        };
        assert!(tuesday.window_start > need.hi);
        let found = suggest(&[std::slice::from_ref(&p)], &s, need);
        assert_eq!((found.undecided, found.suggestions.len()), (0, 13));
    }

    #[test]
    fn a_first_day_settles_the_answer_only_when_it_holds_the_whole_head() {
        let ny = zone("America/New_York");
        let kolkata = zone("Asia/Kolkata");
        let a = person(1, ny, vec![]);
        let b = person(2, kolkata, vec![]);
        let crews = [std::slice::from_ref(&a), std::slice::from_ref(&b)];
        let mut s = search("2026-11-23", 1, 60, 60);
        s.limit = 3;
        let found = suggest(&crews, &s, Loaded::ALL);
        assert!(settled(&crews, &s, &found), "three windows early on Monday, before anyone's Tuesday");
        s.limit = 40; // more than one day holds for both
        let found = suggest(&crews, &s, Loaded::ALL);
        assert!(!settled(&crews, &s, &found), "fewer than asked: the next day must be searched");
        // New York's Monday afternoon is after Kolkata's Tuesday begins.
        s.limit = found.suggestions.len();
        let last = found.suggestions.last().unwrap().window_start;
        assert!(last >= kolkata.start_of_day(date("2026-11-24")).timestamp());
        assert!(!settled(&crews, &s, &found), "Kolkata's Tuesday could come first");
    }

    // The property: over random small days, the suggestions are exactly the
    // grid candidates the booking rule accepts inside working hours, with an
    // independent reading of each: the rule checked on the person's whole
    // day (every visit, not the cluster), working hours on the wall clock.

    #[derive(Debug, Clone)]
    struct Day {
        zone: &'static str,
        from: NaiveDate,
        days: u32,
        spans: Vec<Option<Vec<(u32, u32)>>>, // per weekday, in half hours
        visits: Vec<(u32, i64, i64, i64)>,   // (day index, start minute, window minutes, duration minutes)
        buffer_min: i64,
        window_min: i64,
        duration_min: i64,
        now_offset_min: i64,
    }

    fn day_strategy() -> impl Strategy<Value = Day> {
        let zones = prop::sample::select(vec!["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "UTC"]);
        // Around the US spring-forward and fall-back weekends, and an ordinary week.
        let froms = prop::sample::select(vec!["2026-03-06", "2026-10-30", "2026-11-23"]);
        let span = (12u32..30, 2u32..18).prop_map(|(start, len)| (start, (start + len).min(47)));
        let spans = prop::collection::vec(prop::option::weighted(0.8, prop::collection::vec(span, 1..3)), 7);
        let visit = (0u32..3, (6 * 60..20 * 60i64).prop_map(|m| m / 15 * 15), 0i64..5, 1i64..7);
        (zones, froms, 1u32..4, spans, prop::collection::vec(visit, 0..7), 0i64..4, 0i64..5, 1i64..7, -600i64..3000)
            .prop_map(|(zone, from, days, spans, visits, buffer, window, duration, now)| Day {
                zone,
                from: date(from),
                days,
                spans,
                visits: visits.into_iter().map(|(d, s, w, dur)| (d, s, w * 30, dur * 20)).collect(),
                buffer_min: buffer * 15,
                window_min: window * 30,
                duration_min: duration * 20,
                now_offset_min: now,
            })
    }

    fn hours_of(day: &Day) -> WeekHours {
        let mut w = WeekHours::default();
        for (i, spans) in day.spans.iter().enumerate() {
            let hh = |h: u32| NaiveTime::from_num_seconds_from_midnight_opt(h * 1800, 0).unwrap();
            // Spans must not overlap to mean anything; keep them apart.
            let mut spans: Vec<(u32, u32)> = spans.clone().unwrap_or_default();
            spans.sort();
            let mut last_end = 0;
            for (a, b) in spans {
                if a >= last_end && b > a {
                    w.0[i].push((hh(a), hh(b)));
                    last_end = b;
                }
            }
        }
        w
    }

    /// Whether `[start, finish]` is inside a span, read on the wall clock.
    fn oracle_in_hours(z: Zone, hours: &WeekHours, start: i64, finish: i64) -> bool {
        let local = |s: i64| -> NaiveDateTime { z.local(DateTime::from_timestamp(s, 0).unwrap()).naive_local() };
        let (a, b) = (local(start), local(finish));
        hours.on(a.date()).iter().any(|(from, to)| {
            // A span ends at or before 23:30, so a finish on the next day is never inside.
            b.date() == a.date() && *from <= a.time() && b.time() <= *to
        })
    }

    fn slots_of(day: &Day, z: Zone) -> Vec<Slot<i64>> {
        day.visits
            .iter()
            .enumerate()
            .filter_map(|(i, (d, start, window, duration))| {
                let date = day.from.checked_add_days(Days::new(*d as u64))?;
                let t = NaiveTime::from_num_seconds_from_midnight_opt((*start as u32) * 60, 0)?;
                let s = z.at_local(date, t).ok()?.timestamp();
                Some(Slot {
                    id: i as i64 + 1,
                    window_start: s,
                    window_end: s + window * M,
                    duration_secs: duration * M,
                })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn suggestions_are_exactly_the_feasible_grid_windows(day in day_strategy()) {
            let z = zone(day.zone);
            let hours = hours_of(&day);
            let mut slots = slots_of(&day, z);
            // Promises already made keep each other (booking saw to that): drop
            // visits until the day is feasible.
            let buffer = day.buffer_min * M;
            while feasibility::check(&slots, buffer).is_err() {
                slots.pop();
            }
            let p = Person { id: 3, zone: z, hours: hours.clone(), slots: slots.clone() };
            let not_before = z.start_of_day(day.from).timestamp() + day.now_offset_min * M;
            let s = Search {
                from: day.from,
                days: day.days,
                window_secs: day.window_min * M,
                duration_secs: day.duration_min * M,
                buffer_secs: buffer,
                not_before,
                max_reach_secs: (12 * 60) * M + buffer,
                limit: usize::MAX,
            };
            let found = suggest(&[std::slice::from_ref(&p)], &s, Loaded::ALL);
            prop_assert_eq!(found.undecided, 0);

            // Every wall-clock grid time of every asked day, judged independently.
            let mut expected = Vec::new();
            for d in 0..day.days {
                let date = day.from.checked_add_days(Days::new(d as u64)).unwrap();
                for k in 0..(24 * 60 / GRID_MINUTES) {
                    let t = NaiveTime::from_num_seconds_from_midnight_opt(k * GRID_MINUTES * 60, 0).unwrap();
                    let Ok(start) = z.at_local(date, t) else { continue };
                    let start = start.timestamp();
                    let end = start + s.window_secs;
                    let finish = end + s.duration_secs;
                    if start < not_before || !oracle_in_hours(z, &hours, start, finish) {
                        continue;
                    }
                    let mut all = slots.clone();
                    all.push(Slot { id: 0, window_start: start, window_end: end, duration_secs: s.duration_secs });
                    if feasibility::check(&all, buffer).is_ok() {
                        expected.push(start);
                    }
                }
            }
            expected.sort_unstable();
            expected.dedup();
            let got: Vec<i64> = found.suggestions.iter().map(|s| s.window_start).collect();
            prop_assert_eq!(&got, &expected, "no feasible window missed, none suggested that is not");

            // Reading only the visits the search says it needs (as the use
            // case does) decides the same, or says it cannot.
            if let Some(need) = needed(&[std::slice::from_ref(&p)], &s) {
                let seen: Vec<Slot<i64>> =
                    slots.iter().copied().filter(|v| v.window_end >= need.lo && v.window_start <= need.hi).collect();
                let narrow = Person { slots: seen, ..p.clone() };
                let part = suggest(&[std::slice::from_ref(&narrow)], &s, need);
                if part.undecided == 0 {
                    prop_assert_eq!(&part.suggestions, &found.suggestions);
                }
            } else {
                prop_assert!(found.suggestions.is_empty());
            }

            for sug in &found.suggestions {
                prop_assert_eq!(sug.window_end - sug.window_start, s.window_secs);
                let local = z.local(DateTime::from_timestamp(sug.window_start, 0).unwrap());
                prop_assert_eq!(local.minute() % GRID_MINUTES, 0);
                let (lo, hi) = z.day_bounds(local.date_naive());
                let busy = slots.iter().any(|v| lo.timestamp() <= v.window_start && v.window_start < hi.timestamp());
                prop_assert_eq!(sug.added_travel_minutes, if busy { day.buffer_min } else { 0 });
            }
        }

        /// The search stops early once it has enough, crews in several
        /// zones merged day by day: a limit gives exactly the first of the
        /// unlimited answer, in its order.
        #[test]
        fn a_limit_gives_the_head_of_the_whole_answer(a in day_strategy(), b in day_strategy(), limit in 1usize..12) {
            let people: Vec<Person> = [(1, &a), (2, &b)]
                .into_iter()
                .map(|(id, day)| {
                    let z = zone(day.zone);
                    let mut slots = slots_of(day, z);
                    while feasibility::check(&slots, a.buffer_min * M).is_err() {
                        slots.pop();
                    }
                    Person { id, zone: z, hours: hours_of(day), slots }
                })
                .collect();
            let crews: Vec<&[Person]> = people.iter().map(std::slice::from_ref).collect();
            let mut s = Search {
                from: a.from,
                days: a.days,
                window_secs: a.window_min * M,
                duration_secs: a.duration_min * M,
                buffer_secs: a.buffer_min * M,
                not_before: i64::MIN,
                max_reach_secs: (12 * 60) * M + a.buffer_min * M,
                limit: usize::MAX,
            };
            let all = suggest(&crews, &s, Loaded::ALL).suggestions;
            s.limit = limit;
            let head = suggest(&crews, &s, Loaded::ALL).suggestions;
            prop_assert_eq!(&head[..], &all[..limit.min(all.len())]);
        }
    }
}
