//! Signing in and out (`/login`, `/logout`), and choosing a password from
//! an emailed link: asking for one (`/reset`) and using it
//! (`/reset/{token}`). Failed sign-ins and reset requests are limited per
//! account and per address.

use super::extract::{ClientIp, CsrfOnly, GuestForm, SignedForm, SignedIn, WithCsrf};
use super::{https, session_cookie_for, session_ended, with_form_csrf};
use crate::limits::{RESET_PER_ACCOUNT, RESET_PER_IP, SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_IP};
use crate::state::AppState;
use crate::store::sessions;
use crate::web::error::too_many;
use crate::web::PageError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::json;

pub(super) async fn login_page(State(state): State<AppState>) -> Response {
    with_form_csrf(&state, "staff_login.html", StatusCode::OK, json!({"action": "/login"}))
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    /// "Keep me signed in on this device".
    remember: Option<String>,
}

impl WithCsrf for LoginForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

pub(super) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    GuestForm(f): GuestForm<LoginForm>,
) -> Result<Response, PageError> {
    let email = f.email.unwrap_or_default().trim().to_lowercase();
    let (acct, by_ip) = (format!("sign-in:acct:{email}"), format!("sign-in:ip:{ip}"));
    // Only failures count: the attempt takes a hit now and gives it back if
    // it succeeds (or if we could not check the password at all).
    if let Err(wait) = state.limits.hit(&[(&acct, SIGN_IN_PER_ACCOUNT), (&by_ip, SIGN_IN_PER_IP)]) {
        return Ok(too_many(wait));
    }
    let now = state.clock.now();
    let agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let long_lived = f.remember.as_deref().is_some_and(|v| !v.is_empty());
    let device = sessions::Device { name: agent, long_lived };
    let outcome = sessions::sign_in_on(&state.db, &email, f.password.as_deref().unwrap_or(""), &ip, device, now).await;
    match &outcome {
        Ok(Some(_)) => {
            state.limits.take_back(&[&by_ip]);
            state.limits.clear(&acct);
        }
        Err(_) => state.limits.take_back(&[&by_ip, &acct]),
        Ok(None) => {}
    }
    match outcome? {
        Some((person, token, _)) => {
            let days = if long_lived { sessions::LONG_SESSION_DAYS } else { sessions::SESSION_DAYS };
            let jar = CookieJar::new().add(session_cookie_for(https(&state), token, days));
            // Estimators and technicians start on their day, made for a phone.
            let home = if person.role.can_dispatch() { "/app" } else { "/app/day" };
            Ok((jar, Redirect::to(home)).into_response())
        }
        None => Ok(with_form_csrf(
            &state,
            "staff_login.html",
            StatusCode::UNAUTHORIZED,
            json!({"action": "/login", "error": "That email and password do not match."}),
        )),
    }
}

pub(super) async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    SignedForm(_): SignedForm<CsrfOnly>,
) -> Result<Response, PageError> {
    sessions::sign_out(&state.db, &signed_in.session, &ip, state.clock.now()).await?;
    // The browser forgets the cookie (Max-Age=0); the session row is gone.
    let jar = CookieJar::new().add(session_ended(https(&state)));
    Ok((jar, Redirect::to("/login")).into_response())
}

pub(super) async fn forgot_page(State(state): State<AppState>) -> Response {
    with_form_csrf(&state, "staff_login.html", StatusCode::OK, json!({"action": "/reset", "forgot": true}))
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    email: Option<String>,
    csrf: Option<String>,
}

impl WithCsrf for ForgotForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// Always the same answer, whether or not the email is known.
pub(super) async fn forgot(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    GuestForm(f): GuestForm<ForgotForm>,
) -> Result<Response, PageError> {
    let email = f.email.unwrap_or_default().trim().to_lowercase();
    let (acct, by_ip) = (format!("reset:acct:{email}"), format!("reset:ip:{ip}"));
    if let Err(wait) = state.limits.hit(&[(&acct, RESET_PER_ACCOUNT), (&by_ip, RESET_PER_IP)]) {
        return Ok(too_many(wait));
    }
    crate::usecases::invitations::request_reset(&state.db, &state.notify, &email, &ip, state.clock.now()).await?;
    Ok(with_form_csrf(
        &state,
        "staff_login.html",
        StatusCode::OK,
        json!({"action": "/login", "notice": "If that email belongs to someone here, a link to choose a new password is on its way."}),
    ))
}

pub(super) async fn reset_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if sessions::reset_for(&state.db, &token, state.clock.now()).await?.is_none() {
        return Ok((
            StatusCode::NOT_FOUND,
            Html(
                "<p>This link has expired or was already used. Ask for a new one at <a href=\"/reset\">/reset</a>.</p>",
            ),
        )
            .into_response());
    }
    Ok(with_form_csrf(
        &state,
        "staff_login.html",
        StatusCode::OK,
        json!({"action": format!("/reset/{token}"), "reset": true}),
    ))
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    password: Option<String>,
    csrf: Option<String>,
}

impl WithCsrf for ResetForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

pub(super) async fn reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    GuestForm(f): GuestForm<ResetForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let Some(r) = sessions::reset_for(&state.db, &token, now).await? else {
        return Ok((StatusCode::NOT_FOUND, Html("<p>This link has expired or was already used.</p>")).into_response());
    };
    let pw = f.password.unwrap_or_default();
    if let Err(why) = sessions::check_new_password(&pw) {
        return Ok(with_form_csrf(
            &state,
            "staff_login.html",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"action": format!("/reset/{token}"), "reset": true, "error": format!("Password: {why}.")}),
        ));
    }
    if !sessions::complete_reset(&state.db, &r, &pw, &ip, now).await? {
        return Ok((StatusCode::NOT_FOUND, Html("<p>This link was already used.</p>")).into_response());
    }
    Ok(with_form_csrf(
        &state,
        "staff_login.html",
        StatusCode::OK,
        json!({"action": "/login", "notice": "Your password is set. Sign in."}),
    ))
}
