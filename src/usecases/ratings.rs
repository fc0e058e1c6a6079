//! After the work: the customer's rating, and the follow-up a low one opens.

use crate::db::Db;
use crate::domain::job::{JobStatus, TaskKind, TaskStatus, TimelineKind};
use crate::domain::messaging::MessageKind;
use crate::entities::{rating, task};
use crate::error::Error;
use crate::messages::NotifyCtx;
use crate::store::timeline::{self, Event};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

/// Ratings at or below this open a follow-up task for a manager.
pub const FOLLOW_UP_AT_OR_BELOW: i32 = 3;

pub async fn rate(
    db: &Db,
    n: &NotifyCtx,
    job: &crate::entities::job::Model,
    score: i32,
    comment: String,
    now: DateTime<Utc>,
) -> Result<rating::Model, Error> {
    if !(1..=5).contains(&score) {
        return Err(Error::field("score", "must be 1 to 5"));
    }
    if job.status != JobStatus::Completed {
        return Err(Error::Conflict {
            code: "job_not_completed",
            message: "you can rate us once the job is done".into(),
            details: json!({}),
        });
    }
    let txn = db.begin().await?;
    let r = rating::ActiveModel {
        organization_id: Set(job.organization_id),
        job_id: Set(job.id),
        score: Set(score),
        comment: Set(comment.clone()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        crate::store::unique_violation(e, "already_rated", "thank you, we already have your rating for this job")
    })?;
    let customer = crate::store::customers::get(&txn, job.organization_id, job.customer_id).await?;
    timeline::record(
        &txn,
        job.organization_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::Rating,
            summary: if comment.is_empty() {
                format!("{} rated us {score}/5", customer.name)
            } else {
                format!("{} rated us {score}/5: \"{comment}\"", customer.name)
            },
            data: json!({"score": score, "comment": comment}),
        },
        now,
    )
    .await?;
    if score <= FOLLOW_UP_AT_OR_BELOW {
        let note = format!(
            "{} rated the job {score}/5{}",
            customer.name,
            if comment.is_empty() { String::new() } else { format!(": \"{comment}\"") }
        );
        let t = task::ActiveModel {
            organization_id: Set(job.organization_id),
            job_id: Set(job.id),
            kind: Set(TaskKind::LowRatingFollowUp),
            status: Set(TaskStatus::Open),
            note: Set(note.clone()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let org = crate::store::orgs::get(&txn, job.organization_id).await?;
        crate::messages::alerts::alert_managers(
            &txn,
            n,
            &org,
            &customer,
            job,
            &format!("low_rating:{}", r.id),
            "Low rating: please follow up",
            &format!("{note}\n\nTask {} is open. When it is handled, PATCH /api/v1/tasks/{} with the resolution and the customer hears what we did.", t.id, t.id),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(r)
}

/// Closes a follow-up task; the customer hears what was done about it.
pub async fn resolve(
    db: &Db,
    n: &NotifyCtx,
    org_id: i64,
    task_id: i64,
    resolution: String,
    now: DateTime<Utc>,
) -> Result<task::Model, Error> {
    let txn = db.begin().await?;
    let moved = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(TaskStatus::Done))
        .col_expr(task::Column::Resolution, Expr::value(resolution.clone()))
        .col_expr(task::Column::ResolvedAt, Expr::value(now))
        .filter(task::Column::Id.eq(task_id))
        .filter(task::Column::OrganizationId.eq(org_id))
        .filter(task::Column::Status.eq(TaskStatus::Open))
        .exec(&txn)
        .await?
        .rows_affected;
    let t = task::Entity::find_by_id(task_id)
        .filter(task::Column::OrganizationId.eq(org_id))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound)?;
    if moved == 0 {
        return Err(Error::Conflict {
            code: "task_done",
            message: format!("task {task_id} is already done"),
            details: json!({}),
        });
    }
    let org = crate::store::orgs::get(&txn, org_id).await?;
    let job = crate::store::jobs::get(&txn, org_id, t.job_id).await?;
    let customer = crate::store::customers::get(&txn, org_id, job.customer_id).await?;
    let mut extra = serde_json::Map::new();
    extra.insert("resolution".into(), json!(resolution));
    crate::messages::events::simple(
        &txn,
        n,
        &org,
        &job,
        &customer,
        MessageKind::FollowUpResolution,
        format!("follow_up_resolution:{}", t.id),
        extra,
        now,
    )
    .await?;
    timeline::record(
        &txn,
        org_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::FollowUpResolved,
            summary: format!("Follow-up done: {resolution}"),
            data: json!({"task_id": t.id}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(t)
}
