//! Queries and mutations. Every function takes the caller's organization and
//! scopes by it: a row of another organization is simply not found.

pub mod calendar;
pub mod customers;
pub mod estimates;
pub mod jobs;
pub mod links;
pub mod metrics;
pub mod orgs;
pub mod promises;
pub mod sessions;
pub mod staff;
pub mod timeline;
pub mod update_slots;
pub mod visits;

use crate::error::Error;
use sea_orm::{DbErr, SqlErr};

/// Pagination by id: `after` is the last id the caller has seen.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub limit: u64,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 200;
}

/// Maps a unique-constraint violation to 409 with `message`; anything else
/// stays an internal error.
pub(crate) fn unique_violation(e: DbErr, code: &'static str, message: impl Into<String>) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::Conflict { code, message: message.into(), details: serde_json::json!({}) }
        }
        _ => e.into(),
    }
}
