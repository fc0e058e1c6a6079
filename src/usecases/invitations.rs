//! Inviting staff and resetting passwords: a one-time link, stored hashed,
//! emailed through the outbox.

use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::people::Channel;
use crate::domain::tokens::{hash_token, new_token};
use crate::entities::{message, password_reset, staff};
use crate::error::Error;
use crate::messages::NotifyCtx;
use crate::store::sessions::{INVITE_DAYS, RESET_HOURS};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::json;

/// Emails a one-time link to set a password: a reset, or an admin's invitation.
pub async fn send_password_link<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    person: &staff::Model,
    invite: bool,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let token = hex::encode(&new_token().as_bytes()[5..37]);
    let expires = if invite { now + Duration::days(INVITE_DAYS) } else { now + Duration::hours(RESET_HOURS) };
    password_reset::ActiveModel {
        staff_id: Set(person.id),
        token_hash: Set(hash_token(&token)),
        expires_at: Set(expires),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let org = crate::store::orgs::get(db, person.organization_id).await?;
    let ctx = json!({
        "org": {"name": org.name},
        "staff": {"name": person.name, "first_name": crate::messages::compose::first_name(&person.name), "role": person.role},
        "link": format!("{}/reset/{token}", n.public_url),
        "invite": invite,
        "expires_hours": (expires - now).num_hours(),
    });
    let email = n.templates.email(MessageKind::PasswordReset, &ctx).map_err(|e| Error::Internal(e.to_string()))?;
    message::ActiveModel {
        organization_id: Set(person.organization_id),
        kind: Set(MessageKind::PasswordReset),
        channel: Set(Channel::Email),
        recipient: Set(person.email.clone()),
        subject: Set(Some(email.subject)),
        body_text: Set(email.text),
        body_html: Set(Some(email.html)),
        dedupe_key: Set(format!("password_reset:{}:{}", person.id, hash_token(&token))),
        state: Set(MessageState::Pending),
        due_at: Set(now),
        next_attempt_at: Set(now),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::messages::outbox::announce(db).await?;
    Ok(())
}

/// Someone asked for a password reset for `email` from `ip`: everyone with
/// that email gets a link, and the request is in the audit log. Nothing is
/// said about whether anyone has it.
pub async fn request_reset(
    db: &crate::db::Db,
    n: &NotifyCtx,
    email: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    for person in crate::store::staff::with_email(db, email).await? {
        let txn = db.begin().await?;
        send_password_link(&txn, n, &person, false, now).await?;
        crate::store::sessions::audit(
            &txn,
            Some(person.organization_id),
            Some(person.id),
            crate::domain::people::AuditAction::PasswordResetRequested,
            json!({}),
            Some(ip),
            now,
        )
        .await?;
        txn.commit().await?;
    }
    Ok(())
}
