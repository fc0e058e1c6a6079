//! The admin's staff page (`/app/staff`): everyone in the organization;
//! admins add people, set their roles and invite them to choose a password,
//! by the same rules and with the same audit log as the API.

use super::extract::{Admin, ClientIp, CsrfOnly, SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::domain::people::Role;
use crate::entities::staff;
use crate::error::{Error, Problems};
use crate::state::AppState;
use crate::usecases::staff::StaffFields;
use crate::web::error::too_many;
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub(super) struct StaffQuery {
    invited: Option<i64>,
}

pub(super) async fn staff_page(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(q): Query<StaffQuery>,
) -> Result<Response, PageError> {
    staff_view(&state, &admin, StatusCode::OK, json!({"invited": q.invited})).await
}

/// The staff page with `status`; `form` holds who was just invited, what
/// was typed into a refused form (`add`) and why (`error`).
async fn staff_view(
    state: &AppState,
    admin: &SignedIn,
    status: StatusCode,
    form: Value,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, admin.caller.organization_id).await?;
    let people = crate::store::staff::all(&state.db, org.id).await?;
    let invited = form["invited"]
        .as_i64()
        .and_then(|id| people.iter().find(|p| p.id == id))
        .map(|p| crate::usecases::staff::invitation_notice(state.settings.smtp_url.is_some(), &p.email).1);
    let roles = |current: &str| {
        Role::ALL.iter().map(|r| json!({"value": r.as_str(), "selected": r.as_str() == current})).collect::<Vec<_>>()
    };
    let people: Vec<Value> = people
        .iter()
        .map(|p| {
            json!({"id": p.id, "name": p.name, "email": p.email, "phone": p.phone, "timezone": p.timezone,
                   "roles": roles(p.role.as_str()), "signed_up": p.password_hash.is_some(), "me": p.id == admin.me.id})
        })
        .collect();
    let typed = &form["add"];
    let text = |k: &str, default: &str| typed[k].as_str().unwrap_or(default).to_string();
    Ok(screen(
        state,
        admin,
        &org.name,
        "/app/staff",
        "staff_admin.html",
        status,
        json!({
            "org": org.name, "people": people, "invited": invited, "error": form["error"],
            "add": {"name": text("name", ""), "email": text("email", ""), "phone": text("phone", ""),
                    "timezone": text("timezone", &org.timezone), "roles": roles(&text("role", "technician")), "error": typed["error"]},
        }),
    ))
}

#[derive(Deserialize)]
pub(super) struct AddStaffForm {
    csrf: Option<String>,
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
    phone: Option<String>,
    timezone: Option<String>,
}

impl WithCsrf for AddStaffForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

pub(super) async fn staff_add(
    State(state): State<AppState>,
    Admin(admin): Admin,
    SignedForm(f): SignedForm<AddStaffForm>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, admin.caller.organization_id).await?;
    let input = StaffFields {
        name: f.name.clone(),
        role: f.role.clone(),
        phone: f.phone.clone(),
        email: f.email.clone(),
        timezone: f.timezone.clone(),
        ..StaffFields::default()
    };
    let (status, why) = match crate::usecases::staff::add(&state.db, &org, input, state.clock.now()).await {
        Ok(_) => return Ok(Redirect::to("/app/staff").into_response()),
        Err(Error::Validation(fields)) => (StatusCode::UNPROCESSABLE_ENTITY, Problems(fields).to_string()),
        Err(Error::Conflict { message, .. }) => (StatusCode::CONFLICT, message),
        Err(e) => return Err(e.into()),
    };
    let typed = json!({"add": {"name": f.name, "email": f.email, "role": f.role, "phone": f.phone, "timezone": f.timezone, "error": why}});
    staff_view(&state, &admin, status, typed).await
}

/// The person behind `/app/staff/{id}/…` in the admin's organization, or
/// the page that says there is no such person.
async fn staff_member(state: &AppState, admin: &SignedIn, id: &str) -> Result<staff::Model, PageError> {
    let none = || PageError::from(problem(state, StatusCode::NOT_FOUND, "There is no such person."));
    let id = crate::web::id_in_path(id).ok_or_else(none)?;
    match crate::store::staff::get(&state.db, admin.caller.organization_id, id).await {
        Ok(p) => Ok(p),
        Err(Error::NotFound) => Err(none()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    csrf: Option<String>,
    role: Option<String>,
}

impl WithCsrf for RoleForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

pub(super) async fn staff_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<RoleForm>,
) -> Result<Response, PageError> {
    let person = staff_member(&state, &admin, &id).await?;
    let typed = f.role.unwrap_or_default();
    let Some(role) = Role::parse(typed.trim()) else {
        let error = format!("role: '{typed}' is not one of {}", Role::choices());
        return staff_view(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, json!({"error": error})).await;
    };
    match crate::usecases::staff::set_role(&state.db, Some(admin.me.id), person, role, state.clock.now()).await {
        Ok(_) => Ok(Redirect::to("/app/staff").into_response()),
        Err(Error::Conflict { message, .. }) => {
            staff_view(&state, &admin, StatusCode::CONFLICT, json!({"error": message})).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    csrf: Option<String>,
    /// "Text it too": the link by SMS to their phone as well.
    sms: Option<String>,
}

impl WithCsrf for InviteForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

pub(super) async fn staff_invite(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<InviteForm>,
) -> Result<Response, PageError> {
    use crate::domain::people::Channel;
    let person = staff_member(&state, &admin, &id).await?;
    if let Err(wait) = state.limits.hit_invitation(&person.email, &ip) {
        return Ok(too_many(wait));
    }
    let channels = if f.sms.as_deref().is_some_and(|v| !v.is_empty()) {
        vec![Channel::Email, Channel::Sms]
    } else {
        vec![Channel::Email]
    };
    match crate::usecases::staff::invite_by(
        &state.db,
        &state.notify,
        Some(admin.me.id),
        &person,
        &channels,
        &ip,
        state.clock.now(),
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/app/staff?invited={}", person.id)).into_response()),
        Err(Error::Validation(fields)) => {
            let why = Problems(fields).to_string();
            staff_view(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, json!({"error": why})).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Signs a person out on every device (a lost phone, someone leaving).
pub(super) async fn staff_sign_out(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    SignedForm(_): SignedForm<CsrfOnly>,
) -> Result<Response, PageError> {
    let person = staff_member(&state, &admin, &id).await?;
    crate::store::sessions::end_sessions(&state.db, &person, None, Some(admin.me.id), state.clock.now()).await?;
    Ok(Redirect::to(&format!("/app/staff#staff-{}", person.id)).into_response())
}
