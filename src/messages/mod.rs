//! Drafting what we tell people and queueing it: templates rendered in the
//! recipient's zone (compose, templates), the transactional outbox and
//! customer links (outbox), and the messages a change causes (events,
//! changes, alerts). Everything here writes in the caller's transaction;
//! sending is the notifier's job (`crate::notify`).

pub mod alerts;
pub mod changes;
pub mod compose;
pub mod events;
pub mod news;
pub mod outbox;
pub mod templates;

use std::sync::Arc;

/// What code that enqueues messages needs: the templates and the public URL
/// that customer links are built on; and the live events bus, so the same
/// homes of each change can say it happened (`crate::live`).
#[derive(Clone)]
pub struct NotifyCtx {
    pub templates: Arc<templates::Templates>,
    pub public_url: String,
    pub live: crate::live::Bus,
}
