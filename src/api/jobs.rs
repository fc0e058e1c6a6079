//! Jobs: the customer's problem, their story, and everything that happened.

use super::views::{zone_of, CustomerView, JobView, TimelineView, VisitView};
use super::{page, paged, path_id, ApiJson};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::job::JobStatus;
use crate::startup::AppState;
use crate::store::jobs::{JobFilter, NewJob};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(list).post(create))
        .route("/jobs/{id}", get(show).patch(update))
        .route("/jobs/{id}/timeline", get(timeline))
        .route("/jobs/{id}/notes", post(add_note))
        .route("/jobs/{id}/messages", post(send_message))
        .route("/jobs/{id}/visits", get(super::visits::list_for_job).post(super::visits::book))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobInput {
    customer_id: Option<i64>,
    title: Option<String>,
    story: Option<String>,
}

const STORY_MAX: usize = 20_000;

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<JobInput>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let mut p = Problems::default();
    if input.customer_id.is_none() {
        p.add("customer_id", "is required");
    }
    let title = super::required_text(&mut p, "title", input.title, 200);
    let story = super::optional_text(&mut p, "story", input.story, STORY_MAX).unwrap_or_default();
    p.into_result()?;
    let (Some(customer_id), Some(title)) = (input.customer_id, title) else {
        return Err(ApiError::Internal("job parse accepted incomplete input".into()));
    };
    let job = crate::store::jobs::insert(
        &state.db,
        caller.organization_id,
        NewJob { customer_id, title, story },
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(job.into())))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = page(&q)?;
    let mut p = Problems::default();
    let customer_id =
        q.get("customer_id").and_then(|v| p.check("customer_id", v.parse::<i64>().map_err(|_| "must be an id".into())));
    let status = q.get("status").and_then(|v| {
        p.check("status", JobStatus::parse(v).ok_or(format!("'{v}' is not one of {}", JobStatus::choices())))
    });
    p.into_result()?;
    let rows =
        crate::store::jobs::list(&state.db, caller.organization_id, JobFilter { customer_id, status }, page).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    Ok(paged(rows.into_iter().map(JobView::from).collect(), ids, page))
}

/// The job with its customer and visits (windows in the customer's zone).
async fn show(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let zone = zone_of(&customer.timezone);
    let visits: Vec<VisitView> = crate::store::visits::for_job(&state.db, org_id, job.id)
        .await?
        .into_iter()
        .map(|v| VisitView::new(v, zone))
        .collect();
    let org = crate::store::orgs::get(&state.db, org_id).await?;
    let next_update = crate::notify::planner::next_update_at(&org, &customer, &job, state.clock.now());
    let mut body = serde_json::to_value(JobView::from(job))?;
    if let Some(o) = body.as_object_mut() {
        o.insert("next_update_at".into(), json!(next_update));
        o.insert("next_update_at_local".into(), json!(next_update.map(|t| zone.local(t))));
        o.insert("customer".into(), serde_json::to_value(CustomerView::from(customer))?);
        o.insert("visits".into(), serde_json::to_value(visits)?);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobChanges {
    title: Option<String>,
    story: Option<String>,
    status: Option<String>,
    /// With `cancelled`: why, told to the customer.
    reason: Option<String>,
}

/// Edit the title or story, or move the job's status (e.g. `completed`,
/// `cancelled`); each change is on the timeline.
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

async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org_id = caller.organization_id;
    let job = crate::store::jobs::get(&state.db, org_id, path_id(&id)?).await?;
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let zone = zone_of(&customer.timezone);
    let events = job_timeline(&state.db, &caller, job.id, zone).await?;
    Ok(Json(json!({"job_id": job.id, "timezone": zone.name(), "items": events})))
}

/// The job's story as it happened: its events and every message, whatever
/// became of it, oldest first, with times in `zone`. Estimators and
/// technicians see no pricing: only the estimates they wrote, and the
/// pricing messages of a job where they wrote one.
pub(crate) async fn job_timeline<C: sea_orm::ConnectionTrait>(
    db: &C,
    caller: &Caller,
    job_id: i64,
    zone: crate::domain::time::Zone,
) -> Result<Vec<TimelineView>, ApiError> {
    let org_id = caller.organization_id;
    // The estimates this caller may see the prices of (None: all of them).
    let visible: Option<Vec<i64>> = match crate::access::field_staff(caller) {
        None => None,
        Some(_) => Some(
            crate::store::estimates::for_job(db, org_id, job_id)
                .await?
                .iter()
                .filter(|e| crate::access::ensure_estimate(caller, e).is_ok())
                .map(|e| e.id)
                .collect(),
        ),
    };
    let priced = |estimate_id: Option<i64>| match (&visible, estimate_id) {
        (Some(mine), Some(id)) => mine.contains(&id),
        _ => true,
    };
    let mut events: Vec<TimelineView> = crate::store::timeline::for_job(db, org_id, job_id)
        .await?
        .into_iter()
        .map(|e| TimelineView::new(e, zone))
        .filter(|e| priced(e.data["estimate_id"].as_i64()))
        .collect();
    let pricing_messages = visible.as_ref().is_none_or(|mine| !mine.is_empty());
    for m in crate::store::timeline::messages_for_job(db, org_id, job_id).await? {
        if m.kind == crate::domain::messaging::MessageKind::PricingBreakdown && !pricing_messages {
            continue;
        }
        events.push(TimelineView::message(m, zone));
    }
    events.sort_by_key(|e| e.at);
    Ok(events)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteInput {
    text: Option<String>,
}

/// The longest note a job takes.
pub const NOTE_MAX_CHARS: usize = 2000;

/// News for the customer ("parts ordered", "crew flying in"): a timeline
/// note that the next status update will carry.
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
    Ok((StatusCode::CREATED, Json(TimelineView::new(event, zone_of(&customer.timezone)))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageInput {
    body: Option<String>,
    channels: Option<Vec<String>>,
}

/// A message from the office to the customer, through the outbox.
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let org = crate::store::orgs::get(&state.db, org_id).await?;
    let reachable: Vec<Channel> = crate::messages::compose::reachable(&customer).into_iter().map(|(c, _)| c).collect();
    let channels = requested.unwrap_or_else(|| reachable.clone());
    if channels.is_empty() {
        return Err(ApiError::field("channels", "name at least one channel"));
    }
    for c in &channels {
        if !reachable.contains(c) {
            let why = match c {
                Channel::Sms if customer.sms_opted_out => "the customer opted out of texts (they can reply START)",
                Channel::Email if customer.email_opted_out => "the customer opted out of email",
                _ => "the customer has no working address for this channel",
            };
            return Err(ApiError::field("channels", format!("{}: {why}", c.as_str())));
        }
    }
    // Each message texts or mails a person: limited per customer and per address.
    let ip = crate::limits::client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    state
        .limits
        .hit(&[
            (&format!("message:customer:{}", customer.id), crate::limits::MESSAGE_PER_CUSTOMER),
            (&format!("message:ip:{ip}"), crate::limits::MESSAGE_PER_IP),
        ])
        .map_err(ApiError::TooManyRequests)?;
    let from_name = match caller.staff_id {
        Some(sid) => {
            crate::store::staff::get(&state.db, org_id, sid).await.map(|s| s.name).unwrap_or_else(|_| org.name.clone())
        }
        None => org.name.clone(),
    };
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let keys = crate::messages::events::reply(
        &txn,
        &state.notify,
        &org,
        &job,
        &customer,
        &channels,
        body.as_deref().unwrap_or_default(),
        &from_name,
        now,
    )
    .await?;
    txn.commit().await?;
    if state.settings.notifier_enabled {
        // A direct answer should not wait for the next minute.
        let s = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::notify::deliver(&s.notifier()).await {
                tracing::error!(error = %e, "delivering a reply failed");
            }
        });
    }
    let messages = {
        use crate::entities::message;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        message::Entity::find()
            .filter(message::Column::OrganizationId.eq(org_id))
            .filter(message::Column::DedupeKey.is_in(keys))
            .order_by_asc(message::Column::Id)
            .all(&state.db)
            .await?
    };
    let items: Vec<super::outbox::MessageView> = messages.into_iter().map(Into::into).collect();
    Ok((StatusCode::CREATED, Json(json!({"items": items}))))
}
