//! A phone call in one minute (`/app/new`): find the caller as you type
//! (name, phone, address) or add them with every field checked at once; take
//! their story in their own words; book the estimate; and see the
//! introduction they are about to receive. Each step is a plain form (the
//! script only searches as you type), and each calls the same use cases as
//! the JSON API.

use super::extract::{SignedForm, SignedIn};
use super::{problem, screen};
use crate::domain::messaging::MessageKind;
use crate::domain::visit::VisitKind;
use crate::entities::organization;
use crate::error::{Error, FieldError};
use crate::state::AppState;
use crate::usecases::customers::CustomerFields;
use crate::web::PageError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{Duration, NaiveDate, NaiveTime};
use serde::Deserialize;
use serde_json::{json, Value};

/// How many customers a search lists.
const FOUND: u64 = 8;
/// How many windows the call page suggests.
const SUGGESTED: usize = 6;

#[derive(Deserialize, Default)]
pub(super) struct CallQuery {
    q: Option<String>,
    customer_id: Option<String>,
}

/// The call page: search (or add) the caller, then their job and visit.
pub(super) async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<CallQuery>,
) -> Result<Response, PageError> {
    if !signed_in.caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office takes calls and books visits."));
    }
    let customer = match q.customer_id.as_deref().and_then(|id| id.trim().parse::<i64>().ok()) {
        Some(id) => match crate::store::customers::get(&state.db, signed_in.caller.organization_id, id).await {
            Ok(c) => Some(c),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    show(&state, &signed_in, q.q.unwrap_or_default(), customer, Value::Null, Value::Null, StatusCode::OK).await
}

/// Renders the call page: the search and its results, the new-customer form
/// (with what was typed and each field's problem), and once a customer is
/// chosen, the job and booking form.
async fn show(
    state: &AppState,
    signed_in: &SignedIn,
    query: String,
    customer: Option<crate::entities::customer::Model>,
    new_customer: Value,
    booking: Value,
    status: StatusCode,
) -> Result<Response, PageError> {
    let org = crate::store::orgs::get(&state.db, signed_in.caller.organization_id).await?;
    let found: Vec<Value> =
        crate::store::customers::search(&state.db, org.id, &query, FOUND).await?.iter().map(found_row).collect();
    let field_people: Vec<Value> = crate::store::staff::all(&state.db, org.id)
        .await?
        .into_iter()
        .filter(|p| p.role.can_visit())
        .map(|p| json!({"id": p.id, "name": p.name, "role": p.role.as_str()}))
        .collect();
    let zone = crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id))?;
    let suggested_day = next_working_day(zone.date_of(state.clock.now()));
    // The earliest estimate windows that keep every promise already made.
    let suggestions: Vec<Value> = match &customer {
        None => vec![],
        Some(c) => crate::usecases::availability::suggest_for_customer(
            &state.db,
            &org,
            c,
            VisitKind::Estimate,
            60,
            SUGGESTED,
            state.clock.now(),
        )
        .await?
        .into_iter()
        .map(|o| {
            let start = zone.local(o.window_start);
            let end = zone.local(o.window_end);
            let who = field_people.iter().find(|p| p["id"] == o.staff_id).map(|p| p["name"].clone());
            json!({
                "value": format!("{}|{}|{}|{}", o.staff_id, start.format("%Y-%m-%d"), start.format("%H:%M"), end.format("%H:%M")),
                "label": format!("{} – {}", start.format("%a %b %-d, %-I:%M %p"), end.format("%-I:%M %p")),
                "who": who,
                "travel": o.added_travel_minutes,
            })
        })
        .collect(),
    };
    let chosen = customer.as_ref().map(|c| {
        json!({"id": c.id, "name": c.name, "phone": c.phone, "email": c.email, "address": c.address,
               "timezone": c.timezone})
    });
    let mut r = screen(
        state,
        signed_in,
        &org.name,
        "/app/new",
        "staff_new.html",
        status,
        json!({
            "q": query, "found": found, "searched": !query.trim().is_empty(),
            "customer": chosen, "people": field_people, "suggestions": suggestions,
            // The templates read fields of these whether or not anything was typed.
            "new": if new_customer.is_null() { json!({"errors": {}}) } else { new_customer },
            "booking": if booking.is_null() { json!({"errors": {}}) } else { booking },
            "kinds": VisitKind::ALL.iter().map(|k| json!({"value": k.as_str(), "label": k.as_str().replace('_', "-")})).collect::<Vec<_>>(),
            "default_date": suggested_day.to_string(), "zone": org.timezone,
        }),
    );
    r.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(super::assets::SCRIPTED_POLICY),
    );
    Ok(r)
}

fn found_row(c: &crate::entities::customer::Model) -> Value {
    json!({"id": c.id, "name": c.name, "phone": c.phone, "address": c.address})
}

/// The next day that is not a Sunday.
fn next_working_day(today: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    let next = today + Duration::days(1);
    if next.weekday() == chrono::Weekday::Sun {
        next + Duration::days(1)
    } else {
        next
    }
}

/// `GET /app/customers/search?q=`: the same search, for the script that
/// searches as the office types.
pub(super) async fn search(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<CallQuery>,
) -> Result<Response, PageError> {
    if !signed_in.caller.role.can_dispatch() {
        return Ok((StatusCode::FORBIDDEN, Json(json!({"items": []}))).into_response());
    }
    let found = crate::store::customers::search(
        &state.db,
        signed_in.caller.organization_id,
        q.q.as_deref().unwrap_or_default(),
        FOUND,
    )
    .await?;
    Ok(Json(json!({"items": found.iter().map(found_row).collect::<Vec<_>>()})).into_response())
}

/// The value of a form field, trimmed; absent when empty.
fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Each field's problem, by field name, for the form.
fn problems(fields: &[FieldError]) -> Value {
    let mut out = serde_json::Map::new();
    for f in fields {
        out.entry(f.field.clone()).or_insert(json!(f.message));
    }
    Value::Object(out)
}

/// Adds the caller as a customer (the same rules as the API); then the page
/// continues with their job.
pub(super) async fn add_customer(
    State(state): State<AppState>,
    signed_in: SignedIn,
    SignedForm(pairs): SignedForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    if !signed_in.caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office adds customers."));
    }
    let org = crate::store::orgs::get(&state.db, signed_in.caller.organization_id).await?;
    let input = CustomerFields {
        name: field(&pairs, "name"),
        phone: field(&pairs, "phone"),
        email: field(&pairs, "email"),
        channels: None,
        timezone: field(&pairs, "timezone"),
        address: field(&pairs, "address"),
    };
    match crate::usecases::customers::add(&state.db, &org, input, state.clock.now()).await {
        Ok(c) => Ok(Redirect::to(&format!("/app/new?customer_id={}", c.id)).into_response()),
        Err(Error::Validation(fields)) => {
            let typed = json!({
                "name": field(&pairs, "name"), "phone": field(&pairs, "phone"), "email": field(&pairs, "email"),
                "address": field(&pairs, "address"), "timezone": field(&pairs, "timezone"),
                "errors": problems(&fields),
            });
            let q = field(&pairs, "name").unwrap_or_default();
            show(&state, &signed_in, q, None, typed, Value::Null, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens the caller's job with their story and books its first visit in one
/// go. The window is typed in the office's zone. A refused window leaves
/// the job open (on the board's list of jobs not booked yet) and says why.
pub(super) async fn open_and_book(
    State(state): State<AppState>,
    signed_in: SignedIn,
    SignedForm(pairs): SignedForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let caller = signed_in.caller;
    if !caller.role.can_dispatch() {
        return Ok(problem(&state, StatusCode::FORBIDDEN, "Only the office books visits."));
    }
    let org = crate::store::orgs::get(&state.db, caller.organization_id).await?;
    let customer_id = field(&pairs, "customer_id").and_then(|v| v.parse::<i64>().ok());
    let customer = match customer_id {
        Some(id) => match crate::store::customers::get(&state.db, org.id, id).await {
            Ok(c) => c,
            Err(Error::NotFound) => return Ok(problem(&state, StatusCode::NOT_FOUND, "That customer is not ours.")),
            Err(e) => return Err(e.into()),
        },
        None => return Ok(Redirect::to("/app/new").into_response()),
    };
    let typed = |errors: Value| {
        json!({
            "title": field(&pairs, "title"), "story": field(&pairs, "story"), "kind": field(&pairs, "kind"),
            "staff_id": field(&pairs, "staff_id"), "date": field(&pairs, "date"), "start": field(&pairs, "start"),
            "end": field(&pairs, "end"), "duration": field(&pairs, "duration"), "errors": errors,
        })
    };
    // Everything about the visit is checked before the job is opened.
    let visit = match visit_fields(&org, &pairs) {
        Ok(v) => v,
        Err(fields) => {
            let page = typed(problems(&fields));
            return show(
                &state,
                &signed_in,
                String::new(),
                Some(customer),
                Value::Null,
                page,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let now = state.clock.now();
    let job = match crate::usecases::customers::open_job(
        &state.db,
        &state.notify,
        org.id,
        Some(customer.id),
        field(&pairs, "title"),
        field(&pairs, "story"),
        now,
    )
    .await
    {
        Ok(j) => j,
        Err(Error::Validation(fields)) => {
            let page = typed(problems(&fields));
            return show(
                &state,
                &signed_in,
                String::new(),
                Some(customer),
                Value::Null,
                page,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    match crate::usecases::visits::book(&state.db, &state.notify, &org, job.id, visit, now).await {
        Ok(v) => Ok(Redirect::to(&format!("/app/new/done?visit={}", v.visit.id)).into_response()),
        Err(Error::Conflict { message, .. }) => {
            let mut errors = serde_json::Map::new();
            errors.insert(
                "window".into(),
                json!(format!(
                    "{message}. The job is saved (job {}): pick another window here or on its page.",
                    job.id
                )),
            );
            let page = typed(Value::Object(errors));
            show(&state, &signed_in, String::new(), Some(customer), Value::Null, page, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The visit as typed: who, what kind, the day and window in the office's
/// zone, and how long the work takes; every problem named.
fn visit_fields(
    org: &organization::Model,
    pairs: &[(String, String)],
) -> Result<crate::store::visits::NewVisit, Vec<FieldError>> {
    // A suggested window chosen: `staff_id|date|start|end`, the same fields.
    let slot: Option<Vec<String>> = field(pairs, "slot").map(|s| s.split('|').map(String::from).collect());
    let pairs: Vec<(String, String)> = match slot.as_deref() {
        Some([staff, date, start, end]) => {
            let mut p: Vec<(String, String)> = pairs
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "staff_id" | "date" | "start" | "end"))
                .cloned()
                .collect();
            for (k, v) in [("staff_id", staff), ("date", date), ("start", start), ("end", end)] {
                p.push((k.to_string(), v.clone()));
            }
            p
        }
        _ => pairs.to_vec(),
    };
    let pairs = pairs.as_slice();
    let mut p = crate::error::Problems::default();
    let zone = match crate::error::stored_zone(&org.timezone, format_args!("organization {}", org.id)) {
        Ok(z) => z,
        Err(e) => return Err(vec![FieldError { field: "date".into(), message: e.to_string() }]),
    };
    let staff_id = p.check(
        "staff_id",
        field(pairs, "staff_id").and_then(|v| v.parse::<i64>().ok()).ok_or("choose who goes".to_string()),
    );
    let kind = field(pairs, "kind").unwrap_or_else(|| "estimate".into());
    let kind =
        p.check("kind", VisitKind::parse(&kind).ok_or(format!("'{kind}' is not one of {}", VisitKind::choices())));
    let date = field(pairs, "date").unwrap_or_default();
    let date = p.check(
        "date",
        NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|_| format!("'{date}' is not a date (YYYY-MM-DD)")),
    );
    let mut at = |name: &str| {
        let typed = field(pairs, name).unwrap_or_default();
        let time = p.check(
            name,
            NaiveTime::parse_from_str(&typed, "%H:%M").map_err(|_| format!("'{typed}' is not a time of day (HH:MM)")),
        )?;
        p.check(name, zone.at_local(date?, time))
    };
    let window_start = at("start");
    let window_end = at("end");
    let duration = field(pairs, "duration").unwrap_or_default();
    let duration = p.check(
        "duration",
        duration
            .parse::<i32>()
            .ok()
            .filter(|d| (1..=crate::store::visits::MAX_DURATION_MINUTES).contains(d))
            .ok_or(format!("whole minutes between 1 and {}", crate::store::visits::MAX_DURATION_MINUTES)),
    );
    if let Err(Error::Validation(fields)) = p.into_result() {
        return Err(fields);
    }
    match (staff_id, kind, window_start, window_end, duration) {
        (Some(staff_id), Some(kind), Some(window_start), Some(window_end), Some(duration_minutes)) => {
            Ok(crate::store::visits::NewVisit {
                kind,
                staff_ids: vec![staff_id],
                window_start,
                window_end,
                duration_minutes,
            })
        }
        _ => Err(vec![FieldError { field: "window".into(), message: "check the visit's fields".into() }]),
    }
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    visit: Option<String>,
}

/// Booked: what the customer is about to receive, word for word.
pub(super) async fn done(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let org_id = signed_in.caller.organization_id;
    let Some(id) = q.visit.as_deref().and_then(|v| v.trim().parse::<i64>().ok()) else {
        return Ok(Redirect::to("/app/new").into_response());
    };
    let visit = match crate::store::visits::get(&state.db, org_id, id).await {
        Ok(v) => v,
        Err(Error::NotFound) => return Ok(problem(&state, StatusCode::NOT_FOUND, "That visit is not ours.")),
        Err(e) => return Err(e.into()),
    };
    let job = crate::store::jobs::get(&state.db, org_id, visit.visit.job_id).await?;
    let customer = crate::store::customers::get(&state.db, org_id, job.customer_id).await?;
    let zone = crate::store::customers::zone(&customer)?;
    let messages: Vec<Value> = crate::store::timeline::messages_for_job(&state.db, org_id, job.id)
        .await?
        .into_iter()
        .filter(|m| m.visit_id == Some(id) && m.kind == MessageKind::Introduction)
        .map(|m| json!({"channel": m.channel.as_str(), "recipient": m.recipient, "subject": m.subject, "body": m.body_text}))
        .collect();
    let org = crate::store::orgs::get(&state.db, org_id).await?;
    Ok(screen(
        &state,
        &signed_in,
        &org.name,
        "/app/new",
        "staff_new_done.html",
        StatusCode::OK,
        json!({
            "job": {"id": job.id, "title": job.title}, "customer": customer.name,
            "window": crate::messages::compose::window_phrase(zone, visit.visit.window_start, visit.visit.window_end),
            "messages": messages,
        }),
    ))
}
