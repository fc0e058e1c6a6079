//! The caller's organization and its scheduling settings.

use super::ApiJson;
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::entities::organization;
use crate::state::AppState;
use crate::usecases::organization::OrgEdit;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, update))
}

/// The company: its profile and the settings scheduling and messages follow.
#[derive(Serialize, ToSchema)]
#[schema(as = Organization)]
pub struct OrganizationView {
    pub id: i64,
    pub name: String,
    /// The office's IANA zone (e.g. America/New_York).
    pub timezone: String,
    /// ISO 3166 country code, for reading phone numbers.
    pub country: String,
    /// ISO 4217 currency of estimates.
    pub currency: String,
    pub mission_statement: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Minutes kept free between one visit and the next.
    pub travel_buffer_minutes: i32,
    /// The widest arrival window that may be promised.
    pub max_window_minutes: i32,
    /// Local times (HH:MM) of the twice-daily status updates.
    pub update_times: Vec<String>,
    /// No texts between these local times (HH:MM).
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    /// The number customers text back to (E.164).
    pub sms_number: Option<String>,
    /// How long before a window's end a crew not yet on the way is at risk.
    pub at_risk_lead_minutes: i32,
    /// Minutes after a window's end before an arrival counts late.
    pub late_grace_minutes: i32,
    /// Hours in which a requested estimate is promised.
    pub estimate_turnaround_hours: i32,
    /// Customers may pick another time for a visit from their page (from
    /// the windows that keep every promise already made).
    pub customers_may_reschedule: bool,
    /// The company's logo (an absolute https URL), shown in the header of
    /// the customer's page and of the emails; null for none.
    pub logo_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&organization::Model> for OrganizationView {
    fn from(o: &organization::Model) -> Self {
        OrganizationView {
            id: o.id,
            name: o.name.clone(),
            timezone: o.timezone.clone(),
            country: o.country.clone(),
            currency: o.currency.clone(),
            mission_statement: o.mission_statement.clone(),
            phone: o.phone.clone(),
            email: o.email.clone(),
            travel_buffer_minutes: o.travel_buffer_minutes,
            max_window_minutes: o.max_window_minutes,
            update_times: o.update_times.split(',').map(String::from).collect(),
            quiet_hours_start: o.quiet_hours_start.clone(),
            quiet_hours_end: o.quiet_hours_end.clone(),
            sms_number: o.sms_number.clone(),
            at_risk_lead_minutes: o.at_risk_lead_minutes,
            late_grace_minutes: o.late_grace_minutes,
            estimate_turnaround_hours: o.estimate_turnaround_hours,
            customers_may_reschedule: o.customers_may_reschedule,
            logo_url: o.logo_url.clone(),
            created_at: o.created_at,
        }
    }
}

/// The caller's organization.
#[utoipa::path(get, path = "/organization", tag = "organization",
    responses((status = 200, description = "The organization", body = OrganizationView)))]
async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<OrganizationView>, ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    Ok(Json(OrganizationView::from(&org)))
}

/// Changes to the organization: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrganizationChanges)]
struct OrgChanges {
    /// 1–200 characters.
    name: Option<String>,
    /// Up to 1,000 characters; shown in introductions.
    mission_statement: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    /// An IANA zone.
    timezone: Option<String>,
    /// 0–240.
    #[schema(minimum = 0, maximum = 240)]
    travel_buffer_minutes: Option<i64>,
    /// 15–1440.
    #[schema(minimum = 15, maximum = 1440)]
    max_window_minutes: Option<i64>,
    /// Local times, HH:MM.
    update_times: Option<Vec<String>>,
    /// HH:MM.
    quiet_hours_start: Option<String>,
    /// HH:MM.
    quiet_hours_end: Option<String>,
    sms_number: Option<String>,
    /// 0–480.
    #[schema(minimum = 0, maximum = 480)]
    at_risk_lead_minutes: Option<i64>,
    /// 0–240.
    #[schema(minimum = 0, maximum = 240)]
    late_grace_minutes: Option<i64>,
    /// 1–720.
    #[schema(minimum = 1, maximum = 720)]
    estimate_turnaround_hours: Option<i64>,
    customers_may_reschedule: Option<bool>,
    /// An absolute https:// URL of at most 500 characters; "" removes the logo.
    #[schema(max_length = 500)]
    logo_url: Option<String>,
}

/// Admins change the company profile and scheduling settings. Changing the
/// buffer does not revisit visits already booked; it applies to the next
/// booking that touches a day.
#[utoipa::path(patch, path = "/organization", tag = "organization", request_body = OrgChanges,
    responses((status = 200, description = "Changed", body = OrganizationView)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OrgChanges>,
) -> Result<Json<OrganizationView>, ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let edit = OrgEdit {
        name: body.name,
        mission_statement: body.mission_statement,
        phone: body.phone,
        email: body.email,
        timezone: body.timezone,
        travel_buffer_minutes: body.travel_buffer_minutes,
        max_window_minutes: body.max_window_minutes,
        update_times: body.update_times,
        quiet_hours_start: body.quiet_hours_start,
        quiet_hours_end: body.quiet_hours_end,
        sms_number: body.sms_number,
        at_risk_lead_minutes: body.at_risk_lead_minutes,
        late_grace_minutes: body.late_grace_minutes,
        estimate_turnaround_hours: body.estimate_turnaround_hours,
        customers_may_reschedule: body.customers_may_reschedule,
        logo_url: body.logo_url,
    };
    let updated =
        crate::usecases::organization::change(&state.db, &org, caller.staff_id, edit, state.clock.now()).await?;
    Ok(Json(OrganizationView::from(&updated)))
}
