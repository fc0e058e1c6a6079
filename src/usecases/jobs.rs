//! Changing a job: its title and story, and its status, where closing it
//! settles its visits and promises and tells the customer.

use crate::db::Db;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::entities::job;
use crate::error::Error;
use crate::messages::NotifyCtx;
use crate::store::timeline::Event;
use chrono::{DateTime, Utc};
use serde_json::json;

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
    txn.commit().await?;
    Ok(job)
}
