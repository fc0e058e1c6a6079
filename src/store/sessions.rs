//! Staff sign-in: argon2id passwords, sessions in the database (they survive
//! a restart), one-time reset links, and the audit log.

use crate::domain::people::AuditAction;
use crate::domain::tokens::{hash_token, new_token};
use crate::entities::{audit, password_reset, session, staff};
use crate::error::Error;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{json, Value};

pub const SESSION_DAYS: i64 = 14;
/// "Keep me signed in on this phone": how long such a session lasts.
pub const LONG_SESSION_DAYS: i64 = 90;
pub const RESET_HOURS: i64 = 2;
pub const INVITE_DAYS: i64 = 7;
pub const MIN_PASSWORD: usize = 10;

/// Hashes a password with argon2id on a blocking thread: a hash takes tens
/// of milliseconds of CPU, which would stall every request sharing the worker.
pub async fn hash_password(pw: &str) -> Result<String, Error> {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || hash_password_now(&pw))
        .await
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))?
}

/// Checks a password against a stored hash, on a blocking thread.
async fn verify_password(pw: &str, phc: &str) -> Result<bool, Error> {
    let (pw, phc) = (pw.to_string(), phc.to_string());
    tokio::task::spawn_blocking(move || verify_password_now(&pw, &phc))
        .await
        .map_err(|e| Error::Internal(format!("checking a password: {e}")))
}

fn hash_password_now(pw: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

fn verify_password_now(pw: &str, phc: &str) -> bool {
    PasswordHash::new(phc).map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok()).unwrap_or(false)
}

pub fn check_new_password(pw: &str) -> Result<(), String> {
    if pw.chars().count() < MIN_PASSWORD {
        return Err(format!("use at least {MIN_PASSWORD} characters"));
    }
    if pw.len() > 1024 {
        return Err("is too long".into());
    }
    Ok(())
}

pub async fn audit<C: ConnectionTrait>(
    db: &C,
    org: Option<i64>,
    staff: Option<i64>,
    action: AuditAction,
    detail: Value,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    audit::ActiveModel {
        organization_id: Set(org),
        staff_id: Set(staff),
        action: Set(action),
        detail: Set(detail.to_string()),
        ip: Set(ip.map(String::from)),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Checks an email and password; on success opens a session and returns
/// (person, session token, CSRF token). The same answer for an unknown email
/// and a wrong password, and the same work (a hash is checked either way).
pub async fn sign_in<C: ConnectionTrait>(
    db: &C,
    email: &str,
    pw: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Option<(staff::Model, String, String)>, Error> {
    sign_in_on(db, email, pw, ip, Device { name: "", long_lived: false }, now).await
}

/// Which device a sign-in is on, and whether to keep it signed in for long
/// ([`LONG_SESSION_DAYS`] rather than [`SESSION_DAYS`]).
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// As the browser names itself (`User-Agent`); shortened here.
    pub name: &'a str,
    pub long_lived: bool,
}

/// [`sign_in`] on a named device, for as long as it asks.
pub async fn sign_in_on<C: ConnectionTrait>(
    db: &C,
    email: &str,
    pw: &str,
    ip: &str,
    device: Device<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(staff::Model, String, String)>, Error> {
    let people = staff::Entity::find()
        .filter(staff::Column::Email.eq(email.trim()))
        .order_by_asc(staff::Column::Id)
        .all(db)
        .await?;
    let mut found = None;
    for p in &people {
        let Some(hash) = p.password_hash.as_deref() else { continue };
        if verify_password(pw, hash).await? {
            found = Some(p.clone());
            break;
        }
    }
    if people.iter().all(|p| p.password_hash.is_none()) {
        // Spend the same time as a real check, so timing tells nothing.
        static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
        let dummy = DUMMY.get_or_try_init(|| hash_password("not the password")).await?;
        let _ = verify_password(pw, dummy).await?;
    }
    let Some(person) = found else {
        audit(
            db,
            people.first().map(|p| p.organization_id),
            people.first().map(|p| p.id),
            AuditAction::SignInFailed,
            json!({"email": email}),
            Some(ip),
            now,
        )
        .await?;
        return Ok(None);
    };
    let token = new_token();
    let csrf = hex::encode(&hash_token(&new_token())[..16]);
    session::ActiveModel {
        organization_id: Set(person.organization_id),
        staff_id: Set(person.id),
        token_hash: Set(hash_token(&token)),
        csrf_token: Set(csrf.clone()),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(if device.long_lived { LONG_SESSION_DAYS } else { SESSION_DAYS })),
        device: Set(device.name.chars().take(160).collect()),
        long_lived: Set(device.long_lived),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit(db, Some(person.organization_id), Some(person.id), AuditAction::SignIn, json!({}), Some(ip), now).await?;
    Ok(Some((person, token, csrf)))
}

pub async fn session_for<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<(session::Model, staff::Model)>, Error> {
    let Some(s) = session::Entity::find().filter(session::Column::TokenHash.eq(hash_token(token))).one(db).await?
    else {
        return Ok(None);
    };
    if s.expires_at <= now {
        return Ok(None);
    }
    let Some(p) = staff::Entity::find_by_id(s.staff_id).one(db).await? else { return Ok(None) };
    Ok(Some((s, p)))
}

pub async fn sign_out<C: ConnectionTrait>(
    db: &C,
    s: &session::Model,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    session::Entity::delete_by_id(s.id).exec(db).await?;
    audit(db, Some(s.organization_id), Some(s.staff_id), AuditAction::SignOut, json!({}), Some(ip), now).await
}

/// The person a reset link is for, if it is valid and unused.
pub async fn reset_for<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<password_reset::Model>, Error> {
    Ok(password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(hash_token(token)))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// Sets the password from a link (once), and signs the person out everywhere.
pub async fn complete_reset<C: ConnectionTrait>(
    db: &C,
    r: &password_reset::Model,
    pw: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let used = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(r.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if used == 0 {
        return Ok(false);
    }
    let hash = hash_password(pw).await?;
    staff::Entity::update_many()
        .col_expr(staff::Column::PasswordHash, Expr::value(hash))
        .filter(staff::Column::Id.eq(r.staff_id))
        .exec(db)
        .await?;
    session::Entity::delete_many().filter(session::Column::StaffId.eq(r.staff_id)).exec(db).await?;
    let person = staff::Entity::find_by_id(r.staff_id).one(db).await?;
    audit(db, person.map(|p| p.organization_id), Some(r.staff_id), AuditAction::PasswordSet, json!({}), Some(ip), now)
        .await?;
    Ok(true)
}

/// Sets a staff member's password (an operator at the command line, for a
/// first admin with no email provider to send a link), and signs them out
/// everywhere.
pub async fn set_password<C: ConnectionTrait>(
    db: &C,
    person: &staff::Model,
    pw: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    check_new_password(pw).map_err(|m| Error::field("password", m))?;
    let hash = hash_password(pw).await?;
    staff::Entity::update_many()
        .col_expr(staff::Column::PasswordHash, Expr::value(hash))
        .filter(staff::Column::Id.eq(person.id))
        .exec(db)
        .await?;
    session::Entity::delete_many().filter(session::Column::StaffId.eq(person.id)).exec(db).await?;
    audit(
        db,
        Some(person.organization_id),
        Some(person.id),
        AuditAction::PasswordSet,
        json!({"by": "command line"}),
        None,
        now,
    )
    .await
}

/// Deletes what can never be used again: sessions past their expiry, and
/// reset links that have expired or been used. Returns how many rows went.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<u64, Error> {
    let sessions = session::Entity::delete_many().filter(session::Column::ExpiresAt.lte(now)).exec(db).await?;
    let resets = password_reset::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(password_reset::Column::ExpiresAt.lte(now))
                .add(password_reset::Column::UsedAt.is_not_null()),
        )
        .exec(db)
        .await?;
    Ok(sessions.rows_affected + resets.rows_affected)
}

/// A person's sessions that are still live, newest first.
pub async fn live_of<C: ConnectionTrait>(
    db: &C,
    staff_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<session::Model>, Error> {
    Ok(session::Entity::find()
        .filter(session::Column::StaffId.eq(staff_id))
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .all(db)
        .await?)
}

/// Ends a person's sessions (all, or all but `keep`), as they or an admin
/// asked; returns how many ended.
pub async fn end_sessions<C: ConnectionTrait>(
    db: &C,
    person: &staff::Model,
    keep: Option<i64>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let mut q = session::Entity::delete_many().filter(session::Column::StaffId.eq(person.id));
    if let Some(k) = keep {
        q = q.filter(session::Column::Id.ne(k));
    }
    let ended = q.exec(db).await?.rows_affected;
    audit(
        db,
        Some(person.organization_id),
        by,
        AuditAction::SessionsEnded,
        json!({"staff_id": person.id, "ended": ended, "kept_this_one": keep.is_some()}),
        None,
        now,
    )
    .await?;
    Ok(ended)
}

/// Ends one of a person's sessions (a lost phone); whether it was theirs.
pub async fn end_one<C: ConnectionTrait>(db: &C, staff_id: i64, session_id: i64) -> Result<bool, Error> {
    let gone = session::Entity::delete_many()
        .filter(session::Column::StaffId.eq(staff_id))
        .filter(session::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(gone.rows_affected > 0)
}
