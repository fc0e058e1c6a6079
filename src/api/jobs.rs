//! Jobs: the customer's problem, their story, and everything that happened.

use super::views::{CustomerView, JobView, TimelineView, VisitView};
use super::{page, paged, path_id, ApiJson, Page};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::job::JobStatus;
use crate::state::AppState;
use crate::store::jobs::JobFilter;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(timeline))
        .routes(routes!(add_note))
        .routes(routes!(send_message))
}

/// A new job: the customer's problem, in their words.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct JobInput {
    /// Required: a customer of the organization.
    #[schema(required = true, nullable = false)]
    customer_id: Option<i64>,
    /// Required, up to 200 characters.
    #[schema(required = true, nullable = false)]
    title: Option<String>,
    /// The customer's story, up to 20,000 characters.
    story: Option<String>,
}

use crate::usecases::customers::STORY_MAX;

/// Open a job for a customer.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = JobInput,
    responses((status = 201, description = "Opened", body = JobView)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<JobInput>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let job = crate::usecases::customers::open_job(
        &state.db,
        &state.notify,
        caller.organization_id,
        input.customer_id,
        input.title,
        input.story,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(job.into())))
}

/// Filters of the job list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `list` reads them
struct JobQuery {
    customer_id: Option<i64>,
    #[param(value_type = Option<crate::domain::job::JobStatus>)]
    status: Option<String>,
}

/// The organization's jobs, oldest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobQuery, super::PageQuery),
    responses((status = 200, description = "A page of jobs", body = Page<JobView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Page<JobView>>, ApiError> {
    let page = page(&q)?;
    let mut p = Problems::default();
    let customer_id =
        q.get("customer_id").and_then(|v| p.check("customer_id", v.parse::<i64>().map_err(|_| "must be an id".into())));
    let status = super::one_of(&mut p, &q, "status", JobStatus::parse, JobStatus::choices);
    p.into_result()?;
    let rows =
        crate::store::jobs::list(&state.db, caller.organization_id, JobFilter { customer_id, status }, page).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(JobView::from).collect(), ids, page))
}

/// A job with its customer, its visits and when the customer hears from us next.
#[derive(Serialize, ToSchema)]
pub struct JobDetail {
    pub id: i64,
    pub customer_id: i64,
    pub title: String,
    pub story: String,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The next twice-daily status update, if one is due.
    pub next_update_at: Option<DateTime<Utc>>,
    /// The same, in the customer's zone.
    pub next_update_at_local: Option<DateTime<FixedOffset>>,
    pub customer: CustomerView,
    /// Windows in UTC and in the customer's zone.
    pub visits: Vec<VisitView>,
}

/// The job with its customer and visits (windows in the customer's zone).
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "The job")),
    responses((status = 200, description = "The job", body = JobDetail)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, ApiError> {
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let visits: Vec<VisitView> = crate::store::visits::for_job(&state.db, org_id, job.id)
        .await?
        .into_iter()
        .map(|v| VisitView::new(v, zone))
        .collect();
    let org = crate::store::orgs::get(&state.db, org_id).await?;
    let next_update =
        crate::notify::planner::next_update_at(&state.db, &org, &customer, &job, state.clock.now()).await?;
    Ok(Json(JobDetail {
        id: job.id,
        customer_id: job.customer_id,
        title: job.title,
        story: job.story,
        status: job.status,
        created_at: job.created_at,
        updated_at: job.updated_at,
        next_update_at: next_update,
        next_update_at_local: next_update.map(|t| zone.local(t)),
        customer: CustomerView::from(customer),
        visits,
    }))
}

/// Changes to a job: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct JobChanges {
    /// Up to 200 characters.
    title: Option<String>,
    /// Up to 20,000 characters.
    story: Option<String>,
    #[schema(value_type = Option<crate::domain::job::JobStatus>)]
    status: Option<String>,
    /// With `cancelled`: why, told to the customer.
    reason: Option<String>,
}

/// Edit the title or story, or move the job's status (e.g. `completed`,
/// `cancelled`); each change is on the timeline, and the customer is told
/// of a cancellation.
#[utoipa::path(patch, path = "/jobs/{id}", tag = "jobs", request_body = JobChanges,
    params(("id" = i64, Path, description = "The job")),
    responses(
        (status = 200, description = "Changed", body = JobView),
        (status = 409, description = "The status cannot move there (`invalid_transition`), or visits are still booked (`open_visits`, naming them)", body = super::error::ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<JobChanges>,
) -> Result<Json<JobView>, ApiError> {
    let mut p = Problems::default();
    let title = if input.title.is_some() { super::required_text(&mut p, "title", input.title, 200) } else { None };
    let story = input.story.map(|s| super::optional_text(&mut p, "story", Some(s), STORY_MAX).unwrap_or_default());
    let status = input.status.and_then(|s| {
        p.check("status", JobStatus::parse(s.trim()).ok_or(format!("'{s}' is not one of {}", JobStatus::choices())))
    });
    let reason = super::optional_text(&mut p, "reason", input.reason, 300);
    p.into_result()?;
    let job = crate::usecases::jobs::change(
        &state.db,
        &state.notify,
        caller.organization_id,
        path_id(&id)?,
        crate::usecases::jobs::JobEdit { title, story, status, reason },
        state.clock.now(),
    )
    .await?;
    Ok(Json(job.into()))
}

/// A job's story as it happened.
#[derive(Serialize, ToSchema)]
pub struct JobTimeline {
    pub job_id: i64,
    /// The customer's zone, in which the `_local` times are given.
    pub timezone: String,
    /// Oldest first.
    pub items: Vec<TimelineView>,
}

/// The job's events and every message, whatever became of it.
#[utoipa::path(get, path = "/jobs/{id}/timeline", tag = "jobs",
    params(("id" = i64, Path, description = "The job")),
    responses((status = 200, description = "The timeline", body = JobTimeline)))]
async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobTimeline>, ApiError> {
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let events: Vec<TimelineView> =
        crate::usecases::jobs::timeline(&state.db, org_id, job.id, crate::access::field_staff(&caller))
            .await?
            .into_iter()
            .map(|e| TimelineView::of(e, zone))
            .collect();
    Ok(Json(JobTimeline { job_id: job.id, timezone: zone.name().to_string(), items: events }))
}

/// News for the customer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteInput {
    /// Required, up to 2,000 characters.
    #[schema(required = true, nullable = false)]
    text: Option<String>,
}

use crate::store::timeline::NOTE_MAX_CHARS;

/// News for the customer ("parts ordered", "crew flying in"): a timeline
/// note that the next status update will carry.
#[utoipa::path(post, path = "/jobs/{id}/notes", tag = "jobs", request_body = NoteInput,
    params(("id" = i64, Path, description = "The job")),
    responses((status = 201, description = "Added to the timeline", body = TimelineView)))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<(StatusCode, Json<TimelineView>), ApiError> {
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let mut p = Problems::default();
    let text = super::required_text(&mut p, "text", input.text, NOTE_MAX_CHARS);
    p.into_result()?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let event = crate::store::timeline::add_note(
        &state.db,
        org_id,
        job.id,
        text.unwrap_or_default(),
        caller.staff_id,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(TimelineView::new(event, crate::store::customers::zone(&customer)?))))
}

/// A message from the office.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MessageInput {
    /// Required, up to 1,000 characters.
    #[schema(required = true, nullable = false)]
    body: Option<String>,
    /// Which channels; every channel that reaches the customer when absent.
    #[schema(value_type = Option<Vec<crate::domain::people::Channel>>)]
    channels: Option<Vec<String>>,
}

/// The messages queued.
#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub items: Vec<super::outbox::MessageView>,
}

/// A message from the office to the customer, through the outbox.
#[utoipa::path(post, path = "/jobs/{id}/messages", tag = "messages", request_body = MessageInput,
    params(("id" = i64, Path, description = "The job")),
    responses(
        (status = 201, description = "Queued, one message per channel", body = Queued),
        (status = 429, description = "Too many messages to this customer or from this address; `Retry-After` says when", body = super::error::ErrorBody),
    ))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    use crate::domain::people::Channel;
    let mut p = Problems::default();
    let body = super::required_text(&mut p, "body", input.body, 1000);
    let requested: Option<Vec<Channel>> = input.channels.map(|list| {
        list.iter()
            .filter_map(|c| {
                p.check(
                    "channels",
                    Channel::parse(c.trim()).ok_or(format!("'{c}' is not one of {}", Channel::choices())),
                )
            })
            .collect()
    });
    p.into_result()?;
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&id)?).await?;
    // Each message texts or mails a person: limited per customer and per
    // address, once the use case found it fit to send (the page's answers too).
    let ip = crate::limits::client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    let admit = |customer: &crate::entities::customer::Model| {
        state
            .limits
            .hit(&[
                (&format!("message:customer:{}", customer.id), crate::limits::MESSAGE_PER_CUSTOMER),
                (&format!("message:ip:{ip}"), crate::limits::MESSAGE_PER_IP),
            ])
            .map_err(crate::error::Error::TooManyRequests)
    };
    let messages = crate::usecases::conversations::reply(
        &state.db,
        &state.notify,
        org_id,
        job.id,
        body.as_deref().unwrap_or_default(),
        requested,
        caller.staff_id,
        admit,
        state.clock.now(),
    )
    .await?;
    if state.settings.notifier_enabled {
        // A direct answer should not wait for the next minute.
        let s = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::notify::deliver(&s.notifier()).await {
                tracing::error!(error = %e, "delivering a reply failed");
            }
        });
    }
    let items: Vec<super::outbox::MessageView> = messages.into_iter().map(Into::into).collect();
    Ok((StatusCode::CREATED, Json(Queued { items })))
}
