//! Who may call what: the role × route table, as data. The API router
//! enforces it for every route before any handler runs; handlers then narrow
//! field roles (estimators, technicians) to their own visits and estimates.

use crate::auth::Caller;
use crate::db::Db;
use crate::domain::people::Role;
use crate::entities::{estimate, visit};
use crate::http_error::ApiError;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Which roles a route admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// Admins only: settings, users.
    Admin,
    /// Admins and dispatchers: customers, jobs, bookings, messages.
    Office,
    /// The office and estimators (estimators: only estimates they wrote, on jobs they visit).
    Estimating,
    /// Every role (estimators and technicians: only their own visits and schedule).
    Staff,
    /// Every role, each person for themselves only; admins for anyone
    /// (a person's calendar feed and sessions).
    Own,
}

impl Access {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public | Access::Staff | Access::Own => true,
            Access::Admin => role == Role::Admin,
            Access::Office => role.can_dispatch(),
            Access::Estimating => role.can_dispatch() || role == Role::Estimator,
        }
    }
}

/// (method, path under /api/v1, access, narrowed for field roles)
pub const API_ROUTES: &[(&str, &str, Access, bool)] = &[
    ("GET", "/openapi.json", Access::Public, false),
    ("GET", "/organization", Access::Staff, false),
    ("PATCH", "/organization", Access::Admin, false),
    ("GET", "/staff", Access::Staff, false),
    ("POST", "/staff", Access::Admin, false),
    ("GET", "/staff/{id}", Access::Staff, false),
    ("GET", "/staff/{id}/schedule", Access::Staff, true),
    ("PATCH", "/staff/{id}", Access::Admin, false),
    ("POST", "/staff/{id}/invite", Access::Admin, false),
    ("GET", "/audit", Access::Admin, false),
    ("GET", "/exports/customers", Access::Admin, false),
    ("GET", "/exports/jobs", Access::Admin, false),
    ("GET", "/customers", Access::Office, false),
    ("POST", "/customers", Access::Office, false),
    ("GET", "/customers/{id}", Access::Office, false),
    ("PATCH", "/customers/{id}", Access::Office, false),
    ("GET", "/jobs", Access::Office, false),
    ("POST", "/jobs", Access::Office, false),
    ("GET", "/jobs/{id}", Access::Staff, true),
    ("PATCH", "/jobs/{id}", Access::Office, false),
    ("GET", "/jobs/{id}/timeline", Access::Staff, true),
    ("POST", "/jobs/{id}/notes", Access::Staff, true),
    ("POST", "/jobs/{id}/messages", Access::Office, false),
    ("GET", "/jobs/{id}/visits", Access::Staff, true),
    ("POST", "/jobs/{id}/visits", Access::Office, false),
    ("GET", "/availability", Access::Office, false),
    ("GET", "/jobs/{id}/estimates", Access::Estimating, true),
    ("POST", "/jobs/{id}/estimates", Access::Estimating, true),
    ("GET", "/jobs/{id}/promises", Access::Office, false),
    ("POST", "/jobs/{id}/promises", Access::Office, false),
    ("GET", "/visits/{id}", Access::Staff, true),
    ("PATCH", "/visits/{id}", Access::Office, false),
    ("POST", "/visits/{id}/status", Access::Staff, true),
    ("GET", "/estimates/{id}", Access::Estimating, true),
    ("PATCH", "/estimates/{id}", Access::Estimating, true),
    ("POST", "/estimates/{id}/send", Access::Estimating, true),
    ("GET", "/outbox", Access::Office, false),
    ("GET", "/inbound", Access::Office, false),
    ("POST", "/inbound/{id}/attach", Access::Office, false),
    ("GET", "/jobs/{id}/conversation", Access::Staff, true),
    ("POST", "/messages/{id}/resend", Access::Office, false),
    ("GET", "/message-templates", Access::Office, false),
    ("PUT", "/message-templates/{kind}/{part}", Access::Admin, false),
    ("DELETE", "/message-templates/{kind}/{part}", Access::Admin, false),
    ("POST", "/message-templates/{kind}/preview", Access::Office, false),
    ("GET", "/promises", Access::Office, false),
    ("POST", "/promises/{id}/kept", Access::Office, false),
    ("GET", "/metrics/promises", Access::Office, false),
    ("GET", "/tasks", Access::Office, false),
    ("PATCH", "/tasks/{id}", Access::Office, false),
    // Field roles receive only their own visits' events (the stream filters
    // rather than refuses, so it is not marked narrowed).
    ("GET", "/events", Access::Staff, false),
    // The crew's phone: their own visits (narrowed), their own feed (or an
    // admin's say), and the feed itself, opened by its secret alone.
    ("POST", "/visits/{id}/late", Access::Staff, true),
    ("POST", "/visits/{id}/notes", Access::Staff, true),
    ("POST", "/staff/{id}/calendar", Access::Own, false),
    ("DELETE", "/staff/{id}/calendar", Access::Own, false),
    ("GET", "/calendar/{token}", Access::Public, false),
    ("GET", "/staff/{id}/sessions", Access::Own, false),
    ("DELETE", "/staff/{id}/sessions", Access::Own, false),
];

/// Routes a signed-in page may also call with its session cookie instead
/// of a token: reads only, so a request forged from another site gains
/// nothing (and the cookie is SameSite=Lax besides). A bearer token, when
/// sent, is what counts.
pub const SESSION_ROUTES: &[(&str, &str)] = &[("GET", "/events")];

/// What the access check reads: the database (tokens, sessions, the
/// organization wall) and the clock (whether a session has expired).
#[derive(Clone)]
pub struct Gate {
    pub db: Db,
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

pub fn required(method: &str, path: &str) -> Option<Access> {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    API_ROUTES.iter().find(|(m, p, _, _)| *m == method && *p == path).map(|(_, _, a, _)| *a)
}

/// Whether the route takes the session cookie too (`SESSION_ROUTES`).
pub fn session_route(method: &str, path: &str) -> bool {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    SESSION_ROUTES.iter().any(|(m, p)| *m == method && *p == path)
}

/// Middleware: a route missing from the table is refused, so a new route
/// cannot be reached before someone decides who may call it. The caller is
/// the bearer token's; on a `SESSION_ROUTES` route sent without one, the
/// signed-in staff member's session cookie's.
pub async fn enforce(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let db = gate.db;
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let Some(access) = required(request.method().as_str(), &path) else {
        return ApiError::Forbidden(format!("{} {path} has no access rule", request.method())).into_response();
    };
    if access == Access::Public {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let by_session =
        !parts.headers.contains_key(axum::http::header::AUTHORIZATION) && session_route(parts.method.as_str(), &path);
    let named = path_id(&path, parts.uri.path());
    // A token and the organization wall are read in one round trip.
    let caller = match (by_session, named) {
        (true, _) => match Caller::from_session(&db, &parts.headers, gate.clock.now()).await {
            Ok(Some(c)) => Ok((c, None)),
            Ok(None) => Err(ApiError::Unauthorized),
            Err(e) => Err(e),
        },
        (false, Some((resource, id))) => {
            token_owning(&db, &parts.headers, resource, id).await.map(|(c, o)| (c, Some(o)))
        }
        (false, None) => Caller::from_request_parts(&mut parts, &db).await.map(|c| (c, None)),
    };
    let (caller, owns) = match caller {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if !access.allows(caller.role) {
        return ApiError::Forbidden(format!("a {} may not do this", caller.role.as_str())).into_response();
    }
    // The organization wall, before anything else about the request: an id
    // that is not ours answers 404, exactly like one that does not exist.
    if let Some((resource, id)) = named {
        let owns = match owns {
            Some(o) => Ok(o),
            None => owned(&db, caller.organization_id, resource, id).await,
        };
        match owns {
            Ok(true) => {}
            Ok(false) => return ApiError::NotFound.into_response(),
            Err(e) => return e.into_response(),
        }
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// Estimators and technicians tied to a staff member see only what they work
/// on. `None` means the caller is the office (or an integration token).
pub fn field_staff(caller: &Caller) -> Option<i64> {
    match caller.role {
        Role::Estimator | Role::Technician => caller.staff_id.or(Some(0)),
        Role::Admin | Role::Dispatcher => None,
    }
}

/// Whether the caller may open the job: the office always, field people
/// when they are on one of its visits.
pub async fn may_open_job<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    job_id: i64,
) -> Result<bool, crate::error::Error> {
    match field_staff(caller) {
        None => Ok(true),
        Some(me) => crate::store::visits::is_on_job(db, job_id, me).await,
    }
}

/// Whether the caller is assigned to any visit of the job (always for the office).
pub async fn ensure_job<C: ConnectionTrait>(db: &C, caller: &Caller, job_id: i64) -> Result<(), ApiError> {
    if may_open_job(db, caller, job_id).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only the office and the people visiting can see this job".into()))
    }
}

/// Whether the caller is assigned to the visit (always for the office).
pub fn ensure_visit(caller: &Caller, staff_ids: &[i64]) -> Result<(), ApiError> {
    match field_staff(caller) {
        Some(me) if !staff_ids.contains(&me) => {
            Err(ApiError::Forbidden("only the office and the people assigned can see this visit".into()))
        }
        _ => Ok(()),
    }
}

/// Estimators see and edit only estimates they wrote (technicians none).
pub fn ensure_estimate(caller: &Caller, e: &estimate::Model) -> Result<(), ApiError> {
    match field_staff(caller) {
        Some(me) if e.author_staff_id != Some(me) => {
            Err(ApiError::Forbidden("estimators see only the estimates they wrote".into()))
        }
        _ => Ok(()),
    }
}

/// Field roles read only their own schedule.
pub fn ensure_self(caller: &Caller, staff_id: i64) -> Result<(), ApiError> {
    match field_staff(caller) {
        Some(me) if me != staff_id => Err(ApiError::Forbidden("you can only see your own schedule".into())),
        _ => Ok(()),
    }
}

/// The resource and id a request names: `/api/v1/jobs/{id}/visits` matched
/// by `/api/v1/jobs/17/visits` is ("jobs", 17). An id that is not a number
/// is (resource, 0), which nothing has.
fn path_id<'a>(template: &'a str, actual: &str) -> Option<(&'a str, i64)> {
    // Aligned from the end: a nested router sees the path without its prefix.
    let t: Vec<&str> = template.rsplit('/').collect();
    let a: Vec<&str> = actual.rsplit('/').collect();
    let i = t.iter().position(|s| *s == "{id}")?;
    let resource = *t.get(i + 1)?;
    let id = a.get(i).and_then(|s| s.parse::<i64>().ok()).filter(|id| *id > 0).unwrap_or(0);
    Some((resource, id))
}

/// The table behind a resource in a path, for the organization wall.
fn wall_table(resource: &str) -> Result<&'static str, ApiError> {
    use crate::entities::{customer, inbound_message, job, message, promise, staff, task};
    use sea_orm::EntityName;
    Ok(match resource {
        "jobs" => job::Entity.table_name(),
        "visits" => visit::Entity.table_name(),
        "estimates" => estimate::Entity.table_name(),
        "staff" => staff::Entity.table_name(),
        "customers" => customer::Entity.table_name(),
        "promises" => promise::Entity.table_name(),
        "tasks" => task::Entity.table_name(),
        "messages" => message::Entity.table_name(),
        "inbound" => inbound_message::Entity.table_name(),
        other => return Err(ApiError::Internal(format!("no organization check for /{other}/{{id}}"))),
    })
}

/// The bearer token's caller, and whether `resource` `id` is their
/// organization's, in one query (the token row, with an `EXISTS` on the
/// resource's table in the token's organization).
async fn token_owning(
    db: &Db,
    headers: &axum::http::HeaderMap,
    resource: &str,
    id: i64,
) -> Result<(Caller, bool), ApiError> {
    use crate::entities::api_token;
    use sea_orm::sea_query::{Alias, Expr, Query};
    use sea_orm::QuerySelect;
    let token = crate::auth::bearer(headers)?;
    let table = Alias::new(wall_table(resource)?);
    let theirs = Query::select()
        .expr(Expr::val(1))
        .from(table.clone())
        .and_where(Expr::col((table.clone(), Alias::new("id"))).eq(id))
        .and_where(
            Expr::col((table, Alias::new("organization_id")))
                .equals((api_token::Entity, api_token::Column::OrganizationId)),
        )
        .to_owned();
    let row: Option<(i64, Role, Option<i64>, bool)> = api_token::Entity::find()
        .select_only()
        .column(api_token::Column::OrganizationId)
        .column(api_token::Column::Role)
        .column(api_token::Column::StaffId)
        .expr(Expr::exists(theirs))
        .filter(api_token::Column::TokenHash.eq(crate::auth::hash_token(token)))
        .into_tuple()
        .one(db)
        .await
        .map_err(crate::error::Error::from)?;
    let (organization_id, role, staff_id, owns) = row.ok_or(ApiError::Unauthorized)?;
    Ok((Caller { organization_id, role, staff_id }, owns))
}

async fn owned<C: ConnectionTrait>(db: &C, org_id: i64, resource: &str, id: i64) -> Result<bool, ApiError> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let table = Alias::new(wall_table(resource)?);
    let ours = Query::select()
        .expr(Expr::val(1))
        .from(table.clone())
        .and_where(Expr::col((table.clone(), Alias::new("id"))).eq(id))
        .and_where(Expr::col((table, Alias::new("organization_id"))).eq(org_id))
        .to_owned();
    let found = db.query_one(db.get_database_backend().build(&ours)).await.map_err(crate::error::Error::from)?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_in_a_path_is_found_by_its_template() {
        assert_eq!(path_id("/api/v1/jobs/{id}/visits", "/api/v1/jobs/17/visits"), Some(("jobs", 17)));
        assert_eq!(path_id("/api/v1/visits/{id}", "/api/v1/visits/abc"), Some(("visits", 0)));
        assert_eq!(path_id("/api/v1/visits/{id}", "/api/v1/visits/-3"), Some(("visits", 0)));
        assert_eq!(path_id("/api/v1/jobs", "/api/v1/jobs"), None);
        assert_eq!(path_id("/api/v1/jobs/{id}/visits", "/jobs/17/visits"), Some(("jobs", 17)), "nested: no prefix");
    }

    #[test]
    fn every_route_with_an_id_has_an_organization_check() {
        let known = ["jobs", "visits", "estimates", "staff", "customers", "promises", "tasks", "messages", "inbound"];
        for (_, path, _, _) in API_ROUTES {
            if let Some((resource, _)) = path_id(path, path) {
                assert!(known.contains(&resource), "{path}");
            }
        }
    }
}
