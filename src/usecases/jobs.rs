//! Changing a job: its title and story, and its status, where closing it
//! settles its visits and promises and tells the customer. And reading its
//! story back: the timeline staff see.

use crate::db::Db;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::entities::{job, message, timeline_event};
use crate::error::Error;
use crate::messages::NotifyCtx;
use crate::store::timeline::Event;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// What the office changes on a job; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct JobEdit {
    pub title: Option<String>,
    pub story: Option<String>,
    pub status: Option<JobStatus>,
    /// Why, with a cancellation: told to the customer.
    pub reason: Option<String>,
}

/// Edits a job. Completing it while visits are still booked is refused
/// (409 `open_visits`): the office decides about those first. Cancelling it
/// cancels its visits and pending promises and tells the customer once.
pub async fn change(
    db: &Db,
    n: &NotifyCtx,
    org_id: i64,
    job_id: i64,
    edit: JobEdit,
    now: DateTime<Utc>,
) -> Result<job::Model, Error> {
    let JobEdit { title, story, status, reason } = edit;
    let txn = db.begin().await?;
    let job = crate::store::jobs::get(&txn, org_id, job_id).await?;
    if title.is_some() || story.is_some() {
        use sea_orm::{ActiveModelTrait, Set};
        let mut active: crate::entities::job::ActiveModel = job.clone().into();
        if let Some(t) = &title {
            active.title = Set(t.clone());
        }
        if let Some(s) = &story {
            active.story = Set(s.clone());
        }
        active.updated_at = Set(now);
        active.update(&txn).await?;
        crate::store::timeline::record(
            &txn,
            org_id,
            Event {
                job_id: job.id,
                visit_id: None,
                kind: TimelineKind::JobEdited,
                summary: "Job details edited".into(),
                data: json!({"title": title, "story_changed": story.is_some()}),
            },
            now,
        )
        .await?;
    }
    if let Some(to) = status {
        let was_open = job.status.is_open();
        if to == JobStatus::Completed && was_open {
            // Visits booked and not yet started would dangle on a completed
            // job: the office decides about each (cancel or move it) first.
            let open: Vec<_> = crate::store::visits::open_of_job(&txn, job.id)
                .await?
                .into_iter()
                .filter(|v| v.status == crate::domain::visit::VisitStatus::Scheduled)
                .collect();
            if !open.is_empty() {
                let ids: Vec<i64> = open.iter().map(|v| v.id).collect();
                return Err(Error::Conflict {
                    code: "open_visits",
                    message: format!(
                        "job {} still has visits booked ({}); cancel or complete them before completing the job",
                        job.id,
                        ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                    details: json!({"open_visit_ids": ids}),
                });
            }
        }
        let why = match &reason {
            Some(r) => format!("changed by the office: {r}"),
            None => "changed by the office".to_string(),
        };
        crate::store::jobs::set_status(&txn, &job, to, &why, now).await?;
        if was_open && !to.is_open() {
            let org = crate::store::orgs::get(&txn, org_id).await?;
            match to {
                JobStatus::Completed => crate::messages::events::on_job_completed(&txn, n, &org, &job, now).await?,
                _ => {
                    super::visits::cancel_job(&txn, n, &org, &job, reason.as_deref(), now).await?;
                }
            }
        }
    }
    let job = crate::store::jobs::get(&txn, org_id, job.id).await?;
    n.live.publish(&txn, crate::live::LiveEvent::job(&job, now)).await?;
    txn.commit().await?;
    Ok(job)
}

/// One line of a job's story: something that happened, or a message.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub id: i64,
    /// The event's kind, or `message`.
    pub kind: String,
    pub summary: String,
    pub visit_id: Option<i64>,
    pub data: Value,
    pub at: DateTime<Utc>,
}

impl From<timeline_event::Model> for TimelineEntry {
    fn from(e: timeline_event::Model) -> Self {
        TimelineEntry {
            data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
            id: e.id,
            kind: e.kind.to_string(),
            summary: e.summary,
            visit_id: e.visit_id,
            at: e.at,
        }
    }
}

/// A message as a timeline entry: what it was, by which channel, and its state.
impl From<message::Model> for TimelineEntry {
    fn from(m: message::Model) -> Self {
        let what = m.kind.as_str().replace('_', " ");
        let state = m.state.as_str().replace('_', " ");
        TimelineEntry {
            id: m.id,
            kind: "message".into(),
            summary: format!("{} by {} to {}: {state}", capitalize(&what), m.channel, m.recipient),
            visit_id: m.visit_id,
            data: json!({
                "message_id": m.id, "kind": m.kind, "channel": m.channel, "state": m.state,
                "due_at": m.due_at, "sent_at": m.sent_at, "last_error": m.last_error,
            }),
            at: m.created_at,
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

/// The job's story as it happened: its events and every message, whatever
/// became of it, oldest first. `field_staff` is the reader when they are an
/// estimator or technician (`crate::access::field_staff`): they see no
/// pricing but their own, that is only the estimates they wrote, and the
/// pricing messages of a job where they wrote one. `None` is the office,
/// which sees everything.
pub async fn timeline<C: sea_orm::ConnectionTrait>(
    db: &C,
    org_id: i64,
    job_id: i64,
    field_staff: Option<i64>,
) -> Result<Vec<TimelineEntry>, Error> {
    // The estimates this reader may see the prices of (None: all of them).
    let visible: Option<Vec<i64>> = match field_staff {
        None => None,
        Some(me) => Some(
            crate::store::estimates::for_job(db, org_id, job_id)
                .await?
                .iter()
                .filter(|e| e.author_staff_id == Some(me))
                .map(|e| e.id)
                .collect(),
        ),
    };
    let priced = |estimate_id: Option<i64>| match (&visible, estimate_id) {
        (Some(mine), Some(id)) => mine.contains(&id),
        _ => true,
    };
    let mut entries: Vec<TimelineEntry> = crate::store::timeline::for_job(db, org_id, job_id)
        .await?
        .into_iter()
        .map(TimelineEntry::from)
        .filter(|e| priced(e.data["estimate_id"].as_i64()))
        .collect();
    let pricing_messages = visible.as_ref().is_none_or(|mine| !mine.is_empty());
    for m in crate::store::timeline::messages_for_job(db, org_id, job_id).await? {
        if m.kind == crate::domain::messaging::MessageKind::PricingBreakdown && !pricing_messages {
            continue;
        }
        entries.push(m.into());
    }
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}
