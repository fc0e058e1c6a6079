//! The notifier: what to tell customers and when (planner), the outbox,
//! and delivery over SMTP and Twilio (worker, transports).

pub mod ledger;
pub mod planner;
pub mod transport;
pub mod wake;
pub mod worker;

/// Wakes delivery now, in this process and (on PostgreSQL, at commit) in
/// every replica: call it after writing outbox rows other than through
/// `messages::outbox::enqueue`, which calls it itself.
pub use crate::messages::outbox::announce as wake;

pub use crate::messages::NotifyCtx;

use crate::clock::Clock;
use crate::db::Db;
use std::sync::Arc;

/// What the notifier's runs need (and nothing of HTTP): the database, the
/// templates, the transports, the clock, and the locks that keep one process
/// from planning or delivering twice at once. Built by `startup`.
#[derive(Clone)]
pub struct Notifier {
    pub db: Db,
    pub notify: NotifyCtx,
    pub transports: Arc<transport::Transports>,
    pub plan_lock: Arc<tokio::sync::Mutex<()>>,
    pub deliver_lock: Arc<tokio::sync::Mutex<()>>,
    pub clock: Arc<dyn Clock>,
    /// Sends in flight at most (`KEPT_DELIVERY_CONCURRENCY`).
    pub concurrency: usize,
    /// How long a claim lasts (`KEPT_DELIVERY_LEASE_SECS`).
    pub lease: chrono::Duration,
}

/// The advisory lock keys of the runs one replica does for all: planning
/// and the ledger watch ("kept" and a number, so they are easy to spot in
/// `pg_locks`).
const PLAN_LOCK: i64 = 0x6b65_7074_0001;
const WATCH_LOCK: i64 = 0x6b65_7074_0002;

/// Runs `run` only if this replica holds `key` (PostgreSQL's
/// `pg_try_advisory_xact_lock`, held by a transaction that stays open for
/// the run and ends with it, so a dead replica's lock goes with its
/// connection); another replica already running it means nothing to do
/// here. On SQLite `run` simply runs (one process serves a file; the
/// dedupe keys stay the last line either way).
async fn as_leader<T: Default>(
    db: &Db,
    key: i64,
    run: impl std::future::Future<Output = Result<T, crate::error::Error>>,
) -> Result<T, crate::error::Error> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if db.backend() != DbBackend::Postgres {
        return run.await;
    }
    let txn = db.begin().await?;
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS got",
            [key.into()],
        ))
        .await?;
    let got: bool = row.map(|r| r.try_get("", "got")).transpose()?.unwrap_or(false);
    if !got {
        txn.rollback().await?;
        tracing::debug!("another replica is running this; skipping");
        return Ok(T::default());
    }
    let result = run.await;
    txn.commit().await?;
    result
}

/// Plans what is due now, unless a planning run is already going in this process.
pub async fn plan(state: &Notifier) -> Result<planner::TickReport, crate::error::Error> {
    let Ok(_guard) = state.plan_lock.try_lock() else {
        tracing::debug!("previous planning run still going; skipping");
        return Ok(Default::default());
    };
    let started = std::time::Instant::now();
    let report = as_leader(&state.db, PLAN_LOCK, planner::tick(&state.db, &state.notify, state.clock.now())).await?;
    metrics::histogram!("kept_tick_duration_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("kept_tick_rows_planned_total").increment(report.status_updates + report.reminders);
    Ok(report)
}

/// Watches the ledger (`ledger::watch`), on one replica at a time.
pub async fn watch(state: &Notifier) -> Result<ledger::WatchReport, crate::error::Error> {
    as_leader(&state.db, WATCH_LOCK, ledger::watch(&state.db, &state.notify, state.clock.now())).await
}

/// This process's delivery run with its settings (concurrency, lease),
/// stopping when `stop` turns true.
fn worker<'a>(state: &'a Notifier, stop: Option<tokio::sync::watch::Receiver<bool>>) -> worker::Worker<'a> {
    worker::Worker {
        concurrency: state.concurrency,
        lease: state.lease,
        stop,
        ..worker::Worker::new(&state.db, &state.transports, &state.notify.live)
    }
}

/// Delivers what is due, unless a delivery run is already going in this
/// process (other processes are kept apart by row claims).
pub async fn deliver(state: &Notifier) -> Result<worker::DeliveryReport, crate::error::Error> {
    let Ok(_guard) = state.deliver_lock.try_lock() else {
        tracing::debug!("previous delivery run still going; skipping");
        return Ok(Default::default());
    };
    Ok(worker::drain_with(&worker(state, None), state.clock.as_ref()).await?)
}

/// The delivery loop of `kept serve`: delivers whenever the outbox's
/// doorbell rings (a message was queued, here or in another replica) and at
/// least every minute, until `stop` turns true; then claims nothing more,
/// finishes the sends in flight, gives back what had not started, and ends.
pub fn spawn_delivery(state: Notifier, mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut bell = wake::doorbell();
        loop {
            bell.borrow_and_update();
            if *stop.borrow() {
                break;
            }
            let run = {
                let _guard = state.deliver_lock.lock().await;
                worker::drain_with(&worker(&state, Some(stop.clone())), state.clock.as_ref()).await
            };
            let pause = match run {
                Ok(r) => {
                    let line = delivered(&r);
                    if !line.is_empty() {
                        tracing::info!("{line}");
                    }
                    None
                }
                Err(e) => {
                    tracing::error!("delivery failed: {e}");
                    Some(std::time::Duration::from_secs(1))
                }
            };
            if *stop.borrow() {
                break;
            }
            // Until the doorbell rings, or a retry, a held message or a dead
            // replica's lease comes due, or a minute has passed.
            let minute = std::time::Duration::from_secs(60);
            let sleep = match pause {
                Some(p) => p,
                None => match worker::next_due(&state.db).await {
                    Ok(Some(at)) => (at - state.clock.now())
                        .to_std()
                        .unwrap_or_default()
                        .clamp(std::time::Duration::from_millis(250), minute),
                    Ok(None) => minute,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not tell when delivery is next due");
                        minute
                    }
                },
            };
            tokio::select! {
                _ = bell.changed() => {}
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("delivery stopped");
    })
}

/// `delivered 8 claimed, 8 sent`: the non-zero counts of a run, or "".
fn delivered(r: &worker::DeliveryReport) -> String {
    counts(
        "delivered",
        &[
            ("claimed", r.claimed),
            ("sent", r.sent),
            ("not sent (no provider)", r.no_provider),
            ("held", r.held),
            ("retried", r.retried),
            ("throttled", r.throttled),
            ("failed", r.failed),
            ("uncertain", r.uncertain),
            ("superseded", r.superseded),
            ("suppressed", r.suppressed),
            ("found sent after a crash", r.recovered),
            ("given back at shutdown", r.released),
            ("taken over", r.lost),
        ],
    )
}

/// Delivers what is due now for a change someone is waiting on (a crew's
/// apology): unlike [`deliver`], a delivery run already going in this
/// process is waited for, not skipped, so the new rows are not left for
/// the next minute.
pub async fn deliver_now(state: &Notifier) -> Result<worker::DeliveryReport, crate::error::Error> {
    let _guard = state.deliver_lock.lock().await;
    Ok(worker::drain(&state.db, &state.transports, &state.notify.live, state.clock.as_ref()).await?)
}

/// Starts [`deliver_now`] and waits for it at most `wait`; past that it
/// goes on in the background (a slow provider must not hold the tap).
pub async fn wake_delivery(state: Notifier, wait: std::time::Duration) {
    let run = tokio::spawn(async move {
        if let Err(e) = deliver_now(&state).await {
            tracing::error!("delivering at once failed (the next tick retries): {e}");
        }
    });
    if tokio::time::timeout(wait, run).await.is_err() {
        tracing::info!("delivery goes on in the background");
    }
}

/// One tick: plan, then deliver. The cron runs the two side by side instead,
/// so slow delivery (SMS pacing) never delays the next minute's planning.
pub async fn run_tick(state: &Notifier) -> Result<(planner::TickReport, worker::DeliveryReport), crate::error::Error> {
    let planned = plan(state).await?;
    let mut delivered = deliver(state).await?;
    // After delivery, so update slots are judged on what actually went out;
    // apologies the watch queues go out in the same tick.
    ledger::watch(&state.db, &state.notify, state.clock.now()).await?;
    delivered.add(&deliver(state).await?);
    clean_up(state).await?;
    Ok((planned, delivered))
}

/// Deletes expired sessions and used or expired reset links, and the
/// update slots whose promises are all recorded and that are over two days
/// old (only the current slot is ever asked about); returns how many.
pub async fn clean_up(state: &Notifier) -> Result<u64, crate::error::Error> {
    let now = state.clock.now();
    let sessions = crate::store::sessions::delete_expired(&state.db, now).await?;
    let slots = crate::store::update_slots::clear_settled(&state.db, now - chrono::Duration::days(2)).await?;
    Ok(sessions + slots)
}

fn spawn_minute(state: &Notifier) {
    let s = state.clone();
    tokio::spawn(async move {
        // One readable line per run: what was planned, watched, delivered and cleaned up.
        let started = std::time::Instant::now();
        let mut parts = Vec::new();
        let mut failed = false;
        match plan(&s).await {
            Ok(r) => parts.push(counts(
                "planned",
                &[
                    ("jobs", r.jobs_planned as usize),
                    ("status updates", r.status_updates as usize),
                    ("reminders", r.reminders as usize),
                ],
            )),
            Err(e) => {
                failed = true;
                parts.push(format!("planning failed: {e}"));
            }
        }
        match watch(&s).await {
            Ok(r) => parts.push(counts(
                "promises",
                &[
                    ("at risk", r.at_risk as usize),
                    ("broken", r.broken as usize),
                    ("apologies", r.apologies as usize),
                    ("updates decided", r.updates_decided as usize),
                ],
            )),
            Err(e) => {
                failed = true;
                parts.push(format!("watching promises failed: {e}"));
            }
        }
        // The delivery loop sends; the minute wakes it for retries and held
        // messages that came due.
        wake::ring();
        match clean_up(&s).await {
            Ok(0) => {}
            Ok(n) => parts.push(format!("cleaned {n} expired")),
            Err(e) => {
                failed = true;
                parts.push(format!("cleaning up failed: {e}"));
            }
        }
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let what = if parts.is_empty() { "nothing due".to_string() } else { parts.join("; ") };
        let parts_empty = parts.is_empty();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if failed {
            tracing::error!("notifier run: {what} ({ms:.1}ms)");
        } else if parts_empty {
            // A quiet minute is not worth a line at info (1,440 a day).
            tracing::debug!("notifier run: {what} ({ms:.1}ms)");
        } else {
            tracing::info!("notifier run: {what} ({ms:.1}ms)");
        }
    });
}

/// `delivered 8 claimed, 8 not sent (no provider)`: the non-zero counts, or "".
fn counts(label: &str, pairs: &[(&str, usize)]) -> String {
    let shown: Vec<String> = pairs.iter().filter(|(_, n)| *n > 0).map(|(what, n)| format!("{n} {what}")).collect();
    if shown.is_empty() {
        String::new()
    } else {
        format!("{label} {}", shown.join(", "))
    }
}

/// Starts the cron scheduler that plans and delivers every minute (and once now).
pub async fn start_scheduler(
    state: Notifier,
) -> Result<tokio_cron_scheduler::JobScheduler, tokio_cron_scheduler::JobSchedulerError> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let scheduler = JobScheduler::new().await?;
    let s = state.clone();
    scheduler
        .add(Job::new_async("0 * * * * *", move |_id, _lock| {
            spawn_minute(&s);
            Box::pin(async {})
        })?)
        .await?;
    scheduler.start().await?;
    spawn_minute(&state);
    Ok(scheduler)
}
