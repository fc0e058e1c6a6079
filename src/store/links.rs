//! Customers' private links: a random token, stored as a hash, scoped to one job.

use crate::entities::{customer_link, job};
use crate::error::Error;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// A link stops working this long after its job was closed. Links are
/// never deleted for it: the office can reopen a closed job, and its links
/// work again.
pub const EXPIRES_AFTER_CLOSE: i64 = 30;

/// The job a token opens, or nothing if the token is unknown, malformed or expired.
pub async fn job_for_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<job::Model>, Error> {
    if token.len() != 40 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(link) = customer_link::Entity::find()
        .filter(customer_link::Column::TokenHash.eq(crate::domain::tokens::hash_token(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
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
