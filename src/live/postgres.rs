//! The one PostgreSQL listener per process: LISTEN on `kept_events`, hand
//! every notification to this process's subscribers, and reconnect when the
//! connection drops, telling subscribers to resync (what was sent while we
//! were away is gone).

use super::{Bus, LiveEvent, Received, CHANNEL};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;

/// The longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Connects and LISTENs (an error here stops startup), then relays in the
/// background until the bus is closed or dropped.
pub(super) async fn start(bus: &Bus, url: &str) -> Result<(), sqlx::Error> {
    let listener = connect(url).await?;
    let url = url.to_string();
    // Weak: a bus nobody holds any more (a stopped app) ends the task.
    let tx = bus.tx.downgrade();
    let changes = bus.changes.clone();
    let mut closed = bus.closed.subscribe();
    tokio::spawn(async move {
        tokio::select! {
            _ = closed.wait_for(|c| *c) => {}
            _ = relay(listener, &url, &tx, &changes) => {}
        }
    });
    Ok(())
}

async fn relay(
    mut listener: PgListener,
    url: &str,
    tx: &tokio::sync::broadcast::WeakSender<Received>,
    changes: &super::Changes,
) {
    // Sends to this process's subscribers; false once the bus is gone.
    let send = |received: Received| match tx.upgrade() {
        Some(sender) => {
            let _ = sender.send(received);
            true
        }
        None => false,
    };
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => match serde_json::from_str::<LiveEvent>(n.payload()) {
                Ok(event) => {
                    changes.bump(event.organization_id);
                    if !send(Received::Event(Arc::new(event))) {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "ignored a notification on {CHANNEL} that is not an event"),
            },
            // The connection dropped and sqlx has already reconnected.
            Ok(None) => {
                tracing::warn!("the live events listener reconnected; streams will resync");
                changes.bump_all();
                if !send(Received::Resync) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the live events listener lost its connection; reconnecting");
                let mut wait = Duration::from_millis(250);
                listener = loop {
                    if tx.upgrade().is_none() {
                        return;
                    }
                    tokio::time::sleep(wait).await;
                    match connect(url).await {
                        Ok(l) => break l,
                        Err(e) => {
                            tracing::warn!(error = %e, "the live events listener could not reconnect; retrying");
                            wait = (wait * 2).min(MAX_BACKOFF);
                        }
                    }
                };
                tracing::info!("the live events listener is back; streams will resync");
                changes.bump_all();
                if !send(Received::Resync) {
                    return;
                }
            }
        }
    }
}
