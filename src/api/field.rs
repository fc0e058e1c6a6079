//! The crew's phone: running late, notes from the field, the private
//! calendar feed (its address, and the feed itself), and the devices a
//! person is signed in on.

use super::views::{TimelineView, VisitView};
use super::{path_id, ApiJson};
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::domain::people::Role;
use crate::domain::time::parse_rfc3339;
use crate::state::AppState;
use crate::usecases::field::Late;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a request waits for the apology to be handed to the provider
/// before answering (delivery goes on in the background past that).
const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(running_late))
        .routes(routes!(field_note))
        .routes(routes!(issue_calendar, revoke_calendar))
        .routes(routes!(calendar_feed))
        .routes(routes!(list_sessions, end_sessions))
}

/// The new arrival time.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RunningLateInput)]
struct LateInput {
    /// Required: when we will be there now, RFC 3339 with an offset; later
    /// than now and than the arrival promised, and at most 12 hours ahead.
    #[schema(required = true, nullable = false, format = DateTime)]
    new_arrival: Option<String>,
}

/// What a *Running late* call did.
#[derive(Serialize, ToSchema)]
pub struct RunningLate {
    pub visit: VisitView,
    /// False when this same new time had already been told (a double tap):
    /// nothing changed.
    pub changed: bool,
    pub new_arrival: DateTime<Utc>,
    /// `new_arrival` in the customer's zone (the visit's `timezone`).
    pub new_arrival_local: DateTime<FixedOffset>,
}

/// Running late: the crew will not make the promised arrival. The
/// customer's apology, with the new time in their zone, is queued and
/// handed to the provider before this answers (not at the next tick); the
/// promised window's promise is `broken` and a new arrival promise, due at
/// `new_arrival`, is `pending`. The same call again changes nothing.
/// Estimators and technicians only for their own visits.
#[utoipa::path(post, path = "/visits/{id}/late", tag = "visits", request_body = LateInput,
    params(("id" = i64, Path, description = "The visit")),
    responses(
        (status = 200, description = "Told (or already told: `changed` is false)", body = RunningLate),
        (status = 409, description = "The visit was already reached, completed, cancelled or missed (`visit_not_open`)", body = super::error::ErrorBody),
    ))]
async fn running_late(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<LateInput>,
) -> Result<Json<RunningLate>, ApiError> {
    let id = path_id(&id)?;
    let current = crate::store::visits::get(&state.db, caller.organization_id, id).await?;
    crate::access::ensure_visit(&caller, &current.staff_ids)?;
    let new_arrival = match input.new_arrival.as_deref().map(parse_rfc3339) {
        None => {
            return Err(ApiError::field(
                "new_arrival",
                "is required (RFC 3339 with an offset, such as 2026-11-23T10:40:00-05:00)",
            ))
        }
        Some(Err(why)) => return Err(ApiError::field("new_arrival", why)),
        Some(Ok(t)) => t,
    };
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let (v, outcome) = crate::usecases::field::running_late(
        &state.db,
        &state.notify,
        &org,
        id,
        new_arrival,
        crate::access::field_staff(&caller),
        caller.staff_id,
        state.clock.now(),
    )
    .await?;
    if outcome == Late::Told {
        crate::notify::wake_delivery(state.notifier(), DELIVERY_WAIT).await;
    }
    let job = crate::store::jobs::get(&state.db, org.id, v.visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let new_arrival = crate::domain::time::truncate_to_second(new_arrival);
    Ok(Json(RunningLate {
        visit: VisitView::new(v, zone),
        changed: outcome == Late::Told,
        new_arrival,
        new_arrival_local: zone.local(new_arrival),
    }))
}

/// A note from the field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FieldNoteInput)]
struct NoteInput {
    /// Required, up to 2,000 characters.
    #[schema(required = true, nullable = false)]
    text: Option<String>,
    /// For the office only: never in the customer's status update. False when absent.
    internal: Option<bool>,
}

/// A note on the visit from the field ("found a second leak behind the
/// dishwasher"): on the job's timeline (kind `note`, or `internal_note`);
/// unless `internal`, the customer's next status update carries it as news.
/// Estimators and technicians only on their own visits.
#[utoipa::path(post, path = "/visits/{id}/notes", tag = "visits", request_body = NoteInput,
    params(("id" = i64, Path, description = "The visit")),
    responses((status = 201, description = "On the job's timeline", body = TimelineView)))]
async fn field_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<(StatusCode, Json<TimelineView>), ApiError> {
    let id = path_id(&id)?;
    let current = crate::store::visits::get(&state.db, caller.organization_id, id).await?;
    crate::access::ensure_visit(&caller, &current.staff_ids)?;
    let mut p = Problems::default();
    let text = super::required_text(&mut p, "text", input.text, crate::store::timeline::NOTE_MAX_CHARS);
    p.into_result()?;
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let e = crate::usecases::field::note(
        &state.db,
        &org,
        id,
        text.unwrap_or_default(),
        input.internal.unwrap_or(false),
        crate::access::field_staff(&caller),
        caller.staff_id,
        state.clock.now(),
    )
    .await?;
    let job = crate::store::jobs::get(&state.db, org.id, current.visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    Ok((StatusCode::CREATED, Json(TimelineView::new(e, crate::store::customers::zone(&customer)?))))
}

/// The calendar feed's address.
#[derive(Serialize, ToSchema)]
pub struct CalendarFeed {
    /// The private feed address to subscribe to (Google Calendar: *From
    /// URL*; Apple Calendar: *New Calendar Subscription*; Outlook:
    /// *Subscribe from web*). Shown only now; anyone with it can read the
    /// schedule, so it is kept like a password.
    pub url: String,
}

/// A person may manage their own feed; an admin anyone's.
fn ensure_self_or_admin(caller: &Caller, staff_id: i64) -> Result<(), ApiError> {
    if caller.role == Role::Admin || caller.staff_id == Some(staff_id) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only the person themselves or an admin can do this".into()))
    }
}

/// Create or regenerate the person's private calendar feed (the old
/// address answers 404 from now on). Their own, or anyone's for an admin.
#[utoipa::path(post, path = "/staff/{id}/calendar", tag = "staff",
    params(("id" = i64, Path, description = "The staff member")),
    responses((status = 201, description = "The new feed address", body = CalendarFeed)))]
async fn issue_calendar(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CalendarFeed>), ApiError> {
    let id = path_id(&id)?;
    ensure_self_or_admin(&caller, id)?;
    let person = crate::store::staff::get(&state.db, caller.organization_id, id).await?;
    let url =
        crate::usecases::calendar::issue(&state.db, &person, &state.settings.public_url, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(CalendarFeed { url })))
}

/// Revoke the person's calendar feed: its address answers 404 from now on.
#[utoipa::path(delete, path = "/staff/{id}/calendar", tag = "staff",
    params(("id" = i64, Path, description = "The staff member")),
    responses((status = 204, description = "Revoked (or there was none)")))]
async fn revoke_calendar(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    ensure_self_or_admin(&caller, id)?;
    let person = crate::store::staff::get(&state.db, caller.organization_id, id).await?;
    crate::usecases::calendar::revoke(&state.db, &person, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calendar feed itself (iCalendar, RFC 5545): no other credential than
/// its secret address. One event per visit of the person from 30 days back
/// to 90 days ahead (UID stable per visit; SEQUENCE and LAST-MODIFIED move
/// with every change; STATUS:CANCELLED when cancelled; times in UTC; the
/// address as LOCATION; the story and a link in DESCRIPTION; no prices).
/// Sends an `ETag` and answers 304 to a matching `If-None-Match`; an
/// unknown or revoked address answers 404.
#[utoipa::path(get, path = "/calendar/{token}", tag = "staff",
    params(("token" = String, Path, description = "The feed's secret, as in its address (`….ics`)")),
    responses(
        (status = 200, description = "The feed", content_type = "text/calendar; charset=utf-8", body = String,
            headers(("ETag" = String, description = "Changes exactly when the feed does"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, description = "No such feed (unknown or revoked)", body = super::error::ErrorBody),
    ))]
async fn calendar_feed(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    if token.is_empty() || token.len() > 200 {
        return Err(ApiError::NotFound);
    }
    let Some(feed) =
        crate::usecases::calendar::feed(&state.db, token, &state.settings.public_url, state.clock.now()).await?
    else {
        return Err(ApiError::NotFound);
    };
    let etag = HeaderValue::from_str(&feed.etag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let private = HeaderValue::from_static("private, no-cache");
    if matches_etag(&headers, &feed.etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, private)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8")),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, private),
        ],
        feed.body,
    )
        .into_response())
}

/// A device someone is signed in on.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    /// As the browser named itself when signing in.
    pub device: String,
    /// "Keep me signed in on this device" (90 days rather than 14).
    pub long_lived: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A person's sessions.
#[derive(Serialize, ToSchema)]
pub struct Sessions {
    pub items: Vec<SessionView>,
}

/// The devices the person is signed in on (their own, or anyone's for an admin).
#[utoipa::path(get, path = "/staff/{id}/sessions", tag = "staff",
    params(("id" = i64, Path, description = "The staff member")),
    responses((status = 200, description = "Live sessions, newest first", body = Sessions)))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Sessions>, ApiError> {
    let id = path_id(&id)?;
    ensure_self_or_admin(&caller, id)?;
    let person = crate::store::staff::get(&state.db, caller.organization_id, id).await?;
    let items = crate::store::sessions::live_of(&state.db, person.id, state.clock.now())
        .await?
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            device: s.device,
            long_lived: s.long_lived,
            created_at: s.created_at,
            expires_at: s.expires_at,
        })
        .collect();
    Ok(Json(Sessions { items }))
}

/// How many sessions ended.
#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    pub ended: u64,
}

/// Sign the person out on every device (a lost phone, someone leaving): their
/// own, or anyone's for an admin. API tokens are not sessions and stay.
#[utoipa::path(delete, path = "/staff/{id}/sessions", tag = "staff",
    params(("id" = i64, Path, description = "The staff member")),
    responses((status = 200, description = "Signed out everywhere", body = SessionsEnded)))]
async fn end_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let id = path_id(&id)?;
    ensure_self_or_admin(&caller, id)?;
    let person = crate::store::staff::get(&state.db, caller.organization_id, id).await?;
    let ended =
        crate::store::sessions::end_sessions(&state.db, &person, None, caller.staff_id, state.clock.now()).await?;
    Ok(Json(SessionsEnded { ended }))
}

/// Whether `If-None-Match` names this ETag (or is `*`); weak validators
/// compare by their opaque part, as RFC 9110 asks for this header.
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_read_as_a_list_of_etags() {
        let mut h = HeaderMap::new();
        assert!(!matches_etag(&h, "\"a\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"b\", W/\"a\""));
        assert!(matches_etag(&h, "\"a\""));
        assert!(!matches_etag(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&h, "\"c\""));
    }
}
