//! The customer's private page, reached from the link in every message.
//! Opening it (GET) never changes anything; answers are POSTs.

use crate::api::error::ApiError;
use crate::domain::job::JobStatus;
use crate::domain::messaging::MessageState;
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::startup::AppState;
use crate::store::estimates;
use crate::usecases::estimates::Decision;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Environment;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::json;
use std::sync::OnceLock;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/c/{token}", get(page))
        .route("/c/{token}/estimates/{id}/approve", post(approve))
        .route("/c/{token}/estimates/{id}/decline", post(decline))
        .route("/c/{token}/estimates/{id}/question", post(question))
        .route("/c/{token}/rating", post(rate))
}

fn pages() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        let _ = env.add_template("customer_job.html", include_str!("../../templates/pages/customer_job.html"));
        let _ = env.add_template("customer_notice.html", include_str!("../../templates/pages/customer_notice.html"));
        env
    })
}

/// Headers for private pages: no referrer (the URL is the secret), no
/// caching, no framing, nothing loaded from elsewhere.
fn private(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

fn render(name: &str, status: StatusCode, ctx: serde_json::Value) -> Response {
    match pages().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => private((status, Html(html)).into_response()),
        Err(e) => ApiError::Internal(format!("page {name}: {e:#}")).into_response(),
    }
}

fn not_found() -> Response {
    render(
        "customer_notice.html",
        StatusCode::NOT_FOUND,
        json!({"title": "This link does not work", "text": "It may have expired. Please use the link in our latest message, or call us."}),
    )
}

async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else { return Ok(not_found()) };
    let org = crate::store::orgs::get(&state.db, job.organization_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let zone = crate::error::stored_zone(&customer.timezone, format_args!("customer {}", customer.id))?;
    let visits = crate::store::visits::for_job(&state.db, org.id, job.id).await?;
    let open = job.status.is_open();
    // Who is coming: only on an open job, only visits still to come (a
    // window that passed without the crew arriving is not "coming").
    let mut upcoming = Vec::new();
    for v in visits.iter().filter(|v| {
        open && (v.visit.status == VisitStatus::EnRoute
            || (v.visit.status == VisitStatus::Scheduled && v.visit.window_end >= now))
    }) {
        let people = crate::store::staff::by_ids(&state.db, org.id, &v.staff_ids).await?;
        upcoming.push(json!({
            "kind": v.visit.kind.as_str().replace('_', "-"),
            "status": if v.visit.status == VisitStatus::EnRoute { "on the way".to_string() } else { v.visit.status.as_str().replace('_', " ") },
            "window": crate::messages::compose::window_phrase(zone, v.visit.window_start, v.visit.window_end),
            "people": people.iter().map(|p| json!({"name": p.name, "role": p.role, "bio": p.bio, "photo_url": p.photo_url})).collect::<Vec<_>>(),
        }));
    }
    // The customer sees what was sent: the newest sent version.
    let sent = estimates::for_job(&state.db, org.id, job.id).await?.into_iter().rfind(|e| e.sent_at.is_some());
    let estimate = match sent {
        Some(e) => {
            let full = estimates::load(&state.db, org.id, e.id).await?;
            Some(estimates::view(&full, Some(e.id)))
        }
        None => None,
    };
    // The promises we made, and what became of them, in the customer's words.
    let ledger = crate::store::promises::for_job(&state.db, org.id, job.id).await?;
    let promises: Vec<serde_json::Value> = ledger
        .iter()
        .filter(|p| p.kind != PromiseKind::StatusUpdate || p.outcome != PromiseOutcome::Pending)
        .map(|p| {
            json!({
                "description": promise_phrase(p, zone),
                "due": p.due_at.with_timezone(&zone.0).format("%a %b %-d, %-I:%M %p").to_string(),
                "outcome": p.outcome,
                "early_told": crate::store::promises::evidence(p)["early"] == json!("you were told"),
            })
        })
        .collect();
    // A question we owe an answer to, from the ledger already read.
    let answer_by = ledger
        .iter()
        .find(|p| crate::store::promises::is_pending_answer(p))
        .map(|p| crate::messages::compose::day_and_time(zone, p.due_at));
    // Nothing is "next" on a closed job.
    let next_promise = ledger
        .iter()
        .filter(|p| open && p.outcome == PromiseOutcome::Pending && p.due_at >= now)
        .min_by_key(|p| p.due_at)
        .map(|p| json!({"description": promise_phrase(p, zone), "due": p.due_at.with_timezone(&zone.0).format("%A, %B %-d, %-I:%M %p %Z").to_string()}));
    let messages: Vec<serde_json::Value> = crate::store::timeline::messages_for_job(&state.db, org.id, job.id)
        .await?
        .into_iter()
        .filter(|m| m.customer_id == Some(customer.id) && matches!(m.state, MessageState::Sent | MessageState::Held | MessageState::NoProvider))
        .map(|m| {
            json!({
                "kind": m.kind.as_str().replace('_', " "),
                "channel": m.channel,
                "when": m.sent_at.unwrap_or(m.created_at).with_timezone(&zone.0).format("%a %b %-d, %-I:%M %p").to_string(),
                "text": m.body_text,
            })
        })
        .rev() // newest first: what a customer opening the link wants to read
        .collect();
    let rated = crate::entities::rating::Entity::find()
        .filter(crate::entities::rating::Column::JobId.eq(job.id))
        .one(&state.db)
        .await?;
    Ok(render(
        "customer_job.html",
        StatusCode::OK,
        json!({
            "token": token,
            "promises": promises,
            "next_promise": next_promise,
            "messages": messages,
            "can_rate": job.status == JobStatus::Completed && rated.is_none(),
            "rating": rated.map(|r| r.score),
            "org": {"name": org.name, "phone": org.phone, "email": org.email, "mission_statement": org.mission_statement},
            "customer": {"first_name": crate::messages::compose::first_name(&customer.name)},
            "job": {"title": job.title, "status": crate::messages::compose::status_label(&job.status)},
            "visits": upcoming,
            "estimate": estimate,
            "answer_by": answer_by,
        }),
    ))
}

/// A promise as the customer reads it: what *we* will do, whatever words the
/// office's records use.
fn promise_phrase(p: &crate::entities::promise::Model, zone: Zone) -> String {
    use crate::messages::compose::{day_and_time, window_phrase};
    let by = day_and_time(zone, p.due_at);
    match p.kind {
        PromiseKind::ArrivalWindow => {
            format!("Arrive {}", window_phrase(zone, p.window_start.unwrap_or(p.due_at), p.due_at))
        }
        PromiseKind::StatusUpdate => format!("An update from us by {by}"),
        PromiseKind::EstimateBy => format!("Your written estimate by {by}"),
        PromiseKind::CallbackBy if p.key.starts_with("answer_by:") => format!("An answer to your question by {by}"),
        PromiseKind::CallbackBy => format!("A call from us by {by}"),
        PromiseKind::CompletionBy => format!("The work finished by {by}"),
    }
}

#[derive(Deserialize, Default)]
struct DecisionForm {
    comment: Option<String>,
}

async fn decide(
    state: AppState,
    token: String,
    id: String,
    decision: Decision,
    comment: Option<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else { return Ok(not_found()) };
    let Ok(id) = super::super::api::path_id(&id) else { return Ok(not_found()) };
    let comment = comment.map(|c| c.trim().chars().take(2000).collect::<String>()).filter(|c| !c.is_empty());
    match crate::usecases::estimates::decide(&state.db, &state.notify, &job, id, decision, comment, now).await {
        Ok(_) => Ok(private(Redirect::to(&format!("/c/{token}")).into_response())),
        Err(crate::error::Error::NotFound) => Ok(not_found()),
        Err(crate::error::Error::Conflict { message, .. }) => Ok(render(
            "customer_notice.html",
            StatusCode::CONFLICT,
            json!({"title": "This estimate has changed", "text": message, "back": format!("/c/{token}")}),
        )),
        Err(crate::error::Error::Validation(fields)) => Ok(render(
            "customer_notice.html",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": "Please add a comment", "text": fields.first().map(|f| f.message.clone()).unwrap_or_default(), "back": format!("/c/{token}")}),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn approve(
    State(s): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, ApiError> {
    decide(s, token, id, Decision::Approve, f.comment).await
}

async fn decline(
    State(s): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, ApiError> {
    decide(s, token, id, Decision::Decline, f.comment).await
}

async fn question(
    State(s): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, ApiError> {
    decide(s, token, id, Decision::Question, f.comment).await
}

#[derive(Deserialize)]
struct RatingForm {
    score: Option<String>,
    comment: Option<String>,
}

/// One tap from the page: `score` 1 to 5 and an optional comment.
async fn rate(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(f): Form<RatingForm>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else { return Ok(not_found()) };
    let score = f.score.as_deref().and_then(|s| s.trim().parse::<i32>().ok()).unwrap_or(0);
    let comment = f.comment.map(|c| c.trim().chars().take(2000).collect::<String>()).unwrap_or_default();
    match crate::usecases::ratings::rate(&state.db, &state.notify, &job, score, comment, now).await {
        Ok(_) => Ok(private(Redirect::to(&format!("/c/{token}")).into_response())),
        Err(crate::error::Error::Validation(_)) => Ok(render(
            "customer_notice.html",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": "Please pick 1 to 5", "text": "Tap a number from 1 (poor) to 5 (excellent).", "back": format!("/c/{token}")}),
        )),
        Err(crate::error::Error::Conflict { message, .. }) => Ok(render(
            "customer_notice.html",
            StatusCode::CONFLICT,
            json!({"title": "Thank you", "text": message, "back": format!("/c/{token}")}),
        )),
        Err(e) => Err(e.into()),
    }
}
