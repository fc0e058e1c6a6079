//! Live events: what just changed, for the board, the job page and API
//! clients to refetch (`GET /api/v1/events`). Each change is published from
//! its one home (the visit use cases, the delivery worker, Twilio's
//! webhooks, the ledger watch) and fanned out to every subscriber.
//!
//! In one process (SQLite) the bus is a `tokio::sync::broadcast` channel,
//! and an event is sent once its transaction has committed
//! ([`crate::db::WriteTxn::after_commit`]). On PostgreSQL an event is a
//! `pg_notify('kept_events', json)` in the same transaction as the change,
//! so it exists only if the change committed; PostgreSQL delivers it, at
//! commit, to every process LISTENing, and each process's one listener
//! (`postgres`) re-broadcasts it locally. So replicas on one database see
//! each other's events, and a process sees its own the same way.
//!
//! Events say *what* changed and carry the ids to refetch; they are not a
//! log: a subscriber that falls behind, or a listener that reconnects, is
//! told to resync ([`Received::Resync`]) rather than replayed.

mod postgres;

use crate::db::WriteTxn;
use crate::domain::messaging::{MessageState, ProviderStatus};
use crate::domain::visit::VisitStatus;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// The PostgreSQL channel events travel on.
pub const CHANNEL: &str = "kept_events";

/// How many events a slow subscriber may fall behind before it is told to resync.
const BACKLOG: usize = 1024;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// A visit was booked (`job_id`, `visit_id`, `staff_ids`, `status`).
    #[serde(rename = "visit.booked")]
    VisitBooked,
    /// A visit was rescheduled or reassigned (`staff_ids`: the crew now and anyone taken off).
    #[serde(rename = "visit.changed")]
    VisitChanged,
    /// A visit moved through its states: on the way, arrived, completed, cancelled, missed.
    #[serde(rename = "visit.status")]
    VisitStatus,
    /// A message's delivery state or provider receipt changed (`message_id`, `state`, `provider_status`).
    #[serde(rename = "message.state")]
    MessageState,
    /// A customer texted us (`inbound_id`, and `job_id` when it landed on a job).
    #[serde(rename = "inbound.received")]
    InboundReceived,
    /// An arrival window is at risk: nobody is on the way and it closes soon (`promise_id`, `visit_id`).
    #[serde(rename = "promise.at_risk")]
    PromiseAtRisk,
    /// A job was opened, edited or moved to another status (`job_id`): the
    /// board's list of jobs nobody has booked follows it.
    #[serde(rename = "job.changed")]
    JobChanged,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::VisitBooked,
        EventType::VisitChanged,
        EventType::VisitStatus,
        EventType::MessageState,
        EventType::InboundReceived,
        EventType::PromiseAtRisk,
        EventType::JobChanged,
    ];

    /// The name on the wire (`visit.status`), also the SSE `event:` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::VisitBooked => "visit.booked",
            EventType::VisitChanged => "visit.changed",
            EventType::VisitStatus => "visit.status",
            EventType::MessageState => "message.state",
            EventType::InboundReceived => "inbound.received",
            EventType::PromiseAtRisk => "promise.at_risk",
            EventType::JobChanged => "job.changed",
        }
    }
}

/// One live event: what changed, in which organization, and the ids to
/// refetch. Absent ids are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveEvent {
    /// Unique to this event (16 hex digits); also the SSE `id:`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub organization_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_id: Option<i64>,
    /// The staff the event concerns: the visit's crew (after a change, and
    /// anyone just taken off it). Estimators and technicians receive only
    /// events that name them here.
    #[serde(default)]
    pub staff_ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promise_id: Option<i64>,
    /// The visit's status after the change (visit events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VisitStatus>,
    /// The message's state after the change (`message.state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MessageState>,
    /// Twilio's latest receipt for the message, when one moved it (`message.state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_status: Option<ProviderStatus>,
    /// When the change happened.
    pub at: DateTime<Utc>,
}

impl LiveEvent {
    /// An event of `kind` in `organization_id` at `at`, with a fresh id and no ids yet.
    pub fn new(kind: EventType, organization_id: i64, at: DateTime<Utc>) -> LiveEvent {
        LiveEvent {
            id: format!("{:016x}", rand::random::<u64>()),
            kind,
            organization_id,
            job_id: None,
            visit_id: None,
            staff_ids: Vec::new(),
            message_id: None,
            inbound_id: None,
            promise_id: None,
            status: None,
            state: None,
            provider_status: None,
            at,
        }
    }

    /// A visit event: its job, the visit, its crew and its status.
    pub fn visit(
        kind: EventType,
        v: &crate::entities::visit::Model,
        staff_ids: &[i64],
        at: DateTime<Utc>,
    ) -> LiveEvent {
        LiveEvent {
            job_id: Some(v.job_id),
            visit_id: Some(v.id),
            staff_ids: staff_ids.to_vec(),
            status: Some(v.status),
            ..LiveEvent::new(kind, v.organization_id, at)
        }
    }

    /// A message's state moved to `state` (`crew`: its visit's staff, if it has a visit).
    /// `job.changed` for a job (the office's; no crew is named).
    pub fn job(j: &crate::entities::job::Model, at: DateTime<Utc>) -> Self {
        LiveEvent { job_id: Some(j.id), ..LiveEvent::new(EventType::JobChanged, j.organization_id, at) }
    }

    pub fn message(m: &crate::entities::message::Model, state: MessageState, crew: &[i64], at: DateTime<Utc>) -> Self {
        LiveEvent {
            job_id: m.job_id,
            visit_id: m.visit_id,
            staff_ids: if m.visit_id.is_some() { crew.to_vec() } else { Vec::new() },
            message_id: Some(m.id),
            state: Some(state),
            ..LiveEvent::new(EventType::MessageState, m.organization_id, at)
        }
    }

    /// Who may see this event: only its organization; the office (admins,
    /// dispatchers, integration tokens: `field_staff` is `None`) sees every
    /// one, estimators and technicians only events about visits they are on.
    pub fn visible_to(&self, organization_id: i64, field_staff: Option<i64>) -> bool {
        if self.organization_id != organization_id {
            return false;
        }
        match field_staff {
            None => true,
            Some(me) => self.visit_id.is_some() && self.staff_ids.contains(&me),
        }
    }
}

/// What a subscriber receives next.
#[derive(Debug, Clone)]
pub enum Received {
    Event(Arc<LiveEvent>),
    /// Events were lost (this subscriber fell behind, or the PostgreSQL
    /// listener reconnected): refetch what is on screen.
    Resync,
}

/// The bus: publish from the home of a change, subscribe from a stream.
/// Cheap to clone; every clone is the same bus.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Received>,
    closed: Arc<watch::Sender<bool>>,
    changes: Arc<Changes>,
}

/// How many times each organization's data changed as this process knows
/// it: bumped when a change published here commits (synchronously, before
/// its request answers) and when another process's event arrives. A page
/// cache compares these to know whether what it rendered still stands.
#[derive(Default)]
pub struct Changes {
    /// Bumped when events may have been lost (a listener reconnected):
    /// everything is stale.
    all: std::sync::atomic::AtomicU64,
    orgs: std::sync::Mutex<std::collections::HashMap<i64, u64>>,
}

impl Changes {
    pub(crate) fn bump(&self, organization_id: i64) {
        let mut orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner());
        *orgs.entry(organization_id).or_default() += 1;
    }

    pub(crate) fn bump_all(&self) {
        self.all.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The organization's change count (with the everything-stale count).
    pub fn of(&self, organization_id: i64) -> (u64, u64) {
        let all = self.all.load(std::sync::atomic::Ordering::SeqCst);
        let orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner());
        (all, orgs.get(&organization_id).copied().unwrap_or_default())
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("subscribers", &self.tx.receiver_count()).finish()
    }
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    /// A bus for this process. On PostgreSQL, also call [`Bus::listen`] so
    /// events (this process's too) arrive from the database.
    pub fn new() -> Bus {
        let (tx, _) = broadcast::channel(BACKLOG);
        let (closed, _) = watch::channel(false);
        Bus { tx, closed: Arc::new(closed), changes: Arc::default() }
    }

    /// LISTENs on [`CHANNEL`] at `url` and re-broadcasts what arrives here,
    /// reconnecting (with backoff) when the connection drops. Returns once
    /// the first LISTEN is in place, so nothing committed after it is missed.
    pub async fn listen(&self, url: &str) -> Result<(), sqlx::Error> {
        postgres::start(self, url).await
    }

    /// Publishes `event` as part of `txn`: sent only if, and once, it commits.
    pub async fn publish(&self, txn: &WriteTxn, event: LiveEvent) -> Result<(), DbErr> {
        let changes = self.changes.clone();
        let org = event.organization_id;
        match txn.get_database_backend() {
            DbBackend::Postgres => {
                notify(txn, &event).await?;
                txn.after_commit(move || changes.bump(org));
                Ok(())
            }
            _ => {
                let tx = self.tx.clone();
                txn.after_commit(move || {
                    changes.bump(org);
                    // Nobody listening is not an error.
                    let _ = tx.send(Received::Event(Arc::new(event)));
                });
                Ok(())
            }
        }
    }

    /// What changed, per organization, as this process knows it.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Publishes `event` about a change already committed (a single
    /// statement outside a transaction). The change stands whatever happens
    /// here, so a failure is logged, not returned: a lost event costs a
    /// client a refetch, never a wrong answer.
    pub async fn publish_committed<C: ConnectionTrait>(&self, db: &C, event: LiveEvent) {
        self.changes.bump(event.organization_id);
        match db.get_database_backend() {
            DbBackend::Postgres => {
                if let Err(e) = notify(db, &event).await {
                    tracing::warn!(event = event.kind.as_str(), error = %e, "could not publish a live event");
                }
            }
            _ => {
                let _ = self.tx.send(Received::Event(Arc::new(event)));
            }
        }
    }

    /// A new subscriber: it receives what is published from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription { rx: self.tx.subscribe(), closed: self.closed.subscribe() }
    }

    /// Ends every subscription (and the PostgreSQL listener): the server is
    /// shutting down, and open streams must not hold it up.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// How many subscriptions are open in this process.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// `SELECT pg_notify('kept_events', json)`: delivered when `db` commits.
async fn notify<C: ConnectionTrait>(db: &C, event: &LiveEvent) -> Result<(), DbErr> {
    let payload = serde_json::to_string(event).map_err(|e| DbErr::Custom(format!("a live event as JSON: {e}")))?;
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

/// One subscriber's view of the bus.
pub struct Subscription {
    rx: broadcast::Receiver<Received>,
    closed: watch::Receiver<bool>,
}

impl Subscription {
    /// The next event or resync; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Received> {
        if *self.closed.borrow() {
            return None;
        }
        tokio::select! {
            _ = self.closed.wait_for(|closed| *closed) => None,
            got = self.rx.recv() => match got {
                Ok(received) => Some(received),
                Err(broadcast::error::RecvError::Lagged(_)) => Some(Received::Resync),
                Err(broadcast::error::RecvError::Closed) => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn visit_event(org: i64, staff: &[i64]) -> LiveEvent {
        LiveEvent {
            job_id: Some(3),
            visit_id: Some(4),
            staff_ids: staff.to_vec(),
            status: Some(VisitStatus::EnRoute),
            ..LiveEvent::new(EventType::VisitStatus, org, at())
        }
    }

    #[test]
    fn the_json_names_the_type_and_leaves_out_absent_ids() {
        let e = visit_event(1, &[7]);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "visit.status");
        assert_eq!(v["status"], "en_route");
        assert_eq!(v["staff_ids"], serde_json::json!([7]));
        assert!(v.get("message_id").is_none() && v.get("state").is_none());
        assert_eq!(serde_json::from_value::<LiveEvent>(v).unwrap(), e, "it reads back (the PostgreSQL path)");
        for kind in EventType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn field_staff_see_only_their_own_visits_and_nobody_sees_another_organization() {
        let e = visit_event(1, &[7, 8]);
        assert!(e.visible_to(1, None), "the office sees everything");
        assert!(e.visible_to(1, Some(7)) && e.visible_to(1, Some(8)));
        assert!(!e.visible_to(1, Some(9)), "not on the visit");
        assert!(!e.visible_to(2, None), "another organization");
        let inbound =
            LiveEvent { job_id: Some(3), inbound_id: Some(5), ..LiveEvent::new(EventType::InboundReceived, 1, at()) };
        assert!(inbound.visible_to(1, None));
        assert!(!inbound.visible_to(1, Some(7)), "no visit: the office's only");
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribe_until_the_bus_closes() {
        let bus = Bus::new();
        let db = crate::db::connect("sqlite::memory:", 1).await.unwrap();
        bus.publish_committed(&db, visit_event(1, &[])).await; // nobody listening yet
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        assert_eq!(bus.subscribers(), 2);
        let sent = visit_event(1, &[7]);
        bus.publish_committed(&db, sent.clone()).await;
        for s in [&mut a, &mut b] {
            match s.next().await {
                Some(Received::Event(e)) => assert_eq!(*e, sent),
                other => panic!("expected the event, got {other:?}"),
            }
        }
        bus.close();
        assert!(a.next().await.is_none());
        assert!(bus.subscribe().next().await.is_none(), "a subscription after close ends at once");
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_to_resync() {
        let bus = Bus::new();
        let db = crate::db::connect("sqlite::memory:", 1).await.unwrap();
        let mut slow = bus.subscribe();
        for _ in 0..BACKLOG + 5 {
            bus.publish_committed(&db, visit_event(1, &[])).await;
        }
        assert!(matches!(slow.next().await, Some(Received::Resync)));
        assert!(matches!(slow.next().await, Some(Received::Event(_))), "and then carries on");
    }
}
