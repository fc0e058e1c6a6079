//! The office's customers (`/app/customers`): a searchable list, each
//! customer's page (their jobs, how we reach them and what stops us, every
//! message both ways), and adding or changing one with each field's problem
//! shown beside it, by the same rules as the API (`usecases::customers`).

use super::extract::{Office, SignedForm, SignedIn, WithCsrf};
use super::{problem, screen};
use crate::domain::people::Channel;
use crate::entities::customer;
use crate::error::Error;
use crate::state::AppState;
use crate::usecases::customers::CustomerFields;
use crate::web::PageError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Customers on one page of the list, and the most a search shows.
const PAGE: u64 = 50;
/// Messages each way shown on a customer's page.
const THREAD: u64 = 100;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    q: Option<String>,
    after: Option<String>,
}

/// The list: oldest first in pages of [`PAGE`], or what a search finds
/// (name, address, email, phone digits), newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    Office(who): Office,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let text = q.q.as_deref().map(str::trim).unwrap_or_default().to_string();
    let after = q.after.as_deref().and_then(|a| a.trim().parse::<i64>().ok());
    let (rows, next) = if text.is_empty() {
        let page = crate::store::PageRequest { after, limit: PAGE + 1 };
        let mut rows = crate::store::customers::list(&state.db, org.id, page).await?;
        let more = rows.len() as u64 > PAGE;
        rows.truncate(PAGE as usize);
        let next = more.then(|| rows.last().map(|c| c.id)).flatten();
        (rows, next)
    } else {
        (crate::store::customers::search(&state.db, org.id, &text, PAGE).await?, None)
    };
    let found = rows.len();
    let customers: Vec<Value> = rows.iter().map(summary).collect();
    Ok(screen(
        &state,
        &who,
        &org.name,
        "/app/customers",
        "staff_customers.html",
        StatusCode::OK,
        json!({"customers": customers, "q": text, "next": next, "first_page": after.is_none(),
               "capped": !text.is_empty() && found as u64 >= PAGE}),
    ))
}

fn summary(c: &customer::Model) -> Value {
    json!({"id": c.id, "name": c.name, "phone": c.phone, "email": c.email, "address": c.address,
           "trouble": reach(c).iter().any(|r| r["tone"] == "bad")})
}

/// How we reach the customer on each channel they chose, and what stops us.
fn reach(c: &customer::Model) -> Vec<Value> {
    let mut out = Vec::new();
    for ch in [Channel::Sms, Channel::Email] {
        let (contact, opted_out, trouble) = match ch {
            Channel::Sms => (c.phone.as_deref(), c.sms_opted_out, c.sms_problem.as_deref()),
            Channel::Email => (c.email.as_deref(), c.email_opted_out, c.email_problem.as_deref()),
        };
        let chosen = c.channels.contains(ch);
        let label = if ch == Channel::Sms { "Texts" } else { "Email" };
        let (tone, state) = match (contact, chosen, opted_out, trouble) {
            (None, _, _, _) => ("", "no contact given".to_string()),
            (Some(_), _, true, _) => ("bad", "opted out: they asked us to stop; only they can undo it".to_string()),
            (Some(_), _, _, Some(why)) => ("bad", format!("not delivered: {why}")),
            (Some(_), false, _, _) => ("", "not used for updates".to_string()),
            (Some(_), true, _, _) => ("good", "updates go here".to_string()),
        };
        out.push(json!({"label": label, "contact": contact, "tone": tone, "state": state}));
    }
    out
}

/// One customer: details, how we reach them, their jobs and their messages.
pub(super) async fn show(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let c = customer_in(&state, org.id, &id).await?;
    let zone = crate::store::customers::zone(&c)?;
    let office_zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let jobs = crate::store::jobs::list(
        &state.db,
        org.id,
        crate::store::jobs::JobFilter { customer_id: Some(c.id), status: None },
        crate::store::PageRequest { after: None, limit: crate::store::PageRequest::MAX_LIMIT },
    )
    .await?;
    let jobs: Vec<Value> = jobs
        .iter()
        .rev()
        .map(|j| {
            json!({"id": j.id, "title": j.title, "status": j.status.as_str().replace('_', " "),
                        "opened": office_zone.local(j.created_at).format("%b %-d, %Y").to_string()})
        })
        .collect();
    let (sent, received) = crate::store::timeline::customer_thread(&state.db, org.id, c.id, THREAD).await?;
    let when = |t: chrono::DateTime<chrono::Utc>| office_zone.local(t).format("%b %-d, %-I:%M %p").to_string();
    let mut thread: Vec<(chrono::DateTime<chrono::Utc>, Value)> = sent
        .iter()
        .map(|m| {
            (
                m.created_at,
                json!({"out": true, "when": when(m.created_at), "channel": m.channel.as_str(),
                "kind": m.kind.as_str().replace('_', " "), "state": m.state.as_str(), "subject": m.subject,
                "text": m.body_text, "error": m.last_error, "job_id": m.job_id}),
            )
        })
        .chain(received.iter().map(|m| {
            (
                m.received_at,
                json!({"out": false, "when": when(m.received_at), "channel": "sms",
                "kind": m.kind.as_str().replace('_', " "), "text": m.body, "job_id": m.job_id}),
            )
        }))
        .collect();
    thread.sort_by(|a, b| b.0.cmp(&a.0));
    let thread: Vec<Value> = thread.into_iter().map(|(_, v)| v).collect();
    Ok(screen(
        &state,
        &who,
        &org.name,
        "/app/customers",
        "staff_customer.html",
        StatusCode::OK,
        json!({"c": {"id": c.id, "name": c.name, "phone": c.phone, "email": c.email, "address": c.address,
                     "timezone": zone.name(), "other_zone": zone.name() != office_zone.name()},
               "reach": reach(&c), "jobs": jobs, "thread": thread, "office_zone": office_zone.name()}),
    ))
}

/// The customer behind `/app/customers/{id}…` in the office's organization,
/// or the page that says there is no such customer.
async fn customer_in(state: &AppState, org_id: i64, id: &str) -> Result<customer::Model, PageError> {
    let none = || PageError::from(problem(state, StatusCode::NOT_FOUND, "There is no such customer."));
    let id = crate::web::id_in_path(id).ok_or_else(none)?;
    match crate::store::customers::get(&state.db, org_id, id).await {
        Ok(c) => Ok(c),
        Err(Error::NotFound) => Err(none()),
        Err(e) => Err(e.into()),
    }
}

/// A customer's fields as typed into the form.
#[derive(Deserialize, Default)]
pub(super) struct CustomerForm {
    csrf: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    timezone: Option<String>,
    address: Option<String>,
    /// Checkboxes: present when ticked.
    sms: Option<String>,
    email_updates: Option<String>,
}

impl WithCsrf for CustomerForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl CustomerForm {
    fn fields(&self) -> CustomerFields {
        // A ticked channel is used when its contact is given: "text and
        // email" with only a phone typed means texts.
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let mut channels = Vec::new();
        if self.sms.is_some() && given(&self.phone) {
            channels.push("sms".to_string());
        }
        if self.email_updates.is_some() && given(&self.email) {
            channels.push("email".to_string());
        }
        CustomerFields {
            name: self.name.clone(),
            // An emptied box removes the contact.
            phone: Some(self.phone.clone().unwrap_or_default()),
            email: Some(self.email.clone().unwrap_or_default()),
            channels: Some(channels),
            timezone: self.timezone.clone(),
            address: Some(self.address.clone().unwrap_or_default()),
        }
    }

    fn of(c: &customer::Model) -> CustomerForm {
        CustomerForm {
            csrf: None,
            name: Some(c.name.clone()),
            phone: c.phone.clone(),
            email: c.email.clone(),
            timezone: Some(c.timezone.clone()),
            address: Some(c.address.clone()),
            sms: c.channels.contains(Channel::Sms).then(String::new),
            email_updates: c.channels.contains(Channel::Email).then(String::new),
        }
    }
}

/// The add or change form, with what was typed and each field's problem.
fn form_page(
    state: &AppState,
    who: &SignedIn,
    org: &crate::entities::organization::Model,
    existing: Option<&customer::Model>,
    typed: &CustomerForm,
    status: StatusCode,
    errors: Map<String, Value>,
) -> Response {
    let action = existing.map_or("/app/customers".to_string(), |c| format!("/app/customers/{}", c.id));
    screen(
        state,
        who,
        &org.name,
        "/app/customers",
        "staff_customer_form.html",
        status,
        json!({
            "existing": existing.map(|c| json!({"id": c.id, "name": c.name})), "action": action,
            "f": {"name": typed.name, "phone": typed.phone, "email": typed.email,
                  "timezone": typed.timezone.clone().unwrap_or_else(|| org.timezone.clone()),
                  "address": typed.address, "sms": typed.sms.is_some(), "email_updates": typed.email_updates.is_some()},
            "errors": errors, "has_errors": !errors.is_empty(),
        }),
    )
}

pub(super) async fn new_form(State(state): State<AppState>, Office(who): Office) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let fresh = CustomerForm { sms: Some(String::new()), email_updates: Some(String::new()), ..Default::default() };
    Ok(form_page(&state, &who, &org, None, &fresh, StatusCode::OK, Map::new()))
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let c = customer_in(&state, org.id, &id).await?;
    Ok(form_page(&state, &who, &org, Some(&c), &CustomerForm::of(&c), StatusCode::OK, Map::new()))
}

/// Adds a customer; a refused form comes back with every problem beside its field.
pub(super) async fn create(
    State(state): State<AppState>,
    Office(who): Office,
    SignedForm(f): SignedForm<CustomerForm>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    match crate::usecases::customers::add(&state.db, &org, f.fields(), state.clock.now()).await {
        Ok(c) => Ok(Redirect::to(&format!("/app/customers/{}", c.id)).into_response()),
        Err(Error::Validation(fields)) => Ok(form_page(
            &state,
            &who,
            &org,
            None,
            &f,
            StatusCode::UNPROCESSABLE_ENTITY,
            super::errors_by_field(fields),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Changes a customer; a refused form changes nothing and comes back.
pub(super) async fn update(
    State(state): State<AppState>,
    Office(who): Office,
    Path(id): Path<String>,
    SignedForm(f): SignedForm<CustomerForm>,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, who.caller.organization_id).await?;
    let c = customer_in(&state, org.id, &id).await?;
    match crate::usecases::customers::edit(&state.db, &org, c.id, f.fields()).await {
        Ok(c) => Ok(Redirect::to(&format!("/app/customers/{}", c.id)).into_response()),
        Err(Error::Validation(fields)) => Ok(form_page(
            &state,
            &who,
            &org,
            Some(&c),
            &f,
            StatusCode::UNPROCESSABLE_ENTITY,
            super::errors_by_field(fields),
        )),
        Err(e) => Err(e.into()),
    }
}
