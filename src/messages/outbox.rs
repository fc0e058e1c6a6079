//! The outbox: every message is a row with a unique dedupe key, inserted
//! with ON CONFLICT DO NOTHING, so planning twice never sends twice.

use super::compose::Draft;
use crate::domain::messaging::MessageState;
use crate::entities::{customer_link, message};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

/// A job's private link, as a message carries it. Every message about a
/// job carries the same link; the first one makes it (`made`), and saving
/// that message saves the link ([`insert_links`]): the token on the job,
/// only its hash in `customer_links`, which is what a visit looks up.
pub struct Link {
    pub url: String,
    made: Option<Made>,
}

/// A link made for this message: its token and the token's hash.
struct Made {
    token: String,
    token_hash: String,
}

/// The link a message about `job` carries: the job's link, or a new one
/// when the job has none yet.
pub fn job_link(public_url: &str, job: &crate::entities::job::Model) -> Link {
    match &job.link_token {
        Some(token) => Link { url: format!("{public_url}/c/{token}"), made: None },
        None => new_link(public_url),
    }
}

fn new_link(public_url: &str) -> Link {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let token_hash = crate::domain::tokens::hash_token(&token);
    Link { url: format!("{public_url}/c/{token}"), made: Some(Made { token, token_hash }) }
}

fn row(org_id: i64, d: Draft, now: DateTime<Utc>) -> message::ActiveModel {
    let (state, last_error) = match d.blocked {
        Some(why) => (MessageState::Suppressed, Some(why)),
        None => (MessageState::Pending, None),
    };
    message::ActiveModel {
        organization_id: Set(org_id),
        job_id: Set(Some(d.job_id)),
        visit_id: Set(d.visit_id),
        customer_id: Set(Some(d.customer_id)),
        kind: Set(d.kind),
        channel: Set(d.channel),
        recipient: Set(d.recipient),
        subject: Set(d.subject),
        body_text: Set(d.body_text),
        body_html: Set(d.body_html),
        segments: Set(d.segments.map(|s| s.0)),
        encoding: Set(d.segments.map(|s| s.1)),
        dedupe_key: Set(d.dedupe_key),
        state: Set(state),
        due_at: Set(d.due_at),
        next_attempt_at: Set(d.due_at),
        expires_at: Set(d.expires_at),
        attempts: Set(0),
        lease_until: Set(None),
        provider_id: Set(None),
        last_error: Set(last_error),
        created_at: Set(now),
        updated_at: Set(now),
        sent_at: Set(None),
        ..Default::default()
    }
}

/// Inserts drafts, skipping any whose dedupe key exists; records the link
/// they carry if at least one was new. Returns how many were inserted.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    drafts: Vec<Draft>,
    link: Option<(&Link, i64)>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    if drafts.is_empty() {
        return Ok(0);
    }
    let inserted = message::Entity::insert_many(drafts.into_iter().map(|d| row(org_id, d, now)))
        .on_conflict(OnConflict::column(message::Column::DedupeKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted > 0 {
        if let Some((link, job_id)) = link {
            insert_links(db, org_id, &[(link, job_id)], now).await?;
        }
        announce(db).await?;
    }
    Ok(inserted)
}

/// The PostgreSQL channel that says "the outbox has something new".
pub const WAKE_CHANNEL: &str = "kept_outbox";

/// This process's doorbell: every delivery loop in the process watches it.
static DOORBELL: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Wakes the delivery loops in this process now (a spurious ring costs one
/// empty claim).
pub fn ring() {
    DOORBELL.send_modify(|n| *n = n.wrapping_add(1));
}

/// A delivery loop's view of the doorbell: `changed()` resolves after the next ring.
pub fn doorbell() -> tokio::sync::watch::Receiver<u64> {
    DOORBELL.subscribe()
}

/// Says, as part of `db`'s transaction (or statement), that messages were
/// queued, so they are delivered within a second instead of at the next
/// minute. [`enqueue`] calls it; code that writes outbox rows some other
/// way calls it after writing. On PostgreSQL it is a `pg_notify` delivered
/// at commit to every replica (the delivery loops LISTEN); on SQLite it
/// rings this process's doorbell at once: the woken worker's claim is a
/// write, so it waits for the enqueuing transaction's turn to end.
pub async fn announce<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            db.execute(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT pg_notify($1, '')",
                [WAKE_CHANNEL.into()],
            ))
            .await?;
        }
        _ => ring(),
    }
    Ok(())
}

pub async fn insert_links<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    links: &[(&Link, i64)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let made: Vec<(&Made, i64)> = links.iter().filter_map(|(l, job)| l.made.as_ref().map(|m| (m, *job))).collect();
    if made.is_empty() {
        return Ok(());
    }
    customer_link::Entity::insert_many(made.iter().map(|(m, job_id)| customer_link::ActiveModel {
        organization_id: Set(org_id),
        job_id: Set(*job_id),
        token_hash: Set(m.token_hash.clone()),
        created_at: Set(now),
        ..Default::default()
    }))
    .exec_without_returning(db)
    .await?;
    // The job keeps its first link: two messages that made one at the same
    // moment both work, and the next message carries the one kept.
    use crate::entities::job;
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut token = sea_orm::sea_query::CaseStatement::new();
    for (m, job_id) in &made {
        token = token.case(job::Column::Id.eq(*job_id), m.token.clone());
    }
    job::Entity::update_many()
        .col_expr(job::Column::LinkToken, token.into())
        .filter(job::Column::LinkToken.is_null())
        .filter(job::Column::Id.is_in(made.iter().map(|(_, job_id)| *job_id)))
        .exec(db)
        .await?;
    Ok(())
}
