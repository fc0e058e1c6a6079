//! Customers' private links: a random token, stored as a hash, scoped to one job.

use crate::entities::{customer_link, job};
use crate::error::Error;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// A link stops working this long after its job was closed. Links are
/// never deleted for it: the office can reopen a closed job, and its links
/// work again.
pub const EXPIRES_AFTER_CLOSE: i64 = 30;

/// The link row of `token`, if it is one of ours (live or expired).
async fn link_of<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<customer_link::Model>, Error> {
    if token.len() != 40 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(customer_link::Entity::find()
        .filter(customer_link::Column::TokenHash.eq(crate::domain::tokens::hash_token(token)))
        .one(db)
        .await?)
}

/// The company whose link `token` is, live or expired (a notice that the
/// link no longer works still says whose it was); none for a token that
/// was never ours.
pub async fn organization_for_token<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<i64>, Error> {
    Ok(link_of(db, token).await?.map(|l| l.organization_id))
}

/// The job a token opens, or nothing if the token is unknown, malformed or expired.
pub async fn job_for_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<job::Model>, Error> {
    let Some(link) = link_of(db, token).await? else { return Ok(None) };
    let Some(j) = job::Entity::find_by_id(link.job_id)
        .filter(job::Column::OrganizationId.eq(link.organization_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let closed = !j.status.is_open();
    if closed && now - j.updated_at > Duration::days(EXPIRES_AFTER_CLOSE) {
        return Ok(None);
    }
    Ok(Some(j))
}
