//! Changing the company's profile and the settings scheduling and
//! messages follow: every field checked at once (422 naming each, nothing
//! saved), and what changed recorded in the audit log. The API's PATCH
//! /organization and the admin's settings page share it.

use crate::db::Db;
use crate::domain::people::AuditAction;
use crate::entities::organization;
use crate::error::{Error, Problems};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Map, Value};

/// What to change; a field left out keeps its value.
#[derive(Debug, Clone, Default)]
pub struct OrgEdit {
    pub name: Option<String>,
    pub mission_statement: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    pub travel_buffer_minutes: Option<i64>,
    pub max_window_minutes: Option<i64>,
    pub update_times: Option<Vec<String>>,
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub sms_number: Option<String>,
    pub at_risk_lead_minutes: Option<i64>,
    pub late_grace_minutes: Option<i64>,
    pub estimate_turnaround_hours: Option<i64>,
    pub customers_may_reschedule: Option<bool>,
    /// An absolute https URL; empty removes the logo.
    pub logo_url: Option<String>,
}

/// Applies `edit` to `org` by `by` (a staff member; none for an API token
/// without one), auditing the fields whose values changed.
pub async fn change(
    db: &Db,
    org: &organization::Model,
    by: Option<i64>,
    edit: OrgEdit,
    now: DateTime<Utc>,
) -> Result<organization::Model, Error> {
    let mut p = Problems::default();
    let mut active: organization::ActiveModel = org.clone().into();
    if edit.name.is_some() {
        if let Some(n) = crate::error::required_text(&mut p, "name", edit.name, 200) {
            active.name = Set(n);
        }
    }
    if let Some(m) = edit.mission_statement {
        active.mission_statement =
            Set(crate::error::optional_text(&mut p, "mission_statement", Some(m), 1000).unwrap_or_default());
    }
    if let Some(ph) = edit.phone {
        let country = crate::usecases::staff::country_of(&org)?;
        if let Some(v) = p.check("phone", crate::domain::people::parse_phone(&ph, country)) {
            active.phone = Set(Some(v));
        }
    }
    if let Some(e) = edit.email {
        if let Some(v) = p.check("email", crate::domain::people::parse_email(&e)) {
            active.email = Set(Some(v));
        }
    }
    if let Some(tz) = edit.timezone {
        if let Some(z) = p.check("timezone", crate::domain::time::Zone::parse(&tz)) {
            active.timezone = Set(z.name().to_string());
        }
    }
    if let Some(b) = edit.travel_buffer_minutes {
        match i32::try_from(b).ok().filter(|b| (0..=240).contains(b)) {
            Some(b) => active.travel_buffer_minutes = Set(b),
            None => p.add("travel_buffer_minutes", "must be between 0 and 240"),
        }
    }
    if let Some(m) = edit.max_window_minutes {
        let longest = crate::domain::time::LONGEST_WINDOW_MINUTES;
        match i32::try_from(m).ok().filter(|m| (15..=longest).contains(&(*m as i64))) {
            Some(m) => active.max_window_minutes = Set(m),
            None => p.add("max_window_minutes", format!("must be between 15 and {longest}")),
        }
    }
    if let Some(times) = edit.update_times {
        if let Some(t) = p.check("update_times", crate::domain::messaging::parse_times(&times.join(","))) {
            active.update_times = Set(t.iter().map(|t| t.format("%H:%M").to_string()).collect::<Vec<_>>().join(","));
        }
    }
    if let Some(q) = edit.quiet_hours_start {
        if let Some(t) = p.check("quiet_hours_start", crate::domain::messaging::parse_time(&q)) {
            active.quiet_hours_start = Set(t.format("%H:%M").to_string());
        }
    }
    if let Some(q) = edit.quiet_hours_end {
        if let Some(t) = p.check("quiet_hours_end", crate::domain::messaging::parse_time(&q)) {
            active.quiet_hours_end = Set(t.format("%H:%M").to_string());
        }
    }
    if let Some(n) = edit.sms_number {
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
    if let Some(v) = bounded("at_risk_lead_minutes", edit.at_risk_lead_minutes, 0, 480) {
        active.at_risk_lead_minutes = Set(v);
    }
    if let Some(v) = bounded("late_grace_minutes", edit.late_grace_minutes, 0, 240) {
        active.late_grace_minutes = Set(v);
    }
    if let Some(v) = bounded("estimate_turnaround_hours", edit.estimate_turnaround_hours, 1, 24 * 30) {
        active.estimate_turnaround_hours = Set(v);
    }
    if let Some(v) = edit.customers_may_reschedule {
        active.customers_may_reschedule = Set(v);
    }
    match edit.logo_url.as_deref().map(str::trim) {
        None => {}
        Some("") => active.logo_url = Set(None),
        Some(u) => {
            if let Some(v) = p.check("logo_url", crate::domain::people::parse_logo_url(u)) {
                active.logo_url = Set(Some(v));
            }
        }
    }
    p.into_result()?;
    let updated = active.update(db).await?;
    let changed = changes(org, &updated);
    if !changed.is_empty() {
        crate::store::sessions::audit(
            db,
            Some(org.id),
            by,
            AuditAction::SettingsChanged,
            json!({"changed": changed}),
            None,
            now,
        )
        .await?;
    }
    Ok(updated)
}

/// Each setting whose value differs, as {field: {from, to}}.
fn changes(before: &organization::Model, after: &organization::Model) -> Map<String, Value> {
    let (b, a) = (serde_json::to_value(before).unwrap_or_default(), serde_json::to_value(after).unwrap_or_default());
    let mut out = Map::new();
    if let (Some(b), Some(a)) = (b.as_object(), a.as_object()) {
        for (k, to) in a {
            let from = b.get(k).cloned().unwrap_or(Value::Null);
            if &from != to && k != "updated_at" {
                out.insert(k.clone(), json!({"from": from, "to": to}));
            }
        }
    }
    out
}
