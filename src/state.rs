//! What every handler can reach: the database, the notifier's context, the
//! limits, the clock and the settings. Built by `startup`, read by the HTTP
//! layers; it names nothing above it.

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub notify: crate::notify::NotifyCtx,
    pub transports: Arc<crate::notify::transport::Transports>,
    /// Keep one process from planning (or delivering) twice at once.
    pub plan_lock: Arc<tokio::sync::Mutex<()>>,
    pub deliver_lock: Arc<tokio::sync::Mutex<()>>,
    pub limits: Arc<crate::limits::RateLimiter>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// The page templates, compiled once at build.
    pub pages: Arc<crate::pages::Pages>,
    /// Rendered pages kept for a moment (the board).
    pub page_cache: Arc<crate::pages::PageCache>,
}

/// Extractors that need only the database (`auth::Caller`) take it from here.
impl axum::extract::FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Db {
        state.db.clone()
    }
}

impl AppState {
    /// The notifier's share of the state.
    pub fn notifier(&self) -> crate::notify::Notifier {
        crate::notify::Notifier {
            db: self.db.clone(),
            notify: self.notify.clone(),
            transports: self.transports.clone(),
            plan_lock: self.plan_lock.clone(),
            deliver_lock: self.deliver_lock.clone(),
            clock: self.clock.clone(),
            concurrency: self.settings.delivery_concurrency,
            lease: chrono::Duration::seconds(self.settings.delivery_lease_secs as i64),
        }
    }
}
