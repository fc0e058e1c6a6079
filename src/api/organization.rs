//! The caller's organization and its scheduling settings.

use super::ApiJson;
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::entities::organization;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, Set};
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
    let mut p = Problems::default();
    let mut active: organization::ActiveModel = org.clone().into();
    if body.name.is_some() {
        if let Some(n) = super::required_text(&mut p, "name", body.name, 200) {
            active.name = Set(n);
        }
    }
    if let Some(m) = body.mission_statement {
        active.mission_statement =
            Set(super::optional_text(&mut p, "mission_statement", Some(m), 1000).unwrap_or_default());
    }
    if let Some(ph) = body.phone {
        let country = crate::usecases::staff::country_of(&org)?;
        if let Some(v) = p.check("phone", crate::domain::people::parse_phone(&ph, country)) {
            active.phone = Set(Some(v));
        }
    }
    if let Some(e) = body.email {
        if let Some(v) = p.check("email", crate::domain::people::parse_email(&e)) {
            active.email = Set(Some(v));
        }
    }
    if let Some(tz) = body.timezone {
        if let Some(z) = p.check("timezone", crate::domain::time::Zone::parse(&tz)) {
            active.timezone = Set(z.name().to_string());
        }
    }
    if let Some(b) = body.travel_buffer_minutes {
        match i32::try_from(b).ok().filter(|b| (0..=240).contains(b)) {
            Some(b) => active.travel_buffer_minutes = Set(b),
            None => p.add("travel_buffer_minutes", "must be between 0 and 240"),
        }
    }
    if let Some(m) = body.max_window_minutes {
        match i32::try_from(m).ok().filter(|m| (15..=1440).contains(m)) {
            Some(m) => active.max_window_minutes = Set(m),
            None => p.add("max_window_minutes", "must be between 15 and 1440"),
        }
    }
    if let Some(times) = body.update_times {
        if let Some(t) = p.check("update_times", crate::domain::messaging::parse_times(&times.join(","))) {
            active.update_times = Set(t.iter().map(|t| t.format("%H:%M").to_string()).collect::<Vec<_>>().join(","));
        }
    }
    if let Some(q) = body.quiet_hours_start {
        if let Some(t) = p.check("quiet_hours_start", crate::domain::messaging::parse_time(&q)) {
            active.quiet_hours_start = Set(t.format("%H:%M").to_string());
        }
    }
    if let Some(q) = body.quiet_hours_end {
        if let Some(t) = p.check("quiet_hours_end", crate::domain::messaging::parse_time(&q)) {
            active.quiet_hours_end = Set(t.format("%H:%M").to_string());
        }
    }
    if let Some(n) = body.sms_number {
        let country = crate::usecases::staff::country_of(&org)?;
        if let Some(v) = p.check("sms_number", crate::domain::people::parse_phone(&n, country)) {
            active.sms_number = Set(Some(v));
        }
    }
    let mut bounded = |field: &str, v: Option<i64>, lo: i64, hi: i64| -> Option<i32> {
        let v = v?;
        match i32::try_from(v).ok().filter(|v| (lo..=hi).contains(&(*v as i64))) {
            Some(v) => Some(v),
            None => {
                p.add(field, format!("must be between {lo} and {hi}"));
                None
            }
        }
    };
    if let Some(v) = bounded("at_risk_lead_minutes", body.at_risk_lead_minutes, 0, 480) {
        active.at_risk_lead_minutes = Set(v);
    }
    if let Some(v) = bounded("late_grace_minutes", body.late_grace_minutes, 0, 240) {
        active.late_grace_minutes = Set(v);
    }
    if let Some(v) = bounded("estimate_turnaround_hours", body.estimate_turnaround_hours, 1, 24 * 30) {
        active.estimate_turnaround_hours = Set(v);
    }
    if let Some(v) = body.customers_may_reschedule {
        active.customers_may_reschedule = Set(v);
    }
    p.into_result()?;
    let updated = active.update(&state.db).await?;
    Ok(Json(OrganizationView::from(&updated)))
}
