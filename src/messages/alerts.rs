//! Telling the office: alerts to dispatchers (falling back to admins) by email.

use super::NotifyCtx;
use crate::domain::messaging::{MessageKind, MessageState};
use crate::domain::people::{Channel, Role};
use crate::entities::{customer, job, message, organization, staff};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// Who hears about things that need a person: the dispatchers, or the
/// admins when there are none.
pub async fn on_duty<C: ConnectionTrait>(db: &C, org_id: i64) -> Result<Vec<staff::Model>, Error> {
    for role in [Role::Dispatcher, Role::Admin] {
        let people = staff::Entity::find()
            .filter(staff::Column::OrganizationId.eq(org_id))
            .filter(staff::Column::Role.eq(role))
            .order_by_asc(staff::Column::Id)
            .all(db)
            .await?;
        if !people.is_empty() {
            return Ok(people);
        }
    }
    Ok(Vec::new())
}

/// Queues an alert email to everyone on duty. `key` makes it once-only.
#[allow(clippy::too_many_arguments)]
pub async fn alert_dispatchers<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    customer: &customer::Model,
    job: &job::Model,
    key: &str,
    title: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let people = on_duty(db, org.id).await?;
    alert(db, n, org, customer, job, &people, key, title, text, now).await
}

/// Queues an alert email to the managers (admins).
#[allow(clippy::too_many_arguments)]
pub async fn alert_managers<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    customer: &customer::Model,
    job: &job::Model,
    key: &str,
    title: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let people = staff::Entity::find()
        .filter(staff::Column::OrganizationId.eq(org.id))
        .filter(staff::Column::Role.eq(Role::Admin))
        .order_by_asc(staff::Column::Id)
        .all(db)
        .await?;
    alert(db, n, org, customer, job, &people, key, title, text, now).await
}

#[allow(clippy::too_many_arguments)]
async fn alert<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    customer: &customer::Model,
    job: &job::Model,
    people: &[staff::Model],
    key: &str,
    title: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let mut rows = Vec::new();
    for person in people {
        let ctx = json!({
            "org": {"name": org.name},
            "staff": {"name": person.name},
            "customer": {"name": customer.name, "phone": customer.phone.clone().unwrap_or_default()},
            "job": {"id": job.id, "title": job.title},
            "alert": {"title": title, "text": text},
        });
        let email =
            n.templates.email(MessageKind::DispatcherAlert, &ctx).map_err(|e| Error::Internal(e.to_string()))?;
        rows.push(message::ActiveModel {
            organization_id: Set(org.id),
            job_id: Set(Some(job.id)),
            visit_id: Set(None),
            customer_id: Set(None),
            kind: Set(MessageKind::DispatcherAlert),
            channel: Set(Channel::Email),
            recipient: Set(person.email.clone()),
            subject: Set(Some(email.subject)),
            body_text: Set(email.text),
            body_html: Set(Some(email.html)),
            dedupe_key: Set(format!("dispatcher_alert:{key}:{}", person.id)),
            state: Set(MessageState::Pending),
            due_at: Set(now),
            next_attempt_at: Set(now),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let inserted = message::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(message::Column::DedupeKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted > 0 {
        super::outbox::announce(db).await?;
    }
    Ok(inserted)
}
