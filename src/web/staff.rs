//! Staff sign-in for the web UI: `/login`, `/logout`, password resets and
//! invitations, and `/app`. Sessions live in the database; every form carries
//! a CSRF token (the session's, or before sign-in a double-submit cookie).

use crate::api::error::ApiError;
use crate::limits::{client_ip, RESET_PER_ACCOUNT, RESET_PER_IP, SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_IP};
use crate::startup::AppState;
use crate::store::sessions;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Environment;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::OnceLock;

pub const SESSION_COOKIE: &str = "kept_session";
const CSRF_COOKIE: &str = "kept_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/app", get(app))
        .route("/app/visits/{id}/status", post(visit_status))
        .route("/app/jobs/{id}", get(job_page))
        .route("/app/jobs/{id}/notes", post(job_note))
        .route("/app/jobs/{id}/visits", post(job_book))
        .route("/app/staff", get(staff_page).post(staff_add))
        .route("/app/staff/{id}/role", post(staff_role))
        .route("/app/staff/{id}/invite", post(staff_invite))
        .route("/reset", get(forgot_page).post(forgot))
        .route("/reset/{token}", get(reset_page).post(reset))
}

fn pages() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        let _ = env.add_template("staff_login.html", include_str!("../../templates/pages/staff_login.html"));
        let _ = env.add_template("staff_app.html", include_str!("../../templates/pages/staff_app.html"));
        let _ = env.add_template("staff_job.html", include_str!("../../templates/pages/staff_job.html"));
        let _ = env.add_template("staff_admin.html", include_str!("../../templates/pages/staff_admin.html"));
        let _ = env.add_template("staff_problem.html", include_str!("../../templates/pages/staff_problem.html"));
        env
    })
}

fn render(name: &str, status: StatusCode, ctx: serde_json::Value) -> Response {
    match pages().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ApiError::Internal(format!("page {name}: {e:#}")).into_response(),
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn secure(state: &AppState) -> &'static str {
    if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(r: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// A page with a form before sign-in: a fresh double-submit CSRF token in a
/// cookie and in the form.
fn with_form_csrf(state: &AppState, name: &str, status: StatusCode, mut ctx: serde_json::Value) -> Response {
    let csrf = hex::encode(&crate::auth::hash_token(&crate::auth::new_token())[..16]);
    ctx["csrf"] = json!(csrf);
    let mut r = render(name, status, ctx);
    set_cookie(&mut r, format!("{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict{}", secure(state)));
    r
}

fn csrf_ok(headers: &HeaderMap, given: Option<&str>) -> bool {
    match (cookie(headers, CSRF_COOKIE), given) {
        (Some(c), Some(g)) => !c.is_empty() && constant_eq(c.as_bytes(), g.as_bytes()),
        _ => false,
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, Html("<p>This form has expired. Go back, reload the page and try again.</p>"))
        .into_response()
}

fn too_many(wait: u64) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Html(format!("<p>Too many attempts. Try again in {} minutes.</p>", wait.div_ceil(60))),
    )
        .into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    r
}

async fn login_page(State(state): State<AppState>) -> Response {
    with_form_csrf(&state, "staff_login.html", StatusCode::OK, json!({"action": "/login"}))
}

#[derive(Deserialize)]
struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiError> {
    if !csrf_ok(&headers, f.csrf.as_deref()) {
        return Ok(csrf_refused());
    }
    let ip = client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    let email = f.email.unwrap_or_default().trim().to_lowercase();
    let (acct, by_ip) = (format!("sign-in:acct:{email}"), format!("sign-in:ip:{ip}"));
    // Only failures count: the attempt takes a hit now and gives it back if
    // it succeeds (or if we could not check the password at all).
    if let Err(wait) = state.limits.hit(&[(&acct, SIGN_IN_PER_ACCOUNT), (&by_ip, SIGN_IN_PER_IP)]) {
        return Ok(too_many(wait));
    }
    let now = state.clock.now();
    let outcome = sessions::sign_in(&state.db, &email, f.password.as_deref().unwrap_or(""), &ip, now).await;
    match &outcome {
        Ok(Some(_)) => {
            state.limits.take_back(&[&by_ip]);
            state.limits.clear(&acct);
        }
        Err(_) => state.limits.take_back(&[&by_ip, &acct]),
        Ok(None) => {}
    }
    match outcome? {
        Some((_, token, _)) => {
            let mut r = Redirect::to("/app").into_response();
            set_cookie(
                &mut r,
                format!(
                    "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
                    sessions::SESSION_DAYS * 86400,
                    secure(&state)
                ),
            );
            Ok(r)
        }
        None => Ok(with_form_csrf(
            &state,
            "staff_login.html",
            StatusCode::UNAUTHORIZED,
            json!({"action": "/login", "error": "That email and password do not match."}),
        )),
    }
}

/// The signed-in person, if any.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(crate::entities::session::Model, crate::entities::staff::Model)>, ApiError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(token) => Ok(sessions::session_for(&state.db, &token, state.clock.now()).await?),
        None => Ok(None),
    }
}

/// Who sent a form from a signed-in page: the session and person, or the
/// page to answer with (sign in first; a form without the session's CSRF
/// token is refused).
async fn form_sender(
    state: &AppState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Result<(crate::entities::session::Model, crate::entities::staff::Model), Response>, ApiError> {
    let Some((s, me)) = current(state, headers).await? else { return Ok(Err(Redirect::to("/login").into_response())) };
    if !csrf.is_some_and(|c| constant_eq(c.as_bytes(), s.csrf_token.as_bytes())) {
        return Ok(Err(csrf_refused()));
    }
    Ok(Ok((s, me)))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let (s, _) = match form_sender(&state, &headers, f.csrf.as_deref()).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(page),
    };
    let ip = client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    sessions::sign_out(&state.db, &s, &ip, state.clock.now()).await?;
    let mut r = Redirect::to("/login").into_response();
    set_cookie(&mut r, format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", secure(&state)));
    Ok(r)
}

/// The signed-in home: windows at risk and the day's visits (a field
/// person's own; the office's whole day).
async fn app(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some((s, me)) = current(&state, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let org = crate::store::orgs::get(&state.db, me.organization_id).await?;
    let role = me.role;
    let office = role.can_dispatch();
    let zone = crate::domain::time::Zone::parse(&me.timezone).unwrap_or(crate::domain::time::Zone(chrono_tz::UTC));
    let date = zone.date_of(state.clock.now());
    let people = if office {
        crate::store::staff::list(&state.db, org.id, crate::store::PageRequest { after: None, limit: 200 }).await?
    } else {
        vec![me.clone()]
    };
    let mut visits = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &people {
        let (_, _, _, entries) = crate::store::visits::day_of(&state.db, org.id, p, date).await?;
        for e in entries {
            if seen.insert(e.visit.visit.id) {
                let tap = crew_tap(e.visit.visit.status);
                visits.push(json!({
                    "id": e.visit.visit.id,
                    "job_id": e.job.id,
                    "who": people.iter().filter(|p| e.visit.staff_ids.contains(&p.id)).map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
                    "tap": tap.map(|(to, label)| json!({"to": to.as_str(), "label": label})),
                    "window": crate::messages::compose::window_phrase(zone, e.visit.visit.window_start, e.visit.visit.window_end),
                    "job": e.job.title, "customer": e.customer.name, "address": e.customer.address,
                    "status": e.visit.visit.status.as_str().replace('_', " "),
                    "start": e.visit.visit.window_start,
                }));
            }
        }
    }
    visits.sort_by(|a, b| a["start"].as_str().cmp(&b["start"].as_str()));
    let at_risk: Vec<serde_json::Value> = if office {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        crate::entities::promise::Entity::find()
            .filter(crate::entities::promise::Column::OrganizationId.eq(org.id))
            .filter(crate::entities::promise::Column::AtRiskAt.is_not_null())
            .filter(crate::entities::promise::Column::Outcome.eq(crate::domain::promise::PromiseOutcome::Pending))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| json!({"job_id": p.job_id, "description": p.description}))
            .collect()
    } else {
        vec![]
    };
    // The office sees how well we keep our promises (last 30 days).
    let kpis = if office {
        let now = state.clock.now();
        let m = crate::store::metrics::promises(&state.db, org.id, now - chrono::Duration::days(30), now).await?;
        let pct = |v: &serde_json::Value| {
            v.as_f64().map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "no data yet".into())
        };
        Some(json!({
            "kept": pct(&m["overall"]["kept_rate"]),
            "arrivals": pct(&m["arrivals"]["on_time_rate"]),
            "updates": pct(&m["status_updates"]["on_time_rate"]),
            "late": m["arrivals"]["late_by_minutes"],
            "rating": m["rating"]["average"].as_f64().map(|r| format!("{r:.1} / 5")).unwrap_or_else(|| "no ratings yet".into()),
            "turnaround": m["estimate_turnaround"]["average_hours"].as_f64().map(|h| format!("{h:.0} h")).unwrap_or_else(|| "no estimates yet".into()),
            "by_kind": m["by_kind"].as_object().map(|o| o.iter().map(|(k, v)| json!({"kind": k.replace('_', " "), "total": v["total"], "rate": pct(&v["kept_rate"])})).collect::<Vec<_>>()).unwrap_or_default(),
            "by_staff": m["by_staff"].as_array().map(|a| a.iter().map(|v| json!({"name": v["name"], "total": v["total"], "rate": pct(&v["kept_rate"])})).collect::<Vec<_>>()).unwrap_or_default(),
        }))
    } else {
        None
    };
    // The office also sees the coming week, each window in its customer's time.
    let coming: Vec<serde_json::Value> = if office {
        let from = zone.day_bounds(date).1;
        let soon =
            crate::store::visits::upcoming(&state.db, org.id, from, from + chrono::Duration::days(7), 50).await?;
        let jobs: std::collections::HashMap<i64, crate::entities::job::Model> = {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            crate::entities::job::Entity::find()
                .filter(crate::entities::job::Column::Id.is_in(soon.iter().map(|v| v.visit.job_id)))
                .all(&state.db)
                .await?
                .into_iter()
                .map(|j| (j.id, j))
                .collect()
        };
        let customers = crate::store::customers::by_ids(&state.db, jobs.values().map(|j| j.customer_id)).await?;
        soon.iter()
            .filter_map(|v| {
                let job = jobs.get(&v.visit.job_id)?;
                let customer = customers.get(&job.customer_id)?;
                let czone = crate::api::views::zone_of(&customer.timezone);
                let who =
                    people.iter().filter(|p| v.staff_ids.contains(&p.id)).map(|p| p.name.as_str()).collect::<Vec<_>>();
                Some(json!({
                    "window": crate::messages::compose::window_phrase(czone, v.visit.window_start, v.visit.window_end),
                    "kind": v.visit.kind.as_str().replace('_', "-"), "job": job.title, "job_id": job.id,
                    "customer": customer.name, "who": who.join(", "),
                }))
            })
            .collect()
    } else {
        vec![]
    };
    // The office sees the latest messages we planned and what became of them.
    let messages: Vec<serde_json::Value> = if office {
        use crate::entities::message;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        message::Entity::find()
            .filter(message::Column::OrganizationId.eq(org.id))
            .order_by_desc(message::Column::Id)
            .limit(RECENT_MESSAGES)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|m| {
                let when = zone.local(m.sent_at.unwrap_or(m.due_at)).format("%b %-d, %-I:%M %p").to_string();
                let mut excerpt: String = m.body_text.chars().take(140).collect();
                if excerpt.len() < m.body_text.len() {
                    excerpt.push('…');
                }
                json!({"kind": m.kind.as_str().replace('_', " "), "channel": m.channel, "recipient": m.recipient,
                       "state": m.state.as_str().replace('_', " "), "when": when, "excerpt": excerpt, "job_id": m.job_id})
            })
            .collect()
    } else {
        vec![]
    };
    Ok(render(
        "staff_app.html",
        StatusCode::OK,
        json!({"org": org.name, "me": {"name": me.name, "role": me.role}, "csrf": s.csrf_token, "office": office, "date": date.to_string(), "visits": visits, "at_risk": at_risk, "kpis": kpis, "messages": messages, "coming": coming}),
    ))
}

/// How many recent messages the office's home page lists.
const RECENT_MESSAGES: u64 = 15;

/// The one tap a crew makes next on a visit, and its button's words.
fn crew_tap(from: crate::domain::visit::VisitStatus) -> Option<(crate::domain::visit::VisitStatus, &'static str)> {
    use crate::domain::visit::VisitStatus::*;
    match from {
        Scheduled => Some((EnRoute, "On my way")),
        EnRoute => Some((Arrived, "Arrived")),
        Arrived => Some((Completed, "Completed")),
        _ => None,
    }
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: Option<String>,
    status: Option<String>,
    eta_minutes: Option<String>,
}

/// A crew's tap from the home page: *On my way* (with an optional ETA),
/// *Arrived*, *Completed*. The same rules as the API: field people move only
/// their own visits, and an impossible move is refused. Tapping again what
/// has already happened (a phone that resent the form) changes nothing.
async fn visit_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Response, ApiError> {
    let (_, me) = match form_sender(&state, &headers, f.csrf.as_deref()).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(page),
    };
    let Ok(id) = id.parse::<i64>() else { return Ok(problem(StatusCode::NOT_FOUND, "There is no such visit.")) };
    let caller = caller_of(&me);
    let visit = match crate::store::visits::get(&state.db, me.organization_id, id).await {
        Ok(v) => v,
        Err(crate::error::Error::NotFound) => return Ok(problem(StatusCode::NOT_FOUND, "There is no such visit.")),
        Err(e) => return Err(e.into()),
    };
    if crate::access::ensure_visit(&caller, &visit.staff_ids).is_err() {
        return Ok(problem(StatusCode::FORBIDDEN, "Only the office and the people on this visit can change it."));
    }
    use crate::domain::visit::VisitStatus;
    let to = match f.status.as_deref().map(str::trim).and_then(VisitStatus::parse) {
        Some(to @ (VisitStatus::EnRoute | VisitStatus::Arrived | VisitStatus::Completed)) => to,
        _ => return Ok(problem(StatusCode::UNPROCESSABLE_ENTITY, "status: must be en_route, arrived or completed.")),
    };
    let eta = match f.eta_minutes.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => match e.parse::<i64>() {
            Ok(m) if (0..=24 * 60).contains(&m) && to == VisitStatus::EnRoute => Some(m),
            _ => {
                return Ok(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "eta_minutes: give whole minutes between 0 and 1440, only with On my way.",
                ))
            }
        },
    };
    if visit.visit.status == to {
        return Ok(Redirect::to("/app").into_response());
    }
    let only_assignee = crate::access::field_staff(&caller);
    match crate::usecases::visits::set_status(
        &state.db,
        &state.notify,
        me.organization_id,
        id,
        to,
        eta,
        None,
        only_assignee,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/app").into_response()),
        Err(crate::error::Error::Conflict { message, .. }) => Ok(problem(StatusCode::CONFLICT, &message)),
        Err(crate::error::Error::Forbidden(m)) => Ok(problem(StatusCode::FORBIDDEN, &m)),
        Err(crate::error::Error::Validation(fields)) => {
            Ok(problem(StatusCode::UNPROCESSABLE_ENTITY, &crate::error::Problems(fields).to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The signed-in person as an API caller, so pages obey the same rules.
fn caller_of(me: &crate::entities::staff::Model) -> crate::auth::Caller {
    let role = me.role;
    crate::auth::Caller { organization_id: me.organization_id, role, staff_id: Some(me.id) }
}

/// The job behind `/app/jobs/{id}` if the signed-in person may open it, or
/// the page that says why not.
async fn job_for(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: &str,
) -> Result<Result<crate::entities::job::Model, Response>, ApiError> {
    let none = || problem(StatusCode::NOT_FOUND, "There is no such job.");
    let Ok(id) = id.parse::<i64>() else { return Ok(Err(none())) };
    let job = match crate::store::jobs::get(&state.db, caller.organization_id, id).await {
        Ok(j) => j,
        Err(crate::error::Error::NotFound) => return Ok(Err(none())),
        Err(e) => return Err(e.into()),
    };
    match crate::access::ensure_job(&state.db, caller, job.id).await {
        Ok(()) => Ok(Ok(job)),
        Err(ApiError::Forbidden(_)) => {
            Ok(Err(problem(StatusCode::FORBIDDEN, "Only the office and the people on this job's visits can open it.")))
        }
        Err(e) => Err(e),
    }
}

/// One job for staff: the customer's story and how to reach them, the
/// visits, the promises (for the office), and the timeline with every
/// message. A note added here is news in the customer's next status update.
async fn job_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some((s, me)) = current(&state, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let caller = caller_of(&me);
    let job = match job_for(&state, &caller, &id).await? {
        Ok(job) => job,
        Err(page) => return Ok(page),
    };
    job_view(&state, &s, &caller, job, StatusCode::OK, json!({})).await
}

async fn job_view(
    state: &AppState,
    s: &crate::entities::session::Model,
    caller: &crate::auth::Caller,
    job: crate::entities::job::Model,
    status: StatusCode,
    form: serde_json::Value,
) -> Result<Response, ApiError> {
    use crate::messages::compose::window_phrase;
    let org = caller.organization_id;
    let customer = crate::store::customers::get(&state.db, org, job.customer_id).await?;
    let zone = crate::api::views::zone_of(&customer.timezone);
    let when = |t: chrono::DateTime<chrono::Utc>| zone.local(t).format("%b %-d, %-I:%M %p").to_string();
    let visits = crate::store::visits::for_job(&state.db, org, job.id).await?;
    let names: std::collections::HashMap<i64, String> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        crate::entities::staff::Entity::find()
            .filter(crate::entities::staff::Column::OrganizationId.eq(org))
            .filter(crate::entities::staff::Column::Id.is_in(visits.iter().flat_map(|v| v.staff_ids.clone())))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect()
    };
    let visits: Vec<serde_json::Value> = visits
        .iter()
        .map(|v| {
            let who: Vec<&str> = v.staff_ids.iter().filter_map(|id| names.get(id).map(String::as_str)).collect();
            json!({"kind": v.visit.kind.as_str().replace('_', "-"), "window": window_phrase(zone, v.visit.window_start, v.visit.window_end),
                   "status": v.visit.status.as_str().replace('_', " "), "who": who.join(", ")})
        })
        .collect();
    let office = caller.role.can_dispatch();
    let promises: Vec<serde_json::Value> = if office {
        crate::store::promises::for_job(&state.db, org, job.id)
            .await?
            .into_iter()
            .map(|p| json!({"description": p.description, "due": when(p.due_at), "outcome": p.outcome}))
            .collect()
    } else {
        vec![]
    };
    // Prices: the office's, and an estimator's own estimates only.
    let estimates: Vec<serde_json::Value> = crate::store::estimates::for_job(&state.db, org, job.id)
        .await?
        .into_iter()
        .filter(|e| crate::access::ensure_estimate(caller, e).is_ok())
        .map(|e| {
            let currency = crate::domain::money::Currency::parse(&e.currency)
                .unwrap_or(crate::domain::money::Currency { code: "USD", symbol: "$", digits: 2 });
            json!({"version": e.version, "status": e.status.as_str().replace('_', " "), "total": currency.format(e.total_minor),
                   "sent": e.sent_at.map(when)})
        })
        .collect();
    let mut timeline = crate::api::jobs::job_timeline(&state.db, caller, job.id, zone).await?;
    timeline.reverse();
    let timeline: Vec<serde_json::Value> = timeline
        .into_iter()
        .take(JOB_TIMELINE_ROWS)
        .map(|e| json!({"when": when(e.at), "kind": e.kind, "summary": e.summary}))
        .collect();
    Ok(render(
        "staff_job.html",
        status,
        json!({
            "csrf": s.csrf_token, "office": office, "note": form["note"], "zone": zone.name(),
            "booking": booking_form(&state.db, org, zone, state.clock.now(), office, &form["booking"]).await?,
            "job": {"id": job.id, "title": job.title, "story": job.story, "status": job.status.as_str().replace('_', " ")},
            "customer": {"name": customer.name, "phone": customer.phone, "email": customer.email, "address": customer.address},
            "visits": visits, "promises": promises, "timeline": timeline, "estimates": estimates,
        }),
    ))
}

/// How many timeline rows the job page shows, newest first.
const JOB_TIMELINE_ROWS: usize = 100;

#[derive(Deserialize)]
struct NoteForm {
    csrf: Option<String>,
    text: Option<String>,
}

async fn job_note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Result<Response, ApiError> {
    let (s, me) = match form_sender(&state, &headers, f.csrf.as_deref()).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(page),
    };
    let caller = caller_of(&me);
    let job = match job_for(&state, &caller, &id).await? {
        Ok(job) => job,
        Err(page) => return Ok(page),
    };
    let mut problems = crate::error::Problems::default();
    let text = crate::api::required_text(&mut problems, "text", f.text.clone(), crate::api::jobs::NOTE_MAX_CHARS);
    let Some(text) = text else {
        let error = problems.to_string();
        let form = json!({"note": {"error": error, "text": f.text.unwrap_or_default()}});
        return job_view(&state, &s, &caller, job, StatusCode::UNPROCESSABLE_ENTITY, form).await;
    };
    crate::store::timeline::add_note(&state.db, me.organization_id, job.id, text, Some(me.id), state.clock.now())
        .await?;
    Ok(Redirect::to(&format!("/app/jobs/{}", job.id)).into_response())
}

/// The office's booking form: every staff member to choose from, and what
/// was typed (kept when a booking is refused, with why).
async fn booking_form(
    db: &crate::db::Db,
    org: i64,
    zone: crate::domain::time::Zone,
    now: chrono::DateTime<chrono::Utc>,
    office: bool,
    typed: &serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    if !office {
        return Ok(serde_json::Value::Null);
    }
    let chosen: Vec<i64> =
        typed["staff_ids"].as_array().map(|a| a.iter().filter_map(|v| v.as_i64()).collect()).unwrap_or_default();
    let people = crate::store::staff::list(db, org, crate::store::PageRequest { after: None, limit: 200 }).await?;
    let people: Vec<serde_json::Value> = people
        .into_iter()
        .map(|p| json!({"id": p.id, "name": p.name, "role": p.role, "checked": chosen.contains(&p.id)}))
        .collect();
    let text = |k: &str, default: String| typed[k].as_str().map(str::to_string).unwrap_or(default);
    Ok(json!({
        "people": people,
        "kinds": crate::domain::visit::VisitKind::ALL.iter().map(|k| json!({"value": k.as_str(), "label": k.as_str().replace('_', "-"), "selected": typed["kind"].as_str() == Some(k.as_str())})).collect::<Vec<_>>(),
        "date": text("date", zone.date_of(now).to_string()),
        "start": text("start", String::new()),
        "end": text("end", String::new()),
        "duration": text("duration", "60".into()),
        "error": typed["error"],
    }))
}

/// The office books a visit from the job page, with the window typed in the
/// customer's local time. The same rules as `POST /api/v1/jobs/{id}/visits`:
/// a booking that would leave anyone unable to keep a window is refused,
/// naming the conflict, and nothing is booked.
async fn job_book(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
    let (s, me) = match form_sender(&state, &headers, field("csrf").as_deref()).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(page),
    };
    let caller = caller_of(&me);
    if !caller.role.can_dispatch() {
        return Ok(problem(StatusCode::FORBIDDEN, "Only the office books visits."));
    }
    let job = match job_for(&state, &caller, &id).await? {
        Ok(job) => job,
        Err(page) => return Ok(page),
    };
    let customer = crate::store::customers::get(&state.db, caller.organization_id, job.customer_id).await?;
    let zone = crate::api::views::zone_of(&customer.timezone);
    let mut p = crate::error::Problems::default();
    let staff_values: Vec<&str> = pairs.iter().filter(|(n, _)| n == "staff_ids").map(|(_, v)| v.as_str()).collect();
    let staff_ids: Vec<i64> = staff_values.iter().filter_map(|v| v.trim().parse().ok()).collect();
    if staff_ids.is_empty() || staff_ids.len() != staff_values.len() {
        p.add("staff_ids", "choose at least one person");
    }
    let kind = field("kind").unwrap_or_default();
    let kind = p.check(
        "kind",
        crate::domain::visit::VisitKind::parse(&kind)
            .ok_or(format!("'{kind}' is not one of {}", crate::domain::visit::VisitKind::choices())),
    );
    let date = field("date").unwrap_or_default();
    let date = p.check(
        "date",
        chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|_| format!("'{date}' is not a date (YYYY-MM-DD)")),
    );
    let mut at = |name: &str, key: &str| {
        let typed = field(key).unwrap_or_default();
        let time = p.check(
            name,
            chrono::NaiveTime::parse_from_str(&typed, "%H:%M")
                .map_err(|_| format!("'{typed}' is not a time of day (HH:MM, 24-hour)")),
        )?;
        p.check(name, zone.at_local(date?, time))
    };
    let window_start = at("window_start", "start");
    let window_end = at("window_end", "end");
    let duration = field("duration").unwrap_or_default();
    let duration = p.check(
        "duration_minutes",
        duration
            .parse::<i32>()
            .ok()
            .filter(|d| (1..=crate::store::visits::MAX_DURATION_MINUTES).contains(d))
            .ok_or(format!("must be whole minutes between 1 and {}", crate::store::visits::MAX_DURATION_MINUTES)),
    );
    let refused = |status: StatusCode, error: String| {
        let typed = json!({"booking": {
            "staff_ids": staff_ids, "kind": field("kind"), "date": field("date"), "start": field("start"),
            "end": field("end"), "duration": field("duration"), "error": error,
        }});
        (status, typed)
    };
    let (status, typed) = match (p.0.is_empty(), kind, window_start, window_end, duration) {
        (true, Some(kind), Some(window_start), Some(window_end), Some(duration_minutes)) => {
            let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
            let new = crate::store::visits::NewVisit {
                kind,
                staff_ids: staff_ids.clone(),
                window_start,
                window_end,
                duration_minutes,
            };
            match crate::usecases::visits::book(&state.db, &state.notify, &org, job.id, new, state.clock.now()).await {
                Ok(_) => return Ok(Redirect::to(&format!("/app/jobs/{}", job.id)).into_response()),
                Err(crate::error::Error::Conflict { message, details, .. }) => {
                    refused(StatusCode::CONFLICT, format!("{message}{}", conflict_windows(&details)))
                }
                Err(crate::error::Error::Validation(fields)) => {
                    refused(StatusCode::UNPROCESSABLE_ENTITY, crate::error::Problems(fields).to_string())
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => refused(StatusCode::UNPROCESSABLE_ENTITY, p.to_string()),
    };
    job_view(&state, &s, &caller, job, status, typed).await
}

/// The windows of the visits a booking conflicts with, in their person's
/// time, e.g. ` (visit 3: Sat Nov 21, 9:00 AM to 11:00 AM)`.
fn conflict_windows(details: &serde_json::Value) -> String {
    let local = |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok();
    let windows: Vec<String> = details["conflicting_visits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let (start, end) = (local(&v["window_start_local"])?, local(&v["window_end_local"])?);
            Some(format!("visit {}: {} to {}", v["id"], start.format("%a %b %-d, %-I:%M %p"), end.format("%-I:%M %p")))
        })
        .collect();
    if windows.is_empty() {
        String::new()
    } else {
        format!(" ({})", windows.join("; "))
    }
}

/// Admins only: everyone else gets a page that says so.
fn admin_only(caller: &crate::auth::Caller) -> Option<Response> {
    (caller.role != crate::domain::people::Role::Admin)
        .then(|| problem(StatusCode::FORBIDDEN, "Only admins manage staff."))
}

/// A form an admin sent from the staff page: their session and themselves
/// as a caller, or the page to answer with.
async fn admin_form(
    state: &AppState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Result<(crate::entities::session::Model, crate::auth::Caller), Response>, ApiError> {
    let (s, me) = match form_sender(state, headers, csrf).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(Err(page)),
    };
    let caller = caller_of(&me);
    match admin_only(&caller) {
        Some(page) => Ok(Err(page)),
        None => Ok(Ok((s, caller))),
    }
}

#[derive(Deserialize)]
struct StaffQuery {
    invited: Option<i64>,
}

/// Admins add people, set their roles and send them an invitation to
/// choose a password (the same rules and audit log as the API).
async fn staff_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<StaffQuery>,
) -> Result<Response, ApiError> {
    let Some((s, me)) = current(&state, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let caller = caller_of(&me);
    if let Some(page) = admin_only(&caller) {
        return Ok(page);
    }
    staff_view(&state, &s, &caller, StatusCode::OK, json!({"invited": q.invited})).await
}

async fn staff_view(
    state: &AppState,
    s: &crate::entities::session::Model,
    caller: &crate::auth::Caller,
    status: StatusCode,
    form: serde_json::Value,
) -> Result<Response, ApiError> {
    use crate::domain::people::Role;
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let people =
        crate::store::staff::list(&state.db, org.id, crate::store::PageRequest { after: None, limit: 200 }).await?;
    let invited = form["invited"]
        .as_i64()
        .and_then(|id| people.iter().find(|p| p.id == id))
        .map(|p| crate::api::staff::invitation_notice(state, &p.email).1);
    let roles = |current: &str| {
        Role::ALL.iter().map(|r| json!({"value": r.as_str(), "selected": r.as_str() == current})).collect::<Vec<_>>()
    };
    let people: Vec<serde_json::Value> = people
        .iter()
        .map(|p| {
            json!({"id": p.id, "name": p.name, "email": p.email, "phone": p.phone, "timezone": p.timezone,
                   "roles": roles(p.role.as_str()), "signed_up": p.password_hash.is_some(), "me": p.id == caller.staff_id.unwrap_or(0)})
        })
        .collect();
    let typed = &form["add"];
    let text = |k: &str, default: &str| typed[k].as_str().unwrap_or(default).to_string();
    Ok(render(
        "staff_admin.html",
        status,
        json!({
            "csrf": s.csrf_token, "org": org.name, "people": people, "invited": invited, "error": form["error"],
            "add": {"name": text("name", ""), "email": text("email", ""), "phone": text("phone", ""),
                    "timezone": text("timezone", &org.timezone), "roles": roles(&text("role", Role::Technician.as_str())), "error": typed["error"]},
        }),
    ))
}

#[derive(Deserialize)]
struct AddStaffForm {
    csrf: Option<String>,
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
    phone: Option<String>,
    timezone: Option<String>,
}

async fn staff_add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<AddStaffForm>,
) -> Result<Response, ApiError> {
    let (s, caller) = match admin_form(&state, &headers, f.csrf.as_deref()).await? {
        Ok(admin) => admin,
        Err(page) => return Ok(page),
    };
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let input = crate::api::staff::StaffInput {
        name: f.name.clone(),
        role: f.role.clone(),
        phone: f.phone.clone(),
        email: f.email.clone(),
        photo_url: None,
        bio: None,
        timezone: f.timezone.clone(),
        working_hours: None,
    };
    let added = match crate::api::staff::parse_staff(input, crate::api::staff::country_of(&org)) {
        Ok(new) => crate::store::staff::insert(&state.db, org.id, new, state.clock.now()).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let why = match added {
        Ok(_) => return Ok(Redirect::to("/app/staff").into_response()),
        Err(ApiError::Validation(fields)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, crate::error::Problems(fields).to_string())
        }
        Err(ApiError::Conflict { message, .. }) => (StatusCode::CONFLICT, message),
        Err(e) => return Err(e),
    };
    let typed = json!({"add": {"name": f.name, "email": f.email, "role": f.role, "phone": f.phone, "timezone": f.timezone, "error": why.1}});
    staff_view(&state, &s, &caller, why.0, typed).await
}

/// The person behind `/app/staff/{id}/…` in the admin's organization.
async fn staff_member(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: &str,
) -> Result<Result<crate::entities::staff::Model, Response>, ApiError> {
    let none = || problem(StatusCode::NOT_FOUND, "There is no such person.");
    let Ok(id) = id.parse::<i64>() else { return Ok(Err(none())) };
    match crate::store::staff::get(&state.db, caller.organization_id, id).await {
        Ok(p) => Ok(Ok(p)),
        Err(crate::error::Error::NotFound) => Ok(Err(none())),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: Option<String>,
    role: Option<String>,
}

async fn staff_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<RoleForm>,
) -> Result<Response, ApiError> {
    let (s, caller) = match admin_form(&state, &headers, f.csrf.as_deref()).await? {
        Ok(admin) => admin,
        Err(page) => return Ok(page),
    };
    let person = match staff_member(&state, &caller, &id).await? {
        Ok(p) => p,
        Err(page) => return Ok(page),
    };
    let typed = f.role.unwrap_or_default();
    let Some(role) = crate::domain::people::Role::parse(typed.trim()) else {
        let error = format!("role: '{typed}' is not one of {}", crate::domain::people::Role::choices());
        return staff_view(&state, &s, &caller, StatusCode::UNPROCESSABLE_ENTITY, json!({"error": error})).await;
    };
    match crate::api::staff::set_role(&state, &caller, person, role).await {
        Ok(_) => Ok(Redirect::to("/app/staff").into_response()),
        Err(ApiError::Conflict { message, .. }) => {
            staff_view(&state, &s, &caller, StatusCode::CONFLICT, json!({"error": message})).await
        }
        Err(e) => Err(e),
    }
}

async fn staff_invite(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let (_, caller) = match admin_form(&state, &headers, f.csrf.as_deref()).await? {
        Ok(admin) => admin,
        Err(page) => return Ok(page),
    };
    let person = match staff_member(&state, &caller, &id).await? {
        Ok(p) => p,
        Err(page) => return Ok(page),
    };
    let ip = client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    match crate::api::staff::invite_person(&state, &caller, &person, &ip).await {
        Ok(()) => Ok(Redirect::to(&format!("/app/staff?invited={}", person.id)).into_response()),
        Err(ApiError::TooManyRequests(wait)) => Ok(too_many(wait)),
        Err(e) => Err(e),
    }
}

/// A short page that says what went wrong, with the way back.
fn problem(status: StatusCode, text: &str) -> Response {
    render("staff_problem.html", status, json!({"text": text}))
}

async fn forgot_page(State(state): State<AppState>) -> Response {
    with_form_csrf(&state, "staff_login.html", StatusCode::OK, json!({"action": "/reset", "forgot": true}))
}

#[derive(Deserialize)]
struct ForgotForm {
    email: Option<String>,
    csrf: Option<String>,
}

/// Always the same answer, whether or not the email is known.
async fn forgot(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Result<Response, ApiError> {
    if !csrf_ok(&headers, f.csrf.as_deref()) {
        return Ok(csrf_refused());
    }
    let ip = client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    let email = f.email.unwrap_or_default().trim().to_lowercase();
    let (acct, by_ip) = (format!("reset:acct:{email}"), format!("reset:ip:{ip}"));
    if let Err(wait) = state.limits.hit(&[(&acct, RESET_PER_ACCOUNT), (&by_ip, RESET_PER_IP)]) {
        return Ok(too_many(wait));
    }
    let now = state.clock.now();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    for person in crate::entities::staff::Entity::find()
        .filter(crate::entities::staff::Column::Email.eq(email.as_str()))
        .all(&state.db)
        .await?
    {
        crate::usecases::invitations::send_password_link(&state.db, &state.notify, &person, false, now).await?;
        sessions::audit(
            &state.db,
            Some(person.organization_id),
            Some(person.id),
            crate::domain::people::AuditAction::PasswordResetRequested,
            json!({}),
            Some(&ip),
            now,
        )
        .await?;
    }
    Ok(with_form_csrf(
        &state,
        "staff_login.html",
        StatusCode::OK,
        json!({"action": "/login", "notice": "If that email belongs to someone here, a link to choose a new password is on its way."}),
    ))
}

async fn reset_page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    if sessions::reset_for(&state.db, &token, state.clock.now()).await?.is_none() {
        return Ok((
            StatusCode::NOT_FOUND,
            Html(
                "<p>This link has expired or was already used. Ask for a new one at <a href=\"/reset\">/reset</a>.</p>",
            ),
        )
            .into_response());
    }
    Ok(with_form_csrf(
        &state,
        "staff_login.html",
        StatusCode::OK,
        json!({"action": format!("/reset/{token}"), "reset": true}),
    ))
}

#[derive(Deserialize)]
struct ResetForm {
    password: Option<String>,
    csrf: Option<String>,
}

async fn reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ResetForm>,
) -> Result<Response, ApiError> {
    if !csrf_ok(&headers, f.csrf.as_deref()) {
        return Ok(csrf_refused());
    }
    let now = state.clock.now();
    let Some(r) = sessions::reset_for(&state.db, &token, now).await? else {
        return Ok((StatusCode::NOT_FOUND, Html("<p>This link has expired or was already used.</p>")).into_response());
    };
    let pw = f.password.unwrap_or_default();
    if let Err(why) = sessions::check_new_password(&pw) {
        return Ok(with_form_csrf(
            &state,
            "staff_login.html",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"action": format!("/reset/{token}"), "reset": true, "error": format!("Password: {why}.")}),
        ));
    }
    let ip = client_ip(Some(peer), &headers, state.settings.trusted_proxy);
    if !sessions::complete_reset(&state.db, &r, &pw, &ip, now).await? {
        return Ok((StatusCode::NOT_FOUND, Html("<p>This link was already used.</p>")).into_response());
    }
    Ok(with_form_csrf(
        &state,
        "staff_login.html",
        StatusCode::OK,
        json!({"action": "/login", "notice": "Your password is set. Sign in."}),
    ))
}
