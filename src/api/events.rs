//! The live events as Server-Sent Events (`GET /api/v1/events`): what the
//! board, the job page and API clients refetch on, scoped to the caller.

use crate::auth::Caller;
use crate::live::{LiveEvent, Received};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use std::convert::Infallible;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How often an idle stream sends a comment, so proxies keep it open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// What changes, as it changes: an endless `text/event-stream`. One SSE
/// message per change, with `event:` the type, `id:` the event's id and
/// `data:` the event as JSON (`LiveEvent`). Types: `visit.booked`,
/// `visit.changed` (rescheduled or reassigned), `visit.status` (a crew's tap,
/// a cancellation), `message.state` (a message sent, failed, held… or a
/// delivery receipt), `inbound.received` (a customer's text),
/// `promise.at_risk` (an arrival window about to be missed). Each carries
/// the ids to refetch: `organization_id`, and as they apply `job_id`,
/// `visit_id`, `staff_ids`, `message_id`, `inbound_id`, `promise_id`, the
/// visit's `status`, the message's `state` and `provider_status`, and `at`.
/// Example: `event: visit.status` / `id: 3f9c0b7e5d21a846` / `data:
/// {"id":"3f9c0b7e5d21a846","type":"visit.status","organization_id":1,"job_id":12,"visit_id":40,"staff_ids":[7],"status":"en_route","at":"2026-11-20T15:00:00Z"}`.
///
/// Only the caller's organization's events are sent. Admins, dispatchers
/// and integration tokens receive them all; estimators and technicians
/// only events about visits they are assigned to (or were just taken off),
/// so no message, reply or at-risk alert that is not about their visit.
///
/// A signed-in page may call this with its session cookie instead of a
/// token (the browser's `EventSource`). A comment is sent at once and every
/// 15 s while idle. There is no replay: on connecting, and on an `event:
/// resync` (events were lost: this stream fell behind, or the server's
/// database listener reconnected), refetch what is on screen. On PostgreSQL
/// every replica's events reach every replica's streams.
#[utoipa::path(get, path = "/events", tag = "events",
    responses(
        (status = 200, description = "An endless stream of events (`text/event-stream`), each `data:` a `LiveEvent`",
            content_type = "text/event-stream", body = LiveEvent),
    ))]
async fn stream(State(state): State<AppState>, caller: Caller) -> impl IntoResponse {
    let subscription = state.notify.live.subscribe();
    let org = caller.organization_id;
    let me = crate::access::field_staff(&caller);
    let first = Some(Event::default().comment("subscribed"));
    let events = futures_util::stream::unfold((first, subscription), move |(first, mut subscription)| async move {
        if let Some(hello) = first {
            return Some((Ok::<_, Infallible>(hello), (None, subscription)));
        }
        loop {
            match subscription.next().await? {
                Received::Event(e) if e.visible_to(org, me) => return Some((Ok(sse(&e)), (None, subscription))),
                Received::Event(_) => continue,
                Received::Resync => {
                    let resync = Event::default().event("resync").data(r#"{"type":"resync"}"#);
                    return Some((Ok(resync), (None, subscription)));
                }
            }
        }
    });
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // nginx and its kind would otherwise hold events back in a buffer.
            (HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no")),
        ],
        Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
}

/// One event as an SSE message.
fn sse(e: &LiveEvent) -> Event {
    let message = Event::default().id(e.id.as_str()).event(e.kind.as_str());
    match serde_json::to_string(e) {
        Ok(json) => message.data(json),
        Err(err) => {
            tracing::error!(error = %err, "a live event did not serialize");
            Event::default().comment("an event was lost")
        }
    }
}
