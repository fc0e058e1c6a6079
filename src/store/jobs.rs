use super::timeline::{self, Event};
use super::PageRequest;
use crate::db::Db;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::entities::{customer, job};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub customer_id: i64,
    pub title: String,
    pub story: String,
}

pub async fn insert(db: &Db, organization_id: i64, new: NewJob, now: DateTime<Utc>) -> Result<job::Model, Error> {
    let txn = db.begin().await?;
    let customer = customer::Entity::find_by_id(new.customer_id)
        .filter(customer::Column::OrganizationId.eq(organization_id))
        .one(&txn)
        .await?
        .ok_or_else(|| Error::field("customer_id", format!("there is no customer {}", new.customer_id)))?;
    let job = job::ActiveModel {
        organization_id: Set(organization_id),
        customer_id: Set(customer.id),
        title: Set(new.title),
        story: Set(new.story),
        status: Set(JobStatus::New),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    timeline::record(
        &txn,
        organization_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::JobCreated,
            summary: format!("Job opened for {}: {}", customer.name, job.title),
            data: json!({"title": job.title}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(job)
}

pub async fn get<C: ConnectionTrait>(db: &C, organization_id: i64, id: i64) -> Result<job::Model, Error> {
    job::Entity::find_by_id(id)
        .filter(job::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

/// The organization's jobs by id, for code that works on many visits at once.
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, job::Model>, Error> {
    Ok(job::Entity::find()
        .filter(job::Column::OrganizationId.eq(organization_id))
        .filter(job::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|j| (j.id, j))
        .collect())
}

/// The customer's rating of the job, if they gave one.
pub async fn rating<C: ConnectionTrait>(db: &C, job_id: i64) -> Result<Option<crate::entities::rating::Model>, Error> {
    use crate::entities::rating;
    Ok(rating::Entity::find().filter(rating::Column::JobId.eq(job_id)).one(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub customer_id: Option<i64>,
    pub status: Option<JobStatus>,
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    filter: JobFilter,
    page: PageRequest,
) -> Result<Vec<job::Model>, Error> {
    let mut q = job::Entity::find().filter(job::Column::OrganizationId.eq(organization_id));
    if let Some(after) = page.after {
        q = q.filter(job::Column::Id.gt(after));
    }
    if let Some(c) = filter.customer_id {
        q = q.filter(job::Column::CustomerId.eq(c));
    }
    if let Some(s) = filter.status {
        q = q.filter(job::Column::Status.eq(s.as_str()));
    }
    Ok(q.order_by_asc(job::Column::Id).limit(page.limit).all(db).await?)
}

/// Moves a job to `to`, recording why on its timeline. No-op if already there.
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    job: &job::Model,
    to: JobStatus,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if job.status == to {
        return Ok(());
    }
    job::Entity::update_many()
        .col_expr(job::Column::Status, sea_orm::sea_query::Expr::value(to))
        .col_expr(job::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(job::Column::Id.eq(job.id))
        .filter(job::Column::OrganizationId.eq(job.organization_id))
        .exec(db)
        .await?;
    timeline::record(
        db,
        job.organization_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::JobStatus,
            summary: format!("Job is now {} ({reason})", to.as_str().replace('_', " ")),
            data: json!({"from": job.status, "to": to, "reason": reason}),
        },
        now,
    )
    .await?;
    Ok(())
}

/// What the office's job list narrows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Watch {
    /// Every job.
    #[default]
    All,
    /// Open jobs with a pending promise flagged at risk.
    AtRisk,
    /// Jobs waiting for the customer to answer an estimate.
    AwaitingApproval,
    /// Open jobs with no visit planned or under way.
    NoVisit,
}

/// The office's job list, newest first: at most `limit` jobs older than
/// `before` (a job id), narrowed by status and by `watch`, each with its
/// customer.
pub async fn office_list<C: ConnectionTrait>(
    db: &C,
    organization_id: i64,
    status: Option<JobStatus>,
    watch: Watch,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<(job::Model, Option<customer::Model>)>, Error> {
    use crate::domain::promise::PromiseOutcome;
    use crate::domain::visit::VisitStatus;
    use crate::entities::{promise, visit};
    use sea_orm::sea_query::{Expr, Query};
    let open: Vec<&str> = JobStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    let mut q = job::Entity::find().filter(job::Column::OrganizationId.eq(organization_id));
    if let Some(before) = before {
        q = q.filter(job::Column::Id.lt(before));
    }
    if let Some(s) = status {
        q = q.filter(job::Column::Status.eq(s.as_str()));
    }
    q = match watch {
        Watch::All => q,
        Watch::AwaitingApproval => q.filter(job::Column::Status.eq(JobStatus::AwaitingApproval.as_str())),
        Watch::AtRisk => q.filter(job::Column::Status.is_in(open)).filter(
            job::Column::Id.in_subquery(
                Query::select()
                    .column(promise::Column::JobId)
                    .from(promise::Entity)
                    .and_where(Expr::col(promise::Column::OrganizationId).eq(organization_id))
                    .and_where(Expr::col(promise::Column::AtRiskAt).is_not_null())
                    .and_where(Expr::col(promise::Column::Outcome).eq(PromiseOutcome::Pending.as_str()))
                    .to_owned(),
            ),
        ),
        Watch::NoVisit => {
            let active = [VisitStatus::Scheduled, VisitStatus::EnRoute, VisitStatus::Arrived].map(|s| s.as_str());
            q.filter(job::Column::Status.is_in(open)).filter(
                job::Column::Id.not_in_subquery(
                    Query::select()
                        .column(visit::Column::JobId)
                        .from(visit::Entity)
                        .and_where(Expr::col(visit::Column::OrganizationId).eq(organization_id))
                        .and_where(Expr::col(visit::Column::Status).is_in(active))
                        .to_owned(),
                ),
            )
        }
    };
    Ok(q.find_also_related(customer::Entity).order_by_desc(job::Column::Id).limit(limit).all(db).await?)
}
