//! What Twilio tells us, once verified by the webhooks: a delivery receipt
//! (the message's state moves forward only; a permanent failure flags the
//! number) and a customer's text (STOP/START/HELP honoured, anything else on
//! their open job with an alert for the office; a retry recorded once).

use crate::db::Db;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::domain::messaging::{twilio_permanent_flag, InboundKind, MessageState, ProviderStatus};
use crate::entities::{customer, inbound_message, job, message, organization};
use crate::error::Error;
use crate::live::{EventType, LiveEvent};
use crate::messages::NotifyCtx;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// A delivery receipt: which message, what became of it, Twilio's error code.
pub struct Receipt<'a> {
    pub message_sid: &'a str,
    pub status: ProviderStatus,
    pub error_code: Option<i32>,
}

/// Records a receipt. A receipt for a message we do not know (not ours, or
/// not yet recorded) changes nothing; so does one behind what we have (a
/// late `sent` after `delivered`). Returns whether the message moved.
pub async fn record_receipt(db: &Db, n: &NotifyCtx, r: Receipt<'_>, now: DateTime<Utc>) -> Result<bool, Error> {
    let Some(m) = message::Entity::find().filter(message::Column::ProviderId.eq(r.message_sid)).one(db).await? else {
        return Ok(false);
    };
    let lower: Vec<ProviderStatus> =
        ProviderStatus::ALL.iter().copied().filter(|s| s.rank() < r.status.rank()).collect();
    let mut q = message::Entity::update_many()
        .col_expr(message::Column::ProviderStatus, Expr::value(r.status))
        .col_expr(message::Column::ProviderErrorCode, Expr::value(r.error_code))
        .col_expr(message::Column::ProviderStatusAt, Expr::value(now))
        .col_expr(message::Column::UpdatedAt, Expr::value(now));
    let undelivered = r.status.is_undelivered();
    if undelivered {
        q = q.col_expr(message::Column::State, Expr::value(MessageState::Failed)).col_expr(
            message::Column::LastError,
            Expr::value(format!("{}{}", r.status, r.error_code.map(|c| format!(": Twilio {c}")).unwrap_or_default())),
        );
    }
    // Only forward: the row changes only if its receipt is behind this one.
    let moved = q
        .filter(message::Column::Id.eq(m.id))
        .filter(
            Condition::any()
                .add(message::Column::ProviderStatus.is_null())
                .add(message::Column::ProviderStatus.is_in(lower)),
        )
        .exec(db)
        .await?
        .rows_affected;
    if moved == 0 {
        return Ok(false);
    }
    if undelivered {
        if let (Some(flag), Some(cid)) = (r.error_code.and_then(twilio_permanent_flag), m.customer_id) {
            crate::store::customers::flag(db, cid, crate::domain::people::Channel::Sms, &flag).await?;
        }
    }
    let state_now = if undelivered { MessageState::Failed } else { m.state };
    let crew = match m.visit_id {
        Some(v) => crate::store::visits::staff_ids_of(db, &[v]).await?.remove(&v).unwrap_or_default(),
        None => Vec::new(),
    };
    let event = LiveEvent { provider_status: Some(r.status), ..LiveEvent::message(&m, state_now, &crew, now) };
    n.live.publish_committed(db, event).await;
    Ok(true)
}

/// A text to one of our numbers.
pub struct Inbound<'a> {
    pub message_sid: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
}

/// What a text was, and for HELP the answer to send back.
pub struct Received {
    pub kind: InboundKind,
    pub help: Option<String>,
    /// No organization has the number texted: kept in the unmatched inbox.
    pub unmatched: bool,
}

/// Whose number was texted: the organization with that SMS number, or the
/// only organization there is.
async fn organization_for<C: ConnectionTrait>(db: &C, to: &str) -> Result<Option<organization::Model>, Error> {
    if let Some(o) = organization::Entity::find().filter(organization::Column::SmsNumber.eq(to)).one(db).await? {
        return Ok(Some(o));
    }
    if organization::Entity::find().count(db).await? == 1 {
        return Ok(organization::Entity::find().one(db).await?);
    }
    Ok(None)
}

/// The customer with that number in the organization (the newest if
/// several), and their open job (or, with none open, their latest).
async fn customer_and_job<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    from: &str,
) -> Result<(Option<customer::Model>, Option<job::Model>), Error> {
    let Some(c) = customer::Entity::find()
        .filter(customer::Column::OrganizationId.eq(org.id))
        .filter(customer::Column::Phone.eq(from))
        .order_by_desc(customer::Column::Id)
        .one(db)
        .await?
    else {
        return Ok((None, None));
    };
    let open: Vec<JobStatus> = JobStatus::ALL.iter().copied().filter(|s| s.is_open()).collect();
    let open_job = job::Entity::find()
        .filter(job::Column::CustomerId.eq(c.id))
        .filter(job::Column::Status.is_in(open))
        .order_by_desc(job::Column::UpdatedAt)
        .one(db)
        .await?;
    let j = match open_job {
        Some(j) => Some(j),
        None => {
            job::Entity::find().filter(job::Column::CustomerId.eq(c.id)).order_by_desc(job::Column::Id).one(db).await?
        }
    };
    Ok((Some(c), j))
}

/// Records a customer's text once (Twilio retries carry the same SID):
/// STOP and START change whether we text them, HELP is answered, and a
/// reply lands on their job's timeline with an alert for the office.
pub async fn record_inbound(db: &Db, n: &NotifyCtx, t: Inbound<'_>, now: DateTime<Utc>) -> Result<Received, Error> {
    let kind = InboundKind::classify(t.body);
    let org = organization_for(db, t.to).await?;
    let help = org.as_ref().map(|o| match &o.phone {
        Some(p) => {
            format!("{}: we're here to help. Call us at {p}. Reply STOP to stop texts, START to resume.", o.name)
        }
        None => format!(
            "{}: we're here to help; reply with your question. Reply STOP to stop texts, START to resume.",
            o.name
        ),
    });
    let (customer, job) = match &org {
        None => (None, None),
        Some(o) => customer_and_job(db, o, t.from).await?,
    };

    let txn = db.begin().await?;
    let inserted = inbound_message::Entity::insert(inbound_message::ActiveModel {
        organization_id: Set(org.as_ref().map(|o| o.id)),
        customer_id: Set(customer.as_ref().map(|c| c.id)),
        job_id: Set(job.as_ref().map(|j| j.id)),
        message_sid: Set(t.message_sid.to_string()),
        from_number: Set(t.from.to_string()),
        to_number: Set(t.to.to_string()),
        body: Set(t.body.to_string()),
        kind: Set(kind),
        received_at: Set(now),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(inbound_message::Column::MessageSid).do_nothing().to_owned())
    .exec_without_returning(&txn)
    .await?;
    if inserted > 0 {
        if let Some(o) = &org {
            let received = inbound_message::Entity::find()
                .filter(inbound_message::Column::MessageSid.eq(t.message_sid))
                .one(&txn)
                .await?
                .map(|row| row.id);
            let event = LiveEvent {
                job_id: job.as_ref().map(|j| j.id),
                inbound_id: received,
                ..LiveEvent::new(EventType::InboundReceived, o.id, now)
            };
            n.live.publish(&txn, event).await?;
            let set_opt_out = |value: bool| {
                customer::Entity::update_many()
                    .col_expr(customer::Column::SmsOptedOut, Expr::value(value))
                    .filter(customer::Column::OrganizationId.eq(o.id))
                    .filter(customer::Column::Phone.eq(t.from))
            };
            match kind {
                InboundKind::Stop => {
                    set_opt_out(true).exec(&txn).await?;
                }
                InboundKind::Start => {
                    set_opt_out(false).exec(&txn).await?;
                }
                InboundKind::Reply | InboundKind::Help => {}
            }
            if let (Some(c), Some(j)) = (&customer, &job) {
                let (event, summary) = match kind {
                    InboundKind::Stop => (
                        TimelineKind::CustomerOptedOut,
                        format!("{} replied {}: no more texts until they send START", c.name, t.body.trim()),
                    ),
                    InboundKind::Start => {
                        (TimelineKind::CustomerOptedIn, format!("{} replied {}: texts resume", c.name, t.body.trim()))
                    }
                    InboundKind::Help => (TimelineKind::CustomerHelp, format!("{} asked for help by text", c.name)),
                    InboundKind::Reply => (TimelineKind::CustomerReply, t.body.to_string()),
                };
                crate::store::timeline::record(
                    &txn,
                    o.id,
                    crate::store::timeline::Event {
                        job_id: j.id,
                        visit_id: None,
                        kind: event,
                        summary,
                        data: json!({"from": t.from, "body": t.body, "message_sid": t.message_sid}),
                    },
                    now,
                )
                .await?;
                if matches!(kind, InboundKind::Reply | InboundKind::Help) {
                    crate::messages::alerts::alert_dispatchers(
                        &txn,
                        n,
                        o,
                        c,
                        j,
                        &format!("inbound:{}", t.message_sid),
                        "Customer replied by text",
                        &format!("\"{}\"", t.body.trim()),
                        now,
                    )
                    .await?;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(Received { kind, help, unmatched: org.is_none() })
}
