//! What the API returns: stored rows plus what a reader needs (local times).

use crate::domain::time::Zone;
use crate::entities::{customer, job, staff, timeline_event};
use crate::store::visits::VisitWithStaff;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(as = Staff)]
pub struct StaffView {
    pub id: i64,
    pub name: String,
    pub role: crate::domain::people::Role,
    pub phone: Option<String>,
    pub email: String,
    pub photo_url: Option<String>,
    pub bio: String,
    pub timezone: String,
    /// Per weekday (mon…sun), the working hours as `["HH:MM", "HH:MM"]`, or null for a day off.
    #[schema(value_type = Object)]
    pub working_hours: Value,
    pub created_at: DateTime<Utc>,
}

impl From<staff::Model> for StaffView {
    fn from(s: staff::Model) -> Self {
        StaffView {
            working_hours: serde_json::from_str(&s.working_hours).unwrap_or(Value::Null),
            id: s.id,
            name: s.name,
            role: s.role,
            phone: s.phone,
            email: s.email,
            photo_url: s.photo_url,
            bio: s.bio,
            timezone: s.timezone,
            created_at: s.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Customer)]
pub struct CustomerView {
    pub id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub channels: Vec<crate::domain::people::Channel>,
    pub timezone: String,
    pub address: String,
    pub sms_opted_out: bool,
    pub email_opted_out: bool,
    /// Why texts to this number stopped being delivered (e.g. "the number
    /// cannot receive texts"); cleared when the number changes.
    pub sms_problem: Option<String>,
    /// Why email to this address stopped being delivered.
    pub email_problem: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<customer::Model> for CustomerView {
    fn from(c: customer::Model) -> Self {
        CustomerView {
            channels: crate::store::customers::channels(&c),
            id: c.id,
            name: c.name,
            phone: c.phone,
            email: c.email,
            timezone: c.timezone,
            address: c.address,
            sms_opted_out: c.sms_opted_out,
            email_opted_out: c.email_opted_out,
            sms_problem: c.sms_problem,
            email_problem: c.email_problem,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobView {
    pub id: i64,
    pub customer_id: i64,
    pub title: String,
    pub story: String,
    pub status: crate::domain::job::JobStatus,
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
            status: j.status,
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// A visit with its window in UTC and in the customer's zone.
#[derive(Serialize, ToSchema)]
#[schema(as = Visit)]
pub struct VisitView {
    pub id: i64,
    pub job_id: i64,
    pub kind: crate::domain::visit::VisitKind,
    pub status: crate::domain::visit::VisitStatus,
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

impl VisitView {
    pub fn new(v: VisitWithStaff, customer_zone: Zone) -> Self {
        let VisitWithStaff { visit: v, staff_ids } = v;
        VisitView {
            window_start_local: customer_zone.local(v.window_start),
            window_end_local: customer_zone.local(v.window_end),
            timezone: customer_zone.name().to_string(),
            id: v.id,
            job_id: v.job_id,
            kind: v.kind,
            status: v.status,
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

#[derive(Serialize, ToSchema)]
#[schema(as = TimelineEvent)]
pub struct TimelineView {
    pub id: i64,
    pub kind: String,
    pub summary: String,
    pub visit_id: Option<i64>,
    /// What the event carries (for a message: its id, kind, channel, state, due and sent times).
    #[schema(value_type = Object)]
    pub data: Value,
    pub at: DateTime<Utc>,
    /// `at` in the customer's zone.
    pub at_local: DateTime<FixedOffset>,
}

impl TimelineView {
    /// A line of the job's story, with `at` also in the customer's zone.
    pub fn of(e: crate::usecases::jobs::TimelineEntry, zone: Zone) -> Self {
        TimelineView {
            at_local: zone.local(e.at),
            id: e.id,
            kind: e.kind.to_string(),
            summary: e.summary,
            visit_id: e.visit_id,
            data: e.data,
            at: e.at,
        }
    }

    pub fn new(e: timeline_event::Model, zone: Zone) -> Self {
        Self::of(e.into(), zone)
    }
}
