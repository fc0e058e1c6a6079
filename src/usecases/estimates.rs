//! Sending an estimate (the pricing breakdown goes out, earlier versions
//! are superseded) and the customer's answer to it (approve, decline, or a
//! question we promise to answer). Writing and revising drafts is data
//! work: `crate::store::estimates`.

use crate::db::Db;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::domain::money::EstimateStatus;
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::entities::{customer, estimate, job, organization};
use crate::error::Error;
use crate::messages::NotifyCtx;
use crate::store::estimates::{load, outdated, Full};
use crate::store::timeline::{self, Event};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

/// Sends a draft: the customer gets the pricing breakdown, earlier versions
/// are superseded, and the job waits for approval.
pub async fn send(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Full, Error> {
    let txn = db.begin().await?;
    // Claim the draft first (a write), so two sends cannot both go out.
    let claimed = estimate::Entity::update_many()
        .col_expr(estimate::Column::Status, Expr::value(EstimateStatus::Sent))
        .col_expr(estimate::Column::SentAt, Expr::value(now))
        .col_expr(estimate::Column::UpdatedAt, Expr::value(now))
        .filter(estimate::Column::Id.eq(id))
        .filter(estimate::Column::OrganizationId.eq(org.id))
        .filter(estimate::Column::Status.eq(EstimateStatus::Draft))
        .exec(&txn)
        .await?
        .rows_affected;
    let full = load(&txn, org.id, id).await?;
    if claimed == 0 {
        return Err(Error::Conflict {
            code: "estimate_not_draft",
            message: format!(
                "estimate {id} is {}; only a draft can be sent (edit it to make a new version)",
                full.estimate.status
            ),
            details: json!({"estimate_id": id, "status": full.estimate.status}),
        });
    }
    if full.lines.is_empty() {
        return Err(Error::field("lines", "an empty estimate cannot be sent; add at least one line"));
    }
    let e = &full.estimate;
    let previous = estimate::Entity::find()
        .filter(estimate::Column::JobId.eq(e.job_id))
        .filter(estimate::Column::Version.lt(e.version))
        .filter(estimate::Column::SentAt.is_not_null())
        .order_by_desc(estimate::Column::Version)
        .one(&txn)
        .await?;
    estimate::Entity::update_many()
        .col_expr(estimate::Column::Status, Expr::value(EstimateStatus::Superseded))
        .filter(estimate::Column::JobId.eq(e.job_id))
        .filter(estimate::Column::Version.lt(e.version))
        .filter(estimate::Column::Status.is_in([
            EstimateStatus::Sent,
            EstimateStatus::ChangesRequested,
            EstimateStatus::Draft,
        ]))
        .exec(&txn)
        .await?;
    let job = crate::store::jobs::get(&txn, org.id, e.job_id).await?;
    let customer = crate::store::customers::get(&txn, org.id, job.customer_id).await?;
    let previous = match previous {
        Some(p) => Some(load(&txn, org.id, p.id).await?),
        None => None,
    };
    crate::messages::events::pricing_breakdown(&txn, n, org, &job, &customer, &full, previous.as_ref(), now).await?;
    crate::store::promises::answered(&txn, job.id, "a revised estimate", now).await?;
    let currency = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
    timeline::record(
        &txn,
        org.id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::EstimateSent,
            summary: format!("Estimate version {} sent: {}", e.version, currency.format(e.total_minor)),
            data: json!({"estimate_id": e.id, "version": e.version, "total_minor": e.total_minor}),
        },
        now,
    )
    .await?;
    if job.status.is_open() {
        crate::store::jobs::set_status(&txn, &job, JobStatus::AwaitingApproval, "the estimate was sent", now).await?;
    }
    // Sending the estimate keeps the "estimate by" promise.
    for p in crate::store::promises::pending_of_kind(&txn, job.id, PromiseKind::EstimateBy).await? {
        crate::store::promises::decide(
            &txn,
            p.id,
            PromiseOutcome::Kept,
            json!({"estimate_id": e.id, "sent_at": now}),
            None,
            now,
        )
        .await?;
    }
    let full = load(&txn, org.id, id).await?;
    txn.commit().await?;
    Ok(full)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline,
    Question,
}

/// The customer's answer, from their private link. Only the current, sent
/// version can be answered.
pub async fn decide(
    db: &Db,
    n: &NotifyCtx,
    job: &job::Model,
    id: i64,
    decision: Decision,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<Full, Error> {
    let org_id = job.organization_id;
    let txn = db.begin().await?;
    let e = estimate::Entity::find_by_id(id)
        .filter(estimate::Column::JobId.eq(job.id))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound)?;
    let current = estimate::Entity::find()
        .filter(estimate::Column::JobId.eq(job.id))
        .filter(estimate::Column::SentAt.is_not_null())
        .order_by_desc(estimate::Column::Version)
        .one(&txn)
        .await?
        .map(|c| c.id);
    if current != Some(e.id) {
        return Err(outdated(&e, current));
    }
    if decision == Decision::Question && comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(Error::field("comment", "tell us what you would like to ask or change"));
    }
    let (new_status, job_status, verb) = match decision {
        Decision::Approve => (EstimateStatus::Approved, JobStatus::Approved, "approved"),
        Decision::Decline => (EstimateStatus::Declined, JobStatus::Cancelled, "declined"),
        Decision::Question => (EstimateStatus::ChangesRequested, JobStatus::Estimating, "asked about"),
    };
    let moved = estimate::Entity::update_many()
        .col_expr(estimate::Column::Status, Expr::value(new_status))
        .col_expr(estimate::Column::DecidedAt, Expr::value(now))
        .col_expr(estimate::Column::DecisionComment, Expr::value(comment.clone()))
        .col_expr(estimate::Column::UpdatedAt, Expr::value(now))
        .filter(estimate::Column::Id.eq(e.id))
        .filter(estimate::Column::Status.is_in([EstimateStatus::Sent, EstimateStatus::ChangesRequested]))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(Error::Conflict {
            code: "estimate_decided",
            message: format!("this estimate was already {}", e.status.as_str().replace('_', " ")),
            details: json!({"estimate_id": e.id, "status": e.status}),
        });
    }
    let customer: customer::Model = crate::store::customers::get(&txn, org_id, job.customer_id).await?;
    let org = crate::store::orgs::get(&txn, org_id).await?;
    let summary = match &comment {
        Some(c) if !c.trim().is_empty() => {
            format!("{} {verb} estimate version {}: \"{}\"", customer.name, e.version, c.trim())
        }
        _ => format!("{} {verb} estimate version {}", customer.name, e.version),
    };
    timeline::record(
        &txn,
        org_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: match decision {
                Decision::Approve => TimelineKind::EstimateApproved,
                Decision::Decline => TimelineKind::EstimateDeclined,
                Decision::Question => TimelineKind::EstimateQuestion,
            },
            summary: summary.clone(),
            data: json!({"estimate_id": e.id, "version": e.version, "comment": comment}),
        },
        now,
    )
    .await?;
    let fresh_job = crate::store::jobs::get(&txn, org_id, job.id).await?;
    crate::store::jobs::set_status(&txn, &fresh_job, job_status, &format!("the customer {verb} the estimate"), now)
        .await?;
    if decision == Decision::Question {
        // Acknowledged at once, with when we will answer: a promise.
        crate::store::promises::promise_answer(&txn, org_id, job.id, e.id, now).await?;
    }
    let title = match decision {
        Decision::Approve => "Estimate approved",
        Decision::Decline => "Estimate declined",
        Decision::Question => "Question about the estimate",
    };
    crate::messages::alerts::alert_dispatchers(
        &txn,
        n,
        &org,
        &customer,
        job,
        &format!("estimate:{}:{verb}", e.id),
        title,
        &summary,
        now,
    )
    .await?;
    let full = load(&txn, org_id, e.id).await?;
    txn.commit().await?;
    Ok(full)
}
