//! Pure rules of the notifier: update slots across DST, quiet hours, SMS
//! segments, retry backoff.

use super::time::Zone;
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// What a message is: one folder of templates each under `templates/messages/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Introduction,
    StatusUpdate,
    Reminder,
    OnMyWay,
    Reply,
    DispatcherAlert,
    PricingBreakdown,
    RunningLate,
    ThankYou,
    FollowUpResolution,
    PasswordReset,
    VisitRescheduled,
    VisitCancelled,
    VisitReassigned,
    JobCancelled,
}
str_enum!(MessageKind {
    Introduction => "introduction", StatusUpdate => "status_update", Reminder => "reminder",
    OnMyWay => "on_my_way", Reply => "reply", DispatcherAlert => "dispatcher_alert",
    PricingBreakdown => "pricing_breakdown", RunningLate => "running_late", ThankYou => "thank_you",
    FollowUpResolution => "follow_up_resolution", PasswordReset => "password_reset",
    VisitRescheduled => "visit_rescheduled", VisitCancelled => "visit_cancelled",
    VisitReassigned => "visit_reassigned", JobCancelled => "job_cancelled",
});

/// Where a message is in the outbox. `pending`, `retry` and `held` wait for
/// the worker; `sending` is claimed under a lease; the rest are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Pending,
    Retry,
    Held,
    Sending,
    Sent,
    Failed,
    Uncertain,
    Superseded,
    Suppressed,
    /// Not sent because no provider is configured for its channel (the demo).
    #[serde(rename = "not_sent_no_provider")]
    NoProvider,
}
str_enum!(MessageState {
    Pending => "pending", Retry => "retry", Held => "held", Sending => "sending", Sent => "sent",
    Failed => "failed", Uncertain => "uncertain", Superseded => "superseded", Suppressed => "suppressed",
    NoProvider => "not_sent_no_provider",
});

/// What a customer's text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboundKind {
    Reply,
    Stop,
    Start,
    Help,
}
str_enum!(InboundKind { Reply => "reply", Stop => "stop", Start => "start", Help => "help" });

impl InboundKind {
    /// Reads a customer's text: the carrier keywords, or a reply for a person.
    pub fn classify(body: &str) -> InboundKind {
        match body.trim().trim_end_matches(['.', '!']).to_ascii_uppercase().as_str() {
            "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => InboundKind::Stop,
            "START" | "YES" | "UNSTOP" => InboundKind::Start,
            "HELP" | "INFO" => InboundKind::Help,
            _ => InboundKind::Reply,
        }
    }
}

/// Twilio's delivery receipt for an SMS (`MessageStatus`), as it spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    Accepted,
    Scheduled,
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Canceled,
    Read,
}
str_enum!(ProviderStatus {
    Accepted => "accepted", Scheduled => "scheduled", Queued => "queued", Sending => "sending", Sent => "sent",
    Delivered => "delivered", Undelivered => "undelivered", Failed => "failed", Canceled => "canceled",
    Read => "read",
});

impl ProviderStatus {
    /// How far along a receipt is: receipts arrive out of order, and a
    /// message only ever moves forward.
    pub fn rank(self) -> i32 {
        use ProviderStatus::*;
        match self {
            Accepted | Scheduled => 0,
            Queued => 1,
            Sending => 2,
            Sent => 3,
            Delivered | Undelivered | Failed | Canceled => 4,
            Read => 5,
        }
    }

    /// The message did not reach the phone.
    pub fn is_undelivered(self) -> bool {
        matches!(self, ProviderStatus::Undelivered | ProviderStatus::Failed)
    }
}

/// How an SMS body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}
str_enum!(SmsEncoding { Gsm7 => "gsm7", Ucs2 => "ucs2" });

/// Parses `HH:MM` local times such as `08:30,16:30` (sorted, no repeats, 1 to 4).
/// "twice a day": how often the company writes, in words, from its
/// configured update times.
pub fn cadence(times: usize) -> String {
    match times {
        0 => "when there is news".into(),
        1 => "once a day".into(),
        2 => "twice a day".into(),
        3 => "three times a day".into(),
        4 => "four times a day".into(),
        n => format!("{n} times a day"),
    }
}

/// The greeting word for a local hour: "morning" before noon,
/// "afternoon" before five, "evening" after.
pub fn part_of_day(hour: u32) -> &'static str {
    match hour {
        0..=11 => "morning",
        12..=16 => "afternoon",
        _ => "evening",
    }
}

pub fn parse_times(raw: &str) -> Result<Vec<NaiveTime>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t = NaiveTime::parse_from_str(part, "%H:%M").map_err(|_| format!("'{part}' is not HH:MM"))?;
        out.push(t);
    }
    out.sort();
    out.dedup();
    if out.is_empty() || out.len() > 4 {
        return Err("give one to four times, such as 08:30,16:30".into());
    }
    Ok(out)
}

pub fn parse_time(raw: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M").map_err(|_| format!("'{raw}' is not HH:MM"))
}

/// The instant `time` happens on `date` in `zone`. In a spring-forward gap
/// the moment the clocks jump to stands in (02:30 that never happens is sent
/// at 03:00); in a fall-back fold the first of the two is used, so a slot is
/// neither skipped nor doubled.
pub fn local_instant(zone: Zone, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut t = date.and_time(time);
    for _ in 0..(24 * 60) {
        match zone.0.from_local_datetime(&t) {
            LocalResult::Single(dt) => return dt.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => {
                // Step to the next whole minute until the clock exists again.
                t += Duration::minutes(1);
            }
        }
    }
    Utc.from_utc_datetime(&date.and_time(time))
}

/// Every slot instant of the local dates `from..=to`, in order, without repeats.
pub fn slots_on_dates(zone: Zone, times: &[NaiveTime], from: NaiveDate, to: NaiveDate) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        for t in times {
            out.push(local_instant(zone, d, *t));
        }
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The latest slot at or before `now`, and the one after it.
pub fn current_slot(zone: Zone, times: &[NaiveTime], now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = zone.date_of(now);
    let from = today.pred_opt().unwrap_or(today);
    let to = today.succ_opt().unwrap_or(today);
    let slots = slots_on_dates(zone, times, from, to);
    let idx = slots.iter().rposition(|s| *s <= now).unwrap_or(0);
    let next = slots.get(idx + 1).copied().unwrap_or(slots[idx] + Duration::days(1));
    (slots[idx], next)
}

/// The next slot strictly after `t`.
pub fn next_slot_after(zone: Zone, times: &[NaiveTime], t: DateTime<Utc>) -> DateTime<Utc> {
    let (current, next) = current_slot(zone, times, t);
    if current > t {
        current
    } else {
        next
    }
}

/// When SMS may be sent to someone in `zone`: local times in `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn allows(&self, zone: Zone, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&zone.0).time();
        if self.start == self.end {
            // No quiet hours at all.
            true
        } else if self.start < self.end {
            local >= self.start && local < self.end
        } else {
            // A window across midnight, e.g. 22:00-06:00 for night crews.
            local >= self.start || local < self.end
        }
    }

    /// `at` if sending is allowed then, otherwise when the window next opens.
    pub fn next_allowed(&self, zone: Zone, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.allows(zone, at) {
            return at;
        }
        let today = zone.date_of(at);
        let mut d = today;
        for _ in 0..3 {
            let open = local_instant(zone, d, self.start);
            if open > at {
                return open;
            }
            d = d.succ_opt().unwrap_or(d);
        }
        at
    }
}

/// How an SMS body is encoded and how many segments it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: SmsEncoding,
    pub count: i32,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// What each ASCII character costs in GSM-7 septets (0: not in the
/// alphabet, or not ASCII), so the common case is one table look-up a
/// character instead of a walk of the alphabet.
const GSM7_ASCII_COST: [u8; 128] = {
    let mut cost = [0u8; 128];
    let (basic, extended) = (GSM7_BASIC.as_bytes(), GSM7_EXTENDED.as_bytes());
    let mut i = 0;
    while i < basic.len() {
        if basic[i] < 128 {
            cost[basic[i] as usize] = 1;
        }
        i += 1;
    }
    let mut i = 0;
    while i < extended.len() {
        if extended[i] < 128 {
            cost[extended[i] as usize] = 2;
        }
        i += 1;
    }
    cost
};

/// GSM-7 when every character is in the GSM 03.38 alphabet (extension
/// characters cost two), otherwise UCS-2; 160/153 or 70/67 per segment.
pub fn sms_segments(body: &str) -> Segments {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in body.chars() {
        let cost = if c.is_ascii() { GSM7_ASCII_COST[c as usize] } else { 0 };
        if cost > 0 {
            septets += cost as usize;
        } else if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    if gsm {
        let count = if septets <= 160 { 1 } else { septets.div_ceil(153) };
        Segments { encoding: SmsEncoding::Gsm7, count: count.max(1) as i32 }
    } else {
        let units = body.encode_utf16().count();
        let count = if units <= 70 { 1 } else { units.div_ceil(67) };
        Segments { encoding: SmsEncoding::Ucs2, count: count.max(1) as i32 }
    }
}

/// Delay before retry `attempt` (1-based): 30 s doubling to at most an hour,
/// times a jitter factor in [0.5, 1.5) so retries of many messages spread out.
pub fn backoff(attempt: i32, jitter: f64) -> Duration {
    let exp = attempt.clamp(1, 20) - 1;
    let base = 30i64.saturating_mul(1i64 << exp.min(12)).min(3600);
    let factor = 0.5 + jitter.clamp(0.0, 0.999_999);
    Duration::milliseconds((base as f64 * 1000.0 * factor) as i64)
}

/// What a permanent failure says about the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    /// They told the carrier STOP (Twilio 21610).
    OptedOut,
    /// The address cannot receive this channel (invalid number, landline, mailbox refused).
    Unreachable(String),
}

/// What a Twilio error code in a delivery receipt says about the number
/// itself, when it will never work.
pub fn twilio_permanent_flag(code: i32) -> Option<Flag> {
    match code {
        21610 => Some(Flag::OptedOut),
        21211 | 30005 => Some(Flag::Unreachable("unknown or invalid number".into())),
        21614 | 30006 => Some(Flag::Unreachable("number cannot receive SMS (landline?)".into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn zone(n: &str) -> Zone {
        Zone::parse(n).unwrap()
    }
    fn times(s: &str) -> Vec<NaiveTime> {
        parse_times(s).unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_cadence_and_the_greeting_follow_the_settings_and_the_clock() {
        assert_eq!(cadence(2), "twice a day");
        assert_eq!(cadence(4), "four times a day");
        assert_eq!(cadence(7), "7 times a day");
        assert_eq!(part_of_day(8), "morning");
        assert_eq!(part_of_day(16), "afternoon");
        assert_eq!(part_of_day(19), "evening");
    }

    #[test]
    fn update_times_are_parsed_sorted_and_checked() {
        assert_eq!(times("16:30, 08:30"), times("08:30,16:30"));
        assert!(parse_times("8am").is_err());
        assert!(parse_times("").is_err());
        assert!(parse_times("01:00,02:00,03:00,04:00,05:00").is_err());
    }

    #[test]
    fn default_slots_are_twice_a_day_in_local_time_across_dst() {
        let ny = zone("America/New_York");
        // 2026-03-08 springs forward; 2026-11-01 falls back.
        for (from, to) in [("2026-03-06", "2026-03-10"), ("2026-10-30", "2026-11-03")] {
            let slots = slots_on_dates(ny, &times("08:30,16:30"), d(from), d(to));
            assert_eq!(slots.len(), 10);
            for s in &slots {
                let local = ny.local(*s).format("%H:%M").to_string();
                assert!(local == "08:30" || local == "16:30", "{s} is {local}");
            }
        }
    }

    #[test]
    fn a_slot_in_the_spring_gap_is_sent_when_the_clock_jumps_not_skipped() {
        let ny = zone("America/New_York");
        let slots = slots_on_dates(ny, &times("02:30"), d("2026-03-07"), d("2026-03-09"));
        assert_eq!(slots, vec![utc("2026-03-07T07:30:00Z"), utc("2026-03-08T07:00:00Z"), utc("2026-03-09T06:30:00Z")]);
        assert_eq!(ny.local(slots[1]).to_rfc3339(), "2026-03-08T03:00:00-04:00");
    }

    #[test]
    fn a_slot_in_the_fall_fold_happens_once_not_twice() {
        let ny = zone("America/New_York");
        let slots = slots_on_dates(ny, &times("01:30"), d("2026-10-31"), d("2026-11-02"));
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[1], utc("2026-11-01T05:30:00Z"), "the first 01:30 (EDT)");
    }

    #[test]
    fn the_current_slot_and_the_next_one() {
        let k = zone("Asia/Kolkata");
        let t = times("08:30,16:30");
        let (cur, next) = current_slot(k, &t, utc("2026-11-23T05:00:00Z")); // 10:30 IST
        assert_eq!(k.local(cur).to_rfc3339(), "2026-11-23T08:30:00+05:30");
        assert_eq!(k.local(next).to_rfc3339(), "2026-11-23T16:30:00+05:30");
        let (cur, _) = current_slot(k, &t, utc("2026-11-23T02:00:00Z")); // 07:30 IST
        assert_eq!(k.local(cur).to_rfc3339(), "2026-11-22T16:30:00+05:30");
        assert_eq!(current_slot(k, &t, cur).0, cur, "a slot is current at its own instant");
        assert_eq!(next_slot_after(k, &t, cur), utc("2026-11-23T03:00:00Z"));
    }

    #[test]
    fn quiet_hours_hold_at_21_00_and_open_at_08_00() {
        let la = zone("America/Los_Angeles");
        let q = QuietHours { start: parse_time("08:00").unwrap(), end: parse_time("21:00").unwrap() };
        let at_2059 = utc("2026-11-24T04:59:00Z"); // 20:59 PST
        let at_2101 = utc("2026-11-24T05:01:00Z"); // 21:01 PST
        assert!(q.allows(la, at_2059));
        assert_eq!(q.next_allowed(la, at_2059), at_2059);
        assert!(!q.allows(la, at_2101));
        assert_eq!(la.local(q.next_allowed(la, at_2101)).to_rfc3339(), "2026-11-24T08:00:00-08:00");
        let at_0630 = utc("2026-11-24T14:30:00Z");
        assert_eq!(la.local(q.next_allowed(la, at_0630)).to_rfc3339(), "2026-11-24T08:00:00-08:00");
        assert!(!q.allows(la, utc("2026-11-24T05:00:00Z")), "21:00 itself is quiet");
    }

    #[test]
    fn quiet_hours_may_wrap_midnight() {
        let utc_zone = zone("UTC");
        let q = QuietHours { start: parse_time("22:00").unwrap(), end: parse_time("06:00").unwrap() };
        assert!(q.allows(utc_zone, utc("2026-11-24T23:00:00Z")));
        assert!(q.allows(utc_zone, utc("2026-11-24T05:59:00Z")));
        assert_eq!(q.next_allowed(utc_zone, utc("2026-11-24T12:00:00Z")), utc("2026-11-24T22:00:00Z"));
    }

    #[test]
    fn sms_segments_follow_gsm7_and_ucs2_rules() {
        assert_eq!(sms_segments("hello"), Segments { encoding: SmsEncoding::Gsm7, count: 1 });
        assert_eq!(sms_segments(&"a".repeat(160)).count, 1);
        assert_eq!(sms_segments(&"a".repeat(161)).count, 2);
        assert_eq!(sms_segments(&"a".repeat(306)).count, 2);
        assert_eq!(sms_segments(&"a".repeat(307)).count, 3);
        // Extension characters cost two septets.
        assert_eq!(sms_segments(&"{".repeat(80)).count, 1);
        assert_eq!(sms_segments(&"{".repeat(81)).count, 2);
        // One em dash makes the whole message UCS-2.
        let ucs = format!("{}\u{2014}", "a".repeat(69));
        assert_eq!(sms_segments(&ucs), Segments { encoding: SmsEncoding::Ucs2, count: 1 });
        assert_eq!(sms_segments(&format!("{ucs}a")).count, 2);
        assert_eq!(sms_segments("Café £5 ÄÖ").encoding, SmsEncoding::Gsm7);
    }

    #[test]
    fn the_ascii_table_costs_each_character_as_the_alphabet_does() {
        for b in 0u8..128 {
            let c = b as char;
            let by_alphabet = if GSM7_BASIC.contains(c) {
                1
            } else if GSM7_EXTENDED.contains(c) {
                2
            } else {
                0
            };
            assert_eq!(GSM7_ASCII_COST[b as usize], by_alphabet, "{c:?}");
        }
        // The ones that are not: a backtick and the ASCII controls but LF, CR and FF.
        assert_eq!(sms_segments("`").encoding, SmsEncoding::Ucs2);
        assert_eq!(sms_segments("a\\b").encoding, SmsEncoding::Gsm7, "a backslash is an extension character");
        assert_eq!(sms_segments("a\tb").encoding, SmsEncoding::Ucs2, "a tab is not in the alphabet");
    }

    #[test]
    fn keywords_are_recognized_alone_and_in_any_case() {
        for w in ["STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "Cancel", "END", "quit"] {
            assert_eq!(InboundKind::classify(w), InboundKind::Stop, "{w}");
        }
        for w in ["START", "yes", "Unstop"] {
            assert_eq!(InboundKind::classify(w), InboundKind::Start, "{w}");
        }
        assert_eq!(InboundKind::classify("help"), InboundKind::Help);
        assert_eq!(InboundKind::classify("please stop by at 3"), InboundKind::Reply);
        assert_eq!(InboundKind::classify("Yes, 3pm works"), InboundKind::Reply);
    }

    #[test]
    fn receipts_only_move_forward() {
        use ProviderStatus::*;
        assert!(Queued.rank() < Sent.rank() && Sent.rank() < Delivered.rank() && Delivered.rank() < Read.rank());
        assert_eq!(Undelivered.rank(), Delivered.rank());
        assert!(Failed.is_undelivered() && Undelivered.is_undelivered() && !Delivered.is_undelivered());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff(1, 0.5), Duration::seconds(30));
        assert_eq!(backoff(2, 0.5), Duration::seconds(60));
        assert_eq!(backoff(3, 0.0), Duration::seconds(60));
        assert_eq!(backoff(30, 0.5), Duration::seconds(3600));
        assert!(backoff(4, 0.99) < Duration::seconds(360));
    }
}
