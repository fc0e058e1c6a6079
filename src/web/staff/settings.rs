//! The admin's settings (`/app/settings`): the company's profile and the
//! settings scheduling and messages follow, changed by the same rules as
//! PATCH /api/v1/organization (`usecases::organization`), each field's
//! problem beside it, every change in the audit log.

use super::extract::{Admin, SignedForm, SignedIn, WithCsrf};
use super::screen;
use crate::entities::organization;
use crate::error::Error;
use crate::state::AppState;
use crate::usecases::organization::OrgEdit;
use crate::web::PageError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize)]
pub(super) struct SavedQuery {
    saved: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, admin.caller.organization_id).await?;
    let typed = SettingsForm::of(&org);
    Ok(view(&state, &admin, &org, &typed, StatusCode::OK, Map::new(), q.saved.is_some()))
}

fn view(
    state: &AppState,
    admin: &SignedIn,
    org: &organization::Model,
    f: &SettingsForm,
    status: StatusCode,
    errors: Map<String, Value>,
    saved: bool,
) -> Response {
    screen(
        state,
        admin,
        &org.name,
        "/app/settings",
        "staff_settings.html",
        status,
        json!({"f": f, "errors": errors, "has_errors": !errors.is_empty(), "saved": saved, "logo_url": org.logo_url}),
    )
}

/// The settings as typed (every field text, as the form sends it).
#[derive(Deserialize, serde::Serialize, Default)]
pub(super) struct SettingsForm {
    #[serde(skip_serializing)]
    csrf: Option<String>,
    name: String,
    phone: String,
    email: String,
    mission_statement: String,
    timezone: String,
    update_times: String,
    quiet_hours_start: String,
    quiet_hours_end: String,
    travel_buffer_minutes: String,
    max_window_minutes: String,
    at_risk_lead_minutes: String,
    late_grace_minutes: String,
    estimate_turnaround_hours: String,
    sms_number: String,
    /// A checkbox: present when ticked.
    customers_may_reschedule: Option<String>,
    /// Empty removes the logo; left out of a post, it stays as it is.
    #[serde(default)]
    logo_url: Option<String>,
}

impl WithCsrf for SettingsForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl SettingsForm {
    fn of(o: &organization::Model) -> SettingsForm {
        SettingsForm {
            csrf: None,
            name: o.name.clone(),
            phone: o.phone.clone().unwrap_or_default(),
            email: o.email.clone().unwrap_or_default(),
            mission_statement: o.mission_statement.clone(),
            timezone: o.timezone.clone(),
            update_times: o.update_times.replace(',', ", "),
            quiet_hours_start: o.quiet_hours_start.clone(),
            quiet_hours_end: o.quiet_hours_end.clone(),
            travel_buffer_minutes: o.travel_buffer_minutes.to_string(),
            max_window_minutes: o.max_window_minutes.to_string(),
            at_risk_lead_minutes: o.at_risk_lead_minutes.to_string(),
            late_grace_minutes: o.late_grace_minutes.to_string(),
            estimate_turnaround_hours: o.estimate_turnaround_hours.to_string(),
            sms_number: o.sms_number.clone().unwrap_or_default(),
            customers_may_reschedule: o.customers_may_reschedule.then(String::new),
            logo_url: Some(o.logo_url.clone().unwrap_or_default()),
        }
    }

    /// The change the form asks for; a number that is not one is named.
    fn edit(&self) -> Result<OrgEdit, Map<String, Value>> {
        let mut bad = Map::new();
        let mut number = |field: &str, v: &str| match v.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad.insert(field.into(), json!(format!("'{}' is not a whole number of minutes or hours", v.trim())));
                None
            }
        };
        let edit = OrgEdit {
            travel_buffer_minutes: number("travel_buffer_minutes", &self.travel_buffer_minutes),
            max_window_minutes: number("max_window_minutes", &self.max_window_minutes),
            at_risk_lead_minutes: number("at_risk_lead_minutes", &self.at_risk_lead_minutes),
            late_grace_minutes: number("late_grace_minutes", &self.late_grace_minutes),
            estimate_turnaround_hours: number("estimate_turnaround_hours", &self.estimate_turnaround_hours),
            name: Some(self.name.clone()),
            mission_statement: Some(self.mission_statement.clone()),
            // The profile's contacts stay as they are when the box is left empty.
            phone: Some(self.phone.clone()).filter(|s| !s.trim().is_empty()),
            email: Some(self.email.clone()).filter(|s| !s.trim().is_empty()),
            sms_number: Some(self.sms_number.clone()).filter(|s| !s.trim().is_empty()),
            timezone: Some(self.timezone.clone()),
            update_times: Some(self.update_times.split(',').map(|t| t.trim().to_string()).collect()),
            quiet_hours_start: Some(self.quiet_hours_start.clone()),
            quiet_hours_end: Some(self.quiet_hours_end.clone()),
            customers_may_reschedule: Some(self.customers_may_reschedule.is_some()),
            logo_url: self.logo_url.clone(),
        };
        if bad.is_empty() {
            Ok(edit)
        } else {
            Err(bad)
        }
    }
}

pub(super) async fn save(
    State(state): State<AppState>,
    Admin(admin): Admin,
    SignedForm(f): SignedForm<SettingsForm>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, admin.caller.organization_id).await?;
    let edit = match f.edit() {
        Ok(edit) => edit,
        Err(bad) => return Ok(view(&state, &admin, &org, &f, StatusCode::UNPROCESSABLE_ENTITY, bad, false)),
    };
    match crate::usecases::organization::change(&state.db, &org, admin.caller.staff_id, edit, state.clock.now()).await {
        Ok(_) => Ok(Redirect::to("/app/settings?saved=1").into_response()),
        Err(Error::Validation(fields)) => {
            Ok(view(&state, &admin, &org, &f, StatusCode::UNPROCESSABLE_ENTITY, super::errors_by_field(fields), false))
        }
        Err(e) => Err(e.into()),
    }
}
