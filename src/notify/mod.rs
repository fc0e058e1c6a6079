//! The notifier: what to tell customers and when (planner), the outbox,
//! and delivery over SMTP and Twilio (worker, transports).

pub mod alerts;
pub mod changes;
pub mod compose;
pub mod events;
pub mod ledger;
pub mod outbox;
pub mod planner;
pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;

/// What code that enqueues messages needs: the templates and the public URL
/// that customer links are built on.
#[derive(Clone)]
pub struct NotifyCtx {
    pub templates: Arc<templates::Templates>,
    pub public_url: String,
}

use crate::startup::AppState;

/// Plans what is due now, unless a planning run is already going in this process.
pub async fn plan(state: &AppState) -> Result<planner::TickReport, crate::error::ApiError> {
    let Ok(_guard) = state.plan_lock.try_lock() else {
        tracing::debug!("previous planning run still going; skipping");
        return Ok(Default::default());
    };
    planner::tick(&state.db, &state.notify, state.clock.now()).await
}

/// Delivers what is due, unless a delivery run is already going in this
/// process (other processes are kept apart by row claims).
pub async fn deliver(state: &AppState) -> Result<worker::DeliveryReport, crate::error::ApiError> {
    let Ok(_guard) = state.deliver_lock.try_lock() else {
        tracing::debug!("previous delivery run still going; skipping");
        return Ok(Default::default());
    };
    Ok(worker::drain(&state.db, &state.transports, state.clock.as_ref()).await?)
}

/// One tick: plan, then deliver. The cron runs the two side by side instead,
/// so slow delivery (SMS pacing) never delays the next minute's planning.
pub async fn run_tick(
    state: &AppState,
) -> Result<(planner::TickReport, worker::DeliveryReport), crate::error::ApiError> {
    let planned = plan(state).await?;
    let mut delivered = deliver(state).await?;
    // After delivery, so update slots are judged on what actually went out;
    // apologies the watch queues go out in the same tick.
    ledger::watch(&state.db, &state.notify, state.clock.now()).await?;
    delivered.add(&deliver(state).await?);
    Ok((planned, delivered))
}

fn spawn_minute(state: &AppState) {
    let s = state.clone();
    tokio::spawn(async move {
        match plan(&s).await {
            Ok(r) if r != planner::TickReport::default() => tracing::info!(planned = ?r, "notifier planned"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notifier planning failed"),
        }
        match ledger::watch(&s.db, &s.notify, s.clock.now()).await {
            Ok(r) if r != ledger::WatchReport::default() => tracing::info!(ledger = ?r, "promises watched"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "watching promises failed"),
        }
        // Deliver right after planning, so new messages do not wait a minute.
        match deliver(&s).await {
            Ok(r) if r.claimed > 0 => tracing::info!(delivered = ?r, "notifier delivered"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notifier delivery failed"),
        }
    });
}

/// Starts the cron scheduler that plans and delivers every minute (and once now).
pub async fn start_scheduler(
    state: AppState,
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
