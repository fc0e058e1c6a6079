//! Estimates for the office: write, revise, send.

use super::{path_id, ApiJson, Page};
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::estimates::{self, EstimateDraft, EstimateView};
use crate::usecases::estimates::{EstimateFields, LineFields, TaxFields};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show, edit)).routes(routes!(send))
}

/// An estimate's content: the whole of it (an edit replaces every line).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateInput {
    /// ISO 4217; the organization's when absent.
    currency: Option<String>,
    /// One tax named "Tax", in percent as a decimal string: "8.875" is
    /// 8.875%; at most three decimals, 0–100. A string, so no rate is
    /// rounded on the way.
    #[schema(value_type = Option<String>, example = "8.875")]
    tax_percent: Option<Value>,
    /// The same tax in basis points (825 = 8.25%), 0–10000, as older
    /// clients send it; give `tax_percent` or this, not both.
    #[schema(minimum = 0, maximum = 10000)]
    tax_rate_bp: Option<i64>,
    /// Named taxes (at most 5), each applied to the subtotal.
    #[schema(max_items = 5)]
    taxes: Option<Vec<TaxInput>>,
    /// Up to 5,000 characters, shown to the customer.
    notes: Option<String>,
    /// The last day the price holds: YYYY-MM-DD.
    #[schema(format = Date)]
    valid_until: Option<String>,
    lines: Option<Vec<LineInput>>,
    /// Accepts unusual values (a tax above 30%, a tenfold jump from the
    /// previous version) that are otherwise refused as probable typos.
    confirm: Option<bool>,
}

/// A named tax.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EstimateTaxInput)]
struct TaxInput {
    /// Required, up to 80 characters.
    #[schema(required = true, nullable = false)]
    name: Option<String>,
    /// The rate in percent as a decimal string: "8.875" is 8.875%; at most
    /// three decimals, 0–100. This or `rate_bp` is required, not both.
    #[schema(value_type = Option<String>, nullable = false, example = "8.875")]
    rate_percent: Option<Value>,
    /// The rate in basis points (825 = 8.25%), 0–10000, as older clients
    /// send it.
    #[schema(nullable = false, minimum = 0, maximum = 10000)]
    rate_bp: Option<i64>,
}

/// One line of an estimate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EstimateLineInput)]
struct LineInput {
    /// Required.
    #[schema(required = true, nullable = false, value_type = crate::domain::money::LineKind)]
    kind: Option<String>,
    /// Required, up to 300 characters.
    #[schema(required = true, nullable = false)]
    description: Option<String>,
    /// Required: a decimal string such as "2.5" (a string, so no amount is
    /// rounded on the way).
    #[schema(required = true, nullable = false, value_type = String)]
    quantity: Option<Value>,
    /// hr, ea, sq ft… up to 20 characters.
    unit: Option<String>,
    /// Required: integer minor units (8500 = $85.00); negative for a discount.
    #[schema(required = true, nullable = false)]
    unit_price_minor: Option<i64>,
    /// An item the customer may add when approving (false when absent): it
    /// is priced but not in the total; the customer's page offers it with
    /// what it adds. A discount cannot be optional.
    #[serde(default)]
    optional: Option<bool>,
}

impl From<EstimateInput> for EstimateFields {
    fn from(i: EstimateInput) -> Self {
        EstimateFields {
            currency: i.currency,
            tax_percent: i.tax_percent,
            tax_rate_bp: i.tax_rate_bp,
            taxes: i.taxes.map(|ts| {
                ts.into_iter()
                    .map(|t| TaxFields { name: t.name, rate_percent: t.rate_percent, rate_bp: t.rate_bp })
                    .collect()
            }),
            notes: i.notes,
            valid_until: i.valid_until,
            lines: i.lines.map(|ls| {
                ls.into_iter()
                    .map(|l| LineFields {
                        kind: l.kind,
                        description: l.description,
                        quantity: l.quantity,
                        unit: l.unit,
                        unit_price_minor: l.unit_price_minor,
                        optional: l.optional,
                    })
                    .collect()
            }),
            confirm: i.confirm,
        }
    }
}

fn parse(input: EstimateInput, org: &crate::entities::organization::Model) -> Result<EstimateDraft, ApiError> {
    Ok(crate::usecases::estimates::parse(input.into(), org)?)
}

async fn respond(state: &AppState, full: &estimates::Full) -> Result<EstimateView, ApiError> {
    let current = estimates::current_id(&state.db, full.estimate.job_id).await?;
    Ok(estimates::view(full, current)?)
}

/// Write a job's estimate: version 1, or the next version after a sent one.
/// Amounts are priced by the server; unusual values (a tax above 30%, a
/// tenfold jump from the previous version) need `confirm: true`.
#[utoipa::path(post, path = "/jobs/{id}/estimates", tag = "estimates", request_body = EstimateInput,
    params(("id" = i64, Path, description = "The job")),
    responses(
        (status = 201, description = "Written, as a draft", body = EstimateView),
        (status = 409, description = "An unsent draft exists: edit it instead (`draft_exists`), or the job is closed", body = super::error::ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
    ApiJson(input): ApiJson<EstimateInput>,
) -> Result<(StatusCode, Json<EstimateView>), ApiError> {
    let job_id = path_id(&job_id)?;
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    crate::store::jobs::get(&state.db, org.id, job_id).await?;
    crate::access::ensure_job(&state.db, &caller, job_id).await?;
    let draft = parse(input, &org)?;
    let full = estimates::create(&state.db, org.id, job_id, draft, caller.staff_id, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(respond(&state, &full).await?)))
}

/// A job's estimates, every version (estimators: only their own).
#[utoipa::path(get, path = "/jobs/{id}/estimates", tag = "estimates",
    params(("id" = i64, Path, description = "The job")),
    responses((status = 200, description = "Every version", body = Page<EstimateView>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<Json<Page<EstimateView>>, ApiError> {
    let job = crate::store::jobs::get(&state.db, caller.organization_id, path_id(&job_id)?).await?;
    let current = estimates::current_id(&state.db, job.id).await?;
    let mut items = Vec::new();
    crate::access::ensure_job(&state.db, &caller, job.id).await?;
    for e in estimates::for_job(&state.db, caller.organization_id, job.id).await? {
        if crate::access::ensure_estimate(&caller, &e).is_err() {
            continue;
        }
        let full = estimates::load(&state.db, caller.organization_id, e.id).await?;
        items.push(estimates::view(&full, current)?);
    }
    Ok(Page::whole(items))
}

/// One estimate.
#[utoipa::path(get, path = "/estimates/{id}", tag = "estimates",
    params(("id" = i64, Path, description = "The estimate")),
    responses((status = 200, description = "The estimate", body = EstimateView)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EstimateView>, ApiError> {
    let full = estimates::load(&state.db, caller.organization_id, path_id(&id)?).await?;
    crate::access::ensure_estimate(&caller, &full.estimate)?;
    Ok(Json(respond(&state, &full).await?))
}

/// Replaces the estimate's content: in place for a draft (200), as a new
/// version otherwise (201).
#[utoipa::path(patch, path = "/estimates/{id}", tag = "estimates", request_body = EstimateInput,
    params(("id" = i64, Path, description = "The estimate")),
    responses(
        (status = 200, description = "The draft, changed", body = EstimateView),
        (status = 201, description = "A sent estimate was revised: this is the new version, a draft", body = EstimateView),
        (status = 409, description = "The customer already decided, or a newer version exists (`estimate_decided`, `estimate_outdated`)", body = super::error::ErrorBody),
    ))]
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<EstimateInput>,
) -> Result<(StatusCode, Json<EstimateView>), ApiError> {
    let id = path_id(&id)?;
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let existing = estimates::load(&state.db, org.id, id).await?;
    crate::access::ensure_estimate(&caller, &existing.estimate)?;
    let draft = parse(input, &org)?;
    let (full, new_version) = estimates::edit(&state.db, org.id, id, draft, caller.staff_id, state.clock.now()).await?;
    let status = if new_version { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(respond(&state, &full).await?)))
}

/// Send the draft to the customer: their pricing breakdown is queued with a
/// link to approve, decline or ask a question.
#[utoipa::path(post, path = "/estimates/{id}/send", tag = "estimates",
    params(("id" = i64, Path, description = "The estimate")),
    responses(
        (status = 200, description = "Sent", body = EstimateView),
        (status = 409, description = "Only a draft can be sent (`estimate_not_draft`), or the job is closed", body = super::error::ErrorBody),
        (status = 422, description = "The estimate cannot go out as it is (no lines, or the customer cannot be reached); `fields` says why", body = super::error::ErrorBody),
    ))]
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EstimateView>, ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let id = path_id(&id)?;
    crate::access::ensure_estimate(&caller, &estimates::load(&state.db, org.id, id).await?.estimate)?;
    let full = crate::usecases::estimates::send(&state.db, &state.notify, &org, id, state.clock.now()).await?;
    Ok(Json(respond(&state, &full).await?))
}
