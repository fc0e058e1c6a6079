//! What the API returns: stored rows plus what a reader needs (local times).

use crate::domain::time::Zone;
use crate::entities::{customer, job, staff, timeline_event};
use crate::store::visits::VisitWithStaff;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
pub struct StaffView {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub phone: Option<String>,
    pub email: String,
    pub photo_url: Option<String>,
    pub bio: String,
    pub timezone: String,
    pub working_hours: Value,
    pub created_at: DateTime<Utc>,
}

impl From<staff::Model> for StaffView {
    fn from(s: staff::Model) -> Self {
        StaffView {
            working_hours: serde_json::from_str(&s.working_hours).unwrap_or(Value::Null),
            id: s.id,
            name: s.name,
            role: s.role.to_string(),
            phone: s.phone,
            email: s.email,
            photo_url: s.photo_url,
            bio: s.bio,
            timezone: s.timezone,
            created_at: s.created_at,
        }
    }
}

#[derive(Serialize)]
pub struct CustomerView {
    pub id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub channels: Vec<String>,
    pub timezone: String,
    pub address: String,
    pub sms_opted_out: bool,
    pub email_opted_out: bool,
    pub created_at: DateTime<Utc>,
}

impl From<customer::Model> for CustomerView {
    fn from(c: customer::Model) -> Self {
        CustomerView {
            channels: crate::store::customers::channels(&c).into_iter().map(|ch| ch.to_string()).collect(),
            id: c.id,
            name: c.name,
            phone: c.phone,
            email: c.email,
            timezone: c.timezone,
            address: c.address,
            sms_opted_out: c.sms_opted_out,
            email_opted_out: c.email_opted_out,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize)]
pub struct JobView {
    pub id: i64,
    pub customer_id: i64,
    pub title: String,
    pub story: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<job::Model> for JobView {
    fn from(j: job::Model) -> Self {
        JobView {
            id: j.id,
            customer_id: j.customer_id,
            title: j.title,
            story: j.story,
            status: j.status.to_string(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// A visit with its window in UTC and in the customer's zone.
#[derive(Serialize)]
pub struct VisitView {
    pub id: i64,
    pub job_id: i64,
    pub kind: String,
    pub status: String,
    pub staff_ids: Vec<i64>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub duration_minutes: i32,
    /// The customer's zone, in which the `_local` times are given.
    pub timezone: String,
    pub window_start_local: DateTime<FixedOffset>,
    pub window_end_local: DateTime<FixedOffset>,
    pub en_route_at: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn zone_of(name: &str) -> Zone {
    Zone::parse(name).unwrap_or(Zone(chrono_tz::UTC))
}

impl VisitView {
    pub fn new(v: VisitWithStaff, customer_zone: Zone) -> Self {
        let VisitWithStaff { visit: v, staff_ids } = v;
        VisitView {
            window_start_local: customer_zone.local(v.window_start),
            window_end_local: customer_zone.local(v.window_end),
            timezone: customer_zone.name().to_string(),
            id: v.id,
            job_id: v.job_id,
            kind: v.kind.to_string(),
            status: v.status.to_string(),
            staff_ids,
            window_start: v.window_start,
            window_end: v.window_end,
            duration_minutes: v.duration_minutes,
            en_route_at: v.en_route_at,
            arrived_at: v.arrived_at,
            completed_at: v.completed_at,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Serialize)]
pub struct TimelineView {
    pub id: i64,
    pub kind: String,
    pub summary: String,
    pub visit_id: Option<i64>,
    pub data: Value,
    pub at: DateTime<Utc>,
    /// `at` in the customer's zone.
    pub at_local: DateTime<FixedOffset>,
}

impl TimelineView {
    /// A message as a timeline entry: what it was, by which channel, and its state.
    pub fn message(m: crate::entities::message::Model, zone: Zone) -> Self {
        let what = m.kind.as_str().replace('_', " ");
        let state = m.state.as_str().replace('_', " ");
        TimelineView {
            id: m.id,
            kind: "message".into(),
            summary: format!("{} by {} to {}: {state}", capitalize(&what), m.channel, m.recipient),
            visit_id: m.visit_id,
            data: serde_json::json!({
                "message_id": m.id, "kind": m.kind, "channel": m.channel, "state": m.state,
                "due_at": m.due_at, "sent_at": m.sent_at, "last_error": m.last_error,
            }),
            at_local: zone.local(m.created_at),
            at: m.created_at,
        }
    }

    pub fn new(e: timeline_event::Model, zone: Zone) -> Self {
        TimelineView {
            data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
            at_local: zone.local(e.at),
            id: e.id,
            kind: e.kind.to_string(),
            summary: e.summary,
            visit_id: e.visit_id,
            at: e.at,
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
