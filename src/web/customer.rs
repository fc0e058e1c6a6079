//! The customer's private page, reached from the link in every message.
//! Opening it (GET) never changes anything; answers are POSTs.

use super::PageError;
use crate::domain::job::JobStatus;
use crate::domain::messaging::MessageState;
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::domain::time::Zone;
use crate::domain::visit::VisitStatus;
use crate::state::AppState;
use crate::store::estimates;
use crate::usecases::estimates::Decision;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;

/// The customer's page and its forms, documented with the API: they are
/// reached from links in our messages, and a client (an app, a test) may
/// post to them.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(approve))
        .routes(routes!(decline))
        .routes(routes!(question))
        .routes(routes!(rate))
        .routes(routes!(reschedule))
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
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

fn render(state: &AppState, name: &str, status: StatusCode, ctx: serde_json::Value) -> Response {
    match state.pages.render(name, ctx) {
        Ok(html) => private((status, Html(html)).into_response()),
        Err(e) => super::error::failure(e),
    }
}

/// A link that does not (or no longer) work: said under the company's
/// name and logo when the link was one of theirs (an expired one still
/// says whose it was).
async fn not_found(state: &AppState, token: &str) -> Response {
    let org_id = crate::store::links::organization_for_token(&state.db, token).await.ok().flatten();
    let ctx = json!({"title": "This link does not work", "text": "It may have expired. Please use the link in our latest message, or call us."});
    notice(state, org_id, StatusCode::NOT_FOUND, ctx).await
}

/// The company as a short notice shows it: its logo, or its name.
fn company(org: &crate::entities::organization::Model) -> serde_json::Value {
    json!({"name": org.name, "logo_url": org.logo_url})
}

/// A short notice (already decided, please pick, link expired) under the
/// company's name or logo, like the customer's page.
async fn notice(state: &AppState, org_id: Option<i64>, status: StatusCode, mut ctx: serde_json::Value) -> Response {
    if let Some(id) = org_id {
        // Without the company the notice still says what it must.
        if let Ok(org) = crate::store::orgs::get(&state.db, id).await {
            ctx["org"] = company(&org);
        }
    }
    render(state, "customer_notice.html", status, ctx)
}

/// The customer's page: their job, visits, promises, estimates and answers.
/// Opening it changes nothing.
#[utoipa::path(get, path = "/c/{token}", tag = "customer",
    params(("token" = String, Path, description = "The secret of the link in our messages")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 404, description = "Unknown, tampered or expired link", body = String, content_type = "text/html"),
    ))]
async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, PageError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else {
        return Ok(not_found(&state, &token).await);
    };
    let org = crate::store::orgs::get(&state.db, job.organization_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let zone = crate::error::stored_zone(&customer.timezone, format_args!("customer {}", customer.id))?;
    let visits = crate::store::visits::for_job(&state.db, org.id, job.id).await?;
    let open = job.status.is_open();
    // Who is coming: only on an open job, only visits still to come (a
    // window that passed without the crew arriving is not "coming").
    let coming: Vec<_> = visits
        .iter()
        .filter(|v| {
            open && (v.visit.status == VisitStatus::EnRoute
                || (v.visit.status == VisitStatus::Scheduled && v.visit.window_end >= now))
        })
        .collect();
    // Everyone coming, read at once.
    let ids: Vec<i64> = coming.iter().flat_map(|v| v.staff_ids.iter().copied()).collect();
    let people = crate::store::staff::by_ids(&state.db, org.id, &ids).await?;
    let mut upcoming: Vec<serde_json::Value> = Vec::with_capacity(coming.len());
    for v in &coming {
        let people = people.iter().filter(|p| v.staff_ids.contains(&p.id));
        // Another time, from the windows that keep every promise already
        // made, for the same person; only before anyone is on the way.
        let others = if org.customers_may_reschedule && v.visit.status == VisitStatus::Scheduled {
            other_times(&state, &org, &job, v, now).await?
        } else {
            vec![]
        };
        upcoming.push(json!({
                "id": v.visit.id,
                "others": others
                    .iter()
                    .map(|o| json!({
                        "value": format!("{}|{}", o.window_start.timestamp(), o.window_end.timestamp()),
                        "label": crate::messages::compose::window_phrase(zone, o.window_start, o.window_end),
                    }))
                    .collect::<Vec<_>>(),
                "kind": v.visit.kind.as_str().replace('_', "-"),
                "status": if v.visit.status == VisitStatus::EnRoute { "on the way".to_string() } else { v.visit.status.as_str().replace('_', " ") },
                "window": crate::messages::compose::window_phrase(zone, v.visit.window_start, v.visit.window_end),
                "people": people.map(|p| json!({"name": p.name, "role": p.role, "bio": p.bio, "photo_url": p.photo_url})).collect::<Vec<_>>(),
        }));
    }
    // The customer sees what was sent: the newest sent version.
    let sent = estimates::for_job(&state.db, org.id, job.id).await?.into_iter().rfind(|e| e.sent_at.is_some());
    let estimate = match sent {
        Some(e) => {
            let full = estimates::load(&state.db, org.id, e.id).await?;
            Some(estimates::view(&full, Some(e.id))?)
        }
        None => None,
    };
    // How "your total" is written as optional items are ticked.
    let money = match &estimate {
        Some(e) => {
            let c = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
            json!({"symbol": c.symbol, "digits": c.digits})
        }
        None => json!(null),
    };
    let has_options = estimate.as_ref().is_some_and(|e| e.lines.iter().any(|l| l.optional));
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
    let rated = crate::store::jobs::rating(&state.db, job.id).await?;
    Ok(render(
        &state,
        "customer_job.html",
        StatusCode::OK,
        json!({
            "token": token,
            "promises": promises,
            "next_promise": next_promise,
            "messages": messages,
            "can_rate": job.status == JobStatus::Completed && rated.is_none(),
            "rating": rated.map(|r| r.score),
            "org": {"name": org.name, "phone": org.phone, "email": org.email, "mission_statement": org.mission_statement, "logo_url": org.logo_url},
            "customer": {"first_name": crate::messages::compose::first_name(&customer.name)},
            "job": {"title": job.title, "status": crate::messages::compose::status_label(&job.status)},
            "visits": upcoming,
            "estimate": estimate,
            "money": money,
            "has_options": has_options,
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

/// The customer's answer to an estimate.
#[derive(Deserialize, Default, utoipa::ToSchema)]
struct DecisionForm {
    /// Up to 2,000 characters; required to ask a question.
    comment: Option<String>,
}

/// The customer's approval: a comment, and each optional item they ticked.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form; read as pairs (`options` repeats)
struct ApprovalForm {
    /// Up to 2,000 characters.
    comment: Option<String>,
    /// The id of an optional item of the estimate they chose; repeated for
    /// each (`options=12&options=14`). Anything else is refused (422).
    options: Option<Vec<i64>>,
}

async fn decide(
    state: AppState,
    token: String,
    id: String,
    decision: Decision,
    comment: Option<String>,
    chosen: Vec<String>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else {
        return Ok(not_found(&state, &token).await);
    };
    let Some(id) = super::id_in_path(&id) else { return Ok(not_found(&state, &token).await) };
    let comment = comment.map(|c| c.trim().chars().take(2000).collect::<String>()).filter(|c| !c.is_empty());
    let back = format!("/c/{token}");
    let mut ids = Vec::with_capacity(chosen.len());
    for typed in &chosen {
        match typed.trim().parse::<i64>() {
            Ok(i) => ids.push(i),
            Err(_) => {
                return Ok(notice(&state, Some(job.organization_id),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"title": "Please pick from the items offered", "text": format!("options: '{typed}' is not an item of this estimate. Nothing was changed."), "back": back}),
                ).await)
            }
        }
    }
    match crate::usecases::estimates::decide(&state.db, &state.notify, &job, id, decision, comment, &ids, now).await {
        Ok(_) => Ok(private(Redirect::to(&format!("/c/{token}")).into_response())),
        Err(crate::error::Error::NotFound) => Ok(not_found(&state, &token).await),
        Err(crate::error::Error::Conflict { message, .. }) => Ok(notice(&state, Some(job.organization_id),
            StatusCode::CONFLICT,
            json!({"title": "This estimate has changed", "text": message, "back": format!("/c/{token}")}),
        ).await),
        Err(crate::error::Error::Validation(fields)) if fields.iter().any(|f| f.field == "options") => Ok(notice(&state, Some(job.organization_id),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": "Please pick from the items offered",
                   "text": format!("options: {}. Nothing was changed.", fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ")),
                   "back": back}),
        ).await),
        Err(crate::error::Error::Validation(fields)) => Ok(notice(&state, Some(job.organization_id),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": "Please add a comment", "text": fields.first().map(|f| f.message.clone()).unwrap_or_default(), "back": format!("/c/{token}")}),
        ).await),
        Err(e) => Err(e.into()),
    }
}

/// Approve the estimate, with any optional items chosen (priced again by
/// the server; the approved total is recorded); back to the page.
#[utoipa::path(post, path = "/c/{token}/estimates/{id}/approve", tag = "customer",
    request_body(content = ApprovalForm, content_type = "application/x-www-form-urlencoded"),
    params(("token" = String, Path, description = "The secret of the link in our messages"), ("id" = i64, Path, description = "The estimate")),
    responses(
        (status = 303, description = "Recorded; back to the page"),
        (status = 404, description = "Unknown, tampered or expired link, or an estimate not on this job", body = String, content_type = "text/html"),
        (status = 409, description = "The estimate has changed or was already decided", body = String, content_type = "text/html"),
        (status = 422, description = "An option that is not one of the estimate's optional items (`options`); nothing was changed", body = String, content_type = "text/html"),
    ))]
async fn approve(
    State(s): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let comment = pairs.iter().find(|(k, _)| k == "comment").map(|(_, v)| v.clone());
    let chosen = pairs.into_iter().filter(|(k, _)| k == "options").map(|(_, v)| v).collect();
    decide(s, token, id, Decision::Approve, comment, chosen).await
}

/// Decline the estimate; back to the page.
#[utoipa::path(post, path = "/c/{token}/estimates/{id}/decline", tag = "customer",
    request_body(content = DecisionForm, content_type = "application/x-www-form-urlencoded"),
    params(("token" = String, Path, description = "The secret of the link in our messages"), ("id" = i64, Path, description = "The estimate")),
    responses(
        (status = 303, description = "Recorded; back to the page"),
        (status = 404, description = "Unknown, tampered or expired link, or an estimate not on this job", body = String, content_type = "text/html"),
        (status = 409, description = "The estimate has changed or was already decided", body = String, content_type = "text/html"),
        (status = 422, description = "A question needs a comment", body = String, content_type = "text/html"),
    ))]
async fn decline(
    State(s): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, PageError> {
    decide(s, token, id, Decision::Decline, f.comment, vec![]).await
}

/// Ask a question about the estimate (a comment is required); the office promises an answer by a time; back to the page.
#[utoipa::path(post, path = "/c/{token}/estimates/{id}/question", tag = "customer",
    request_body(content = DecisionForm, content_type = "application/x-www-form-urlencoded"),
    params(("token" = String, Path, description = "The secret of the link in our messages"), ("id" = i64, Path, description = "The estimate")),
    responses(
        (status = 303, description = "Recorded; back to the page"),
        (status = 404, description = "Unknown, tampered or expired link, or an estimate not on this job", body = String, content_type = "text/html"),
        (status = 409, description = "The estimate has changed or was already decided", body = String, content_type = "text/html"),
        (status = 422, description = "A question needs a comment", body = String, content_type = "text/html"),
    ))]
async fn question(
    State(s): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, PageError> {
    decide(s, token, id, Decision::Question, f.comment, vec![]).await
}

/// The customer's rating of the work.
#[derive(Deserialize, utoipa::ToSchema)]
struct RatingForm {
    /// Required: 1 (poor) to 5 (excellent).
    #[schema(required = true, nullable = false, value_type = i32, minimum = 1, maximum = 5)]
    score: Option<String>,
    /// Up to 2,000 characters.
    comment: Option<String>,
}

/// How many other times the page offers for a visit.
const OTHER_TIMES: usize = 4;

/// The earliest windows, other than the visit's own, in which the same
/// person could come: same kind, duration and window width.
async fn other_times(
    state: &AppState,
    org: &crate::entities::organization::Model,
    job: &crate::entities::job::Model,
    v: &crate::store::visits::VisitWithStaff,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::usecases::availability::Offer>, crate::error::Error> {
    let ask = crate::usecases::availability::Ask {
        job_id: job.id,
        kind: v.visit.kind,
        duration_minutes: v.visit.duration_minutes,
        window_minutes: Some(
            ((v.visit.window_end - v.visit.window_start).num_minutes() as i32).min(org.max_window_minutes),
        ),
        from: None,
        days: crate::usecases::availability::DEFAULT_DAYS,
        staff_ids: Some(v.staff_ids.clone()),
        limit: OTHER_TIMES + 1,
    };
    let offers = crate::usecases::availability::suggest(&state.db, org, ask, now).await?;
    Ok(offers
        .into_iter()
        .filter(|o| o.window_start != v.visit.window_start && o.staff_ids == v.staff_ids)
        .take(OTHER_TIMES)
        .collect())
}

/// The customer's choice of another time.
#[derive(Deserialize, utoipa::ToSchema)]
struct OtherTimeForm {
    /// Required: the window offered, as `start|end` in Unix seconds.
    #[schema(required = true, nullable = false)]
    window: Option<String>,
}

/// The customer picks another time for a visit, from the windows their page
/// offers. The same booking rule decides; the office is told; the visit's
/// promise is renegotiated (agreed), not broken. Off when the organization
/// turned it off (`customers_may_reschedule`).
#[utoipa::path(post, path = "/c/{token}/visits/{id}/reschedule", tag = "customer",
    request_body(content = OtherTimeForm, content_type = "application/x-www-form-urlencoded"),
    params(("token" = String, Path, description = "The secret of the link in our messages"), ("id" = i64, Path, description = "The visit")),
    responses(
        (status = 303, description = "Moved; back to the page"),
        (status = 404, description = "Unknown, tampered or expired link, or a visit not on this job", body = String, content_type = "text/html"),
        (status = 409, description = "That time was just taken, the visit is no longer scheduled, or the company takes changes by phone", body = String, content_type = "text/html"),
        (status = 422, description = "No window chosen", body = String, content_type = "text/html"),
    ))]
async fn reschedule(
    State(state): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    Form(f): Form<OtherTimeForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else {
        return Ok(not_found(&state, &token).await);
    };
    let Some(id) = super::id_in_path(&id) else { return Ok(not_found(&state, &token).await) };
    let org = crate::store::orgs::get(&state.db, job.organization_id).await?;
    let visit = match crate::store::visits::get(&state.db, org.id, id).await {
        Ok(v) if v.visit.job_id == job.id => v,
        Ok(_) | Err(crate::error::Error::NotFound) => return Ok(not_found(&state, &token).await),
        Err(e) => return Err(e.into()),
    };
    let back = format!("/c/{token}");
    let notice = |status: StatusCode, title: &str, text: String| {
        let ctx = json!({"title": title, "text": text, "back": back, "org": company(&org)});
        render(&state, "customer_notice.html", status, ctx)
    };
    if !org.customers_may_reschedule {
        return Ok(notice(
            StatusCode::CONFLICT,
            "Please call us",
            "To change a visit, call or text us and we'll find a time together.".into(),
        ));
    }
    let window = f.window.as_deref().and_then(|w| {
        let (a, b) = w.split_once('|')?;
        Some((
            chrono::DateTime::from_timestamp(a.trim().parse().ok()?, 0)?,
            chrono::DateTime::from_timestamp(b.trim().parse().ok()?, 0)?,
        ))
    });
    let Some((window_start, window_end)) = window else {
        return Ok(notice(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please pick a time",
            "Tap one of the times offered.".into(),
        ));
    };
    // Only a time the page offered: one that keeps every other promise.
    let offered = other_times(&state, &org, &job, &visit, now).await?;
    if !offered.iter().any(|o| o.window_start == window_start && o.window_end == window_end) {
        return Ok(notice(
            StatusCode::CONFLICT,
            "That time was just taken",
            "Someone booked it a moment ago. Please pick another of the times on your page.".into(),
        ));
    }
    let changes = crate::store::visits::VisitChanges {
        window_start: Some(window_start),
        window_end: Some(window_end),
        duration_minutes: None,
        staff_ids: None,
        reason: Some("you picked this time".into()),
    };
    match crate::usecases::visits::update(&state.db, &state.notify, &org, id, changes, now).await {
        Ok(_) => {
            let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
            let zone = crate::store::customers::zone(&customer)?;
            let txn = state.db.begin().await.map_err(crate::error::Error::from)?;
            crate::messages::alerts::alert_dispatchers(
                &txn,
                &state.notify,
                &org,
                &customer,
                &job,
                &format!("customer_rescheduled:{id}:{}", window_start.timestamp()),
                "Customer picked another time",
                &format!(
                    "{} moved their {} visit to {}",
                    customer.name,
                    visit.visit.kind.as_str().replace('_', "-"),
                    crate::messages::compose::window_phrase(zone, window_start, window_end)
                ),
                now,
            )
            .await?;
            txn.commit().await.map_err(crate::error::Error::from)?;
            Ok(private(Redirect::to(&back).into_response()))
        }
        Err(crate::error::Error::Conflict { .. }) => Ok(notice(
            StatusCode::CONFLICT,
            "That time was just taken",
            "Someone booked it a moment ago. Please pick another of the times on your page.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// One tap from the page: `score` 1 to 5 and an optional comment, once per
/// completed job; 1 to 3 opens a follow-up task and tells the managers.
#[utoipa::path(post, path = "/c/{token}/rating", tag = "customer",
    request_body(content = RatingForm, content_type = "application/x-www-form-urlencoded"),
    params(("token" = String, Path, description = "The secret of the link in our messages")),
    responses(
        (status = 303, description = "Thanks; back to the page"),
        (status = 404, description = "Unknown, tampered or expired link", body = String, content_type = "text/html"),
        (status = 409, description = "Already rated, or the job is not done", body = String, content_type = "text/html"),
        (status = 422, description = "Score not 1 to 5", body = String, content_type = "text/html"),
    ))]
async fn rate(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(f): Form<RatingForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let Some(job) = crate::store::links::job_for_token(&state.db, &token, now).await? else {
        return Ok(not_found(&state, &token).await);
    };
    let score = f.score.as_deref().and_then(|s| s.trim().parse::<i32>().ok()).unwrap_or(0);
    let comment = f.comment.map(|c| c.trim().chars().take(2000).collect::<String>()).unwrap_or_default();
    match crate::usecases::ratings::rate(&state.db, &state.notify, &job, score, comment, now).await {
        Ok(_) => Ok(private(Redirect::to(&format!("/c/{token}")).into_response())),
        Err(crate::error::Error::Validation(_)) => Ok(notice(&state, Some(job.organization_id),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": "Please pick 1 to 5", "text": "Tap a number from 1 (poor) to 5 (excellent).", "back": format!("/c/{token}")}),
        ).await),
        Err(crate::error::Error::Conflict { message, .. }) => Ok(notice(&state, Some(job.organization_id),
            StatusCode::CONFLICT,
            json!({"title": "Thank you", "text": message, "back": format!("/c/{token}")}),
        ).await),
        Err(e) => Err(e.into()),
    }
}
