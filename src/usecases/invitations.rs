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
    send_password_link_by(db, n, person, invite, &[Channel::Email], now).await
}

/// [`send_password_link`] over the given channels: the same one-time link
/// by email and, for someone who will sign in on their phone, by text too
/// (to their staff phone number; refused, naming `sms`, when they have none).
pub async fn send_password_link_by<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    person: &staff::Model,
    invite: bool,
    channels: &[Channel],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let phone = person.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if channels.contains(&Channel::Sms) && phone.is_none() {
        return Err(Error::field("sms", format!("{} has no phone number to text the link to", person.name)));
    }
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
    if let (true, Some(phone)) = (channels.contains(&Channel::Sms), phone) {
        let body = n.templates.sms(MessageKind::PasswordReset, &ctx).map_err(|e| Error::Internal(e.to_string()))?;
        let seg = crate::domain::messaging::sms_segments(&body);
        message::ActiveModel {
            organization_id: Set(person.organization_id),
            kind: Set(MessageKind::PasswordReset),
            channel: Set(Channel::Sms),
            recipient: Set(phone.to_string()),
            body_text: Set(body),
            segments: Set(Some(seg.count)),
            encoding: Set(Some(seg.encoding)),
            dedupe_key: Set(format!("password_reset:{}:{}:sms", person.id, hash_token(&token))),
            state: Set(MessageState::Pending),
            due_at: Set(now),
            next_attempt_at: Set(now),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            // A link someone is waiting for: quiet hours are for customers.
            quiet_hours_exempt_until: Set(Some(now + Duration::hours(1))),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    if !channels.contains(&Channel::Email) {
        return Ok(());
    }
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
