//! API tokens: random, shown once, stored as a SHA-256 hash, carrying a role;
//! and the staff session cookie read as the same `Caller` (for the few API
//! routes a signed-in page reads, `crate::access::SESSION_ROUTES`).
//!
//! Tokens carry 256 random bits, so a fast hash is enough: there is nothing
//! to brute-force that a slow hash would protect (unlike passwords).

use crate::db::Db;
use crate::domain::people::Role;
use crate::entities::api_token;
use crate::http_error::ApiError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

pub use crate::domain::tokens::{hash_token, new_token, TOKEN_PREFIX};

/// The session cookie the staff pages sign in with: the token of a row in `sessions`.
pub const SESSION_COOKIE: &str = "kept_session";

/// Who is calling: their organization and role. Every query is scoped by
/// `organization_id`.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub organization_id: i64,
    pub role: Role,
    pub staff_id: Option<i64>,
}

/// Any application state that holds the database will do.
impl<S> FromRequestParts<S> for Caller
where
    Db: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Already checked by the access middleware: no second lookup.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(*c);
        }
        let token = bearer(&parts.headers)?;
        let row = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash_token(token)))
            .one(&Db::from_ref(state))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller { organization_id: row.organization_id, role: row.role, staff_id: row.staff_id })
    }
}

/// The API token a request carries (`Authorization: Bearer kept_…`).
pub fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let header =
        headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or(ApiError::Unauthorized)
}

impl Caller {
    /// The staff member signed in with the session cookie in `headers`, as
    /// an API caller with their role; `None` without a live session.
    pub async fn from_session(
        db: &Db,
        headers: &axum::http::HeaderMap,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Caller>, ApiError> {
        let jar = axum_extra::extract::cookie::CookieJar::from_headers(headers);
        let Some(token) = jar.get(SESSION_COOKIE) else { return Ok(None) };
        let found = crate::store::sessions::session_for(db, token.value(), now).await?;
        Ok(found.map(|(_, me)| Caller { organization_id: me.organization_id, role: me.role, staff_id: Some(me.id) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
    }

    #[test]
    fn the_hash_is_stable_and_not_the_token() {
        let t = new_token();
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), t);
        assert_eq!(hash_token(&t).len(), 64);
    }
}
