//! The crew's calendar feed, read by an independent iCalendar parser (the
//! `ical` crate, not the `icalendar` crate that writes it): one event per
//! visit with stable UIDs, SEQUENCE and LAST-MODIFIED that move with every
//! change, UTC times right across the end of daylight time in New York, a
//! cancelled visit marked so, conditional GET, and revocation.

use crate::helpers::{spawn_app, utc, TestApp};
use chrono::Duration;
use kept::domain::people::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashMap;

/// One parsed VEVENT: its properties by name (values unescaped).
type Vevent = HashMap<String, String>;

fn unescape(v: &str) -> String {
    v.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")
}

/// Parses a feed with the `ical` crate: the calendar's properties and its events.
fn parse(body: &str) -> (Vevent, Vec<Vevent>) {
    let mut calendars = ical::IcalParser::new(std::io::BufReader::new(body.as_bytes()));
    let cal = calendars.next().expect("one calendar").expect("a calendar the parser accepts");
    assert!(calendars.next().is_none(), "exactly one VCALENDAR");
    let props = |ps: &[ical::property::Property]| -> Vevent {
        ps.iter().map(|p| (p.name.clone(), unescape(p.value.as_deref().unwrap_or("")))).collect()
    };
    (props(&cal.properties), cal.events.iter().map(|e| props(&e.properties)).collect())
}

struct Feed {
    status: StatusCode,
    etag: Option<String>,
    content_type: Option<String>,
    body: String,
}

async fn fetch(app: &TestApp, url: &str, if_none_match: Option<&str>) -> Feed {
    // The address as handed out, on this test server.
    let path = url.strip_prefix("https://kept.example.test").expect("an address on the public URL");
    let mut req = app.client.get(app.url(path));
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let r = req.send().await.expect("request");
    let header = |h: &str| r.headers().get(h).map(|v| v.to_str().unwrap().to_string());
    let (etag, content_type) = (header("etag"), header("content-type"));
    Feed { status: r.status(), etag, content_type, body: r.text().await.unwrap() }
}

async fn issue(app: &TestApp, token: &str, staff: i64) -> crate::helpers::Reply {
    app.send_as(token, Method::POST, &format!("/api/v1/staff/{staff}/calendar"), &json!({})).await
}

#[tokio::test]
async fn the_feed_lists_the_persons_visits_across_a_dst_change_and_moves_with_every_change() {
    let app = spawn_app().await;
    // Wednesday, October 28, 2026: New York leaves daylight time on Sunday, November 1.
    app.clock.set(utc("2026-10-28T14:00:00Z"));
    let c = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "timezone": "America/New_York",
                   "address": "12 Harbor Rd, Brooklyn, NY 11201"}),
        )
        .await;
    let job = app
        .post(
            "/api/v1/jobs",
            json!({"customer_id": c.id(), "title": "Kitchen leak", "story": "Water under the sink; it smells musty, and the floor is soft."}),
        )
        .await
        .id();
    let tech = app.staff("Sam Ruiz", "technician", "America/New_York").await;
    let mate = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let book = |start: &'static str, end: &'static str, minutes: i64, crew: Vec<i64>| {
        let app = &app;
        async move {
            let r = app.book(job, &crew, start, end, minutes).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.id()
        }
    };
    let before = book("2026-10-30T09:00:00-04:00", "2026-10-30T11:00:00-04:00", 60, vec![tech]).await;
    let after = book("2026-11-02T09:00:00-05:00", "2026-11-02T11:00:00-05:00", 90, vec![tech, mate]).await;
    let cancelled = book("2026-11-03T09:00:00-05:00", "2026-11-03T11:00:00-05:00", 60, vec![tech]).await;
    let not_mine = book("2026-11-04T09:00:00-05:00", "2026-11-04T11:00:00-05:00", 60, vec![mate]).await;
    let r = app.post(&format!("/api/v1/visits/{cancelled}/status"), json!({"status": "cancelled"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let token = app.token_for(Role::Technician, Some(tech)).await;
    let r = issue(&app, &token, tech).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let url = r.body["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://kept.example.test/api/v1/calendar/kept_") && url.ends_with(".ics"), "{url}");

    let feed = fetch(&app, &url, None).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    assert_eq!(feed.content_type.as_deref(), Some("text/calendar; charset=utf-8"));
    assert!(feed.body.contains("\r\n"), "lines end in CRLF");
    assert!(feed.body.lines().all(|l| l.len() <= 75), "lines are folded at 75 octets");
    let (cal, events) = parse(&feed.body);
    assert_eq!(cal.get("VERSION").map(String::as_str), Some("2.0"));
    assert!(cal.contains_key("PRODID"));
    let by_uid: HashMap<String, Vevent> = events.iter().map(|e| (e["UID"].clone(), e.clone())).collect();
    let uid = |id: i64| format!("visit-{id}@kept.example.test");
    assert_eq!(events.len(), 3, "mine only, cancelled included: {events:?}");
    assert!(!by_uid.contains_key(&uid(not_mine)));

    // Before and after the change of offset, each in true UTC.
    let b = &by_uid[&uid(before)];
    assert_eq!((b["DTSTART"].as_str(), b["DTEND"].as_str()), ("20261030T130000Z", "20261030T160000Z"));
    let a = &by_uid[&uid(after)];
    assert_eq!((a["DTSTART"].as_str(), a["DTEND"].as_str()), ("20261102T140000Z", "20261102T173000Z"));
    assert_eq!(a["STATUS"], "CONFIRMED");
    assert_eq!(a["LOCATION"], "12 Harbor Rd, Brooklyn, NY 11201");
    assert_eq!(a["SEQUENCE"], "0");
    let d = &a["DESCRIPTION"];
    assert!(d.contains("Water under the sink; it smells musty, and the floor is soft."), "{d}");
    assert!(d.contains("Arrive Monday, November 2, between 9:00 AM and 11:00 AM EST (your time)"), "{d}");
    assert!(d.contains("With: Lena Okafor."), "{d}");
    assert!(d.contains(&format!("https://kept.example.test/app/day?date=2026-11-02#visit-{after}")), "{d}");
    assert!(!d.contains('$'), "no prices: {d}");
    let bd = &b["DESCRIPTION"];
    assert!(bd.contains("between 9:00 AM and 11:00 AM EDT"), "the day before the change reads EDT: {bd}");
    let x = &by_uid[&uid(cancelled)];
    assert_eq!(x["STATUS"], "CANCELLED");
    assert!(x["SUMMARY"].starts_with("Cancelled: "), "{x:?}");
    assert_ne!(x["SEQUENCE"], "0", "cancelling is a change");

    // Conditional GET: the same ETag answers 304, with nothing to parse.
    let etag = feed.etag.clone().expect("an ETag");
    let same = fetch(&app, &url, Some(&etag)).await;
    assert_eq!(
        (same.status, same.etag.as_deref(), same.body.as_str()),
        (StatusCode::NOT_MODIFIED, Some(etag.as_str()), "")
    );
    let other = fetch(&app, &url, Some("\"something else\"")).await;
    assert_eq!(other.status, StatusCode::OK);

    // A move: same UID, SEQUENCE and LAST-MODIFIED up, a new ETag.
    app.clock.advance(Duration::hours(2));
    let r = app
        .patch(
            &format!("/api/v1/visits/{after}"),
            json!({"window_start": "2026-11-02T13:00:00-05:00", "window_end": "2026-11-02T15:00:00-05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let moved = fetch(&app, &url, Some(&etag)).await;
    assert_eq!(moved.status, StatusCode::OK, "the feed changed");
    assert_ne!(moved.etag.as_deref(), Some(etag.as_str()));
    let (_, events) = parse(&moved.body);
    let a2 = events.iter().find(|e| e["UID"] == uid(after)).expect("the same UID");
    assert_eq!(a2["DTSTART"], "20261102T180000Z");
    assert!(a2["SEQUENCE"].parse::<u32>().unwrap() > a["SEQUENCE"].parse::<u32>().unwrap());
    assert!(a2["LAST-MODIFIED"] > a["LAST-MODIFIED"], "{} then {}", a["LAST-MODIFIED"], a2["LAST-MODIFIED"]);
    assert_eq!(a2["LAST-MODIFIED"], "20261028T160000Z");
    let b2 = events.iter().find(|e| e["UID"] == uid(before)).unwrap();
    assert_eq!(
        (b2["SEQUENCE"].as_str(), b2["LAST-MODIFIED"].as_str()),
        (b["SEQUENCE"].as_str(), b["LAST-MODIFIED"].as_str())
    );

    // Running late shows on the event too (and is a change).
    app.clock.set(utc("2026-10-30T14:30:00Z"));
    let r = app
        .send_as(
            &token,
            Method::POST,
            &format!("/api/v1/visits/{before}/late"),
            &json!({"new_arrival": "2026-10-30T11:40:00-04:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, events) = parse(&fetch(&app, &url, None).await.body);
    let b3 = events.iter().find(|e| e["UID"] == uid(before)).unwrap();
    assert!(
        b3["DESCRIPTION"].contains("Running late: the customer was told Friday, October 30, 11:40 AM EDT"),
        "{b3:?}"
    );
    assert!(b3["SEQUENCE"].parse::<u32>().unwrap() > b["SEQUENCE"].parse::<u32>().unwrap());

    // 30 days back, 90 ahead: a month later the first week is gone.
    app.clock.set(utc("2026-12-05T12:00:00Z"));
    let (_, events) = parse(&fetch(&app, &url, None).await.body);
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test]
async fn a_feed_is_regenerated_and_revoked_by_its_person_or_an_admin_only() {
    let app = spawn_app().await;
    let tech = app.staff("Sam Ruiz", "technician", "America/New_York").await;
    let mate = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let dispatcher = app.staff("Dana Disp", "dispatcher", "America/New_York").await;
    let token = app.token_for(Role::Technician, Some(tech)).await;
    let mate_token = app.token_for(Role::Technician, Some(mate)).await;
    let dispatcher_token = app.token_for(Role::Dispatcher, Some(dispatcher)).await;

    let first = issue(&app, &token, tech).await.body["url"].as_str().unwrap().to_string();
    assert_eq!(fetch(&app, &first, None).await.status, StatusCode::OK);
    // Regenerating: the old address stops working, the new one works.
    let second = issue(&app, &token, tech).await.body["url"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(fetch(&app, &first, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&app, &second, None).await.status, StatusCode::OK);

    // Someone else's: refused, and nothing changes.
    for t in [&mate_token, &dispatcher_token] {
        assert_eq!(issue(&app, t, tech).await.status, StatusCode::FORBIDDEN);
        let r = app.send_as(t, Method::DELETE, &format!("/api/v1/staff/{tech}/calendar"), &json!({})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(fetch(&app, &second, None).await.status, StatusCode::OK);

    // Revoked by the person: 404 from then on (and revoking again is fine).
    let r = app.send_as(&token, Method::DELETE, &format!("/api/v1/staff/{tech}/calendar"), &json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(fetch(&app, &second, None).await.status, StatusCode::NOT_FOUND);
    let r = app.send_as(&token, Method::DELETE, &format!("/api/v1/staff/{tech}/calendar"), &json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // An admin may issue and revoke anyone's.
    let by_admin = issue(&app, &app.token.clone(), mate).await;
    assert_eq!(by_admin.status, StatusCode::CREATED);
    let url = by_admin.body["url"].as_str().unwrap().to_string();
    assert_eq!(fetch(&app, &url, None).await.status, StatusCode::OK);
    let r =
        app.send_as(&app.token.clone(), Method::DELETE, &format!("/api/v1/staff/{mate}/calendar"), &json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(fetch(&app, &url, None).await.status, StatusCode::NOT_FOUND);

    // Made-up addresses: 404, however they look.
    for path in ["/api/v1/calendar/kept_0000.ics", "/api/v1/calendar/.ics", "/api/v1/calendar/x"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // And another organization's person is not found at all.
    let rival = app.rival_token().await;
    assert_eq!(issue(&app, &rival, tech).await.status, StatusCode::NOT_FOUND);
}
