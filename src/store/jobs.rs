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
