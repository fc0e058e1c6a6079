//! The notifier: what to tell customers and when (planner), the outbox,
//! and delivery over SMTP and Twilio (worker, transports).

pub mod ledger;
pub mod planner;
pub mod transport;
pub mod worker;

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
}

/// Plans what is due now, unless a planning run is already going in this process.
pub async fn plan(state: &Notifier) -> Result<planner::TickReport, crate::error::Error> {
    let Ok(_guard) = state.plan_lock.try_lock() else {
        tracing::debug!("previous planning run still going; skipping");
        return Ok(Default::default());
    };
    planner::tick(&state.db, &state.notify, state.clock.now()).await
}

/// Delivers what is due, unless a delivery run is already going in this
/// process (other processes are kept apart by row claims).
pub async fn deliver(state: &Notifier) -> Result<worker::DeliveryReport, crate::error::Error> {
    let Ok(_guard) = state.deliver_lock.try_lock() else {
        tracing::debug!("previous delivery run still going; skipping");
        return Ok(Default::default());
    };
    Ok(worker::drain(&state.db, &state.transports, &state.notify.live, state.clock.as_ref()).await?)
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

/// Deletes expired sessions and used or expired reset links; returns how many.
pub async fn clean_up(state: &Notifier) -> Result<u64, crate::error::Error> {
    crate::store::sessions::delete_expired(&state.db, state.clock.now()).await
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
        match ledger::watch(&s.db, &s.notify, s.clock.now()).await {
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
        // Deliver right after planning, so new messages do not wait a minute.
        match deliver(&s).await {
            Ok(r) => parts.push(counts(
                "delivered",
                &[
                    ("claimed", r.claimed),
                    ("sent", r.sent),
                    ("not sent (no provider)", r.no_provider),
                    ("held", r.held),
                    ("retried", r.retried),
                    ("failed", r.failed),
                    ("uncertain", r.uncertain),
                    ("superseded", r.superseded),
                    ("suppressed", r.suppressed),
                ],
            )),
            Err(e) => {
                failed = true;
                parts.push(format!("delivery failed: {e}"));
            }
        }
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
