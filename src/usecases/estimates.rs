//! Sending an estimate (the pricing breakdown goes out, earlier versions
//! are superseded) and the customer's answer to it (approve, decline, or a
//! question we promise to answer). Writing and revising drafts is data
//! work: `crate::store::estimates`.

use crate::db::Db;
use crate::domain::bounds;
use crate::domain::job::{JobStatus, TimelineKind};
use crate::domain::money::EstimateStatus;
use crate::domain::money::{Currency, LineKind, Quantity, TaxRate, MAX_LINES};
use crate::domain::promise::{PromiseKind, PromiseOutcome};
use crate::entities::{customer, estimate, estimate_line, job, organization};
use crate::error::{Error, Problems};
use crate::messages::NotifyCtx;
use crate::store::estimates::{load, outdated, Full};
use crate::store::estimates::{DraftLine, EstimateDraft, Tax};
use crate::store::timeline::{self, Event};
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

/// An estimate as typed in (a JSON body, the editor's form), before it is
/// checked: the whole of it (an edit replaces every line).
#[derive(Debug, Clone, Default)]
pub struct EstimateFields {
    pub currency: Option<String>,
    /// One tax named "Tax": a percent as a decimal string ("8.875")...
    pub tax_percent: Option<Value>,
    /// ...or, as older clients send it, in basis points (825 = 8.25%).
    pub tax_rate_bp: Option<i64>,
    pub taxes: Option<Vec<TaxFields>>,
    pub notes: Option<String>,
    pub valid_until: Option<String>,
    pub lines: Option<Vec<LineFields>>,
    pub confirm: Option<bool>,
}

/// A named tax as typed in.
#[derive(Debug, Clone, Default)]
pub struct TaxFields {
    pub name: Option<String>,
    /// A percent as a decimal string ("8.875", at most three decimals)...
    pub rate_percent: Option<Value>,
    /// ...or basis points (825), not both.
    pub rate_bp: Option<i64>,
}

/// One tax rate given either as a percent string (`percent_field`) or in
/// basis points (`bp_field`): exactly one, each checked, the problem named
/// by the field that carried it. Returns the rate and the field it came in.
fn tax_rate(
    p: &mut Problems,
    (percent_field, percent): (&str, Option<Value>),
    (bp_field, bp): (&str, Option<i64>),
) -> Option<(TaxRate, String)> {
    match (percent, bp) {
        (Some(_), Some(_)) => {
            p.add(percent_field, format!("give the rate once: either {percent_field} or {bp_field}, not both"));
            None
        }
        (Some(Value::String(s)), None) => p.check(percent_field, TaxRate::parse(&s)).map(|r| (r, percent_field.into())),
        (Some(other), None) => {
            p.add(percent_field, format!("must be a decimal string such as \"8.875\", not {other}"));
            None
        }
        (None, Some(bp)) => match TaxRate::from_bp(bp) {
            Some(r) => Some((r, bp_field.into())),
            None => {
                p.add(bp_field, "must be between 0 and 10000 basis points (100%)");
                None
            }
        },
        (None, None) => None,
    }
}

/// One line as typed in; the quantity is a decimal string (a JSON number
/// is refused, so no amount is rounded on the way).
#[derive(Debug, Clone, Default)]
pub struct LineFields {
    pub kind: Option<String>,
    pub description: Option<String>,
    pub quantity: Option<Value>,
    pub unit: Option<String>,
    pub unit_price_minor: Option<i64>,
    /// An item the customer may add (false when absent).
    pub optional: Option<bool>,
}

/// Checks every field of an estimate, naming each problem (`lines[2].quantity`).
pub fn parse(input: EstimateFields, org: &organization::Model) -> Result<EstimateDraft, Error> {
    let mut p = Problems::default();
    let currency = match input.currency {
        None => Currency::parse(&org.currency).ok(),
        Some(c) => p.check("currency", Currency::parse(&c)),
    };
    let mut taxes = Vec::new();
    let mut unusual = Vec::new();
    if let Some((rate, field)) =
        tax_rate(&mut p, ("tax_percent", input.tax_percent), ("tax_rate_bp", input.tax_rate_bp))
    {
        unusual.extend(bounds::unusual_tax(&field, rate));
        taxes.push(Tax { name: "Tax".into(), rate, amount_minor: 0 });
    }
    for (i, t) in input.taxes.unwrap_or_default().into_iter().enumerate() {
        let name = crate::error::required_text(&mut p, &format!("taxes[{i}].name"), t.name, 80);
        let (percent, bp) = (format!("taxes[{i}].rate_percent"), format!("taxes[{i}].rate_bp"));
        if t.rate_percent.is_none() && t.rate_bp.is_none() {
            p.add(&percent, "is required (a percent such as \"8.875\"; or rate_bp in basis points)");
        }
        if let Some((rate, field)) = tax_rate(&mut p, (&percent, t.rate_percent), (&bp, t.rate_bp)) {
            unusual.extend(bounds::unusual_tax(&field, rate));
            taxes.push(Tax { name: name.unwrap_or_default(), rate, amount_minor: 0 })
        }
    }
    if taxes.len() > 5 {
        p.add("taxes", "at most 5 taxes");
    }
    let notes = crate::error::optional_text(&mut p, "notes", input.notes, 5000).unwrap_or_default();
    let valid_until = input.valid_until.and_then(|v| {
        p.check(
            "valid_until",
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| format!("'{v}' is not a date such as 2026-12-31")),
        )
    });
    let raw_lines = input.lines.unwrap_or_default();
    if raw_lines.len() > MAX_LINES {
        p.add("lines", format!("at most {MAX_LINES} lines"));
    }
    let mut lines = Vec::new();
    for (i, l) in raw_lines.into_iter().enumerate().take(MAX_LINES) {
        let f = |name: &str| format!("lines[{i}].{name}");
        let kind = match l.kind.as_deref() {
            None => {
                p.add(&f("kind"), format!("is required (one of {})", LineKind::choices()));
                None
            }
            Some(k) => p.check(
                &f("kind"),
                LineKind::parse(k.trim()).ok_or(format!("'{k}' is not one of {}", LineKind::choices())),
            ),
        };
        let description = crate::error::required_text(&mut p, &f("description"), l.description, 300);
        let quantity = match l.quantity {
            None => {
                p.add(&f("quantity"), "is required (a decimal string such as \"2.5\")");
                None
            }
            Some(Value::String(s)) => p.check(&f("quantity"), Quantity::parse(&s)),
            Some(other) => {
                p.add(&f("quantity"), format!("must be a decimal string such as \"2.5\", not {other}"));
                None
            }
        };
        let unit = crate::error::optional_text(&mut p, &f("unit"), l.unit, 20).unwrap_or_default();
        if l.unit_price_minor.is_none() {
            p.add(&f("unit_price_minor"), "is required (integer minor units, e.g. 8500 for $85.00)");
        }
        if let (Some(kind), Some(description), Some(quantity), Some(unit_price_minor)) =
            (kind, description, quantity, l.unit_price_minor)
        {
            let optional = l.optional.unwrap_or(false);
            lines.push(DraftLine { kind, description, quantity, unit, unit_price_minor, optional });
        }
    }
    p.into_result()?;
    let currency = currency
        .ok_or_else(|| Error::field("currency", format!("the organization's currency {} is unknown", org.currency)))?;
    let confirmed = input.confirm.unwrap_or(false);
    let draft = EstimateDraft { currency, taxes, notes, valid_until, lines, confirmed, unusual };
    crate::store::estimates::price(&draft)?;
    Ok(draft)
}

/// The newest version before `e` that the customer was sent: what a
/// revision is compared with, in the message and in the editor.
pub async fn previous_sent<C: sea_orm::ConnectionTrait>(
    db: &C,
    org_id: i64,
    e: &estimate::Model,
) -> Result<Option<Full>, Error> {
    let previous = estimate::Entity::find()
        .filter(estimate::Column::JobId.eq(e.job_id))
        .filter(estimate::Column::OrganizationId.eq(org_id))
        .filter(estimate::Column::Version.lt(e.version))
        .filter(estimate::Column::SentAt.is_not_null())
        .order_by_desc(estimate::Column::Version)
        .one(db)
        .await?;
    match previous {
        Some(p) => Ok(Some(load(db, org_id, p.id).await?)),
        None => Ok(None),
    }
}

/// Sends a draft: the customer gets the pricing breakdown, earlier versions
/// are superseded, and the job waits for approval.
pub async fn send(
    db: &Db,
    n: &NotifyCtx,
    org: &organization::Model,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Full, Error> {
    let txn = db.begin().await?;
    // Claim the draft first (a write), so two sends cannot both go out.
    let claimed = estimate::Entity::update_many()
        .col_expr(estimate::Column::Status, Expr::value(EstimateStatus::Sent))
        .col_expr(estimate::Column::SentAt, Expr::value(now))
        .col_expr(estimate::Column::UpdatedAt, Expr::value(now))
        .filter(estimate::Column::Id.eq(id))
        .filter(estimate::Column::OrganizationId.eq(org.id))
        .filter(estimate::Column::Status.eq(EstimateStatus::Draft))
        .exec(&txn)
        .await?
        .rows_affected;
    let full = load(&txn, org.id, id).await?;
    if claimed == 0 {
        return Err(Error::Conflict {
            code: "estimate_not_draft",
            message: format!(
                "estimate {id} is {}; only a draft can be sent (edit it to make a new version)",
                full.estimate.status
            ),
            details: json!({"estimate_id": id, "status": full.estimate.status}),
        });
    }
    if full.lines.is_empty() {
        return Err(Error::field("lines", "an empty estimate cannot be sent; add at least one line"));
    }
    let e = &full.estimate;
    let previous = previous_sent(&txn, org.id, e).await?;
    estimate::Entity::update_many()
        .col_expr(estimate::Column::Status, Expr::value(EstimateStatus::Superseded))
        .filter(estimate::Column::JobId.eq(e.job_id))
        .filter(estimate::Column::Version.lt(e.version))
        .filter(estimate::Column::Status.is_in([
            EstimateStatus::Sent,
            EstimateStatus::ChangesRequested,
            EstimateStatus::Draft,
        ]))
        .exec(&txn)
        .await?;
    let job = crate::store::jobs::get(&txn, org.id, e.job_id).await?;
    let customer = crate::store::customers::get(&txn, org.id, job.customer_id).await?;
    crate::messages::events::pricing_breakdown(&txn, n, org, &job, &customer, &full, previous.as_ref(), now).await?;
    crate::store::promises::answered(&txn, job.id, "a revised estimate", now).await?;
    let currency = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
    timeline::record(
        &txn,
        org.id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::EstimateSent,
            summary: format!("Estimate version {} sent: {}", e.version, currency.format(e.total_minor)),
            data: json!({"estimate_id": e.id, "version": e.version, "total_minor": e.total_minor}),
        },
        now,
    )
    .await?;
    if job.status.is_open() {
        crate::store::jobs::set_status(&txn, &job, JobStatus::AwaitingApproval, "the estimate was sent", now).await?;
    }
    // Sending the estimate keeps the "estimate by" promise.
    for p in crate::store::promises::pending_of_kind(&txn, job.id, PromiseKind::EstimateBy).await? {
        crate::store::promises::decide(
            &txn,
            p.id,
            PromiseOutcome::Kept,
            json!({"estimate_id": e.id, "sent_at": now}),
            None,
            now,
        )
        .await?;
    }
    let full = load(&txn, org.id, id).await?;
    txn.commit().await?;
    Ok(full)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline,
    Question,
}

/// The customer's answer, from their private link. Only the current, sent
/// version can be answered. An approval names the optional items the
/// customer chose (`chosen`, line ids); the server prices the choice and
/// records it with the approved total. An id that is not one of the
/// estimate's optional items is refused (field `options`), changing nothing.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    db: &Db,
    n: &NotifyCtx,
    job: &job::Model,
    id: i64,
    decision: Decision,
    comment: Option<String>,
    chosen: &[i64],
    now: DateTime<Utc>,
) -> Result<Full, Error> {
    let org_id = job.organization_id;
    let txn = db.begin().await?;
    let e = estimate::Entity::find_by_id(id)
        .filter(estimate::Column::JobId.eq(job.id))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound)?;
    let current = estimate::Entity::find()
        .filter(estimate::Column::JobId.eq(job.id))
        .filter(estimate::Column::SentAt.is_not_null())
        .order_by_desc(estimate::Column::Version)
        .one(&txn)
        .await?
        .map(|c| c.id);
    if current != Some(e.id) {
        return Err(outdated(&e, current));
    }
    if decision == Decision::Question && comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(Error::field("comment", "tell us what you would like to ask or change"));
    }
    // The choice is priced (and refused) before anything is written.
    let choice = match decision {
        Decision::Approve => {
            let full = load(&txn, org_id, e.id).await?;
            let currency = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
            let (ids, totals) = crate::store::estimates::price_choice(&full, chosen, "options")?;
            let names: Vec<String> = full
                .lines
                .iter()
                .filter(|l| ids.contains(&l.id))
                .map(|l| format!("{} ({})", l.description, currency.format(l.total_minor)))
                .collect();
            Some((ids, totals.total, names, currency))
        }
        Decision::Decline | Decision::Question => None,
    };
    let (new_status, job_status, verb) = match decision {
        Decision::Approve => (EstimateStatus::Approved, JobStatus::Approved, "approved"),
        Decision::Decline => (EstimateStatus::Declined, JobStatus::Cancelled, "declined"),
        Decision::Question => (EstimateStatus::ChangesRequested, JobStatus::Estimating, "asked about"),
    };
    let moved = estimate::Entity::update_many()
        .col_expr(estimate::Column::Status, Expr::value(new_status))
        .col_expr(estimate::Column::DecidedAt, Expr::value(now))
        .col_expr(estimate::Column::DecisionComment, Expr::value(comment.clone()))
        .col_expr(estimate::Column::UpdatedAt, Expr::value(now))
        .filter(estimate::Column::Id.eq(e.id))
        .filter(estimate::Column::Status.is_in([EstimateStatus::Sent, EstimateStatus::ChangesRequested]))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(Error::Conflict {
            code: "estimate_decided",
            message: format!("this estimate was already {}", e.status.as_str().replace('_', " ")),
            details: json!({"estimate_id": e.id, "status": e.status}),
        });
    }
    if let Some((ids, total, _, _)) = &choice {
        estimate::Entity::update_many()
            .col_expr(estimate::Column::ApprovedTotalMinor, Expr::value(*total))
            .filter(estimate::Column::Id.eq(e.id))
            .exec(&txn)
            .await?;
        if !ids.is_empty() {
            estimate_line::Entity::update_many()
                .col_expr(estimate_line::Column::Chosen, Expr::value(true))
                .filter(estimate_line::Column::EstimateId.eq(e.id))
                .filter(estimate_line::Column::Id.is_in(ids.clone()))
                .exec(&txn)
                .await?;
        }
    }
    let customer: customer::Model = crate::store::customers::get(&txn, org_id, job.customer_id).await?;
    let org = crate::store::orgs::get(&txn, org_id).await?;
    let mut summary = match &comment {
        Some(c) if !c.trim().is_empty() => {
            format!("{} {verb} estimate version {}: \"{}\"", customer.name, e.version, c.trim())
        }
        _ => format!("{} {verb} estimate version {}", customer.name, e.version),
    };
    if let Some((_, total, names, currency)) = &choice {
        summary = match names.is_empty() {
            true => format!("{summary} for {}", currency.format(*total)),
            false => format!("{summary} with {} for {}", names.join(", "), currency.format(*total)),
        };
    }
    timeline::record(
        &txn,
        org_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: match decision {
                Decision::Approve => TimelineKind::EstimateApproved,
                Decision::Decline => TimelineKind::EstimateDeclined,
                Decision::Question => TimelineKind::EstimateQuestion,
            },
            summary: summary.clone(),
            data: json!({
                "estimate_id": e.id, "version": e.version, "comment": comment,
                "chosen_line_ids": choice.as_ref().map(|c| c.0.clone()),
                "approved_total_minor": choice.as_ref().map(|c| c.1),
            }),
        },
        now,
    )
    .await?;
    let fresh_job = crate::store::jobs::get(&txn, org_id, job.id).await?;
    crate::store::jobs::set_status(&txn, &fresh_job, job_status, &format!("the customer {verb} the estimate"), now)
        .await?;
    if decision == Decision::Question {
        // Acknowledged at once, with when we will answer: a promise.
        crate::store::promises::promise_answer(&txn, org_id, job.id, e.id, now).await?;
    }
    let title = match decision {
        Decision::Approve => "Estimate approved",
        Decision::Decline => "Estimate declined",
        Decision::Question => "Question about the estimate",
    };
    crate::messages::alerts::alert_dispatchers(
        &txn,
        n,
        &org,
        &customer,
        job,
        &format!("estimate:{}:{verb}", e.id),
        title,
        &summary,
        now,
    )
    .await?;
    let full = load(&txn, org_id, e.id).await?;
    txn.commit().await?;
    Ok(full)
}
