//! Estimates: drafts, versions, sending, and the customer's decision.

use super::timeline::{self, Event};
use crate::db::Db;
use crate::domain::bounds::{self, Unusual};
use crate::domain::job::TimelineKind;
use crate::domain::money::{self, Currency, EstimateStatus, Line, LineKind, PricingError, Quantity, TaxRate};
use crate::entities::{estimate, estimate_line};
use crate::error::{Error, FieldError};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A tax as given: a name and a rate, stored in thousandths of a percent
/// (`rate_pcm`: 8875 = 8.875%).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tax {
    pub name: String,
    #[serde(rename = "rate_pcm")]
    pub rate: TaxRate,
    #[serde(default)]
    pub amount_minor: i64,
}

/// An estimate as the office writes it, already checked.
#[derive(Debug, Clone)]
pub struct EstimateDraft {
    pub currency: Currency,
    pub taxes: Vec<Tax>,
    pub notes: String,
    pub valid_until: Option<NaiveDate>,
    pub lines: Vec<DraftLine>,
    /// The office confirmed unusual values (`"confirm": true`).
    pub confirmed: bool,
    /// Unusual values already found in the request (a tax above 30%),
    /// refused with any found against the previous version unless confirmed.
    pub unusual: Vec<Unusual>,
}

#[derive(Debug, Clone)]
pub struct DraftLine {
    pub kind: LineKind,
    pub description: String,
    pub quantity: Quantity,
    pub unit: String,
    pub unit_price_minor: i64,
    /// The customer may add it; not in the total unless they choose it.
    pub optional: bool,
}

/// Prices a draft with the server's rules, naming the offending field.
pub fn price(d: &EstimateDraft) -> Result<money::Totals, Error> {
    let lines: Vec<Line> = d
        .lines
        .iter()
        .map(|l| Line {
            kind: l.kind,
            quantity: l.quantity,
            unit_price_minor: l.unit_price_minor,
            optional: l.optional,
        })
        .collect();
    let rates: Vec<TaxRate> = d.taxes.iter().map(|t| t.rate).collect();
    if lines.is_empty() {
        return Ok(money::Totals { lines: vec![], subtotal: 0, taxes: vec![0; rates.len()], tax: 0, total: 0 });
    }
    money::price(&lines, &rates).map_err(pricing_error)
}

/// A pricing refusal as a problem with the field that caused it.
fn pricing_error(e: PricingError) -> Error {
    match e {
        PricingError::Line { index, field, message } => Error::field(format!("lines[{index}].{field}"), message),
        PricingError::Tax { index, message } => Error::field(format!("taxes[{index}].rate_percent"), message),
        PricingError::TooManyLines => Error::field("lines", format!("at most {} lines", money::MAX_LINES)),
        PricingError::Empty => Error::field("lines", "add at least one line"),
        PricingError::Overflow => Error::field("lines", "the total is too large to compute"),
        PricingError::NegativeTotal => Error::field("lines", "the discounts are larger than everything else"),
        PricingError::OnlyOptional => {
            Error::field("lines", "at least one item must be required: the total is what the required items cost")
        }
    }
}

/// The stored lines as the pricing rules see them.
fn stored_lines(f: &Full) -> Vec<Line> {
    f.lines
        .iter()
        .map(|l| Line {
            kind: l.kind,
            quantity: Quantity(l.quantity_units),
            unit_price_minor: l.unit_price_minor,
            optional: l.optional,
        })
        .collect()
}

/// What a sent estimate costs with the optional lines `chosen` (line ids):
/// the indexes chosen and the totals, or a problem naming `field` when an id
/// is not one of its optional items.
pub fn price_choice(f: &Full, chosen: &[i64], field: &str) -> Result<(Vec<i64>, money::Totals), Error> {
    let mut ids: Vec<i64> = Vec::new();
    let mut indexes = Vec::new();
    for id in chosen {
        match f.lines.iter().position(|l| l.id == *id) {
            Some(i) if f.lines[i].optional => {
                if !ids.contains(id) {
                    ids.push(*id);
                    indexes.push(i);
                }
            }
            Some(_) => {
                return Err(Error::field(field, format!("item {id} is not optional: it is already in the total")))
            }
            None => return Err(Error::field(field, format!("item {id} is not an item of this estimate"))),
        }
    }
    let rates: Vec<TaxRate> = f.taxes().iter().map(|t| t.rate).collect();
    let totals = money::price_with(&stored_lines(f), &rates, &indexes).map_err(pricing_error)?;
    Ok((ids, totals))
}

/// Refuses, naming each field, the unusual values of `d` and the jumps from
/// `before` (the version it revises), unless the office confirmed them.
fn refuse_unusual(d: &EstimateDraft, totals: &money::Totals, before: Option<&Full>) -> Result<(), Error> {
    if d.confirmed {
        return Ok(());
    }
    let mut found = d.unusual.clone();
    if let Some(b) = before.filter(|b| b.estimate.currency == d.currency.code) {
        let new: Vec<money::PricedLine> = d
            .lines
            .iter()
            .zip(&totals.lines)
            .map(|(l, total)| money::PricedLine {
                kind: l.kind.as_str().into(),
                description: l.description.clone(),
                quantity: l.quantity.to_string(),
                unit_price_minor: l.unit_price_minor,
                total_minor: *total,
                optional: l.optional,
            })
            .collect();
        found.extend(bounds::unusual_jumps(&b.priced_lines(), b.estimate.total_minor, &new, totals.total, &d.currency));
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Validation(found.into_iter().map(|u| FieldError { field: u.field, message: u.message }).collect()))
}

/// An estimate with its lines.
#[derive(Debug, Clone)]
pub struct Full {
    pub estimate: estimate::Model,
    pub lines: Vec<estimate_line::Model>,
}

/// The taxes stored on an estimate, in the order given.
pub fn taxes_of(e: &estimate::Model) -> Vec<Tax> {
    serde_json::from_str(&e.taxes).unwrap_or_default()
}

impl Full {
    pub fn taxes(&self) -> Vec<Tax> {
        taxes_of(&self.estimate)
    }

    /// The lines, then the taxes as lines (kind `tax`), as a revision
    /// compares them: a changed rate or tax amount is a change to show.
    pub fn priced_lines(&self) -> Vec<money::PricedLine> {
        let lines = self.lines.iter().map(|l| money::PricedLine {
            kind: l.kind.as_str().into(),
            description: l.description.clone(),
            quantity: l.quantity.clone(),
            unit_price_minor: l.unit_price_minor,
            total_minor: l.total_minor,
            optional: l.optional,
        });
        let taxes = self.taxes().into_iter().map(|t| money::PricedLine::tax(&t.name, t.rate, t.amount_minor));
        lines.chain(taxes).collect()
    }
}

pub async fn load<C: ConnectionTrait>(db: &C, org_id: i64, id: i64) -> Result<Full, Error> {
    let estimate = estimate::Entity::find_by_id(id)
        .filter(estimate::Column::OrganizationId.eq(org_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    let lines = estimate_line::Entity::find()
        .filter(estimate_line::Column::EstimateId.eq(estimate.id))
        .order_by_asc(estimate_line::Column::Position)
        .all(db)
        .await?;
    Ok(Full { estimate, lines })
}

pub async fn for_job<C: ConnectionTrait>(db: &C, org_id: i64, job_id: i64) -> Result<Vec<estimate::Model>, Error> {
    Ok(estimate::Entity::find()
        .filter(estimate::Column::OrganizationId.eq(org_id))
        .filter(estimate::Column::JobId.eq(job_id))
        .order_by_asc(estimate::Column::Version)
        .all(db)
        .await?)
}

async fn latest<C: ConnectionTrait>(db: &C, job_id: i64) -> Result<Option<estimate::Model>, Error> {
    Ok(estimate::Entity::find()
        .filter(estimate::Column::JobId.eq(job_id))
        .order_by_desc(estimate::Column::Version)
        .one(db)
        .await?)
}

async fn write_lines<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    estimate_id: i64,
    lines: &[DraftLine],
    totals: &[i64],
) -> Result<(), Error> {
    estimate_line::Entity::delete_many().filter(estimate_line::Column::EstimateId.eq(estimate_id)).exec(db).await?;
    if lines.is_empty() {
        return Ok(());
    }
    estimate_line::Entity::insert_many(lines.iter().zip(totals).enumerate().map(|(i, (l, total))| {
        estimate_line::ActiveModel {
            estimate_id: Set(estimate_id),
            organization_id: Set(org_id),
            position: Set(i as i32),
            kind: Set(l.kind),
            description: Set(l.description.clone()),
            quantity: Set(l.quantity.to_string()),
            quantity_units: Set(l.quantity.0),
            unit: Set(l.unit.clone()),
            unit_price_minor: Set(l.unit_price_minor),
            total_minor: Set(*total),
            optional: Set(l.optional),
            chosen: Set(false),
            ..Default::default()
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn taxes_with_amounts(d: &EstimateDraft, t: &money::Totals) -> String {
    let taxes: Vec<Tax> = d
        .taxes
        .iter()
        .zip(&t.taxes)
        .map(|(tax, amount)| Tax { name: tax.name.clone(), rate: tax.rate, amount_minor: *amount })
        .collect();
    serde_json::to_string(&taxes).unwrap_or_else(|_| "[]".into())
}

/// Writes `d` as a new version of the job's estimate (version 1 if none).
/// Refused while an unsent draft exists: edit that one instead.
pub async fn create(
    db: &Db,
    org_id: i64,
    job_id: i64,
    d: EstimateDraft,
    author: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Full, Error> {
    let totals = price(&d)?;
    let txn = db.begin().await?;
    let job = super::jobs::get(&txn, org_id, job_id).await?;
    let prev = latest(&txn, job.id).await?;
    if let Some(p) = prev.as_ref().filter(|p| p.status == EstimateStatus::Draft) {
        return Err(Error::Conflict {
            code: "draft_exists",
            message: format!("estimate {} (version {}) is still a draft; edit it instead", p.id, p.version),
            details: json!({"estimate_id": p.id}),
        });
    }
    let before = match prev.as_ref() {
        Some(p) if !d.confirmed => Some(load(&txn, org_id, p.id).await?),
        _ => None,
    };
    refuse_unusual(&d, &totals, before.as_ref())?;
    let version = prev.as_ref().map(|p| p.version + 1).unwrap_or(1);
    let e = insert_version(&txn, org_id, job.id, version, &d, &totals, author, now).await?;
    timeline::record(
        &txn,
        org_id,
        Event {
            job_id: job.id,
            visit_id: None,
            kind: TimelineKind::EstimateDrafted,
            summary: format!("Estimate version {version} drafted ({})", d.currency.format(totals.total)),
            data: json!({"estimate_id": e.id, "version": version, "total_minor": totals.total}),
        },
        now,
    )
    .await?;
    let full = load(&txn, org_id, e.id).await?;
    txn.commit().await?;
    Ok(full)
}

#[allow(clippy::too_many_arguments)]
async fn insert_version<C: ConnectionTrait>(
    db: &C,
    org_id: i64,
    job_id: i64,
    version: i32,
    d: &EstimateDraft,
    totals: &money::Totals,
    author: Option<i64>,
    now: DateTime<Utc>,
) -> Result<estimate::Model, Error> {
    let e = estimate::ActiveModel {
        organization_id: Set(org_id),
        job_id: Set(job_id),
        version: Set(version),
        status: Set(EstimateStatus::Draft),
        currency: Set(d.currency.code.into()),
        taxes: Set(taxes_with_amounts(d, totals)),
        notes: Set(d.notes.clone()),
        valid_until: Set(d.valid_until),
        subtotal_minor: Set(totals.subtotal),
        tax_minor: Set(totals.tax),
        total_minor: Set(totals.total),
        author_staff_id: Set(author),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| {
        super::unique_violation(e, "version_taken", "someone else just made a new version; reload and try again")
    })?;
    write_lines(db, org_id, e.id, &d.lines, &totals.lines).await?;
    Ok(e)
}

/// Edits a draft in place; editing anything already sent makes a new draft
/// version and leaves the old one readable. Returns the estimate and whether
/// it is a new version.
pub async fn edit(
    db: &Db,
    org_id: i64,
    id: i64,
    d: EstimateDraft,
    author: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(Full, bool), Error> {
    let totals = price(&d)?;
    let txn = db.begin().await?;
    let before = load(&txn, org_id, id).await?;
    let current = before.estimate.clone();
    let newest = latest(&txn, current.job_id).await?.map(|e| e.id);
    if newest != Some(current.id) {
        return Err(outdated(&current, newest));
    }
    refuse_unusual(&d, &totals, Some(&before))?;
    if current.status == EstimateStatus::Draft {
        let mut a: estimate::ActiveModel = current.clone().into();
        a.currency = Set(d.currency.code.into());
        a.taxes = Set(taxes_with_amounts(&d, &totals));
        a.notes = Set(d.notes.clone());
        a.valid_until = Set(d.valid_until);
        a.subtotal_minor = Set(totals.subtotal);
        a.tax_minor = Set(totals.tax);
        a.total_minor = Set(totals.total);
        a.updated_at = Set(now);
        a.update(&txn).await?;
        write_lines(&txn, org_id, current.id, &d.lines, &totals.lines).await?;
        let full = load(&txn, org_id, current.id).await?;
        txn.commit().await?;
        return Ok((full, false));
    }
    let version = current.version + 1;
    let e = insert_version(&txn, org_id, current.job_id, version, &d, &totals, author, now).await?;
    timeline::record(
        &txn,
        org_id,
        Event {
            job_id: current.job_id,
            visit_id: None,
            kind: TimelineKind::EstimateDrafted,
            summary: format!("Estimate version {version} drafted as a revision of version {}", current.version),
            data: json!({"estimate_id": e.id, "version": version, "revises": current.id}),
        },
        now,
    )
    .await?;
    let full = load(&txn, org_id, e.id).await?;
    txn.commit().await?;
    Ok((full, true))
}

pub fn outdated(e: &estimate::Model, current: Option<i64>) -> Error {
    Error::Conflict {
        code: "estimate_outdated",
        message: match current {
            Some(c) => format!("version {} is not the current estimate; the current one is estimate {c}", e.version),
            None => format!("version {} is not the current estimate", e.version),
        },
        details: json!({"estimate_id": e.id, "current_estimate_id": current}),
    }
}

/// One line of an estimate, with its amounts formatted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = EstimateLine)]
pub struct LineView {
    /// The item's id: what the customer's approval names to choose an optional item.
    pub id: i64,
    /// 1, 2, … in the order written.
    pub position: i32,
    pub kind: LineKind,
    pub description: String,
    /// A decimal string, such as "2.5".
    pub quantity: String,
    /// hr, ea, sq ft… (may be empty).
    pub unit: String,
    /// Integer minor units (8500 = $85.00).
    pub unit_price_minor: i64,
    pub total_minor: i64,
    /// `unit_price_minor` formatted in the estimate's currency.
    pub unit_price: String,
    pub total: String,
    /// An item the customer may add: not in the estimate's total.
    pub optional: bool,
    /// The customer chose this optional item when approving.
    pub chosen: bool,
    /// For an optional item, what choosing it adds to the total (its price
    /// and the tax on it); null for a required item.
    pub adds_minor: Option<i64>,
    pub adds: Option<String>,
}

/// One tax of an estimate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = EstimateTax)]
pub struct TaxView {
    pub name: String,
    /// The rate in percent as people write it, exactly, without trailing
    /// zeros: "8.875", "8.25", "6".
    pub rate_percent: String,
    /// The rate in basis points (825 is 8.25%) when it is a whole number of
    /// them; null when it is not (8.875%), never a rounded rate.
    pub rate_bp: Option<i64>,
    pub amount_minor: i64,
    pub amount: String,
}

/// The estimate as the API and the customer's page show it, with formatted amounts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Estimate)]
pub struct EstimateView {
    pub id: i64,
    pub job_id: i64,
    /// 1 for the first estimate of a job; each revision of a sent one is the next.
    pub version: i32,
    pub status: money::EstimateStatus,
    /// ISO 4217.
    pub currency: String,
    /// Whether this is the job's newest version, the one the customer decides on.
    pub is_current: bool,
    pub lines: Vec<LineView>,
    /// The sum of the taxes' rates in percent, exactly ("8.875").
    pub tax_percent: String,
    /// The sum of the taxes' rates in basis points when it is a whole number
    /// of them; null when it is not (8.875%).
    pub tax_rate_bp: Option<i64>,
    pub taxes: Vec<TaxView>,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub subtotal: String,
    pub tax: String,
    pub total: String,
    pub notes: String,
    /// The last day the price holds.
    pub valid_until: Option<chrono::NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// What the customer said with their decision.
    pub decision_comment: Option<String>,
    /// What the customer approved: the total plus the optional items they
    /// chose (null until approved).
    pub approved_total_minor: Option<i64>,
    pub approved_total: Option<String>,
}

/// The estimate as the API shows it, with formatted amounts.
pub fn view(f: &Full, current_id: Option<i64>) -> Result<EstimateView, Error> {
    let e = &f.estimate;
    let c = crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?;
    let rates: Vec<TaxRate> = f.taxes().iter().map(|t| t.rate).collect();
    let adds = match money::option_adds(&stored_lines(f), &rates) {
        Ok(adds) => adds,
        // An estimate with no lines yet (a draft) adds nothing.
        Err(PricingError::Empty) => vec![],
        Err(err) => return Err(Error::Internal(format!("estimate {} no longer prices: {err:?}", f.estimate.id))),
    };
    let lines = f
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| LineView {
            id: l.id,
            position: l.position,
            kind: l.kind,
            description: l.description.clone(),
            quantity: l.quantity.clone(),
            unit: l.unit.clone(),
            unit_price_minor: l.unit_price_minor,
            total_minor: l.total_minor,
            unit_price: c.format(l.unit_price_minor),
            total: c.format(l.total_minor),
            optional: l.optional,
            chosen: l.chosen,
            adds_minor: adds.get(i).copied().flatten(),
            adds: adds.get(i).copied().flatten().map(|a| c.format(a)),
        })
        .collect();
    let taxes = f.taxes();
    let sum_of_rates = TaxRate(taxes.iter().map(|t| t.rate.0).sum());
    Ok(EstimateView {
        id: e.id,
        job_id: e.job_id,
        version: e.version,
        status: e.status,
        currency: e.currency.clone(),
        is_current: current_id == Some(e.id),
        lines,
        tax_percent: sum_of_rates.to_string(),
        tax_rate_bp: sum_of_rates.as_bp(),
        taxes: taxes
            .iter()
            .map(|t| TaxView {
                name: t.name.clone(),
                rate_percent: t.rate.to_string(),
                rate_bp: t.rate.as_bp(),
                amount_minor: t.amount_minor,
                amount: c.format(t.amount_minor),
            })
            .collect(),
        subtotal_minor: e.subtotal_minor,
        tax_minor: e.tax_minor,
        total_minor: e.total_minor,
        subtotal: c.format(e.subtotal_minor),
        tax: c.format(e.tax_minor),
        total: c.format(e.total_minor),
        notes: e.notes.clone(),
        valid_until: e.valid_until,
        created_at: e.created_at,
        sent_at: e.sent_at,
        decided_at: e.decided_at,
        decision_comment: e.decision_comment.clone(),
        approved_total_minor: e.approved_total_minor,
        approved_total: e.approved_total_minor.map(|t| c.format(t)),
    })
}

/// The job's current estimate: the newest version (any status).
pub async fn current_id<C: ConnectionTrait>(db: &C, job_id: i64) -> Result<Option<i64>, Error> {
    Ok(latest(db, job_id).await?.map(|e| e.id))
}
