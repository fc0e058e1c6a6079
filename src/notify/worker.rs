//! The delivery worker: claims due messages, sends them, records outcomes.
//!
//! Claiming is one statement: PostgreSQL picks rows `FOR UPDATE SKIP LOCKED`
//! so concurrent workers never take the same row; SQLite runs the same
//! UPDATE ... RETURNING atomically under its write lock. A claimed row is
//! leased to one worker (`lease_owner`); if its worker dies, the lease runs
//! out and the row comes back.
//!
//! Each process keeps up to `concurrency` sends in flight and claims only as
//! many rows as it has room for, so a dead replica strands little. Just
//! before a send goes out the worker marks it started (renewing its lease,
//! and only if the row is still its own); a row found leased out *with* a
//! started send is not resent blindly: SMS asks Twilio whether it has it,
//! email goes again with the same Message-ID.

use super::transport::{Lookup, Outcome, Transports};
use crate::db::Db;
use crate::domain::messaging::{backoff, parse_time, MessageState, QuietHours};
use crate::domain::people::Channel;
use crate::domain::time::{truncate_to_second, Zone};
use crate::entities::{customer, message, organization};
use crate::live::{Bus, LiveEvent};
use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Statement};
use std::collections::HashMap;
use std::sync::Arc;

/// After this many transient failures a message is failed for good (about
/// 15 hours of retries). Most messages expire sooner: an update overtaken by
/// the next slot, an introduction after its visit, are superseded instead.
pub const MAX_ATTEMPTS: i32 = 20;

/// How long a claim lasts before another worker may take the row back,
/// unless `KEPT_DELIVERY_LEASE_SECS` says otherwise.
pub const LEASE: Duration = Duration::seconds(30);

/// Sends in flight per process unless `KEPT_DELIVERY_CONCURRENCY` says otherwise.
pub const CONCURRENCY: usize = 32;

/// How much later a sender's next send moves when the provider says "too many requests".
pub const THROTTLE_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub uncertain: usize,
    pub held: usize,
    pub superseded: usize,
    pub suppressed: usize,
    pub no_provider: usize,
    /// The provider asked us to slow down; the message goes again shortly.
    pub throttled: usize,
    /// Found already sent by the provider after a worker died mid-send.
    pub recovered: usize,
    /// Given back unsent because the process is stopping.
    pub released: usize,
    /// Taken over by another worker before the send could start.
    pub lost: usize,
}

impl DeliveryReport {
    pub fn add(&mut self, o: &DeliveryReport) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.retried += o.retried;
        self.failed += o.failed;
        self.uncertain += o.uncertain;
        self.held += o.held;
        self.superseded += o.superseded;
        self.suppressed += o.suppressed;
        self.no_provider += o.no_provider;
        self.throttled += o.throttled;
        self.recovered += o.recovered;
        self.released += o.released;
        self.lost += o.lost;
    }
}

/// One delivery run's identity and limits.
pub struct Worker<'a> {
    pub db: &'a Db,
    pub transports: &'a Transports,
    pub live: &'a Bus,
    /// Sends in flight at most.
    pub concurrency: usize,
    pub lease: Duration,
    /// Who holds this run's claims: unique to the run (process id and a random part).
    pub owner: String,
    /// Set to true when the process is stopping: claim nothing more, send
    /// nothing not yet started, finish what is in flight.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// This run's start marks, gathered.
    pub starts: Starts,
}

/// A fresh claim owner: this process and a random part.
pub fn new_owner() -> String {
    format!("{}-{:08x}", std::process::id(), rand::random::<u32>())
}

impl<'a> Worker<'a> {
    pub fn new(db: &'a Db, transports: &'a Transports, live: &'a Bus) -> Worker<'a> {
        Worker {
            db,
            transports,
            live,
            concurrency: CONCURRENCY,
            lease: LEASE,
            owner: new_owner(),
            stop: None,
            starts: Starts::default(),
        }
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    async fn stopped(&self) {
        match &self.stop {
            Some(s) => {
                let mut s = s.clone();
                let _ = s.wait_for(|stop| *stop).await;
            }
            None => std::future::pending().await,
        }
    }
}

/// Claims up to `limit` due messages for this worker: due ones, expired ones
/// (to be marked superseded), and ones whose lease ran out. The states are
/// bound like the other values: `sending`, then the waiting ones
/// (`pending`, `retry`, `held`).
pub async fn claim(db: &Db, now: DateTime<Utc>, limit: u64) -> Result<Vec<message::Model>, DbErr> {
    claim_for(db, now, limit, LEASE, &new_owner()).await
}

/// [`claim`] for `owner`, leased for `lease`.
pub async fn claim_for(
    db: &Db,
    now: DateTime<Utc>,
    limit: u64,
    lease: Duration,
    owner: &str,
) -> Result<Vec<message::Model>, DbErr> {
    use MessageState::{Held, Pending, Retry, Sending};
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "UPDATE messages SET state = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3, lease_owner = $8 \
             WHERE id IN (SELECT id FROM messages \
               WHERE (state IN ($4, $5, $6) AND (next_attempt_at <= $3 OR expires_at <= $3)) \
                  OR (state = $1 AND lease_until < $3) \
               ORDER BY next_attempt_at, id LIMIT $7 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        _ => {
            "UPDATE messages SET state = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?, lease_owner = ? \
             WHERE id IN (SELECT id FROM messages \
               WHERE (state IN (?, ?, ?) AND (next_attempt_at <= ? OR expires_at <= ?)) \
                  OR (state = ? AND lease_until < ?) \
               ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING *"
        }
    };
    let lease_until = now + lease;
    let limit = limit as i64;
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => vec![
            Sending.into(),
            lease_until.into(),
            now.into(),
            Pending.into(),
            Retry.into(),
            Held.into(),
            limit.into(),
            owner.into(),
        ],
        _ => vec![
            Sending.into(),
            lease_until.into(),
            now.into(),
            owner.into(),
            Pending.into(),
            Retry.into(),
            Held.into(),
            now.into(),
            now.into(),
            Sending.into(),
            now.into(),
            limit.into(),
        ],
    };
    let mut rows =
        message::Entity::find().from_raw_sql(Statement::from_sql_and_values(backend, sql, values)).all(db).await?;
    rows.sort_by_key(|m| (m.next_attempt_at, m.id));
    Ok(rows)
}

/// What a batch of claimed messages needs to be judged, read once per
/// claim: their customers, organizations, and each visit's crew (for the
/// live events).
struct Batch {
    crews: HashMap<i64, Vec<i64>>,
    customers: HashMap<i64, customer::Model>,
    orgs: HashMap<i64, organization::Model>,
}

impl Batch {
    async fn read(db: &Db, claimed: &[message::Model]) -> Result<Batch, DbErr> {
        let visits: Vec<i64> = claimed.iter().filter_map(|m| m.visit_id).collect();
        let crews = crate::store::visits::staff_ids_of(db, &visits).await.map_err(|e| DbErr::Custom(e.to_string()))?;
        let customers = crate::store::customers::by_ids(db, claimed.iter().filter_map(|m| m.customer_id))
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let org_ids: Vec<i64> = claimed.iter().map(|m| m.organization_id).collect();
        let orgs: HashMap<i64, organization::Model> = organization::Entity::find()
            .filter(organization::Column::Id.is_in(org_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        Ok(Batch { crews, customers, orgs })
    }
}

/// Records the end of one claimed attempt. Only touches the row while it is
/// still ours (`sending`, our claim), and then says so on the live bus and
/// in the metrics.
async fn finish(
    w: &Worker<'_>,
    batch: &Batch,
    m: &message::Model,
    new_state: MessageState,
    now: DateTime<Utc>,
    edit: impl FnOnce(sea_orm::UpdateMany<message::Entity>) -> sea_orm::UpdateMany<message::Entity>,
) -> Result<(), DbErr> {
    let q = message::Entity::update_many()
        .col_expr(message::Column::State, Expr::value(new_state))
        .col_expr(message::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(message::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(message::Column::SendStartedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(m.id))
        .filter(message::Column::State.eq(MessageState::Sending))
        .filter(message::Column::LeaseOwner.eq(w.owner.as_str()));
    if edit(q).exec(w.db).await?.rows_affected > 0 {
        metrics::counter!(
            "kept_messages_total",
            "kind" => m.kind.to_string(),
            "channel" => m.channel.to_string(),
            "state" => new_state.to_string()
        )
        .increment(1);
        let crew = m.visit_id.and_then(|v| batch.crews.get(&v)).map(Vec::as_slice).unwrap_or(&[]);
        w.live.publish_committed(w.db, LiveEvent::message(m, new_state, crew, now)).await;
    }
    Ok(())
}

/// Start marks gathered into few statements: each send asks just before
/// it goes, and the asks that arrive while one statement runs are answered
/// together by the next (as a database groups commits).
#[derive(Default)]
pub struct Starts {
    asks: std::sync::Mutex<Vec<StartAsk>>,
    turn: tokio::sync::Mutex<()>,
}

/// One send's ask: its row, the claim's clock now (the lease runs from
/// it), and where the answer goes.
type StartAsk = (i64, DateTime<Utc>, tokio::sync::oneshot::Sender<Result<bool, String>>);

/// Marks the send started, renewing the lease, if the row is still ours
/// (in one statement with the other sends starting at the same moment).
async fn start(w: &Worker<'_>, m: &message::Model, renewed: DateTime<Utc>) -> Result<bool, DbErr> {
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    w.starts.asks.lock().unwrap_or_else(|e| e.into_inner()).push((m.id, renewed, tx));
    let turn = w.starts.turn.lock().await;
    // Whoever had the turn before us may have marked ours with theirs.
    if let Ok(answer) = rx.try_recv() {
        return answer.map_err(DbErr::Custom);
    }
    let asks = std::mem::take(&mut *w.starts.asks.lock().unwrap_or_else(|e| e.into_inner()));
    let ids: Vec<i64> = asks.iter().map(|a| a.0).collect();
    let lease_until = asks.iter().map(|a| a.1).max().unwrap_or(renewed) + w.lease;
    let q = Query::update()
        .table(message::Entity)
        .value(message::Column::SendStartedAt, Utc::now())
        .value(message::Column::LeaseUntil, lease_until)
        .and_where(message::Column::Id.is_in(ids))
        .and_where(message::Column::State.eq(MessageState::Sending))
        .and_where(message::Column::LeaseOwner.eq(w.owner.as_str()))
        .returning_col(message::Column::Id)
        .to_owned();
    let ours: Result<Vec<i64>, DbErr> = async {
        w.db.query_all(w.db.get_database_backend().build(&q))
            .await?
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect()
    }
    .await;
    for (id, _, tx) in asks {
        let _ = tx.send(ours.as_ref().map(|ours| ours.contains(&id)).map_err(|e| e.to_string()));
    }
    drop(turn);
    rx.await.map_err(|e| DbErr::Custom(e.to_string()))?.map_err(DbErr::Custom)
}

/// Gives an unstarted claim back (the process is stopping): waiting again,
/// as due as it was, and the claim not counted as an attempt.
async fn release(w: &Worker<'_>, m: &message::Model, now: DateTime<Utc>) -> Result<(), DbErr> {
    message::Entity::update_many()
        .col_expr(message::Column::State, Expr::value(MessageState::Pending))
        .col_expr(message::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(message::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(message::Column::Attempts, Expr::col(message::Column::Attempts).sub(1))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(m.id))
        .filter(message::Column::State.eq(MessageState::Sending))
        .filter(message::Column::LeaseOwner.eq(w.owner.as_str()))
        .filter(message::Column::SendStartedAt.is_null())
        .exec(w.db)
        .await?;
    Ok(())
}

enum Sender<'a> {
    Sms(&'a super::transport::Twilio),
    Email(&'a super::transport::Smtp),
}

/// Counts a send in flight for as long as it lives.
struct InFlight;

impl InFlight {
    fn new() -> InFlight {
        metrics::gauge!("kept_sends_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("kept_sends_in_flight").decrement(1.0);
    }
}

/// What to do with one claimed message, decided from the claim alone
/// (nothing is read or written to decide it).
enum Decision<'a> {
    /// Overtaken before it could be sent.
    Supersede,
    /// The customer opted out or cannot receive this channel.
    Suppress,
    /// No provider configured for its channel.
    NoProvider,
    /// No zone to keep quiet hours in: fails naming why.
    NoZone(String),
    /// Inside quiet hours: waits until then.
    Hold(DateTime<Utc>),
    Send(Sender<'a>),
}

fn decide<'a>(w: &Worker<'a>, batch: &Batch, m: &message::Model, now: DateTime<Utc>) -> Decision<'a> {
    let channel = m.channel;
    let cust = m.customer_id.and_then(|id| batch.customers.get(&id));
    if m.expires_at.is_some_and(|e| e <= now) {
        return Decision::Supersede;
    }
    if let Some(c) = cust {
        let blocked = match channel {
            Channel::Sms => c.sms_opted_out || c.sms_problem.is_some(),
            Channel::Email => c.email_opted_out || c.email_problem.is_some(),
        };
        if blocked {
            return Decision::Suppress;
        }
    }
    // Without a provider there is nothing to hold for: say so at once.
    let transports = w.transports;
    let sender = match (channel, &transports.twilio, &transports.smtp) {
        (Channel::Sms, Some(t), _) => Sender::Sms(t),
        (Channel::Email, _, Some(s)) => Sender::Email(s),
        _ => return Decision::NoProvider,
    };
    let exempt = m.quiet_hours_exempt_until.is_some_and(|until| now <= until);
    if channel == Channel::Sms && !exempt {
        // Quiet hours are the customer's (a staff member's text: the
        // office's). A stored zone that is not one is a broken invariant:
        // the message fails naming it rather than go out at the wrong hour.
        let zone = match (cust, batch.orgs.get(&m.organization_id)) {
            (Some(c), _) => crate::error::stored_zone(&c.timezone, format_args!("customer {}", c.id)),
            (None, Some(o)) => crate::error::stored_zone(&o.timezone, format_args!("organization {}", o.id)),
            (None, None) => Ok(Zone(chrono_tz::UTC)),
        };
        let zone = match zone {
            Ok(z) => z,
            Err(e) => return Decision::NoZone(e.to_string()),
        };
        if let Some(org) = batch.orgs.get(&m.organization_id) {
            if let (Ok(start), Ok(end)) = (parse_time(&org.quiet_hours_start), parse_time(&org.quiet_hours_end)) {
                let open = QuietHours { start, end }.next_allowed(zone, now);
                if open > now {
                    return Decision::Hold(open);
                }
            }
        }
    }
    Decision::Send(sender)
}

/// A claimed message with what to do with it and, for a text, the sending
/// moment reserved for it.
struct Prepared<'a> {
    m: message::Model,
    decision: Decision<'a>,
    slot: Option<i64>,
}

/// Decides every claimed message and reserves, in one statement, a pace
/// slot for each text that is to go: the shared pace costs one statement
/// per claim, not per send.
async fn prepare<'a>(
    w: &Worker<'a>,
    batch: &Batch,
    claimed: Vec<message::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Prepared<'a>>, DbErr> {
    let mut prepared: Vec<Prepared<'a>> =
        claimed.into_iter().map(|m| Prepared { decision: decide(w, batch, &m, now), m, slot: None }).collect();
    let texts = prepared.iter().filter(|p| matches!(p.decision, Decision::Send(Sender::Sms(_)))).count();
    if texts > 0 {
        let slots = w.transports.sms_pacer.take_many(w.db, super::transport::now_us(), texts).await?;
        let texts = prepared.iter_mut().filter(|p| matches!(p.decision, Decision::Send(Sender::Sms(_))));
        for (i, p) in texts.enumerate() {
            p.slot = Some(slots.at(i));
        }
    }
    Ok(prepared)
}

/// Deals with one claimed message as decided: supersede, suppress, hold,
/// or send it (at its reserved moment) and record what the provider said.
async fn deliver_one(
    w: &Worker<'_>,
    batch: &Batch,
    p: Prepared<'_>,
    now: DateTime<Utc>,
    claimed_at: std::time::Instant,
) -> Result<DeliveryReport, DbErr> {
    let mut report = DeliveryReport::default();
    let Prepared { m, decision, slot } = p;
    let channel = m.channel;
    let transports = w.transports;
    let sender = match decision {
        Decision::Send(sender) => sender,
        Decision::Supersede => {
            finish(w, batch, &m, MessageState::Superseded, now, |q| {
                q.col_expr(message::Column::LastError, Expr::value("overtaken before it could be sent"))
            })
            .await?;
            report.superseded += 1;
            return Ok(report);
        }
        Decision::Suppress => {
            finish(w, batch, &m, MessageState::Suppressed, now, |q| {
                q.col_expr(
                    message::Column::LastError,
                    Expr::value("the customer opted out or cannot receive this channel"),
                )
            })
            .await?;
            report.suppressed += 1;
            return Ok(report);
        }
        Decision::NoProvider => {
            finish(w, batch, &m, MessageState::NoProvider, now, |q| {
                q.col_expr(
                    message::Column::LastError,
                    Expr::value(format!("not sent: no {} provider configured", m.channel)),
                )
            })
            .await?;
            report.no_provider += 1;
            return Ok(report);
        }
        Decision::NoZone(e) => {
            tracing::error!(message = m.id, error = %e, "not sent: no zone to keep quiet hours in");
            finish(w, batch, &m, MessageState::Failed, now, |q| {
                q.col_expr(message::Column::LastError, Expr::value(format!("not sent: {e}")))
            })
            .await?;
            report.failed += 1;
            return Ok(report);
        }
        Decision::Hold(open) => {
            // Held, not dropped; and holding is not an attempt.
            finish(w, batch, &m, MessageState::Held, now, |q| {
                q.col_expr(message::Column::NextAttemptAt, Expr::value(open))
                    .col_expr(message::Column::Attempts, Expr::col(message::Column::Attempts).sub(1))
            })
            .await?;
            report.held += 1;
            return Ok(report);
        }
    };
    // A send that started under a worker that then died: ask before sending again.
    if let (Some(started), Sender::Sms(t)) = (m.send_started_at, &sender) {
        match t.find_sent(&m.recipient, &m.body_text, started).await {
            Lookup::Found { provider_id } => {
                tracing::info!(message_id = m.id, %provider_id, "found at Twilio after its worker stopped; not resent");
                finish(w, batch, &m, MessageState::Sent, now, |q| {
                    q.col_expr(message::Column::ProviderId, Expr::value(provider_id))
                        .col_expr(message::Column::SentAt, Expr::value(started))
                        .col_expr(message::Column::LastError, Expr::value(Option::<String>::None))
                })
                .await?;
                report.sent += 1;
                report.recovered += 1;
                return Ok(report);
            }
            Lookup::NotFound => {
                tracing::info!(message_id = m.id, "not at Twilio after its worker stopped; sending");
            }
            Lookup::Unreachable(why) => {
                tracing::warn!(message_id = m.id, %why, "its worker stopped mid-send and Twilio could not be asked");
                finish(w, batch, &m, MessageState::Uncertain, now, |q| {
                    q.col_expr(
                        message::Column::LastError,
                        Expr::value(format!(
                            "the process sending it stopped mid-send and we could not ask Twilio whether it arrived: {why}"
                        )),
                    )
                })
                .await?;
                report.uncertain += 1;
                return Ok(report);
            }
        }
    }
    if let Sender::Sms(_) = sender {
        // The pace is shared by every replica (the claim reserved this
        // text's moment); stopping cuts the wait short.
        let wait = async {
            match slot {
                Some(at) => {
                    super::transport::sleep_until_us(at).await;
                    Ok(at)
                }
                None => transports.sms_pacer.wait(w.db).await,
            }
        };
        let waited = tokio::select! {
            slot = wait => Some(slot?),
            _ = w.stopped() => None,
        };
        if waited.is_none() {
            release(w, &m, now).await?;
            report.released += 1;
            return Ok(report);
        }
    }
    if w.stopping() {
        release(w, &m, now).await?;
        report.released += 1;
        return Ok(report);
    }
    // The lease runs on the claim's clock; the provider's list on the wall clock.
    let renewed = now + Duration::from_std(claimed_at.elapsed()).unwrap_or_default();
    if !start(w, &m, renewed).await? {
        tracing::warn!(message_id = m.id, "another worker took this message over before it went; not sending");
        report.lost += 1;
        return Ok(report);
    }
    let channel_label = channel.to_string();
    metrics::histogram!("kept_claim_to_send_seconds", "channel" => channel_label.clone())
        .record(claimed_at.elapsed().as_secs_f64());
    let sending = std::time::Instant::now();
    let outcome = {
        let _in_flight = InFlight::new();
        match sender {
            Sender::Sms(t) => t.send(&m.recipient, &m.body_text).await,
            Sender::Email(s) => {
                s.send(m.id, &m.recipient, m.subject.as_deref().unwrap_or(""), &m.body_text, m.body_html.as_deref())
                    .await
            }
        }
    };
    let outcome_label = match &outcome {
        Outcome::Sent { .. } => "sent",
        Outcome::Transient(_) => "transient",
        Outcome::Permanent { .. } => "permanent",
        Outcome::Uncertain(_) => "uncertain",
        Outcome::Throttled(_) => "throttled",
    };
    metrics::histogram!(
        "kept_provider_latency_seconds",
        "channel" => channel_label.clone(),
        "outcome" => outcome_label
    )
    .record(sending.elapsed().as_secs_f64());
    match outcome {
        Outcome::Sent { provider_id } => {
            finish(w, batch, &m, MessageState::Sent, now, |q| {
                q.col_expr(message::Column::ProviderId, Expr::value(provider_id))
                    .col_expr(message::Column::SentAt, Expr::value(now))
                    .col_expr(message::Column::LastError, Expr::value(Option::<String>::None))
            })
            .await?;
            let waited = (Utc::now() - m.due_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("kept_due_to_sent_seconds", "channel" => channel_label).record(waited);
            report.sent += 1;
        }
        Outcome::Throttled(why) => {
            // Slow the sender for every replica; not an attempt, never a failure.
            if let Sender::Sms(_) = sender {
                transports.sms_pacer.push_back(w.db, THROTTLE_PAUSE).await?;
            }
            let again = truncate_to_second(now + Duration::seconds(1));
            tracing::warn!(message_id = m.id, %why, "the provider asked us to slow down; sending again shortly");
            finish(w, batch, &m, MessageState::Retry, now, |q| {
                q.col_expr(message::Column::NextAttemptAt, Expr::value(again))
                    .col_expr(message::Column::Attempts, Expr::col(message::Column::Attempts).sub(1))
                    .col_expr(message::Column::LastError, Expr::value(why))
            })
            .await?;
            report.throttled += 1;
        }
        Outcome::Transient(why) if m.attempts < MAX_ATTEMPTS => {
            let retry_at = truncate_to_second(now + backoff(m.attempts, rand::thread_rng().gen::<f64>()));
            tracing::warn!(message_id = m.id, attempt = m.attempts, %why, "delivery will be retried");
            finish(w, batch, &m, MessageState::Retry, now, |q| {
                q.col_expr(message::Column::NextAttemptAt, Expr::value(retry_at))
                    .col_expr(message::Column::LastError, Expr::value(why))
            })
            .await?;
            report.retried += 1;
        }
        Outcome::Transient(why) => {
            finish(w, batch, &m, MessageState::Failed, now, |q| {
                q.col_expr(
                    message::Column::LastError,
                    Expr::value(format!("gave up after {} attempts: {why}", m.attempts)),
                )
            })
            .await?;
            report.failed += 1;
        }
        Outcome::Permanent { reason, flag } => {
            tracing::warn!(message_id = m.id, %reason, "delivery failed permanently");
            if let (Some(flag), Some(cid)) = (&flag, m.customer_id) {
                crate::store::customers::flag(w.db, cid, channel, flag)
                    .await
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
            }
            finish(w, batch, &m, MessageState::Failed, now, |q| {
                q.col_expr(message::Column::LastError, Expr::value(reason))
            })
            .await?;
            report.failed += 1;
        }
        Outcome::Uncertain(why) => {
            tracing::warn!(message_id = m.id, %why, "delivery outcome unknown; not resending");
            finish(w, batch, &m, MessageState::Uncertain, now, |q| {
                q.col_expr(message::Column::LastError, Expr::value(why))
            })
            .await?;
            report.uncertain += 1;
        }
    }
    Ok(report)
}

/// One round: claim up to `limit` messages and deal with them, all at once.
pub async fn deliver_once(
    db: &Db,
    transports: &Transports,
    live: &Bus,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<DeliveryReport, DbErr> {
    let w = Worker { concurrency: limit.max(1) as usize, ..Worker::new(db, transports, live) };
    let claimed = claim_for(db, now, limit, w.lease, &w.owner).await?;
    let mut report = DeliveryReport { claimed: claimed.len(), ..Default::default() };
    if claimed.is_empty() {
        return Ok(report);
    }
    let batch = Batch::read(db, &claimed).await?;
    let prepared = prepare(&w, &batch, claimed, now).await?;
    let at = std::time::Instant::now();
    let mut sends: FuturesUnordered<_> = prepared.into_iter().map(|p| deliver_one(&w, &batch, p, now, at)).collect();
    while let Some(r) = sends.next().await {
        report.add(&r?);
    }
    Ok(report)
}

/// Delivers until nothing is due, with up to `w.concurrency` sends in
/// flight, claiming only as many rows as there is room for (in batches of
/// at least a quarter of the room, so claims stay few). `now` is asked
/// before each claim. Stops claiming when the worker is told to stop, and
/// returns once what is in flight has finished.
pub async fn drain_with(w: &Worker<'_>, clock: &dyn crate::clock::Clock) -> Result<DeliveryReport, DbErr> {
    let mut total = DeliveryReport::default();
    let mut sends = FuturesUnordered::new();
    // A claim must not wait out its lease for a pace slot: at most as many
    // SMS in flight as the pace sends in half a lease.
    let concurrency = match &w.transports.twilio {
        Some(_) => {
            let per_half_lease = w.transports.sms_pacer.rate() * w.lease.num_seconds() as f64 / 2.0;
            w.concurrency.min((per_half_lease.floor() as usize).max(1))
        }
        None => w.concurrency,
    };
    let refill = (concurrency / 4).max(1);
    let mut exhausted = false;
    // Bounded, so one run cannot go on forever when messages keep coming.
    let mut claims = 0;
    let mut first_error = None;
    let mut finished = Vec::new();
    // Something queued while this run is busy is claimed now, not after it.
    let mut bell = crate::messages::outbox::doorbell();
    bell.borrow_and_update();
    loop {
        let room = concurrency.saturating_sub(sends.len());
        if !exhausted && first_error.is_none() && !w.stopping() && (room >= refill || sends.is_empty()) && room > 0 {
            let now = clock.now();
            claims += 1;
            // The sends in flight keep moving while we claim: a send that
            // holds a pooled connection must be polled to give it back.
            let claimed = alongside(&mut sends, &mut finished, async {
                let claimed = claim_for(w.db, now, room as u64, w.lease, &w.owner).await?;
                let n = claimed.len();
                let prepared = if claimed.is_empty() {
                    None
                } else {
                    Some(match Batch::read(w.db, &claimed).await {
                        Ok(batch) => prepare(w, &batch, claimed, now).await.map(|p| (batch, p)),
                        Err(e) => Err(e),
                    })
                };
                Ok::<_, DbErr>((n, prepared))
            })
            .await;
            match claimed {
                Ok((n, prepared)) => {
                    if n < room || claims >= 100_000 {
                        exhausted = true;
                    }
                    total.claimed += n;
                    match prepared {
                        Some(Ok((batch, prepared))) => {
                            let batch = Arc::new(batch);
                            let at = std::time::Instant::now();
                            for p in prepared {
                                let batch = batch.clone();
                                sends.push(async move { deliver_one(w, &batch, p, now, at).await });
                            }
                        }
                        // The rows stay claimed; their lease brings them back.
                        Some(Err(e)) => first_error = Some(e),
                        None => {}
                    }
                }
                Err(e) => first_error = Some(e),
            }
        }
        if finished.is_empty() {
            tokio::select! {
                next = sends.next() => match next {
                    Some(r) => finished.push(r),
                    None if exhausted || w.stopping() || first_error.is_some() => break,
                    None => {}
                },
                _ = bell.changed(), if exhausted && !sends.is_empty() => exhausted = false,
            }
        }
        for r in finished.drain(..) {
            match r {
                Ok(r) => total.add(&r),
                Err(e) => {
                    tracing::error!(error = %e, "recording a delivery failed; the lease brings the message back");
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Runs `fut` while polling `sends`, keeping what they finish in `finished`.
async fn alongside<S, F>(sends: &mut S, finished: &mut Vec<S::Item>, fut: F) -> F::Output
where
    S: futures_util::Stream + Unpin,
    F: std::future::Future,
{
    let mut fut = std::pin::pin!(fut);
    let mut sends_done = false;
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            next = sends.next(), if !sends_done => match next {
                Some(r) => finished.push(r),
                None => sends_done = true,
            },
        }
    }
}

/// The next moment something becomes claimable: the earliest waiting
/// message's next attempt, or the earliest lease to run out (a replica that
/// died mid-send). The delivery loop sleeps until then (at most a minute).
pub async fn next_due(db: &Db) -> Result<Option<DateTime<Utc>>, DbErr> {
    use MessageState::{Held, Pending, Retry, Sending};
    let backend = db.get_database_backend();
    let (waiting, leased) = match backend {
        DatabaseBackend::Postgres => (
            "SELECT MIN(next_attempt_at) AS t FROM messages WHERE state IN ($1, $2, $3)",
            "SELECT MIN(lease_until) AS t FROM messages WHERE state = $1",
        ),
        _ => (
            "SELECT MIN(next_attempt_at) AS t FROM messages WHERE state IN (?, ?, ?)",
            "SELECT MIN(lease_until) AS t FROM messages WHERE state = ?",
        ),
    };
    let mut soonest: Option<DateTime<Utc>> = None;
    let queries = [
        Statement::from_sql_and_values(backend, waiting, [Pending.into(), Retry.into(), Held.into()]),
        Statement::from_sql_and_values(backend, leased, [Sending.into()]),
    ];
    for q in queries {
        if let Some(row) = db.query_one(q).await? {
            if let Some(t) = row.try_get::<Option<DateTime<Utc>>>("", "t")? {
                soonest = Some(soonest.map_or(t, |s| s.min(t)));
            }
        }
    }
    Ok(soonest)
}

/// Delivers until nothing is due, with the default concurrency and lease.
pub async fn drain(
    db: &Db,
    transports: &Transports,
    live: &Bus,
    clock: &dyn crate::clock::Clock,
) -> Result<DeliveryReport, DbErr> {
    drain_with(&Worker::new(db, transports, live), clock).await
}
