//! Managing staff: adding a person (every field checked at once), giving
//! them a role (never leaving an organization without an admin) and
//! inviting them to choose a password. The JSON API and the admin's staff
//! page both call these; each change is in the audit log.

use crate::db::Db;
use crate::domain::people::{self, Role, WorkingHours};
use crate::domain::time::Zone;
use crate::entities::{organization, staff};
use crate::error::{optional_text, required_text, Error, Problems};
use crate::messages::NotifyCtx;
use crate::store::staff::NewStaff;
use chrono::{DateTime, Utc};
use serde_json::json;

/// A person as typed in (a form, a JSON body), before it is checked.
#[derive(Debug, Clone, Default)]
pub struct StaffFields {
    pub name: Option<String>,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub photo_url: Option<String>,
    pub bio: Option<String>,
    pub timezone: Option<String>,
    pub working_hours: Option<WorkingHours>,
}

/// Checks every field, reporting all problems at once. Phone numbers
/// without a country code are read in `country`.
pub fn parse(input: StaffFields, country: phonenumber::country::Id) -> Result<NewStaff, Error> {
    let mut p = Problems::default();
    let name = required_text(&mut p, "name", input.name, 200);
    let role = match input.role.as_deref().map(str::trim) {
        None => {
            p.add("role", format!("is required (one of {})", Role::choices()));
            None
        }
        Some(r) => p.check("role", Role::parse(r).ok_or(format!("'{r}' is not one of {}", Role::choices()))),
    };
    let email = match input.email {
        None => {
            p.add("email", "is required");
            None
        }
        Some(e) => p.check("email", people::parse_email(&e)),
    };
    let phone = match input.phone.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(ph) => p.check("phone", people::parse_phone(&ph, country)),
    };
    let photo_url = optional_text(&mut p, "photo_url", input.photo_url, 2000);
    if let Some(u) = &photo_url {
        if !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/')) {
            p.add("photo_url", "must be an http(s) URL");
        }
    }
    let bio = optional_text(&mut p, "bio", input.bio, 2000).unwrap_or_default();
    let timezone = match input.timezone {
        None => {
            p.add("timezone", "is required (an IANA time zone such as America/New_York)");
            None
        }
        Some(tz) => p.check("timezone", Zone::parse(&tz)),
    };
    let working_hours = input.working_hours.unwrap_or_else(people::default_working_hours);
    p.check("working_hours", people::validate_working_hours(&working_hours));
    p.into_result()?;
    match (name, role, email, timezone) {
        (Some(name), Some(role), Some(email), Some(timezone)) => {
            Ok(NewStaff { name, role, phone, email, photo_url, bio, timezone, working_hours })
        }
        _ => Err(Error::Internal("staff parse accepted incomplete input".into())),
    }
}

/// The country phone numbers are read in when typed without a code.
pub fn country_of(org: &organization::Model) -> Result<phonenumber::country::Id, Error> {
    crate::error::stored_country(&org.country, format_args!("organization {}", org.id))
}

/// Adds a person to the organization: 422 naming every bad field, 409 when
/// someone there already has the email.
pub async fn add(
    db: &Db,
    org: &organization::Model,
    input: StaffFields,
    now: DateTime<Utc>,
) -> Result<staff::Model, Error> {
    let new = parse(input, country_of(org)?)?;
    crate::store::staff::insert(db, org.id, new, now).await
}

/// Gives the person `role`, and writes the change to the audit log as done
/// by `by`. Demoting the organization's only admin is refused (409
/// `last_admin`).
pub async fn set_role(
    db: &Db,
    by: Option<i64>,
    person: staff::Model,
    role: Role,
    now: DateTime<Utc>,
) -> Result<staff::Model, Error> {
    let txn = db.begin().await?;
    let demoted = person.role == Role::Admin && role != Role::Admin;
    if demoted && crate::store::staff::admin_count(&txn, person.organization_id).await? <= 1 {
        return Err(Error::Conflict {
            code: "last_admin",
            message: format!("{} is the only admin; make someone else an admin first", person.name),
            details: json!({"staff_id": person.id}),
        });
    }
    let (org_id, before) = (person.organization_id, person.role.clone());
    let updated = crate::store::staff::set_role(&txn, person, role).await?;
    crate::store::sessions::audit(
        &txn,
        Some(org_id),
        by,
        crate::domain::people::AuditAction::RoleChanged,
        json!({"staff_id": updated.id, "from": before, "to": role.as_str()}),
        None,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Emails `person` a link to choose their password (the same kind of link
/// as a password reset, valid for a week), and writes the invitation to the
/// audit log as sent by `by` from `ip`. The caller applies the abuse limits
/// first (`RateLimiter::hit_invitation`).
pub async fn invite(
    db: &Db,
    n: &NotifyCtx,
    by: Option<i64>,
    person: &staff::Model,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    invite_by(db, n, by, person, &[crate::domain::people::Channel::Email], ip, now).await
}

/// [`invite`] over the given channels (email, and a text to their phone).
pub async fn invite_by(
    db: &Db,
    n: &NotifyCtx,
    by: Option<i64>,
    person: &staff::Model,
    channels: &[crate::domain::people::Channel],
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let txn = db.begin().await?;
    super::invitations::send_password_link_by(&txn, n, person, true, channels, now).await?;
    crate::store::sessions::audit(
        &txn,
        Some(person.organization_id),
        by,
        crate::domain::people::AuditAction::StaffInvited,
        json!({"staff_id": person.id}),
        Some(ip),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether the invitation to `email` is really emailed (`email_configured`:
/// an email provider is set up), and where its link is, in words for the
/// admin. Without a provider the message waits in the outbox (marked not
/// sent), and that is the only place the link exists.
pub fn invitation_notice(email_configured: bool, email: &str) -> (bool, String) {
    if email_configured {
        (true, format!("We emailed {email} a link to choose a password. It works once, for a week."))
    } else {
        (
            false,
            format!(
                "No email provider is configured (KEPT_SMTP_URL is not set), so we did not email {email}. \
                 Their link to choose a password is in the outbox: GET /api/v1/outbox?kind=password_reset \
                 with an admin API token. Pass it on to them yourself; it works once, for a week."
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_named_at_once() {
        let input = StaffFields {
            name: Some(" ".into()),
            email: Some("lena@".into()),
            role: Some("boss".into()),
            timezone: Some("Mars/Olympus".into()),
            photo_url: Some("ftp://x".into()),
            ..Default::default()
        };
        let Err(Error::Validation(fields)) = parse(input, phonenumber::country::Id::US) else { panic!("refused") };
        let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["name", "role", "email", "photo_url", "timezone"]);
    }

    #[test]
    fn a_local_phone_number_is_read_in_the_organizations_country() {
        let input = StaffFields {
            name: Some("Lena Okafor".into()),
            email: Some("lena@example.test".into()),
            role: Some("technician".into()),
            phone: Some("212 555 0150".into()),
            timezone: Some("America/New_York".into()),
            ..Default::default()
        };
        let new = parse(input, phonenumber::country::Id::US).expect("valid");
        assert_eq!((new.phone.as_deref(), new.role), (Some("+12125550150"), Role::Technician));
    }

    #[test]
    fn the_notice_says_where_the_link_is() {
        assert!(invitation_notice(true, "a@b.test").1.starts_with("We emailed a@b.test"));
        let (emailed, words) = invitation_notice(false, "a@b.test");
        assert!(!emailed && words.contains("GET /api/v1/outbox?kind=password_reset"), "{words}");
    }
}
