//! The caller's organization and its scheduling settings.

use super::ApiJson;
use crate::api::error::{ApiError, Problems};
use crate::auth::Caller;
use crate::entities::organization;
use crate::startup::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::{ActiveModelTrait, Set};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/organization", get(show).patch(update))
}

fn view(o: &organization::Model) -> Value {
    json!({
        "id": o.id,
        "name": o.name,
        "timezone": o.timezone,
        "country": o.country,
        "currency": o.currency,
        "mission_statement": o.mission_statement,
        "phone": o.phone,
        "email": o.email,
        "travel_buffer_minutes": o.travel_buffer_minutes,
        "max_window_minutes": o.max_window_minutes,
        "update_times": o.update_times.split(',').collect::<Vec<_>>(),
        "quiet_hours_start": o.quiet_hours_start,
        "quiet_hours_end": o.quiet_hours_end,
        "sms_number": o.sms_number,
        "at_risk_lead_minutes": o.at_risk_lead_minutes,
        "late_grace_minutes": o.late_grace_minutes,
        "estimate_turnaround_hours": o.estimate_turnaround_hours,
        "created_at": o.created_at,
    })
}

async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    Ok(Json(view(&org)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgChanges {
    name: Option<String>,
    mission_statement: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    timezone: Option<String>,
    travel_buffer_minutes: Option<i64>,
    max_window_minutes: Option<i64>,
    update_times: Option<Vec<String>>,
    quiet_hours_start: Option<String>,
    quiet_hours_end: Option<String>,
    sms_number: Option<String>,
    at_risk_lead_minutes: Option<i64>,
    late_grace_minutes: Option<i64>,
    estimate_turnaround_hours: Option<i64>,
}

/// Admins change the company profile and scheduling settings. Changing the
/// buffer does not revisit visits already booked; it applies to the next
/// booking that touches a day.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OrgChanges>,
) -> Result<Json<Value>, ApiError> {
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
        let country = org.country.parse().unwrap_or(phonenumber::country::Id::US);
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
        let country = org.country.parse().unwrap_or(phonenumber::country::Id::US);
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
    p.into_result()?;
    let updated = active.update(&state.db).await?;
    Ok(Json(view(&updated)))
}
