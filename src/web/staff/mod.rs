//! The staff screens, one module each: signing in, out and choosing a
//! password (`signin`), the day (`today`), the dispatcher's board
//! (`board`), a field person's *My day* (`day`), a phone call (`call`), a job (`job`) and the admin's staff
//! page (`people`); their small scripts (`assets`). Sessions live in the database; who is signed in,
//! who is an admin, and the CSRF token every form carries (the session's,
//! or before sign-in a double-submit cookie) are extractors (`extract`).

mod assets;
mod board;
mod call;
mod conversation;
mod customers;
mod day;
mod estimate;
mod extract;
mod inbox;
mod job;
mod jobs;
mod outbox;
mod people;
mod settings;
mod signin;
mod today;
mod visit;
mod wording;

use crate::state::AppState;
use crate::web::Refusal;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde_json::json;

/// The session cookie: the token of a row in `sessions` (named in `auth`,
/// where the API's event stream reads it too).
pub use crate::auth::SESSION_COOKIE;
/// The double-submit CSRF cookie of the forms shown before sign-in.
const CSRF_COOKIE: &str = "kept_csrf";

pub fn router(state: &AppState) -> Router<AppState> {
    routes().layer(axum::middleware::from_fn_with_state(state.clone(), dress_refusal))
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(signin::login_page).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/app", get(today::app))
        .route("/app/board", get(board::board))
        .route("/app/new", get(call::page))
        .route("/app/new/customer", post(call::add_customer))
        .route("/app/new/job", post(call::open_and_book))
        .route("/app/new/done", get(call::done))
        .route("/app/customers/search", get(call::search))
        .route("/app/customers", get(customers::list).post(customers::create))
        .route("/app/customers/new", get(customers::new_form))
        .route("/app/customers/{id}", get(customers::show).post(customers::update))
        .route("/app/customers/{id}/edit", get(customers::edit_form))
        .route("/app/visits/{id}", get(visit::page))
        .route("/app/visits/{id}/change", post(visit::change))
        .route("/app/visits/{id}/cancel", post(visit::cancel))
        .route("/app/jobs/{id}/status", post(visit::job_status))
        .route("/app/jobs/{id}/estimate", get(estimate::page).post(estimate::save))
        .route("/app/estimates/{id}/send", post(estimate::send))
        .route("/app/visits/{id}/move", post(board::move_visit))
        .route("/app/board/move", post(board::move_chosen))
        .route("/assets/board.js", get(assets::board))
        .route("/assets/call.js", get(assets::call))
        .route("/assets/job.js", get(assets::job))
        .route("/assets/day.js", get(assets::day))
        .route("/assets/estimate.js", get(assets::estimate))
        .route("/app/day", get(day::day))
        .route("/app/day/visits/{id}/status", post(day::tap))
        .route("/app/day/visits/{id}/late", post(day::late))
        .route("/app/day/visits/{id}/notes", post(day::note))
        .route("/app/day/calendar", post(day::calendar))
        .route("/app/day/devices", post(day::end_device))
        .route("/app/visits/{id}/status", post(today::visit_status))
        .route("/app/jobs", get(jobs::list))
        .route("/app/jobs/{id}", get(job::job_page))
        .route("/app/jobs/{id}/notes", post(job::job_note))
        .route("/app/jobs/{id}/visits", post(job::job_book))
        .route("/app/settings", get(settings::page).post(settings::save))
        .route("/app/staff", get(people::staff_page).post(people::staff_add))
        .route("/app/staff/{id}/role", post(people::staff_role))
        .route("/app/staff/{id}/invite", post(people::staff_invite))
        .route("/app/outbox", get(outbox::outbox_page))
        .route("/app/messages/{id}/resend", post(outbox::resend))
        .route("/app/inbox", get(inbox::inbox_page))
        .route("/app/inbound/{id}/attach", post(inbox::attach))
        .route("/app/jobs/{id}/reply", post(conversation::reply))
        .route("/app/wording", get(wording::editor))
        .route("/app/wording/{kind}", post(wording::submit))
        .route("/assets/wording.js", get(wording::script))
        .route("/app/staff/{id}/sign-out", post(people::staff_sign_out))
        .route("/reset", get(signin::forgot_page).post(signin::forgot))
        .route("/reset/{token}", get(signin::reset_page).post(signin::reset))
}

/// A staff page; never cached (it shows one person's view of the day).
fn render(state: &AppState, name: &str, status: StatusCode, ctx: serde_json::Value) -> Response {
    match state.pages.render(name, ctx) {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => super::error::failure(e),
    }
}

/// The office's and crew's screens reached from the main navigation, and
/// who sees each (`staff_base.html` draws it).
const NAV: &[(&str, &str, Seen)] = &[
    ("/app", "Today", Seen::Office),
    ("/app/day", "My day", Seen::Field),
    ("/app/board", "Board", Seen::Office),
    ("/app/new", "New call", Seen::Office),
    ("/app/customers", "Customers", Seen::Office),
    ("/app/jobs", "Jobs", Seen::Office),
    ("/app/outbox", "Outbox", Seen::Office),
    ("/app/inbox", "Unmatched texts", Seen::Office),
    ("/app/wording", "Message wording", Seen::Office),
    ("/app/staff", "Staff", Seen::Admin),
    ("/app/settings", "Settings", Seen::Admin),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Estimators and technicians: the people who go out to customers.
    Field,
    Office,
    Admin,
}

/// The main navigation as `role` sees it, `current` marked.
fn nav(role: crate::domain::people::Role, current: &str) -> Vec<serde_json::Value> {
    NAV.iter()
        .filter(|(_, _, seen)| match seen {
            Seen::Field => role.can_visit(),
            Seen::Office => role.can_dispatch(),
            Seen::Admin => role == crate::domain::people::Role::Admin,
        })
        .map(|(href, label, _)| json!({"href": href, "label": label, "current": *href == current}))
        .collect()
}

/// A screen built on `staff_base.html`: the page's own context plus the
/// organization's name, the main navigation (with `current` marked), who is
/// signed in and the session's CSRF token for the sign-out form.
fn screen(
    state: &AppState,
    who: &extract::SignedIn,
    org: &str,
    current: &str,
    name: &str,
    status: StatusCode,
    mut ctx: serde_json::Value,
) -> Response {
    dress(&mut ctx, who, org, current);
    render(state, name, status, ctx)
}

/// What `staff_base.html` draws around every screen, added to `ctx`.
fn dress(ctx: &mut serde_json::Value, who: &extract::SignedIn, org: &str, current: &str) {
    let role = who.caller.role;
    // The phone's menu button names the screen it is on.
    let here = NAV.iter().find(|(href, _, _)| *href == current).map_or("Menu", |(_, label, _)| *label);
    if let Some(map) = ctx.as_object_mut() {
        map.insert("org".into(), json!(org));
        map.insert("nav".into(), json!(nav(role, current)));
        map.insert("nav_here".into(), json!(here));
        map.insert("csrf".into(), json!(who.session.csrf_token));
        map.insert("me".into(), json!({"name": who.me.name, "role": role.as_str()}));
    }
}

/// A refused form's problems by field name, each field's joined with "; ",
/// for a page that shows each beside its field.
fn errors_by_field(fields: Vec<crate::error::FieldError>) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for f in fields {
        let text = match out.get(&f.field).and_then(serde_json::Value::as_str) {
            Some(before) => format!("{before}; {}", f.message),
            None => f.message,
        };
        out.insert(f.field, json!(text));
    }
    out
}

/// A use case's refusal as a page that says why; `missing` names what was
/// not found.
fn refused(state: &AppState, e: crate::error::Error, missing: &str) -> Response {
    use crate::error::Error;
    match e {
        Error::NotFound => problem(state, StatusCode::NOT_FOUND, missing),
        Error::Conflict { message, .. } => problem(state, StatusCode::CONFLICT, &message),
        Error::Forbidden(m) => problem(state, StatusCode::FORBIDDEN, &m),
        Error::Validation(fields) => {
            problem(state, StatusCode::UNPROCESSABLE_ENTITY, &crate::error::Problems(fields).to_string())
        }
        e => super::error::failure(e),
    }
}

/// A short page that says what went wrong, with the way back. Drawn here
/// without the navigation (a refusal may come before anyone is known);
/// `dress_refusal` draws it again inside the signed-in person's.
fn problem(state: &AppState, status: StatusCode, text: &str) -> Response {
    let mut r = render(state, "staff_problem.html", status, json!({"text": text}));
    r.extensions_mut().insert(Refusal(text.to_string()));
    r
}

/// A refusal to someone signed in is shown inside the main navigation, with
/// who they are and sign-out, like every other staff screen, so each
/// handler that refuses need not load the organization to say no. Only
/// refusals pay for the second look-up of the session.
async fn dress_refusal(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cookies: Vec<HeaderValue> = request.headers().get_all(header::COOKIE).iter().cloned().collect();
    let response = next.run(request).await;
    let Some(Refusal(text)) = response.extensions().get::<Refusal>().cloned() else { return response };
    let mut asked = Request::new(axum::body::Body::empty());
    for c in cookies {
        asked.headers_mut().append(header::COOKIE, c);
    }
    let (mut parts, _) = asked.into_parts();
    let Ok(who) = extract::SignedIn::from_request_parts(&mut parts, &state).await else { return response };
    let Ok(org) = crate::store::orgs::get(&state.db, who.caller.organization_id).await else { return response };
    screen(&state, &who, &org.name, "", "staff_problem.html", response.status(), json!({"text": text}))
}

/// A form without the right CSRF token.
fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, Html("<p>This form has expired. Go back, reload the page and try again.</p>"))
        .into_response()
}

/// Whether cookies must be Secure: the site is served over https.
fn https(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}

/// The session cookie, for as long as an ordinary session lasts.
#[cfg(test)]
fn session_cookie(secure: bool, token: String) -> Cookie<'static> {
    session_cookie_for(secure, token, crate::store::sessions::SESSION_DAYS)
}

/// The session cookie of a session that lasts `days`.
fn session_cookie_for(secure: bool, token: String, days: i64) -> Cookie<'static> {
    let days = u64::try_from(days).unwrap_or(0);
    cookie(secure, SESSION_COOKIE, token, SameSite::Lax, Some(days * 86400))
}

/// The session cookie's end: the browser forgets it at once.
fn session_ended(secure: bool) -> Cookie<'static> {
    cookie(secure, SESSION_COOKIE, String::new(), SameSite::Lax, Some(0))
}

/// The double-submit CSRF cookie, for as long as the browser is open.
fn csrf_cookie(secure: bool, token: String) -> Cookie<'static> {
    cookie(secure, CSRF_COOKIE, token, SameSite::Strict, None)
}

/// A cookie only this site's pages send back: HttpOnly, on every path.
/// `max_age` in seconds, or none for a cookie of the browser session.
fn cookie(
    secure: bool,
    name: &'static str,
    value: String,
    same_site: SameSite,
    max_age: Option<u64>,
) -> Cookie<'static> {
    let built = Cookie::build((name, value)).path("/").http_only(true).same_site(same_site).secure(secure);
    let Some(seconds) = max_age else { return built.build() };
    // The cookie crate counts in `time::Duration`, which it converts from std's.
    match std::time::Duration::from_secs(seconds).try_into() {
        Ok(age) => built.max_age(age).build(),
        Err(_) => built.build(),
    }
}

/// A page with a form before sign-in: a fresh double-submit CSRF token in a
/// cookie and in the form.
fn with_form_csrf(state: &AppState, name: &str, status: StatusCode, mut ctx: serde_json::Value) -> Response {
    let csrf = hex::encode(&crate::auth::hash_token(&crate::auth::new_token())[..16]);
    ctx["csrf"] = json!(&csrf);
    let jar = CookieJar::new().add(csrf_cookie(https(state), csrf));
    (jar, render(state, name, status, ctx)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Set-Cookie` header a response with only this cookie carries.
    fn set(c: Cookie<'static>) -> String {
        let r = (CookieJar::new().add(c), ()).into_response();
        r.headers()[header::SET_COOKIE].to_str().expect("ascii").to_string()
    }

    #[test]
    fn cookies_carry_the_same_attributes_as_ever() {
        let age = crate::store::sessions::SESSION_DAYS * 86400;
        assert_eq!(
            set(session_cookie(true, "kept_abc123".into())),
            format!("kept_session=kept_abc123; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age={age}")
        );
        assert_eq!(
            set(session_cookie(false, "kept_abc123".into())),
            format!("kept_session=kept_abc123; HttpOnly; SameSite=Lax; Path=/; Max-Age={age}")
        );
        assert_eq!(set(session_ended(false)), "kept_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0");
        assert_eq!(set(csrf_cookie(true, "0a1b".into())), "kept_csrf=0a1b; HttpOnly; SameSite=Strict; Secure; Path=/");
    }
}
