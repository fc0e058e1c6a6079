//! The estimate editor (`/app/jobs/{id}/estimate`): write an itemized
//! estimate (kind, description, quantity, unit, unit price), taxes, notes and
//! how long the price holds; save it as a draft priced by the server exactly
//! as the API prices it (`usecases::estimates::parse`, `store::estimates`);
//! see what a revision changed for the customer before sending; send it; and
//! read the customer's answer. The office, and an estimator on their own job.

use super::extract::{CsrfOnly, SignedForm, SignedIn};
use super::{problem, screen};
use crate::domain::money::{Currency, EstimateStatus, LineKind};
use crate::domain::people::Role;
use crate::entities::job;
use crate::error::{Error, FieldError, Problems};
use crate::state::AppState;
use crate::store::estimates::{self, Full};
use crate::usecases::estimates::{EstimateFields, LineFields, TaxFields};
use crate::web::PageError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

/// Blank rows offered below the written lines.
const BLANK_ROWS: usize = 3;
/// Tax rows offered.
const TAX_ROWS: usize = 2;

/// The job behind the URL, if the signed-in person may price it.
async fn job_to_price(state: &AppState, who: &SignedIn, id: &str) -> Result<job::Model, PageError> {
    let none = || PageError::from(problem(state, StatusCode::NOT_FOUND, "There is no such job."));
    let id = crate::web::id_in_path(id).ok_or_else(none)?;
    let job = match crate::store::jobs::get(&state.db, who.caller.organization_id, id).await {
        Ok(j) => j,
        Err(Error::NotFound) => return Err(none()),
        Err(e) => return Err(e.into()),
    };
    let may = who.caller.role.can_dispatch()
        || (who.caller.role == Role::Estimator && crate::access::may_open_job(&state.db, &who.caller, job.id).await?);
    if !may {
        return Err(problem(
            state,
            StatusCode::FORBIDDEN,
            "Only the office and this job's estimator write its estimate.",
        )
        .into());
    }
    Ok(job)
}

pub(super) async fn page(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let job = job_to_price(&state, &who, &id).await?;
    editor(&state, &who, &job, StatusCode::OK, None).await
}

/// What was typed into a refused form, and why.
struct Refused {
    rows: Vec<Value>,
    taxes: Vec<Value>,
    notes: String,
    valid_until: String,
    errors: Vec<String>,
    unusual: bool,
}

async fn editor(
    state: &AppState,
    who: &SignedIn,
    job: &job::Model,
    status: StatusCode,
    refused: Option<Refused>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let customer = crate::store::customers::get(&state.db, org.id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let when = |t: chrono::DateTime<chrono::Utc>| zone.local(t).format("%b %-d, %-I:%M %p").to_string();
    let mut all = Vec::new();
    for e in estimates::for_job(&state.db, org.id, job.id).await? {
        if crate::access::ensure_estimate(&who.caller, &e).is_ok() {
            all.push(estimates::load(&state.db, org.id, e.id).await?);
        }
    }
    all.sort_by_key(|f| f.estimate.version);
    let current = all.last();
    let currency = match current {
        Some(f) => crate::error::stored_currency(&f.estimate.currency, format_args!("estimate {}", f.estimate.id))?,
        None => crate::error::stored_currency(&org.currency, format_args!("organization {}", org.id))?,
    };
    let versions: Vec<Value> = all
        .iter()
        .rev()
        .map(|f| {
            let e = &f.estimate;
            json!({"version": e.version, "status": e.status.as_str().replace('_', " "), "total": currency.format(e.total_minor),
                   "sent": e.sent_at.map(when), "decided": e.decided_at.map(when), "comment": e.decision_comment})
        })
        .collect();
    // The draft on show: priced by the server, and what it changes for the customer.
    let draft = match current.filter(|f| f.estimate.status == EstimateStatus::Draft) {
        Some(f) => {
            let previous = crate::usecases::estimates::previous_sent(&state.db, org.id, &f.estimate).await?;
            let view = estimates::view(f, Some(f.estimate.id))?;
            Some(json!({
                "id": f.estimate.id, "version": f.estimate.version, "view": view,
                "changes": previous.as_ref().map(|p| crate::messages::events::revision_changes(p, f, &currency)),
            }))
        }
        None => None,
    };
    let decided =
        current.is_some_and(|f| matches!(f.estimate.status, EstimateStatus::Approved | EstimateStatus::Declined));
    let (rows, taxes, notes, valid_until, errors, unusual) = match refused {
        Some(r) => (r.rows, r.taxes, r.notes, r.valid_until, r.errors, r.unusual),
        None => {
            let (rows, taxes) = current.map(|f| rows_of(f, &currency)).unwrap_or_default();
            let notes = current.map(|f| f.estimate.notes.clone()).unwrap_or_default();
            let valid = current.and_then(|f| f.estimate.valid_until).map(|d| d.to_string()).unwrap_or_default();
            (rows, taxes, notes, valid, vec![], false)
        }
    };
    let rows: Vec<Value> = rows.into_iter().chain((0..BLANK_ROWS).map(|_| blank_row())).collect();
    let taxes: Vec<Value> =
        taxes.iter().cloned().chain((taxes.len()..TAX_ROWS).map(|_| json!({"name": "", "rate": ""}))).collect();
    let kinds: Vec<&str> = LineKind::ALL.iter().map(|k| k.as_str()).collect();
    let revising = current.is_some_and(|f| f.estimate.status != EstimateStatus::Draft) && !decided;
    Ok(screen(
        state,
        who,
        &org.name,
        "/app/jobs",
        "staff_estimate.html",
        status,
        json!({
            "job": {"id": job.id, "title": job.title, "open": job.status.is_open()}, "customer": customer.name,
            "currency": {"code": currency.code, "symbol": currency.symbol}, "versions": versions, "draft": draft,
            "decided": decided, "revising": revising, "rows": rows, "taxes": taxes, "notes": notes,
            "valid_until": valid_until, "errors": errors, "unusual": unusual, "kinds": kinds,
        }),
    ))
}

fn blank_row() -> Value {
    json!({"kind": "labor", "description": "", "quantity": "", "unit": "", "price": "", "optional": false})
}

/// The rows and taxes of a written estimate, as the form shows them.
fn rows_of(f: &Full, c: &Currency) -> (Vec<Value>, Vec<Value>) {
    let rows = f
        .lines
        .iter()
        .map(|l| {
            json!({"kind": l.kind.as_str(), "description": l.description, "quantity": l.quantity, "unit": l.unit,
                   "price": plain_amount(l.unit_price_minor, c.digits), "optional": l.optional})
        })
        .collect();
    let taxes = f.taxes().iter().map(|t| json!({"name": t.name, "rate": t.rate.to_string()})).collect();
    (rows, taxes)
}

/// Minor units as a plain decimal for an input box: 8500 → "85.00".
fn plain_amount(minor: i64, digits: u32) -> String {
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs() as i64;
    if digits == 0 {
        format!("{sign}{a}")
    } else {
        format!("{sign}{}.{:0w$}", a / scale, a % scale, w = digits as usize)
    }
}

/// An amount typed in major units ("85", "1,250.50", "$85", "-20") as
/// minor units, refusing more decimals than the currency has.
fn parse_amount(typed: &str, digits: u32) -> Result<i64, String> {
    let cleaned: String = typed.trim().chars().filter(|c| !matches!(c, ',' | ' ' | '$' | '€' | '£')).collect();
    let (neg, body) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    let is_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if body.is_empty() || (whole.is_empty() && frac.is_empty()) || !is_digits(whole) || !is_digits(frac) {
        return Err(format!("'{}' is not an amount such as 85.00", typed.trim()));
    }
    if frac.len() > digits as usize {
        return Err(format!("'{}' has more than {digits} decimal places", typed.trim()));
    }
    let scale = 10i64.pow(digits);
    let whole: i64 =
        if whole.is_empty() { 0 } else { whole.parse().map_err(|_| format!("'{}' is too large", typed.trim()))? };
    let frac_value: i64 =
        if frac.is_empty() { 0 } else { format!("{frac:0<w$}", w = digits as usize).parse().unwrap_or(0) };
    let minor = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .ok_or(format!("'{}' is too large", typed.trim()))?;
    Ok(if neg { -minor } else { minor })
}

/// Saves the estimate: the first version, the draft in place, or a new
/// version of a sent one. A refused form comes back with what was typed.
pub(super) async fn save(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    SignedForm(pairs): SignedForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let job = job_to_price(&state, &who, &id).await?;
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let all = |k: &str| pairs.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (kinds, descriptions, quantities, units, prices) =
        (all("kind"), all("description"), all("quantity"), all("unit"), all("price"));
    // One "optional" choice per row (a select, so every row sends one).
    let optionals = all("optional");
    let existing = estimates::for_job(&state.db, org.id, job.id).await?.into_iter().max_by_key(|e| e.version);
    let currency = match &existing {
        Some(e) => crate::error::stored_currency(&e.currency, format_args!("estimate {}", e.id))?,
        None => crate::error::stored_currency(&org.currency, format_args!("organization {}", org.id))?,
    };
    let mut p = Problems::default();
    let mut typed_rows = Vec::new();
    let mut lines = Vec::new();
    // Which form row each line came from, to name problems by row.
    let mut row_of = Vec::new();
    for i in 0..descriptions.len() {
        let get = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
        let optional = get(&optionals) == "yes";
        let row = json!({"kind": get(&kinds), "description": get(&descriptions), "quantity": get(&quantities),
                         "unit": get(&units), "price": get(&prices), "optional": optional});
        let blank = [&descriptions, &quantities, &prices].iter().all(|v| get(v).trim().is_empty());
        if blank {
            continue;
        }
        typed_rows.push(row);
        let price = get(&prices);
        let unit_price_minor = match parse_amount(&price, currency.digits) {
            Ok(m) => Some(m),
            Err(why) => {
                p.add(&format!("lines[{}].unit_price", lines.len()), why);
                None
            }
        };
        row_of.push(typed_rows.len());
        lines.push(LineFields {
            kind: Some(get(&kinds)),
            description: Some(get(&descriptions)),
            quantity: Some(Value::String(get(&quantities).trim().to_string())),
            unit: Some(get(&units)),
            unit_price_minor: unit_price_minor.or(Some(0)),
            optional: Some(optional),
        });
    }
    let mut taxes = Vec::new();
    let mut typed_taxes = Vec::new();
    for (name, rate) in all("tax_name").into_iter().zip(all("tax_rate")) {
        if name.trim().is_empty() && rate.trim().is_empty() {
            continue;
        }
        typed_taxes.push(json!({"name": name, "rate": rate}));
        // The percent as typed ("8.875", "8.25%"): checked by the same rule as the API's.
        taxes.push(TaxFields { name: Some(name), rate_percent: Some(Value::String(rate)), rate_bp: None });
    }
    let fields = EstimateFields {
        currency: Some(currency.code.to_string()),
        tax_percent: None,
        tax_rate_bp: None,
        taxes: Some(taxes),
        notes: Some(one("notes")),
        valid_until: Some(one("valid_until")).filter(|v| !v.trim().is_empty()),
        lines: Some(lines),
        confirm: Some(one("confirm") == "yes"),
    };
    let fields: Vec<FieldError> = match (p.0.is_empty(), crate::usecases::estimates::parse(fields, &org)) {
        (true, Ok(draft)) => {
            let now = state.clock.now();
            let by = who.caller.staff_id;
            let saved = match existing.as_ref().filter(|e| !matches!(e.status, EstimateStatus::Superseded)) {
                Some(e) => estimates::edit(&state.db, org.id, e.id, draft, by, now).await.map(|_| ()),
                None => estimates::create(&state.db, org.id, job.id, draft, by, now).await.map(|_| ()),
            };
            match saved {
                Ok(()) => return Ok(Redirect::to(&format!("/app/jobs/{}/estimate", job.id)).into_response()),
                Err(Error::Validation(fields)) => fields,
                Err(Error::Conflict { message, .. }) => vec![FieldError { field: String::new(), message }],
                Err(e) => return Err(e.into()),
            }
        }
        (_, Err(Error::Validation(fields))) => p.0.into_iter().chain(fields).collect(),
        (_, Err(e)) => return Err(e.into()),
        (false, Ok(_)) => p.0,
    };
    let unusual = fields.iter().any(|f| f.message.contains("confirm"));
    let errors = fields.into_iter().map(|f| in_words(&f, &row_of)).collect();
    let refused = Refused {
        rows: typed_rows,
        taxes: typed_taxes,
        notes: one("notes"),
        valid_until: one("valid_until"),
        errors,
        unusual,
    };
    editor(&state, &who, &job, StatusCode::UNPROCESSABLE_ENTITY, Some(refused)).await
}

/// A problem named as the form shows it: "Line 2, quantity: …".
fn in_words(f: &FieldError, row_of: &[usize]) -> String {
    let field = f.field.as_str();
    if let Some(rest) = field.strip_prefix("lines[") {
        if let Some((n, name)) = rest.split_once("].") {
            let row = n.parse::<usize>().ok().and_then(|i| row_of.get(i).copied()).unwrap_or(0);
            return format!("Line {row}, {}: {}", name.replace('_', " "), f.message);
        }
    }
    if let Some(rest) = field.strip_prefix("taxes[") {
        if let Some((n, name)) = rest.split_once("].") {
            let row = n.parse::<usize>().unwrap_or(0) + 1;
            return format!("Tax {row}, {}: {}", if name == "rate_percent" { "rate" } else { name }, f.message);
        }
    }
    match field {
        "" => f.message.clone(),
        other => format!("{}: {}", other.replace('_', " "), f.message),
    }
}

/// Sends the draft: the customer gets the pricing breakdown with a link to
/// approve, decline or ask.
pub(super) async fn send(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    SignedForm(_): SignedForm<CsrfOnly>,
) -> Result<Response, PageError> {
    let none = || problem(&state, StatusCode::NOT_FOUND, "There is no such estimate.");
    let Some(id) = crate::web::id_in_path(&id) else { return Ok(none()) };
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let full = match estimates::load(&state.db, org.id, id).await {
        Ok(f) => f,
        Err(Error::NotFound) => return Ok(none()),
        Err(e) => return Err(e.into()),
    };
    let job = job_to_price(&state, &who, &full.estimate.job_id.to_string()).await?;
    if crate::access::ensure_estimate(&who.caller, &full.estimate).is_err() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office and this estimate's author send it."));
    }
    match crate::usecases::estimates::send(&state.db, &state.notify, &org, id, state.clock.now()).await {
        Ok(_) => Ok(Redirect::to(&format!("/app/jobs/{}/estimate", job.id)).into_response()),
        Err(Error::Validation(fields)) => {
            let currency = crate::error::stored_currency(&full.estimate.currency, format_args!("estimate {id}"))?;
            let (rows, taxes) = rows_of(&full, &currency);
            let refused = Refused {
                rows,
                taxes,
                notes: full.estimate.notes.clone(),
                valid_until: full.estimate.valid_until.map(|d| d.to_string()).unwrap_or_default(),
                errors: fields.iter().map(|f| in_words(f, &[])).collect(),
                unusual: false,
            };
            editor(&state, &who, &job, StatusCode::UNPROCESSABLE_ENTITY, Some(refused)).await
        }
        Err(Error::Conflict { message, .. }) => Ok(problem(&state, StatusCode::CONFLICT, &message)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_type_them() {
        assert_eq!(parse_amount("85", 2), Ok(8500));
        assert_eq!(parse_amount("85.5", 2), Ok(8550));
        assert_eq!(parse_amount("$1,250.05", 2), Ok(125005));
        assert_eq!(parse_amount("-20", 2), Ok(-2000));
        assert_eq!(parse_amount(".5", 2), Ok(50));
        assert_eq!(parse_amount("1200", 0), Ok(1200));
        assert!(parse_amount("85.005", 2).unwrap_err().contains("more than 2 decimal places"));
        assert!(parse_amount("eighty", 2).is_err());
        assert!(parse_amount("", 2).is_err());
        assert!(parse_amount("1.2.3", 2).is_err());
        assert!(parse_amount("99999999999999999999", 2).unwrap_err().contains("too large"));
        assert_eq!(plain_amount(8500, 2), "85.00");
        assert_eq!(plain_amount(-2005, 2), "-20.05");
        assert_eq!(plain_amount(1200, 0), "1200");
    }
}
