//! The promise ledger: every commitment to a customer, and whether it was kept.

use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::entities::promise;
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;

pub struct NewPromise {
    pub job_id: i64,
    pub visit_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub kind: PromiseKind,
    pub key: String,
    pub description: String,
    pub window_start: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub renegotiates: Option<i64>,
}

/// Records a promise once (its key is unique).
pub async fn make<C: ConnectionTrait>(db: &C, org_id: i64, p: NewPromise, now: DateTime<Utc>) -> Result<(), Error> {
    make_many(db, org_id, vec![p], now).await
}

/// Records many promises at once (the planner's batches), each once.
pub async fn make_many<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    ps: Vec<NewPromise>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if ps.is_empty() {
        return Ok(());
    }
    promise::Entity::insert_many(ps.into_iter().map(|p| promise::ActiveModel {
        organization_id: Set(org_id),
        job_id: Set(p.job_id),
        visit_id: Set(p.visit_id),
        staff_id: Set(p.staff_id),
        kind: Set(p.kind),
        key: Set(p.key),
        description: Set(p.description),
        window_start: Set(p.window_start),
        due_at: Set(p.due_at),
        outcome: Set(PromiseOutcome::Pending),
        evidence: Set("{}".into()),
        renegotiates: Set(p.renegotiates),
        created_at: Set(now),
        ..Default::default()
    }))
    .on_conflict(OnConflict::column(promise::Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A promise recorded once it is decided (a status update's, when its
/// messages have settled).
pub struct Decided {
    pub promise: NewPromise,
    pub outcome: PromiseOutcome,
    pub evidence: Value,
    pub decided_at: DateTime<Utc>,
}

/// Records decided promises, each once (its key is unique; one already
/// there is left as it is). Made when due: `created_at` is `due_at`.
pub async fn record_decided<C: ConnectionTrait>(db: &C, org_id: i64, ps: Vec<Decided>) -> Result<(), Error> {
    // 500 rows a statement keeps the bound values under SQLite's limit.
    let mut rest = ps.into_iter().peekable();
    while rest.peek().is_some() {
        record_chunk(db, org_id, rest.by_ref().take(500).collect()).await?;
    }
    Ok(())
}

async fn record_chunk<C: ConnectionTrait>(db: &C, org_id: i64, ps: Vec<Decided>) -> Result<(), Error> {
    promise::Entity::insert_many(ps.into_iter().map(|d| promise::ActiveModel {
        organization_id: Set(org_id),
        job_id: Set(d.promise.job_id),
        visit_id: Set(d.promise.visit_id),
        staff_id: Set(d.promise.staff_id),
        kind: Set(d.promise.kind),
        key: Set(d.promise.key),
        description: Set(d.promise.description),
        window_start: Set(d.promise.window_start),
        due_at: Set(d.promise.due_at),
        outcome: Set(d.outcome),
        decided_at: Set(Some(d.decided_at)),
        evidence: Set(d.evidence.to_string()),
        renegotiates: Set(d.promise.renegotiates),
        created_at: Set(d.promise.due_at),
        ..Default::default()
    }))
    .on_conflict(OnConflict::column(promise::Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Decides a pending promise; a promise already decided is left alone.
/// Returns whether this call decided it.
pub async fn decide<C: ConnectionTrait>(
    db: &C,
    id: i64,
    result: PromiseOutcome,
    evidence: Value,
    lateness_minutes: Option<i32>,
    at: DateTime<Utc>,
) -> Result<bool, Error> {
    let n = promise::Entity::update_many()
        .col_expr(promise::Column::Outcome, Expr::value(result))
        .col_expr(promise::Column::DecidedAt, Expr::value(at))
        .col_expr(promise::Column::Evidence, Expr::value(evidence.to_string()))
        .col_expr(promise::Column::LatenessMinutes, Expr::value(lateness_minutes))
        .filter(promise::Column::Id.eq(id))
        .filter(promise::Column::Outcome.eq(PromiseOutcome::Pending))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n > 0)
}

pub async fn for_job<C: ConnectionTrait>(db: &C, org_id: i64, job_id: i64) -> Result<Vec<promise::Model>, Error> {
    Ok(promise::Entity::find()
        .filter(promise::Column::OrganizationId.eq(org_id))
        .filter(promise::Column::JobId.eq(job_id))
        .order_by_asc(promise::Column::DueAt)
        .order_by_asc(promise::Column::Id)
        .all(db)
        .await?)
}

/// The organization's pending promises the planner marked at risk.
pub async fn at_risk<C: ConnectionTrait>(db: &C, org_id: i64) -> Result<Vec<promise::Model>, Error> {
    Ok(promise::Entity::find()
        .filter(promise::Column::OrganizationId.eq(org_id))
        .filter(promise::Column::AtRiskAt.is_not_null())
        .filter(promise::Column::Outcome.eq(crate::domain::promise::PromiseOutcome::Pending))
        .all(db)
        .await?)
}

/// The newest arrival promise of a visit, whatever its outcome.
pub async fn latest_arrival<C: ConnectionTrait>(db: &C, visit_id: i64) -> Result<Option<promise::Model>, Error> {
    Ok(promise::Entity::find()
        .filter(promise::Column::VisitId.eq(visit_id))
        .filter(promise::Column::Kind.eq(PromiseKind::ArrivalWindow))
        .order_by_desc(promise::Column::Id)
        .one(db)
        .await?)
}

/// Pending promises of a kind for a job.
pub async fn pending_of_kind<C: ConnectionTrait>(
    db: &C,
    job_id: i64,
    k: PromiseKind,
) -> Result<Vec<promise::Model>, Error> {
    Ok(promise::Entity::find()
        .filter(promise::Column::JobId.eq(job_id))
        .filter(promise::Column::Kind.eq(k))
        .filter(promise::Column::Outcome.eq(PromiseOutcome::Pending))
        .all(db)
        .await?)
}

/// How long we give ourselves to answer a customer's question.
pub const ANSWER_WITHIN_HOURS: i64 = 24;

/// "We'll answer your question by …": the promise made the moment a
/// customer asks about an estimate.
pub async fn promise_answer<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    job_id: i64,
    estimate_id: i64,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Error> {
    let due = now + chrono::Duration::hours(ANSWER_WITHIN_HOURS);
    make(
        db,
        org_id,
        NewPromise {
            job_id,
            visit_id: None,
            staff_id: None,
            kind: PromiseKind::CallbackBy,
            key: format!("answer_by:{estimate_id}:{}", now.timestamp()),
            description: "Answer the customer's question about the estimate".into(),
            window_start: None,
            due_at: due,
            renegotiates: None,
        },
        now,
    )
    .await?;
    Ok(due)
}

/// Whether a promise is an answer to a customer's question still owed.
pub fn is_pending_answer(p: &promise::Model) -> bool {
    p.kind == PromiseKind::CallbackBy && p.outcome == PromiseOutcome::Pending && p.key.starts_with("answer_by:")
}

/// Our answer went out (a message from the office, or a revised estimate):
/// the promise to answer is kept if on time, broken if late.
pub async fn answered<C: ConnectionTrait>(db: &C, job_id: i64, how: &str, now: DateTime<Utc>) -> Result<(), Error> {
    for p in pending_of_kind(db, job_id, PromiseKind::CallbackBy).await?.into_iter().filter(is_pending_answer) {
        let o = if now <= p.due_at { PromiseOutcome::Kept } else { PromiseOutcome::Broken };
        decide(db, p.id, o, serde_json::json!({"answered_by": how, "at": now}), None, now).await?;
    }
    Ok(())
}

pub fn evidence(p: &promise::Model) -> Value {
    serde_json::from_str(&p.evidence).unwrap_or(Value::Null)
}

/// The visits among `visit_ids` whose crew said they are running late,
/// with the new arrival time the customer holds (a pending `late:` promise).
pub async fn running_late<C: ConnectionTrait>(
    db: &C,
    visit_ids: &[i64],
) -> Result<std::collections::HashMap<i64, DateTime<Utc>>, Error> {
    if visit_ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(promise::Entity::find()
        .filter(promise::Column::VisitId.is_in(visit_ids.iter().copied()))
        .filter(promise::Column::Kind.eq(PromiseKind::ArrivalWindow))
        .filter(promise::Column::Outcome.eq(PromiseOutcome::Pending))
        .filter(promise::Column::Key.starts_with("late:"))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.visit_id.map(|v| (v, p.due_at)))
        .collect())
}
