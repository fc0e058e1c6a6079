//! The promise ledger, follow-up tasks and promise KPIs.

use super::{page, paged, path_id, ApiJson, Page};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::job::{TaskKind, TaskStatus, TimelineKind};
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::time::parse_rfc3339;
use crate::entities::{promise, task};
use crate::state::AppState;
use crate::store::promises;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(for_job, record))
        .routes(routes!(list))
        .routes(routes!(kept))
        .routes(routes!(metrics))
        .routes(routes!(tasks))
        .routes(routes!(resolve_task))
}

/// A promise in the ledger: what we told the customer, and whether we kept it.
#[derive(Serialize, ToSchema)]
#[schema(as = Promise)]
pub struct PromiseView {
    pub id: i64,
    pub job_id: i64,
    pub visit_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub kind: PromiseKind,
    /// The promise in the customer's words.
    pub description: String,
    /// Arrival windows: the window's start.
    pub window_start: Option<DateTime<Utc>>,
    pub window_start_local: Option<DateTime<FixedOffset>>,
    /// When it falls due (an arrival window's end).
    pub due_at: DateTime<Utc>,
    pub due_at_local: DateTime<FixedOffset>,
    pub outcome: PromiseOutcome,
    pub decided_at: Option<DateTime<Utc>>,
    /// What decided it (an arrival time, a message's delivery, who recorded it).
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// Late arrivals: by how many minutes.
    pub lateness_minutes: Option<i32>,
    /// Pending and flagged as likely to break.
    pub at_risk: bool,
    pub at_risk_at: Option<DateTime<Utc>>,
    /// The promise this one replaced (a rescheduled window).
    pub renegotiates: Option<i64>,
    pub created_at: DateTime<Utc>,
}

fn view(p: promise::Model, zone: crate::domain::time::Zone) -> PromiseView {
    PromiseView {
        evidence: promises::evidence(&p),
        at_risk: p.at_risk_at.is_some() && p.outcome == PromiseOutcome::Pending,
        window_start_local: p.window_start.map(|t| zone.local(t)),
        due_at_local: zone.local(p.due_at),
        id: p.id,
        job_id: p.job_id,
        visit_id: p.visit_id,
        staff_id: p.staff_id,
        kind: p.kind,
        description: p.description,
        window_start: p.window_start,
        due_at: p.due_at,
        outcome: p.outcome,
        decided_at: p.decided_at,
        lateness_minutes: p.lateness_minutes,
        at_risk_at: p.at_risk_at,
        renegotiates: p.renegotiates,
        created_at: p.created_at,
    }
}

/// A job's promises, in the customer's zone.
#[derive(Serialize, ToSchema)]
pub struct JobPromises {
    pub job_id: i64,
    /// The customer's zone, in which the `_local` times are given.
    pub timezone: String,
    pub items: Vec<PromiseView>,
}

/// Every promise made on a job.
#[utoipa::path(get, path = "/jobs/{id}/promises", tag = "promises",
    params(("id" = i64, Path, description = "The job")),
    responses((status = 200, description = "The job's promises", body = JobPromises)))]
async fn for_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobPromises>, ApiError> {
    let job = crate::store::jobs::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    let customer = crate::store::customers::get(&state.db, caller.organization_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let items = promises::for_job(&state.db, caller.organization_id, job.id)
        .await?
        .into_iter()
        .map(|p| view(p, zone))
        .collect();
    Ok(Json(JobPromises { job_id: job.id, timezone: zone.name().to_string(), items }))
}

/// A promise made by phone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PromiseInput {
    /// Required: `callback_by` or `completion_by` (the others are made by Kept itself).
    #[schema(required = true, nullable = false)]
    kind: Option<String>,
    /// Required, in the future: RFC 3339 with an offset.
    #[schema(required = true, nullable = false, format = DateTime)]
    due_at: Option<String>,
    /// Up to 500 characters; a sentence in the customer's words is written when absent.
    description: Option<String>,
}

/// The office records a promise made by phone: "we'll call you by 3 pm".
#[utoipa::path(post, path = "/jobs/{id}/promises", tag = "promises", request_body = PromiseInput,
    params(("id" = i64, Path, description = "The job")),
    responses((status = 201, description = "Recorded", body = PromiseView)))]
async fn record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PromiseInput>,
) -> Result<(StatusCode, Json<PromiseView>), ApiError> {
    let mut p = Problems::default();
    let k = match input.kind.as_deref() {
        Some(k) if PromiseKind::parse(k).is_some_and(PromiseKind::by_hand) => PromiseKind::parse(k),
        Some(other) => {
            p.add("kind", format!("'{other}' cannot be recorded by hand (use callback_by or completion_by)"));
            None
        }
        None => {
            p.add("kind", "is required (callback_by or completion_by)");
            None
        }
    };
    let due = match input.due_at {
        Some(d) => p.check("due_at", parse_rfc3339(&d)),
        None => {
            p.add("due_at", "is required (RFC 3339 with an offset)");
            None
        }
    };
    let description = super::optional_text(&mut p, "description", input.description, 500);
    let now = state.clock.now();
    if let Some(d) = due {
        if d <= now {
            p.add("due_at", "must be in the future");
        }
    }
    p.into_result()?;
    let (Some(k), Some(due)) = (k, due) else { return Err(ApiError::Internal("promise parse".into())) };
    let job = crate::store::jobs::get(&state.db, caller.organization_id, path_id(&id)?).await?;
    let customer = crate::store::customers::get(&state.db, caller.organization_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let when = crate::messages::compose::clock_time(zone, due);
    let description = description.unwrap_or_else(|| match k {
        PromiseKind::CallbackBy => format!("Call you back by {when}"),
        _ => format!("Finish the work by {}", due.with_timezone(&zone.0).format("%A, %B %-d")),
    });
    let mut nonce = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let key = format!("{k}:{}:{}", job.id, hex::encode(nonce));
    promises::make(
        &state.db,
        caller.organization_id,
        promises::NewPromise {
            job_id: job.id,
            visit_id: None,
            staff_id: caller.staff_id,
            kind: k,
            key: key.clone(),
            description: description.clone(),
            window_start: None,
            due_at: due,
            renegotiates: None,
        },
        now,
    )
    .await?;
    crate::store::timeline::record(
        &state.db,
        caller.organization_id,
        crate::store::timeline::Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::PromiseMade,
            summary: description,
            data: json!({"kind": k, "due_at": due}),
        },
        now,
    )
    .await?;
    let made =
        promise::Entity::find().filter(promise::Column::Key.eq(key)).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Json(view(made, zone))))
}

/// How a promise was kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KeptInput {
    /// What happened ("called at 2:40").
    note: Option<String>,
}

/// The office records that a hand-made promise was kept ("called at 2:40");
/// after its due time it counts as broken.
#[utoipa::path(post, path = "/promises/{id}/kept", tag = "promises", request_body = KeptInput,
    params(("id" = i64, Path, description = "The promise")),
    responses(
        (status = 200, description = "Decided", body = PromiseView),
        (status = 409, description = "Already decided (`promise_decided`), or decided by what happens rather than by hand (`decided_by_kept`)", body = super::error::ErrorBody),
    ))]
async fn kept(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<KeptInput>,
) -> Result<Json<PromiseView>, ApiError> {
    let p = promise::Entity::find_by_id(path_id(&id)?)
        .filter(promise::Column::OrganizationId.eq(caller.organization_id))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if p.kind != PromiseKind::CallbackBy && p.kind != PromiseKind::CompletionBy {
        return Err(ApiError::Conflict {
            code: "decided_by_kept",
            message: format!(
                "{} promises are decided by what happens (arrivals, messages, sending the estimate), not by hand",
                p.kind
            ),
            details: json!({"promise_id": p.id}),
        });
    }
    let now = state.clock.now();
    let evidence = json!({"recorded_by_staff_id": caller.staff_id, "note": input.note});
    let result = if now <= p.due_at { PromiseOutcome::Kept } else { PromiseOutcome::Broken };
    if !promises::decide(&state.db, p.id, result, evidence, None, now).await? {
        return Err(ApiError::Conflict {
            code: "promise_decided",
            message: format!("promise {} is already {}", p.id, p.outcome),
            details: json!({"promise_id": p.id, "outcome": p.outcome}),
        });
    }
    let p = promise::Entity::find_by_id(p.id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    let job = crate::store::jobs::get(&state.db, caller.organization_id, p.job_id).await?;
    let customer = crate::store::customers::get(&state.db, caller.organization_id, job.customer_id).await?;
    Ok(Json(view(p, crate::store::customers::zone(&customer)?)))
}

/// Filters of the ledger.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `list` reads them
struct PromiseQuery {
    #[param(value_type = Option<crate::domain::promise::PromiseOutcome>)]
    outcome: Option<String>,
    #[param(value_type = Option<crate::domain::promise::PromiseKind>)]
    kind: Option<String>,
    /// `true`: only pending promises flagged at risk.
    at_risk: Option<bool>,
}

/// The ledger across jobs, oldest first (times in UTC):
/// `?outcome=pending&at_risk=true` is what needs attention.
#[utoipa::path(get, path = "/promises", tag = "promises", params(PromiseQuery, super::PageQuery),
    responses((status = 200, description = "A page of promises", body = Page<PromiseView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<PromiseView>>, ApiError> {
    let pg = page(&q)?;
    let mut query = promise::Entity::find().filter(promise::Column::OrganizationId.eq(caller.organization_id));
    if let Some(after) = pg.after {
        query = query.filter(promise::Column::Id.gt(after));
    }
    // An unknown filter value is a mistake to name, not an empty list.
    let mut p = Problems::default();
    if let Some(o) = super::one_of(&mut p, &q, "outcome", PromiseOutcome::parse, PromiseOutcome::choices) {
        query = query.filter(promise::Column::Outcome.eq(o));
    }
    if let Some(k) = super::one_of(&mut p, &q, "kind", PromiseKind::parse, PromiseKind::choices) {
        query = query.filter(promise::Column::Kind.eq(k));
    }
    if let Some(r) = q.get("at_risk").filter(|r| !matches!(r.as_str(), "true" | "false")) {
        p.add("at_risk", format!("'{r}' is not true or false"));
    }
    p.into_result()?;
    if q.get("at_risk").map(String::as_str) == Some("true") {
        query = query
            .filter(promise::Column::AtRiskAt.is_not_null())
            .filter(promise::Column::Outcome.eq(PromiseOutcome::Pending));
    }
    let rows = query.order_by_asc(promise::Column::Id).limit(pg.limit).all(&state.db).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(|p| view(p, crate::domain::time::Zone(chrono_tz::UTC))).collect(), ids, pg))
}

/// The period of the KPIs.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `metrics` reads them
struct Period {
    /// RFC 3339; 30 days before `to` when absent.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339, after `from`; now when absent.
    #[param(format = DateTime)]
    to: Option<String>,
}

/// How well we keep our promises: KPIs for promises due in `[from, to)`.
#[utoipa::path(get, path = "/metrics/promises", tag = "promises", params(Period),
    responses((status = 200, description = "The KPIs", body = crate::store::metrics::PromiseMetrics)))]
async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<crate::store::metrics::PromiseMetrics>, ApiError> {
    let mut p = Problems::default();
    let now = state.clock.now();
    let to = q.get("to").and_then(|t| p.check("to", parse_rfc3339(t))).unwrap_or(now);
    let from = q.get("from").and_then(|f| p.check("from", parse_rfc3339(f))).unwrap_or(to - Duration::days(30));
    if from >= to {
        p.add("to", "must be after from");
    }
    p.into_result()?;
    Ok(Json(crate::store::metrics::promises(&state.db, caller.organization_id, from, to).await?))
}

/// A follow-up for the office (e.g. after a low rating).
#[derive(Serialize, ToSchema)]
#[schema(as = Task)]
pub struct TaskView {
    pub id: i64,
    pub job_id: i64,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub note: String,
    /// How it was closed, told to the customer.
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Filters of the follow-ups.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `tasks` reads them
struct TaskQuery {
    /// `open` or `done`.
    status: Option<String>,
}

/// Follow-ups for the office, oldest first.
#[utoipa::path(get, path = "/tasks", tag = "promises", params(TaskQuery, super::PageQuery),
    responses((status = 200, description = "A page of follow-ups", body = Page<TaskView>)))]
async fn tasks(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<TaskView>>, ApiError> {
    let pg = page(&q)?;
    let mut query = task::Entity::find().filter(task::Column::OrganizationId.eq(caller.organization_id));
    let mut p = Problems::default();
    if let Some(s) = super::one_of(&mut p, &q, "status", TaskStatus::parse, TaskStatus::choices) {
        query = query.filter(task::Column::Status.eq(s));
    }
    p.into_result()?;
    if let Some(after) = pg.after {
        query = query.filter(task::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(task::Column::Id).limit(pg.limit).all(&state.db).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    let items = rows
        .into_iter()
        .map(|t| TaskView {
            id: t.id,
            job_id: t.job_id,
            kind: t.kind,
            status: t.status,
            note: t.note,
            resolution: t.resolution,
            created_at: t.created_at,
            resolved_at: t.resolved_at,
        })
        .collect();
    Ok(paged(items, ids, pg))
}

/// Closing a follow-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TaskInput {
    /// Required: `done`.
    #[schema(required = true, nullable = false)]
    status: Option<String>,
    /// Required, up to 2,000 characters: what was done, told to the customer.
    #[schema(required = true, nullable = false)]
    resolution: Option<String>,
}

/// A closed follow-up.
#[derive(Serialize, ToSchema)]
pub struct TaskClosed {
    pub id: i64,
    pub job_id: i64,
    /// `done`.
    pub status: TaskStatus,
}

/// Closing a follow-up: `{"status": "done", "resolution": "..."}`; the customer is told.
#[utoipa::path(patch, path = "/tasks/{id}", tag = "promises", request_body = TaskInput,
    params(("id" = i64, Path, description = "The follow-up")),
    responses(
        (status = 200, description = "Closed; the customer's message is queued", body = TaskClosed),
        (status = 409, description = "Already closed (`task_done`)", body = super::error::ErrorBody),
    ))]
async fn resolve_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TaskInput>,
) -> Result<Json<TaskClosed>, ApiError> {
    let mut p = Problems::default();
    if input.status.as_deref().and_then(TaskStatus::parse) != Some(TaskStatus::Done) {
        p.add("status", "set it to done to close the follow-up");
    }
    let resolution = super::required_text(&mut p, "resolution", input.resolution, 2000);
    p.into_result()?;
    let t = crate::usecases::ratings::resolve(
        &state.db,
        &state.notify,
        caller.organization_id,
        path_id(&id)?,
        resolution.unwrap_or_default(),
        state.clock.now(),
    )
    .await?;
    Ok(Json(TaskClosed { id: t.id, job_id: t.job_id, status: t.status }))
}
