//! The error of everything below HTTP (data access, messages, use cases,
//! the notifier): what went wrong in the caller's terms. The HTTP layers map
//! it to a status (`crate::http_error::ApiError` for the JSON API and the
//! webhooks, a short page for `crate::web`).

use serde::Serialize;
use serde_json::Value;

/// One offending field and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller may not do this (e.g. tap a visit they are not on).
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or in another organization: the same to the caller.
    #[error("not found")]
    NotFound,
    /// Bad input, naming every offending field; nothing was changed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The request clashes with the state of things (a booking conflict, a
    /// decided estimate); `details` names what is in the way.
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: Value },
    /// Over an abuse limit; the number is the seconds until a retry may pass.
    #[error("too many requests; try again in {0} seconds")]
    TooManyRequests(u64),
    /// The database is busy beyond its wait (a lock not granted in time, the
    /// pool exhausted): nothing was changed, and a retry may succeed.
    #[error("the database is busy: {0}")]
    Unavailable(String),
    /// A bug or a broken invariant; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_transient(&e) {
            Error::Unavailable(e.to_string())
        } else {
            Error::Internal(e.to_string())
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

/// Collects field errors while parsing a request, so the caller hears about
/// every bad field at once.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Keeps the value if it parsed, records the problem if it did not.
    pub fn check<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// Trims a required text field and checks its length.
pub fn required_text(p: &mut Problems, field: &str, v: Option<String>, max: usize) -> Option<String> {
    match v.map(|s| s.trim().to_string()) {
        None => {
            p.add(field, "is required");
            None
        }
        Some(s) if s.is_empty() => {
            p.add(field, "must not be empty");
            None
        }
        Some(s) if s.chars().count() > max => {
            p.add(field, format!("must be at most {max} characters"));
            None
        }
        Some(s) => Some(s),
    }
}

/// Trims an optional text field and checks its length ("" counts as absent).
pub fn optional_text(p: &mut Problems, field: &str, v: Option<String>, max: usize) -> Option<String> {
    let s = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())?;
    if s.chars().count() > max {
        p.add(field, format!("must be at most {max} characters"));
        return None;
    }
    Some(s)
}

/// `field: why; field: why`, for pages that show the problems as a sentence.
impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

/// A time zone read back from the database. Input is checked on the way in,
/// so a bad value here is a broken invariant: an error naming the row, never
/// a silent fallback to UTC that would send messages at the wrong hour.
pub fn stored_zone(name: &str, owner: impl std::fmt::Display) -> Result<crate::domain::time::Zone, Error> {
    crate::domain::time::Zone::parse(name)
        .map_err(|e| Error::Internal(format!("{owner} has time zone {name:?} stored: {e}")))
}

/// A currency read back from the database (see `stored_zone`).
pub fn stored_currency(code: &str, owner: impl std::fmt::Display) -> Result<crate::domain::money::Currency, Error> {
    crate::domain::money::Currency::parse(code)
        .map_err(|e| Error::Internal(format!("{owner} has currency {code:?} stored: {e}")))
}

/// A country read back from the database (see `stored_zone`).
pub fn stored_country(code: &str, owner: impl std::fmt::Display) -> Result<phonenumber::country::Id, Error> {
    code.parse().map_err(|_| Error::Internal(format!("{owner} has country {code:?} stored, which is not one")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_stored_values_are_errors_naming_the_row() {
        let e = stored_zone("Mars/Base", "customer 7").unwrap_err().to_string();
        assert!(e.contains("customer 7") && e.contains("Mars/Base"), "{e}");
        assert!(stored_zone("America/New_York", "customer 7").is_ok());
    }
}
