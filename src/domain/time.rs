//! Time zones, local days and arrival windows.
//!
//! Everything is stored in UTC; people see their own zone. A local day is
//! not always 24 hours (DST), and a local midnight may not exist, so day
//! bounds are computed through chrono-tz rather than by adding hours.

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// An IANA time zone name that chrono-tz knows, e.g. `America/New_York`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub Tz);

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("is required (an IANA time zone such as America/New_York)".into());
        }
        name.parse::<Tz>()
            .map(Zone)
            .map_err(|_| format!("'{name}' is not an IANA time zone (such as America/New_York)"))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The instant shown with this zone's offset, e.g. `2026-03-08T09:00:00-04:00`.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&self.0).fixed_offset()
    }

    /// The first instant of `date` in this zone. If local midnight does not
    /// exist (a DST gap at midnight, as in some zones), the day starts at the
    /// first instant that does.
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let mut t = date.and_time(NaiveTime::MIN);
        // Gaps are at most a few hours; step forward in minutes until valid.
        for _ in 0..(24 * 60) {
            match self.0.from_local_datetime(&t) {
                LocalResult::Single(dt) => return dt.with_timezone(&Utc),
                LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
                LocalResult::None => t += Duration::minutes(1),
            }
        }
        // Unreachable for real zones; fall back to UTC midnight rather than panic.
        Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
    }

    /// The instant a wall clock in this zone shows `time` on `date`, as a
    /// dispatcher types it. A time the clocks skip (spring forward) is
    /// refused; a time that happens twice (fall back) is the first of the two.
    pub fn at_local(&self, date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, String> {
        match self.0.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(dt) => Ok(dt.with_timezone(&Utc)),
            LocalResult::Ambiguous(earliest, _) => Ok(earliest.with_timezone(&Utc)),
            LocalResult::None => Err(format!(
                "{date} {} does not exist in {} (the clocks skip it); pick a time after the change",
                time.format("%H:%M"),
                self.name()
            )),
        }
    }

    /// `[start, end)` of a local calendar day in UTC.
    pub fn day_bounds(&self, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let next = date.succ_opt().unwrap_or(date);
        (self.start_of_day(date), self.start_of_day(next))
    }

    /// The local calendar date of an instant.
    pub fn date_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }
}

/// The widest arrival window any organization may promise (its
/// `max_window_minutes` is at most this), so no stored window is longer:
/// reading the visits that touch a range can bound their starts too.
pub const LONGEST_WINDOW_MINUTES: i64 = 24 * 60;

/// A promised arrival window, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Why a window is not acceptable; each names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowError {
    EndBeforeStart,
    TooLong { max_minutes: i64 },
}

impl Window {
    /// Accepts `start <= end` (a zero-length window is an exact appointment)
    /// no longer than the organization's maximum. Sub-second precision is
    /// dropped: promises are made in minutes, and storage stays comparable.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, max_minutes: i64) -> Result<Window, WindowError> {
        let start = truncate_to_second(start);
        let end = truncate_to_second(end);
        if end < start {
            return Err(WindowError::EndBeforeStart);
        }
        if end - start > Duration::minutes(max_minutes) {
            return Err(WindowError::TooLong { max_minutes });
        }
        Ok(Window { start, end })
    }
}

pub fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Parses an RFC 3339 timestamp that carries an explicit offset.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("'{s}' is not an RFC 3339 time with an offset, such as 2026-11-23T09:00:00-05:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_local_time_is_refused_in_the_gap_and_the_first_of_a_fold() {
        let ny = Zone::parse("America/New_York").unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(ny.at_local(d("2026-11-21"), t("09:00")).unwrap().to_rfc3339(), "2026-11-21T14:00:00+00:00");
        let gap = ny.at_local(d("2027-03-14"), t("02:30")).unwrap_err();
        assert!(gap.contains("does not exist in America/New_York"), "{gap}");
        assert_eq!(ny.at_local(d("2027-03-14"), t("03:00")).unwrap().to_rfc3339(), "2027-03-14T07:00:00+00:00");
        // 01:30 happens twice on Nov 1, 2026: first in EDT (-4), then in EST (-5).
        assert_eq!(ny.at_local(d("2026-11-01"), t("01:30")).unwrap().to_rfc3339(), "2026-11-01T05:30:00+00:00");
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.at_local(d("2026-11-21"), t("09:00")).unwrap().to_rfc3339(), "2026-11-21T03:30:00+00:00");
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn unknown_zones_are_refused_with_the_name() {
        assert!(Zone::parse("America/New_York").is_ok());
        let err = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(err.contains("Mars/Olympus"), "{err}");
        assert!(Zone::parse("  ").is_err());
    }

    #[test]
    fn the_spring_forward_day_in_new_york_is_23_hours() {
        let ny = Zone::parse("America/New_York").unwrap();
        let (s, e) = ny.day_bounds(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap());
        assert_eq!(s, utc("2026-03-08T05:00:00Z"));
        assert_eq!(e, utc("2026-03-09T04:00:00Z"));
        assert_eq!(e - s, Duration::hours(23));
    }

    #[test]
    fn the_fall_back_day_in_new_york_is_25_hours() {
        let ny = Zone::parse("America/New_York").unwrap();
        let (s, e) = ny.day_bounds(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(e - s, Duration::hours(25));
        assert_eq!(s, utc("2026-11-01T04:00:00Z"));
    }

    #[test]
    fn kolkata_days_start_at_half_past_six_the_evening_before_in_utc() {
        let k = Zone::parse("Asia/Kolkata").unwrap();
        let (s, e) = k.day_bounds(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(s, utc("2026-11-22T18:30:00Z"));
        assert_eq!(e - s, Duration::hours(24));
        assert_eq!(k.local(utc("2026-11-23T03:30:00Z")).to_rfc3339(), "2026-11-23T09:00:00+05:30");
    }

    #[test]
    fn a_day_whose_midnight_does_not_exist_starts_at_one() {
        // America/Havana springs forward at midnight: 00:00 -> 01:00 on 2026-03-08.
        let havana = Zone::parse("America/Havana").unwrap();
        let start = havana.start_of_day(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap());
        assert_eq!(havana.local(start).to_rfc3339(), "2026-03-08T01:00:00-04:00");
    }

    #[test]
    fn local_time_follows_dst() {
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(ny.local(utc("2026-03-07T14:00:00Z")).to_rfc3339(), "2026-03-07T09:00:00-05:00");
        assert_eq!(ny.local(utc("2026-03-09T13:00:00Z")).to_rfc3339(), "2026-03-09T09:00:00-04:00");
    }

    #[test]
    fn windows_must_end_after_they_start_and_not_be_too_long() {
        let a = utc("2026-11-23T14:00:00Z");
        let b = utc("2026-11-23T16:00:00Z");
        assert!(Window::new(a, b, 240).is_ok());
        assert!(Window::new(a, a, 240).is_ok());
        assert_eq!(Window::new(b, a, 240), Err(WindowError::EndBeforeStart));
        assert_eq!(Window::new(a, b, 60), Err(WindowError::TooLong { max_minutes: 60 }));
    }

    #[test]
    fn timestamps_need_an_offset() {
        assert!(parse_rfc3339("2026-11-23T09:00:00-05:00").is_ok());
        assert!(parse_rfc3339("2026-11-23T09:00:00Z").is_ok());
        assert!(parse_rfc3339("2026-11-23T09:00:00").is_err());
        assert!(parse_rfc3339("tomorrow").is_err());
    }
}
