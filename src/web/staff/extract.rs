//! Who is asking, and whether their form is really theirs: the signed-in
//! staff member (`SignedIn`), an admin (`Admin`), a form from a signed-in
//! page carrying the session's CSRF token (`SignedForm`), a form from a page
//! before sign-in carrying the double-submit cookie's (`GuestForm`), and the
//! client's address for the abuse limits (`ClientIp`).

use super::{csrf_refused, problem, CSRF_COOKIE, SESSION_COOKIE};
use crate::auth::Caller;
use crate::domain::people::Role;
use crate::entities::{session, staff};
use crate::state::AppState;
use crate::web::PageError;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::SocketAddr;

/// The staff member signed in with the session cookie; anyone else is sent
/// to `/login`.
#[derive(Clone)]
pub struct SignedIn {
    pub session: session::Model,
    pub me: staff::Model,
    /// The person as an API caller, so pages obey the same rules.
    pub caller: Caller,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Read once per request, however many extractors ask.
        if let Some(known) = parts.extensions.get::<SignedIn>() {
            return Ok(known.clone());
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE) else { return Err(to_login()) };
        let Some((session, me)) =
            crate::store::sessions::session_for(&state.db, token.value(), state.clock.now()).await?
        else {
            return Err(to_login());
        };
        let role = me.role;
        let caller = Caller { organization_id: me.organization_id, role, staff_id: Some(me.id) };
        let signed_in = SignedIn { session, me, caller };
        parts.extensions.insert(signed_in.clone());
        Ok(signed_in)
    }
}

fn to_login() -> PageError {
    Redirect::to("/login").into_response().into()
}

/// A signed-in admin; everyone else signed in gets a page that says only
/// admins manage staff.
pub struct Admin(pub SignedIn);

impl FromRequestParts<AppState> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.caller.role != Role::Admin {
            return Err(problem(state, StatusCode::FORBIDDEN, "Only admins manage staff and settings.").into());
        }
        Ok(Admin(signed_in))
    }
}

/// A signed-in admin or dispatcher (the office); field staff get a page
/// that says this is the office's.
pub struct Office(pub SignedIn);

impl FromRequestParts<AppState> for Office {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if !signed_in.caller.role.can_dispatch() {
            return Err(
                problem(state, StatusCode::FORBIDDEN, "This page is the office's: admins and dispatchers.").into()
            );
        }
        Ok(Office(signed_in))
    }
}

/// A form that carries a CSRF token in its `csrf` field.
pub trait WithCsrf {
    fn csrf(&self) -> Option<&str>;
}

/// A form with nothing but its token.
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

impl WithCsrf for CsrfOnly {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A form read as its fields in order (fields that repeat, like the people
/// on a booking).
impl WithCsrf for Vec<(String, String)> {
    fn csrf(&self) -> Option<&str> {
        self.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.trim())
    }
}

/// A form posted from a signed-in page, refused unless it carries the
/// session's CSRF token. Signs the sender in first (see `SignedIn`).
pub struct SignedForm<T>(pub T);

impl<T: DeserializeOwned + WithCsrf + Send> FromRequest<AppState> for SignedForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let signed_in = SignedIn::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| PageError::from(rejection.into_response()))?;
        if !form.csrf().is_some_and(|c| same(c, &signed_in.session.csrf_token)) {
            return Err(csrf_refused().into());
        }
        Ok(SignedForm(form))
    }
}

/// A form posted from a page shown before sign-in, refused unless its
/// token matches the CSRF cookie the page set.
pub struct GuestForm<T>(pub T);

impl<T: DeserializeOwned + WithCsrf + Send> FromRequest<AppState> for GuestForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(req.headers());
        let Form(form) = Form::<T>::from_request(req, state)
            .await
            .map_err(|rejection| PageError::from(rejection.into_response()))?;
        let matches = match (jar.get(CSRF_COOKIE), form.csrf()) {
            (Some(cookie), Some(given)) => !cookie.value().is_empty() && same(cookie.value(), given),
            _ => false,
        };
        if !matches {
            return Err(csrf_refused().into());
        }
        Ok(GuestForm(form))
    }
}

/// Compares tokens in constant time.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client's address, for the abuse limits and the audit log: the TCP
/// peer, or what the trusted proxy says (`crate::limits::client_ip`).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(crate::limits::client_ip(peer, &parts.headers, state.settings.trusted_proxy)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(same("0a1b", "0a1b"));
        assert!(!same("0a1b", "0a1c") && !same("0a1b", "0a1") && !same("", "0"));
    }

    #[test]
    fn a_repeated_field_form_finds_its_token() {
        let form: Vec<(String, String)> =
            vec![("staff_ids".into(), "3".into()), ("csrf".into(), " abc ".into()), ("staff_ids".into(), "4".into())];
        assert_eq!(form.csrf(), Some("abc"));
        assert_eq!(Vec::<(String, String)>::new().csrf(), None);
    }
}
