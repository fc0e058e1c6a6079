//! Instant delivery: the delivery loop sleeps until the outbox's doorbell
//! rings (`messages::outbox::announce`, called as messages are queued) or
//! the minute tick comes round, whichever is first. On PostgreSQL the
//! announcement is a `pg_notify` on [`WAKE_CHANNEL`] delivered at commit to
//! every replica; this module's one listener per process rings the
//! process's doorbell when one arrives (and when it reconnects, in case one
//! was missed).

pub use crate::messages::outbox::{announce, doorbell, ring, WAKE_CHANNEL};
use sqlx::postgres::PgListener;
use std::time::Duration;

/// LISTENs on [`WAKE_CHANNEL`] at `url` (an error here stops startup), then
/// rings the doorbell for each notification until `stop` turns true.
pub async fn listen(url: &str, mut stop: tokio::sync::watch::Receiver<bool>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(WAKE_CHANNEL).await?;
    let url = url.to_string();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => {}
            _ = relay(listener, &url) => {}
        }
    });
    Ok(())
}

async fn relay(mut listener: PgListener, url: &str) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => ring(),
            // Reconnected by sqlx: something may have been missed.
            Ok(None) => ring(),
            Err(e) => {
                tracing::warn!(error = %e, "the outbox listener lost its connection; reconnecting");
                let mut wait = Duration::from_millis(250);
                listener = loop {
                    tokio::time::sleep(wait).await;
                    match PgListener::connect(url).await {
                        Ok(mut l) => match l.listen(WAKE_CHANNEL).await {
                            Ok(()) => break l,
                            Err(e) => tracing::warn!(error = %e, "the outbox listener could not LISTEN; retrying"),
                        },
                        Err(e) => tracing::warn!(error = %e, "the outbox listener could not reconnect; retrying"),
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                };
                ring();
            }
        }
    }
}
