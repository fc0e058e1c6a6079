//! A field person's calendar feed: a private address (a random secret,
//! kept only as its hash) that Google Calendar, Apple Calendar and Outlook
//! subscribe to, listing their visits from 30 days back to 90 days ahead as
//! RFC 5545 events (built with the `icalendar` crate).

use crate::db::Db;
use crate::domain::tokens::new_token;
use crate::domain::visit::VisitStatus;
use crate::entities::staff;
use crate::error::Error;
use crate::store::calendar::{self, FeedVisit};
use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use sha2::{Digest, Sha256};

/// How far back and ahead a feed reaches.
pub const DAYS_BACK: i64 = 30;
pub const DAYS_AHEAD: i64 = 90;

/// The feed's address for a secret.
pub fn feed_url(public_url: &str, token: &str) -> String {
    format!("{}/api/v1/calendar/{token}.ics", public_url.trim_end_matches('/'))
}

/// Creates the person's feed, or replaces it (the old address answers 404
/// from now on). Returns the new address: the only time it is shown.
pub async fn issue(db: &Db, person: &staff::Model, public_url: &str, now: DateTime<Utc>) -> Result<String, Error> {
    let token = new_token();
    let txn = db.begin().await?;
    calendar::replace(&txn, person.organization_id, person.id, &token, now).await?;
    crate::store::sessions::audit(
        &txn,
        Some(person.organization_id),
        Some(person.id),
        crate::domain::people::AuditAction::CalendarFeedIssued,
        serde_json::json!({}),
        None,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(feed_url(public_url, &token))
}

/// Ends the person's feed; whether there was one.
pub async fn revoke(db: &Db, person: &staff::Model, now: DateTime<Utc>) -> Result<bool, Error> {
    let txn = db.begin().await?;
    let had = calendar::revoke(&txn, person.organization_id, person.id).await?;
    if had {
        crate::store::sessions::audit(
            &txn,
            Some(person.organization_id),
            Some(person.id),
            crate::domain::people::AuditAction::CalendarFeedRevoked,
            serde_json::json!({}),
            None,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(had)
}

/// A feed, rendered: the iCalendar text and its strong ETag (a hash of
/// the text, so it changes exactly when the text does).
pub struct Feed {
    pub body: String,
    pub etag: String,
}

/// The feed a secret opens, or `None` (unknown or revoked: the caller
/// answers 404, the same for both).
pub async fn feed(db: &Db, token: &str, public_url: &str, now: DateTime<Utc>) -> Result<Option<Feed>, Error> {
    let Some(f) = calendar::by_token(db, token).await? else { return Ok(None) };
    let person = crate::store::staff::get(db, f.organization_id, f.staff_id).await?;
    let org = crate::store::orgs::get(db, f.organization_id).await?;
    let visits =
        calendar::visits_of(db, org.id, person.id, now - Duration::days(DAYS_BACK), now + Duration::days(DAYS_AHEAD))
            .await?;
    let crew_ids: Vec<i64> = visits.iter().map(|v| v.visit.id).collect();
    let crews = crate::store::visits::staff_ids_of(db, &crew_ids).await?;
    let everyone = crate::store::staff::all(db, org.id).await?;
    let mut cal = Calendar::empty();
    cal.append_property(("VERSION", "2.0"));
    cal.append_property(("PRODID", "-//Kept//Crew calendar//EN"));
    cal.append_property(("CALSCALE", "GREGORIAN"));
    cal.append_property(("METHOD", "PUBLISH"));
    cal.name(&format!("{} · {}", org.name, person.name));
    cal.description(&format!("{}'s visits for {}, kept up to date by Kept", person.name, org.name));
    // Calendar apps poll; ask for about an hour between looks.
    cal.append_property(("REFRESH-INTERVAL;VALUE=DURATION", "PT1H"));
    cal.append_property(("X-PUBLISHED-TTL", "PT1H"));
    let host = host_of(public_url);
    for v in &visits {
        let mates: Vec<&str> = crews
            .get(&v.visit.id)
            .map(|ids| {
                everyone.iter().filter(|s| ids.contains(&s.id) && s.id != person.id).map(|s| s.name.as_str()).collect()
            })
            .unwrap_or_default();
        cal.push(event(v, &host, public_url, &person, &mates)?);
    }
    let body = cal.done().to_string();
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(body.as_bytes())[..16]));
    Ok(Some(Feed { body, etag }))
}

fn host_of(public_url: &str) -> String {
    let rest = public_url.split_once("://").map(|(_, r)| r).unwrap_or(public_url);
    rest.split(['/', ':']).next().filter(|h| !h.is_empty()).unwrap_or("kept.local").to_string()
}

/// One VEVENT: the time the visit may take of the day (from the window's
/// start to its end plus the work), in UTC; the address as LOCATION; what
/// the crew needs in DESCRIPTION; no prices.
fn event(v: &FeedVisit, host: &str, public_url: &str, me: &staff::Model, mates: &[&str]) -> Result<Event, Error> {
    let visit = &v.visit;
    let zone = crate::store::staff::zone(me)?;
    let czone = crate::store::customers::zone(&v.customer)?;
    let kind = match visit.kind.as_str() {
        "estimate" => "Estimate",
        "work" => "Work",
        _ => "Follow-up",
    };
    let cancelled = visit.status == VisitStatus::Cancelled;
    let summary =
        format!("{}{kind} visit: {} ({})", if cancelled { "Cancelled: " } else { "" }, v.job.title, v.customer.name);
    let date = zone.date_of(visit.window_start);
    let link = format!("{}/app/day?date={date}#visit-{}", public_url.trim_end_matches('/'), visit.id);
    let mut text = vec![format!(
        "Arrive {} (your time).",
        crate::messages::compose::window_phrase(zone, visit.window_start, visit.window_end)
    )];
    if czone.name() != zone.name() {
        text.push(format!(
            "The customer's time: {}.",
            crate::messages::compose::window_phrase(czone, visit.window_start, visit.window_end)
        ));
    }
    if let Some(at) = v.new_arrival {
        text.push(format!("Running late: the customer was told {}.", crate::messages::compose::day_and_time(zone, at)));
    }
    text.push(format!(
        "About {} minutes on site. Status: {}.",
        visit.duration_minutes,
        visit.status.as_str().replace('_', " ")
    ));
    text.push(format!(
        "Customer: {}{}",
        v.customer.name,
        v.customer.phone.as_deref().map(|p| format!(", {p}")).unwrap_or_default()
    ));
    if !mates.is_empty() {
        text.push(format!("With: {}.", mates.join(", ")));
    }
    if !v.job.story.trim().is_empty() {
        text.push(format!("In their words: {}", v.job.story.trim()));
    }
    text.push(format!("Open the visit: {link}"));
    let mut e = Event::new();
    e.uid(&format!("visit-{}@{host}", visit.id))
        .summary(&summary)
        .starts(visit.window_start)
        .ends(visit.window_end + Duration::minutes(visit.duration_minutes as i64))
        .sequence(v.changes)
        .last_modified(v.last_modified)
        .timestamp(v.last_modified)
        .created(visit.created_at)
        .description(&text.join("\n"))
        .url(&link)
        .status(if cancelled { EventStatus::Cancelled } else { EventStatus::Confirmed });
    if !v.customer.address.trim().is_empty() {
        e.location(v.customer.address.trim());
    }
    Ok(e.done())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_address_and_the_uid_host_come_from_the_public_url() {
        assert_eq!(
            feed_url("https://kept.example.com/", "kept_ab"),
            "https://kept.example.com/api/v1/calendar/kept_ab.ics"
        );
        assert_eq!(host_of("https://kept.example.com:8443/x"), "kept.example.com");
        assert_eq!(host_of("http://127.0.0.1:3000"), "127.0.0.1");
        assert_eq!(host_of(""), "kept.local");
    }
}
