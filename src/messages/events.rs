//! Messages caused by a change, enqueued in the same transaction as the
//! change: introductions when someone is assigned, *On my way* when the crew
//! taps it.

use super::compose::{self, Parties, Plan};
use super::outbox;
use super::NotifyCtx;
use crate::domain::job::JobStatus;
use crate::domain::messaging::MessageKind;
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::entities::{customer, job, organization, staff, visit};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{json, Value};

async fn customer_of<C: ConnectionTrait>(db: &C, job: &job::Model) -> Result<customer::Model, Error> {
    customer::Entity::find_by_id(job.customer_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal(format!("job {} has no customer", job.id)))
}

fn others(all: &[staff::Model], me: i64) -> Value {
    json!(all.iter().filter(|s| s.id != me).map(|s| s.name.clone()).collect::<Vec<_>>())
}

fn template_err(e: super::templates::TemplateError) -> Error {
    Error::Internal(e.to_string())
}

/// One introduction per newly assigned person (`introduce`), naming the
/// rest of the crew (`crew`). Sent once per (visit, person).
#[allow(clippy::too_many_arguments)]
pub async fn introductions<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    v: &visit::Model,
    introduce: &[staff::Model],
    crew: &[staff::Model],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let customer = customer_of(db, job).await?;
    let zone = crate::error::stored_zone(&customer.timezone, format_args!("customer {}", customer.id))?;
    let parties = Parties { org, customer: &customer, job };
    let wording = compose::wording_of(db, org.id).await?;
    for person in introduce {
        let link = outbox::job_link(&n.public_url, job);
        let mut ctx = compose::base_ctx(&parties, &link.url);
        ctx.insert("staff".into(), compose::staff_ctx(person));
        ctx.insert("others".into(), others(crew, person.id));
        ctx.insert("visit".into(), compose::visit_ctx(v, zone));
        let plan = Plan {
            kind: MessageKind::Introduction,
            key: format!("introduction:{}:{}", v.id, person.id),
            visit_id: Some(v.id),
            due_at: now,
            expires_at: Some(v.window_end),
            ctx: &ctx,
        };
        let drafts = compose::drafts(&n.templates, &wording, &parties, plan).map_err(template_err)?;
        outbox::enqueue(db, org.id, drafts, Some((&link, job.id)), now).await?;
    }
    Ok(())
}

/// *On my way* with the crew's estimated arrival. Worth sending only until
/// shortly after that arrival; later it is superseded.
#[allow(clippy::too_many_arguments)]
pub async fn on_my_way<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    v: &visit::Model,
    crew: &[staff::Model],
    eta: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(lead) = crew.first() else { return Ok(()) };
    let customer = customer_of(db, job).await?;
    let zone = crate::error::stored_zone(&customer.timezone, format_args!("customer {}", customer.id))?;
    let parties = Parties { org, customer: &customer, job };
    let wording = compose::wording_of(db, org.id).await?;
    let link = outbox::job_link(&n.public_url, job);
    let mut ctx = compose::base_ctx(&parties, &link.url);
    ctx.insert("staff".into(), compose::staff_ctx(lead));
    ctx.insert("others".into(), others(crew, lead.id));
    ctx.insert("visit".into(), compose::visit_ctx(v, zone));
    ctx.insert("eta".into(), json!(compose::clock_time(zone, eta)));
    ctx.insert("eta_minutes".into(), json!((eta - now).num_minutes().max(0)));
    let plan = Plan {
        kind: MessageKind::OnMyWay,
        key: format!("on_my_way:{}:{}", v.id, now.timestamp()),
        visit_id: Some(v.id),
        due_at: now,
        expires_at: Some(eta + chrono::Duration::minutes(30)),
        ctx: &ctx,
    };
    let drafts = compose::drafts(&n.templates, &wording, &parties, plan).map_err(template_err)?;
    outbox::enqueue(db, org.id, drafts, Some((&link, job.id)), now).await?;
    Ok(())
}

/// A message the office writes to the customer from the job. Goes through
/// the outbox like any other; if the customer texted us in the last 15
/// minutes, an SMS answer is not held for quiet hours.
#[allow(clippy::too_many_arguments)]
pub async fn reply<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    customer: &customer::Model,
    channels: &[crate::domain::people::Channel],
    body: &str,
    from_name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    use crate::entities::{inbound_message, message};
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let parties = Parties { org, customer, job };
    let wording = compose::wording_of(db, org.id).await?;
    let link = outbox::job_link(&n.public_url, job);
    let mut ctx = compose::base_ctx(&parties, &link.url);
    ctx.insert("body".into(), json!(body));
    ctx.insert("from_name".into(), json!(from_name));
    let mut key_bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key_bytes);
    let plan = Plan {
        kind: MessageKind::Reply,
        key: format!("reply:{}:{}", job.id, hex::encode(key_bytes)),
        visit_id: None,
        due_at: now,
        expires_at: None,
        ctx: &ctx,
    };
    let drafts: Vec<_> = compose::drafts(&n.templates, &wording, &parties, plan)
        .map_err(template_err)?
        .into_iter()
        .filter(|d| channels.contains(&d.channel))
        .collect();
    let keys: Vec<String> = drafts.iter().map(|d| d.dedupe_key.clone()).collect();
    outbox::enqueue(db, org.id, drafts, Some((&link, job.id)), now).await?;
    let last_text = inbound_message::Entity::find()
        .filter(inbound_message::Column::CustomerId.eq(customer.id))
        .order_by_desc(inbound_message::Column::ReceivedAt)
        .one(db)
        .await?;
    if let Some(t) = last_text.filter(|t| now - t.received_at <= chrono::Duration::minutes(15)) {
        message::Entity::update_many()
            .col_expr(
                message::Column::QuietHoursExemptUntil,
                sea_orm::sea_query::Expr::value(t.received_at + chrono::Duration::minutes(15)),
            )
            .filter(message::Column::DedupeKey.is_in(keys.clone()))
            .exec(db)
            .await?;
    }
    crate::store::promises::answered(db, job.id, "a message from the office", now).await?;
    Ok(keys)
}

/// The pricing breakdown for a sent estimate; for a revision, what changed.
#[allow(clippy::too_many_arguments)]
pub async fn pricing_breakdown<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    customer: &customer::Model,
    est: &crate::store::estimates::Full,
    previous: Option<&crate::store::estimates::Full>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let parties = Parties { org, customer, job };
    let wording = compose::wording_of(db, org.id).await?;
    let link = outbox::job_link(&n.public_url, job);
    let mut ctx = compose::base_ctx(&parties, &link.url);
    let (estimate, changes) = pricing_values(est, previous)?;
    ctx.insert("estimate".into(), estimate);
    ctx.insert("changes".into(), changes);
    let e = &est.estimate;
    let plan = Plan {
        kind: MessageKind::PricingBreakdown,
        key: format!("pricing_breakdown:{}", e.id),
        visit_id: None,
        due_at: now,
        expires_at: None,
        ctx: &ctx,
    };
    let drafts = compose::drafts(&n.templates, &wording, &parties, plan).map_err(template_err)?;
    outbox::enqueue(db, org.id, drafts, Some((&link, job.id)), now).await?;
    Ok(())
}

/// What a pricing breakdown says of an estimate (`estimate`) and, for a
/// revision, of what changed since `previous` (`changes`, or null): the
/// values its templates are given, for a send and for a preview alike.
pub fn pricing_values(
    est: &crate::store::estimates::Full,
    previous: Option<&crate::store::estimates::Full>,
) -> Result<(Value, Value), Error> {
    use crate::domain::money::LineKind;
    let e = &est.estimate;
    let c = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
    // The required lines make the total; the optional ones are offered
    // apart, each with what it adds (priced as the API prices it).
    let view = crate::store::estimates::view(est, Some(e.id))?;
    let line = |l: &crate::store::estimates::LineView| {
        json!({
            "description": l.description, "kind": l.kind, "quantity": l.quantity, "unit": l.unit,
            "unit_price": l.unit_price, "total": l.total, "is_discount": l.kind == LineKind::Discount,
            "adds": l.adds,
        })
    };
    let lines: Vec<Value> = view.lines.iter().filter(|l| !l.optional).map(line).collect();
    let options: Vec<Value> = view.lines.iter().filter(|l| l.optional).map(line).collect();
    let mut largest: Vec<&crate::entities::estimate_line::Model> =
        est.lines.iter().filter(|l| l.kind != LineKind::Discount && !l.optional).collect();
    largest.sort_by_key(|l| std::cmp::Reverse(l.total_minor));
    let top: Vec<Value> = largest
        .iter()
        .take(3)
        .map(|l| json!({"description": l.description, "total": c.format(l.total_minor)}))
        .collect();
    let taxes: Vec<Value> = est
        .taxes()
        .iter()
        .map(|t| json!({"name": t.name, "rate": t.rate.percent(), "amount": c.format(t.amount_minor)}))
        .collect();
    let estimate = json!({
        "version": e.version,
        "is_revision": previous.is_some(),
        "lines": lines,
        "options": options,
        "top_lines": top,
        "taxes": taxes,
        "subtotal": c.format(e.subtotal_minor),
        "tax": c.format(e.tax_minor),
        "total": c.format(e.total_minor),
        "currency": e.currency,
        "notes": e.notes,
        "valid_until": e.valid_until.map(|d| d.format("%B %-d, %Y").to_string()).unwrap_or_default(),
    });
    let changes = previous.map(|p| revision_changes(p, est, &c));
    Ok((estimate, changes.unwrap_or(Value::Null)))
}

/// What a revision changed since the version the customer saw, as the
/// pricing breakdown tells it (and the estimate editor shows before it is
/// sent): lines added, removed and repriced, and the totals.
pub fn revision_changes(
    previous: &crate::store::estimates::Full,
    est: &crate::store::estimates::Full,
    c: &crate::domain::money::Currency,
) -> Value {
    let d = crate::domain::money::diff(&previous.priced_lines(), &est.priced_lines());
    json!({
        "previous_version": previous.estimate.version,
        "old_total": c.format(previous.estimate.total_minor),
        "new_total": c.format(est.estimate.total_minor),
        "added": d.added.iter().map(|l| json!({"description": l.description, "total": c.format(l.total_minor), "optional": l.optional})).collect::<Vec<_>>(),
        "removed": d.removed.iter().map(|l| json!({"description": l.description, "total": c.format(l.total_minor)})).collect::<Vec<_>>(),
        "repriced": d.repriced.iter().map(|(o, nw)| json!({
            "description": nw.description,
            "old": c.format(o.total_minor), "new": c.format(nw.total_minor),
            "old_quantity": o.quantity, "new_quantity": nw.quantity,
        })).collect::<Vec<_>>(),
        "now_optional": d.now_optional.iter().map(|l| json!({"description": l.description, "total": c.format(l.total_minor)})).collect::<Vec<_>>(),
        "now_required": d.now_required.iter().map(|l| json!({"description": l.description, "total": c.format(l.total_minor)})).collect::<Vec<_>>(),
    })
}

/// A message of `kind` with the usual context plus `extra`, once per `key`.
#[allow(clippy::too_many_arguments)]
pub async fn simple<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    customer: &customer::Model,
    kind: MessageKind,
    key: String,
    extra: serde_json::Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    about(db, n, Parties { org, customer, job }, kind, key, (None, None), extra, now).await
}

/// Renders and enqueues one message of `kind` about a job (and, when given,
/// a visit, with when the message stops being worth sending), with `extra`
/// on top of the usual context. Returns how many rows were new.
#[allow(clippy::too_many_arguments)]
pub async fn about<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    parties: Parties<'_>,
    kind: MessageKind,
    key: String,
    (visit_id, expires_at): (Option<i64>, Option<DateTime<Utc>>),
    extra: serde_json::Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let wording = compose::wording_of(db, parties.org.id).await?;
    let link = outbox::job_link(&n.public_url, parties.job);
    let mut ctx = compose::base_ctx(&parties, &link.url);
    ctx.extend(extra);
    let plan = Plan { kind, key, visit_id, due_at: now, expires_at, ctx: &ctx };
    let drafts = compose::drafts(&n.templates, &wording, &parties, plan).map_err(template_err)?;
    Ok(outbox::enqueue(db, parties.org.id, drafts, Some((&link, parties.job.id)), now).await?)
}

/// The job is done: completion promises are kept, and we thank the customer
/// and ask for a rating.
pub async fn on_job_completed<C: ConnectionTrait>(
    db: &C,
    n: &NotifyCtx,
    org: &organization::Model,
    job: &job::Model,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use crate::store::promises;
    for p in promises::pending_of_kind(db, job.id, PromiseKind::CompletionBy).await? {
        promises::decide(
            db,
            p.id,
            PromiseOutcome::Kept,
            json!({"job_status": JobStatus::Completed, "at": now}),
            None,
            now,
        )
        .await?;
    }
    let customer = customer_of(db, job).await?;
    simple(db, n, org, job, &customer, MessageKind::ThankYou, format!("thank_you:{}", job.id), Default::default(), now)
        .await?;
    Ok(())
}
