//! Talking with a customer: the thread of everything we sent them and
//! everything they texted us, in order; the office's answer (through the
//! outbox, like every message); sending again a message that failed or
//! whose fate is uncertain (only when the office chooses to, audited); and
//! filing a text from an unknown number under a customer or a job.

use crate::db::Db;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::domain::messaging::{InboundKind, MessageKind, MessageState};
use crate::domain::people::{AuditAction, Channel};
use crate::entities::{customer, inbound_message, job, message};
use crate::error::Error;
use crate::live::{EventType, LiveEvent};
use crate::messages::NotifyCtx;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// One line of the thread: a message we sent (or meant to), or a text they sent.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a thread is tens of entries, read once
pub enum Entry {
    Out {
        message: message::Model,
        /// The message that sent this one again, if the office did.
        resent_as: Option<i64>,
    },
    In(inbound_message::Model),
}

impl Entry {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Entry::Out { message, .. } => message.created_at,
            Entry::In(t) => t.received_at,
        }
    }
}

/// Everything between us and the job's customer, oldest first. The office
/// sees the whole thread, on every job of theirs; a field person
/// (`field_staff`) only this job's messages, and pricing only where they
/// wrote an estimate (as on the timeline).
pub async fn thread<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    job: &job::Model,
    field_staff: Option<i64>,
) -> Result<Vec<Entry>, Error> {
    let mut out_q = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(org_id))
        .filter(message::Column::CustomerId.eq(job.customer_id));
    let mut in_q = inbound_message::Entity::find()
        .filter(inbound_message::Column::OrganizationId.eq(org_id))
        .filter(inbound_message::Column::CustomerId.eq(job.customer_id));
    let mut pricing = true;
    if let Some(me) = field_staff {
        out_q = out_q.filter(message::Column::JobId.eq(job.id));
        in_q = in_q.filter(inbound_message::Column::JobId.eq(job.id));
        pricing =
            crate::store::estimates::for_job(db, org_id, job.id).await?.iter().any(|e| e.author_staff_id == Some(me));
    }
    let sent = out_q.order_by_asc(message::Column::Id).all(db).await?;
    let received = in_q.order_by_asc(inbound_message::Column::Id).all(db).await?;
    let mut entries: Vec<Entry> = Vec::with_capacity(sent.len() + received.len());
    for m in &sent {
        if m.kind == MessageKind::PricingBreakdown && !pricing {
            continue;
        }
        let resent_as = sent.iter().find(|r| r.resent_from_id == Some(m.id)).map(|r| r.id);
        entries.push(Entry::Out { message: m.clone(), resent_as });
    }
    entries.extend(received.into_iter().map(Entry::In));
    entries.sort_by_key(|e| e.at());
    Ok(entries)
}

/// The office writes to the job's customer (`channels`: every channel that
/// reaches them when `None`), through the outbox. A channel the customer
/// opted out of, or has no working address for, is refused naming it.
/// `admit` runs once the message is fit to send and before anything is
/// written (the callers' abuse limits: a refused message spends none).
/// Returns the messages queued, one per channel.
#[allow(clippy::too_many_arguments)]
pub async fn reply(
    db: &Db,
    n: &NotifyCtx,
    org_id: i64,
    job_id: i64,
    body: &str,
    channels: Option<Vec<Channel>>,
    from_staff: Option<i64>,
    admit: impl FnOnce(&customer::Model) -> Result<(), Error>,
    now: DateTime<Utc>,
) -> Result<Vec<message::Model>, Error> {
    let job = crate::store::jobs::get(db, org_id, job_id).await?;
    let customer = crate::store::customers::get(db, org_id, job.customer_id).await?;
    let org = crate::store::orgs::get(db, org_id).await?;
    let reachable: Vec<Channel> = crate::messages::compose::reachable(&customer).into_iter().map(|(c, _)| c).collect();
    let channels = channels.unwrap_or_else(|| reachable.clone());
    if channels.is_empty() {
        let why = if customer.channels.0.is_empty() {
            "name at least one channel"
        } else {
            "the customer cannot be reached by text or email now (opted out, or no working address)"
        };
        return Err(Error::field("channels", why));
    }
    for c in &channels {
        if !reachable.contains(c) {
            let why = match c {
                Channel::Sms if customer.sms_opted_out => "the customer opted out of texts (they can reply START)",
                Channel::Email if customer.email_opted_out => "the customer opted out of email",
                _ => "the customer has no working address for this channel",
            };
            return Err(Error::field("channels", format!("{}: {why}", c.as_str())));
        }
    }
    admit(&customer)?;
    let from_name = match from_staff {
        Some(sid) => {
            crate::store::staff::get(db, org_id, sid).await.map(|s| s.name).unwrap_or_else(|_| org.name.clone())
        }
        None => org.name.clone(),
    };
    let txn = db.begin().await?;
    let keys = crate::messages::events::reply(&txn, n, &org, &job, &customer, &channels, body, &from_name, now).await?;
    txn.commit().await?;
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(org_id))
        .filter(message::Column::DedupeKey.is_in(keys))
        .order_by_asc(message::Column::Id)
        .all(db)
        .await?)
}

/// Sends a failed or uncertain message again, as the office chose: a new
/// outbox row with the same words, linked to the old one (`resent_from_id`),
/// to the customer's address for that channel now. Once per message (a
/// second click finds the first resend: 409 `already_resent`); any other
/// state is 409 `not_resendable`; a customer who opted out of the channel,
/// or whose address a provider reported dead, is 409 `unreachable`.
/// Audited.
pub async fn resend(
    db: &Db,
    n: &NotifyCtx,
    org_id: i64,
    message_id: i64,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<message::Model, Error> {
    let old = message::Entity::find_by_id(message_id)
        .filter(message::Column::OrganizationId.eq(org_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    if !matches!(old.state, MessageState::Failed | MessageState::Uncertain) {
        return Err(Error::Conflict {
            code: "not_resendable",
            message: format!(
                "message {} is {}; only failed or uncertain messages can be sent again",
                old.id,
                old.state.as_str().replace('_', " ")
            ),
            details: json!({"state": old.state}),
        });
    }
    if old.kind == MessageKind::PasswordReset {
        return Err(Error::Conflict {
            code: "not_resendable",
            message: "sign-in links are not sent again; send a new invitation or reset instead".into(),
            details: json!({"state": old.state}),
        });
    }
    if let Some(first) = already_resent(db, old.id).await? {
        return Err(already(old.id, first));
    }
    let mut recipient = old.recipient.clone();
    if let Some(cid) = old.customer_id {
        let c = customer::Entity::find_by_id(cid).one(db).await?.ok_or(Error::NotFound)?;
        let address = crate::messages::compose::addresses(&c).into_iter().find(|(ch, _, _)| *ch == old.channel);
        match address {
            Some((_, _, Some(why))) => {
                return Err(Error::Conflict {
                    code: "unreachable",
                    message: format!("not sent again: {why}"),
                    details: json!({"channel": old.channel}),
                })
            }
            Some((_, now_address, None)) => recipient = now_address,
            None => {
                let why = match old.channel {
                    Channel::Sms if c.sms_opted_out => "the customer opted out of texts".to_string(),
                    Channel::Email if c.email_opted_out => "the customer opted out of email".to_string(),
                    ch => format!(
                        "the customer no longer has {} on file",
                        if ch == Channel::Sms { "a number for texts" } else { "an email address" }
                    ),
                };
                return Err(Error::Conflict {
                    code: "unreachable",
                    message: format!("not sent again: {why}"),
                    details: json!({"channel": old.channel}),
                });
            }
        }
    }
    let txn = db.begin().await?;
    let inserted = message::Entity::insert(message::ActiveModel {
        organization_id: Set(org_id),
        job_id: Set(old.job_id),
        visit_id: Set(old.visit_id),
        customer_id: Set(old.customer_id),
        kind: Set(old.kind),
        channel: Set(old.channel),
        recipient: Set(recipient.clone()),
        subject: Set(old.subject.clone()),
        body_text: Set(old.body_text.clone()),
        body_html: Set(old.body_html.clone()),
        segments: Set(old.segments),
        encoding: Set(old.encoding),
        dedupe_key: Set(format!("resend:{}", old.id)),
        state: Set(MessageState::Pending),
        due_at: Set(now),
        next_attempt_at: Set(now),
        // The office chose to send it now: it does not expire.
        expires_at: Set(None),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        resent_from_id: Set(Some(old.id)),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(message::Column::DedupeKey).do_nothing().to_owned())
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        drop(txn);
        let first = already_resent(db, old.id).await?.unwrap_or(0);
        return Err(already(old.id, first));
    }
    let new = message::Entity::find()
        .filter(message::Column::DedupeKey.eq(format!("resend:{}", old.id)))
        .one(&txn)
        .await?
        .ok_or_else(|| Error::Internal("the resent message is not there".into()))?;
    crate::store::sessions::audit(
        &txn,
        Some(org_id),
        by,
        AuditAction::MessageResent,
        json!({"message_id": old.id, "new_message_id": new.id, "kind": old.kind, "channel": old.channel,
               "was": old.state, "last_error": old.last_error, "recipient": recipient}),
        None,
        now,
    )
    .await?;
    let crew = match new.visit_id {
        Some(v) => crate::store::visits::staff_ids_of(&txn, &[v]).await?.remove(&v).unwrap_or_default(),
        None => Vec::new(),
    };
    n.live.publish(&txn, LiveEvent::message(&new, MessageState::Pending, &crew, now)).await?;
    txn.commit().await?;
    Ok(new)
}

async fn already_resent<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<i64>, Error> {
    Ok(message::Entity::find().filter(message::Column::ResentFromId.eq(id)).one(db).await?.map(|m| m.id))
}

fn already(old: i64, first: i64) -> Error {
    Error::Conflict {
        code: "already_resent",
        message: format!("message {old} was already sent again, as message {first}"),
        details: json!({"resent_as_id": first}),
    }
}

/// Where the office files a text from an unknown number.
#[derive(Debug, Clone, Copy)]
pub enum FileUnder {
    /// The customer, and their open job (or their latest) if they have one.
    Customer(i64),
    /// The job, and its customer.
    Job(i64),
}

/// Files a text from the unmatched inbox: it becomes the customer's, on
/// the job's timeline, and the job's page shows it at once. The sender's
/// number is not added to the customer (they may have texted from a
/// friend's phone); our answers go to the customer's own address. A text
/// already filed is 409 `already_filed`.
pub async fn attach(
    db: &Db,
    n: &NotifyCtx,
    org_id: i64,
    inbound_id: i64,
    to: FileUnder,
    now: DateTime<Utc>,
) -> Result<inbound_message::Model, Error> {
    let text = inbound_message::Entity::find_by_id(inbound_id)
        .filter(inbound_message::Column::OrganizationId.eq(org_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(c) = text.customer_id {
        return Err(Error::Conflict {
            code: "already_filed",
            message: format!("this text is already filed under customer {c}"),
            details: json!({"customer_id": c, "job_id": text.job_id}),
        });
    }
    let (customer, job) = match to {
        FileUnder::Customer(cid) => {
            let c = match crate::store::customers::get(db, org_id, cid).await {
                Err(Error::NotFound) => return Err(Error::field("customer_id", format!("there is no customer {cid}"))),
                other => other?,
            };
            let open: Vec<JobStatus> = JobStatus::ALL.iter().copied().filter(|s| s.is_open()).collect();
            let j = match job::Entity::find()
                .filter(job::Column::CustomerId.eq(c.id))
                .filter(job::Column::Status.is_in(open))
                .order_by_desc(job::Column::UpdatedAt)
                .one(db)
                .await?
            {
                Some(j) => Some(j),
                None => {
                    job::Entity::find()
                        .filter(job::Column::CustomerId.eq(c.id))
                        .order_by_desc(job::Column::Id)
                        .one(db)
                        .await?
                }
            };
            (c, j)
        }
        FileUnder::Job(jid) => {
            let j = match crate::store::jobs::get(db, org_id, jid).await {
                Err(Error::NotFound) => return Err(Error::field("job_id", format!("there is no job {jid}"))),
                other => other?,
            };
            (crate::store::customers::get(db, org_id, j.customer_id).await?, Some(j))
        }
    };
    let txn = db.begin().await?;
    let filed = inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::CustomerId, Expr::value(customer.id))
        .col_expr(inbound_message::Column::JobId, Expr::value(job.as_ref().map(|j| j.id)))
        .filter(inbound_message::Column::Id.eq(text.id))
        .filter(inbound_message::Column::CustomerId.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if filed == 0 {
        return Err(Error::Conflict {
            code: "already_filed",
            message: "this text was filed by someone else a moment ago".into(),
            details: json!({}),
        });
    }
    if let Some(j) = &job {
        let summary = match text.kind {
            InboundKind::Reply | InboundKind::Help => text.body.clone(),
            other => format!("{} texted {} from {}", customer.name, other.as_str().to_uppercase(), text.from_number),
        };
        crate::store::timeline::record(
            &txn,
            org_id,
            crate::store::timeline::Event {
                job_id: j.id,
                visit_id: None,
                kind: TimelineKind::CustomerReply,
                summary,
                data: json!({"from": text.from_number, "body": text.body, "message_sid": text.message_sid,
                             "inbound_id": text.id, "filed_by_the_office": true, "received_at": text.received_at}),
            },
            now,
        )
        .await?;
    }
    let event = LiveEvent {
        job_id: job.as_ref().map(|j| j.id),
        inbound_id: Some(text.id),
        ..LiveEvent::new(EventType::InboundReceived, org_id, now)
    };
    n.live.publish(&txn, event).await?;
    txn.commit().await?;
    inbound_message::Entity::find_by_id(text.id).one(db).await?.ok_or(Error::NotFound)
}

/// What the outbox page shows: its filters, and where a page ends.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub kind: Option<MessageKind>,
    pub channel: Option<Channel>,
    pub state: Option<MessageState>,
    pub job_id: Option<i64>,
    /// Only messages older than this one (the next page).
    pub before: Option<i64>,
    /// Admins also see sign-in links (invitations, resets); nobody else may.
    pub admin: bool,
}

/// The outbox newest first, `limit` messages, with the resend of each
/// message that has one (old id → new id).
pub async fn outbox<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    f: &OutboxFilter,
    limit: u64,
) -> Result<(Vec<message::Model>, std::collections::HashMap<i64, i64>), Error> {
    use sea_orm::QuerySelect;
    let mut q = message::Entity::find().filter(message::Column::OrganizationId.eq(org_id));
    if !f.admin {
        q = q.filter(message::Column::Kind.ne(MessageKind::PasswordReset));
    }
    if let Some(k) = f.kind {
        q = q.filter(message::Column::Kind.eq(k));
    }
    if let Some(c) = f.channel {
        q = q.filter(message::Column::Channel.eq(c));
    }
    if let Some(s) = f.state {
        q = q.filter(message::Column::State.eq(s));
    }
    if let Some(j) = f.job_id {
        q = q.filter(message::Column::JobId.eq(j));
    }
    if let Some(b) = f.before {
        q = q.filter(message::Column::Id.lt(b));
    }
    let rows = q.order_by_desc(message::Column::Id).limit(limit).all(db).await?;
    let resent = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(org_id))
        .filter(message::Column::ResentFromId.is_in(rows.iter().map(|m| m.id)))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| m.resent_from_id.map(|old| (old, m.id)))
        .collect();
    Ok((rows, resent))
}

/// The unmatched inbox: texts to our number from nobody we know, newest first.
pub async fn unmatched<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    limit: u64,
) -> Result<Vec<inbound_message::Model>, Error> {
    use sea_orm::QuerySelect;
    Ok(inbound_message::Entity::find()
        .filter(inbound_message::Column::OrganizationId.eq(org_id))
        .filter(inbound_message::Column::CustomerId.is_null())
        .order_by_desc(inbound_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// What a text can be filed under, and what a preview can be shown for:
/// the organization's jobs (open ones first, then the latest) with their
/// customers, and its customers by name; `limit` of each.
pub async fn jobs_and_customers<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    limit: u64,
) -> Result<(Vec<(job::Model, String)>, Vec<customer::Model>), Error> {
    use sea_orm::QuerySelect;
    let mut jobs = job::Entity::find()
        .filter(job::Column::OrganizationId.eq(org_id))
        .order_by_desc(job::Column::UpdatedAt)
        .order_by_desc(job::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    jobs.sort_by_key(|j| !j.status.is_open());
    let customers = customer::Entity::find()
        .filter(customer::Column::OrganizationId.eq(org_id))
        .order_by_asc(customer::Column::Name)
        .limit(limit)
        .all(db)
        .await?;
    let names = crate::store::customers::by_ids(db, jobs.iter().map(|j| j.customer_id)).await?;
    let jobs = jobs
        .into_iter()
        .map(|j| {
            let name = names.get(&j.customer_id).map(|c| c.name.clone()).unwrap_or_default();
            (j, name)
        })
        .collect();
    Ok((jobs, customers))
}
