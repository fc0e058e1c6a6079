//! Building the application from settings and serving it on a listener.

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db;
use crate::state::AppState;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A migrated database and a bound listener, ready to serve.
pub struct Application {
    pub state: AppState,
    listener: TcpListener,
    /// Held while serving a SQLite file, so `kept restore` waits for us to stop.
    _server_lock: Option<crate::backup::ServerLock>,
}

impl Application {
    /// Connects, migrates, and binds `settings.listen` (port 0 picks a free
    /// port). A message or page template that does not compile stops it
    /// here, naming the template and the line.
    pub async fn build(settings: Settings) -> Result<Application, Box<dyn std::error::Error + Send + Sync>> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, Box<dyn std::error::Error + Send + Sync>> {
        // Before anything is touched: the pages are part of the binary.
        let pages = crate::pages::Pages::load()?;
        crate::telemetry::install();
        let server_lock = crate::backup::ServerLock::take(&settings.database_url)?;
        let db = db::connect(&settings.database_url, settings.db_max_connections).await?;
        db::migrate(&db).await?;
        let templates = crate::messages::templates::Templates::load(settings.templates_dir.as_deref())?;
        // On PostgreSQL, events arrive through LISTEN (ours and other replicas').
        let live = crate::live::Bus::new();
        if db.backend() == sea_orm::DbBackend::Postgres {
            live.listen(&settings.database_url).await?;
        }
        let notify =
            crate::notify::NotifyCtx { templates: Arc::new(templates), public_url: settings.public_url.clone(), live };
        let transports = Arc::new(crate::notify::transport::Transports::from_settings(&settings)?);
        let listener = TcpListener::bind(settings.listen).await?;
        let page_cache =
            Arc::new(crate::pages::PageCache::new(std::time::Duration::from_millis(settings.page_cache_ms)));
        Ok(Application {
            state: AppState {
                db,
                notify,
                transports,
                plan_lock: Arc::new(tokio::sync::Mutex::new(())),
                deliver_lock: Arc::new(tokio::sync::Mutex::new(())),
                limits: Arc::new(crate::limits::RateLimiter::new(clock.clone())),
                clock,
                settings: Arc::new(settings),
                pages: Arc::new(pages),
                page_cache,
            },
            listener,
            _server_lock: server_lock,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.settings.listen)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests
    /// and sends. The notifier's minute tick and the delivery loop run
    /// alongside unless `KEPT_NOTIFIER=off`; `/metrics` is served on
    /// `KEPT_METRICS_LISTEN` too when it is set.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut scheduler = None;
        let mut delivery = None;
        if self.state.settings.notifier_enabled {
            if self.state.db.backend() == sea_orm::DbBackend::Postgres {
                crate::notify::wake::listen(&self.state.settings.database_url, stopping.clone())
                    .await
                    .map_err(std::io::Error::other)?;
            }
            delivery = Some(crate::notify::spawn_delivery(self.state.notifier(), stopping.clone()));
            scheduler =
                Some(crate::notify::start_scheduler(self.state.notifier()).await.map_err(std::io::Error::other)?);
        }
        let metrics_server = match self.state.settings.metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await?;
                tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "serving /metrics");
                let app = crate::telemetry::private_router(self.state.settings.metrics_token.clone());
                let mut stopping = stopping.clone();
                Some(tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopping.wait_for(|s| *s).await;
                        })
                        .await
                }))
            }
            None => None,
        };
        // In-flight sends end within the provider's timeout; the lease bounds the wait.
        let drain_limit = std::time::Duration::from_secs(self.state.settings.delivery_lease_secs + 5);
        let checkpoints = {
            let db = self.state.db.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if let Err(e) = db.checkpoint().await {
                        tracing::warn!("checkpointing the write-ahead log failed: {e}");
                    }
                }
            })
        };
        // Open event streams end when shutdown begins, or they would hold it up.
        let live = self.state.notify.live.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("stopping: no new claims; finishing the requests and sends in flight");
            let _ = stop.send(true);
            live.close();
        };
        let app = crate::routes::router(self.state);
        // The peer address feeds the abuse limits.
        let served = axum::serve(self.listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(mut s) = scheduler {
            let _ = s.shutdown().await;
        }
        if let Some(d) = delivery {
            if tokio::time::timeout(drain_limit, d).await.is_err() {
                tracing::error!("sends still in flight after {}s; stopping anyway", drain_limit.as_secs());
            }
        }
        if let Some(m) = metrics_server {
            m.abort();
        }
        checkpoints.abort();
        served
    }
}
