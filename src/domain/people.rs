//! Staff, customers and how to reach them.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Dispatcher,
    Estimator,
    Technician,
}
str_enum!(Role { Admin => "admin", Dispatcher => "dispatcher", Estimator => "estimator", Technician => "technician" });

impl Role {
    /// May book, reschedule and manage customers and jobs.
    pub fn can_dispatch(self) -> bool {
        matches!(self, Role::Admin | Role::Dispatcher)
    }

    /// Whether the person goes out to customers (a lane on the board).
    pub fn can_visit(self) -> bool {
        matches!(self, Role::Estimator | Role::Technician)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}
str_enum!(Channel { Sms => "sms", Email => "email" });

/// The channels a customer chose, in order; stored comma-separated (`sms,email`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ChannelList(pub Vec<Channel>);

impl ChannelList {
    /// `None` if any name is not a channel.
    pub fn parse(s: &str) -> Option<ChannelList> {
        s.split(',').filter(|c| !c.is_empty()).map(Channel::parse).collect::<Option<Vec<_>>>().map(ChannelList)
    }

    pub fn contains(&self, c: Channel) -> bool {
        self.0.contains(&c)
    }

    pub fn iter(&self) -> impl Iterator<Item = Channel> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for ChannelList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(c.as_str())?;
        }
        Ok(())
    }
}

/// What the audit log records: signing in and out, passwords, roles, exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    PasswordResetRequested,
    PasswordSet,
    RoleChanged,
    StaffInvited,
    DataExport,
    SettingsChanged,
    WordingChanged,
    MessageResent,
    CalendarFeedIssued,
    CalendarFeedRevoked,
    SessionsEnded,
}
str_enum!(AuditAction {
    SignIn => "sign_in", SignInFailed => "sign_in_failed", SignOut => "sign_out",
    PasswordResetRequested => "password_reset_requested", PasswordSet => "password_set",
    RoleChanged => "role_changed", StaffInvited => "staff_invited", DataExport => "data_export",
    SettingsChanged => "settings_changed",
    WordingChanged => "wording_changed", MessageResent => "message_resent",
    CalendarFeedIssued => "calendar_feed_issued", CalendarFeedRevoked => "calendar_feed_revoked",
    SessionsEnded => "sessions_ended",
});

/// Parses a phone number to E.164. Numbers without a `+` are read as
/// belonging to `default_region` (the organization's country).
pub fn parse_phone(raw: &str, default_region: phonenumber::country::Id) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is empty".into());
    }
    let parsed = phonenumber::parse(Some(default_region), raw).map_err(|_| format!("'{raw}' is not a phone number"))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(format!("'{raw}' is not a valid phone number"));
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// The longest logo URL a company may give.
pub const MAX_LOGO_URL: usize = 500;

/// Checks a company's logo address: an absolute `https://` URL with a host,
/// at most [`MAX_LOGO_URL`] characters, nothing a page or an email could
/// misread (spaces, quotes, angle brackets, control characters).
pub fn parse_logo_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.chars().count() > MAX_LOGO_URL {
        return Err(format!("must be at most {MAX_LOGO_URL} characters (this one has {})", url.chars().count()));
    }
    let Some(rest) = url.get(..8).filter(|s| s.eq_ignore_ascii_case("https://")).map(|_| &url[8..]) else {
        return Err("must be an absolute https:// address, such as https://example.com/logo.png".into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || host.starts_with('.') || host.starts_with(':') {
        return Err("must name a host after https://, such as https://example.com/logo.png".into());
    }
    if let Some(bad) =
        url.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\'))
    {
        return Err(format!("must not contain {bad:?}; encode it (a space is %20)"));
    }
    Ok(format!("https://{rest}"))
}

/// Checks an email address (HTML5 / RFC 5322 subset, as `validator` does).
pub fn parse_email(raw: &str) -> Result<String, String> {
    use validator::ValidateEmail;
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is empty".into());
    }
    if raw.len() > 254 || !raw.validate_email() {
        return Err(format!("'{raw}' is not an email address"));
    }
    Ok(raw.to_string())
}

/// Weekly working hours: for each weekday (`mon`..`sun`) a list of
/// `["HH:MM", "HH:MM"]` spans in the staff member's own zone.
pub type WorkingHours = BTreeMap<String, Vec<[String; 2]>>;

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The usual day when none is given: 08:00–17:00, Monday to Friday.
pub fn default_working_hours() -> WorkingHours {
    WEEKDAYS[..5].iter().map(|d| (d.to_string(), vec![["08:00".to_string(), "17:00".to_string()]])).collect()
}

pub fn validate_working_hours(hours: &WorkingHours) -> Result<(), String> {
    for (day, spans) in hours {
        if !WEEKDAYS.contains(&day.as_str()) {
            return Err(format!("'{day}' is not a weekday (use {})", WEEKDAYS.join(", ")));
        }
        for [from, to] in spans {
            let f = NaiveTime::parse_from_str(from, "%H:%M").map_err(|_| format!("{day}: '{from}' is not HH:MM"))?;
            let t = NaiveTime::parse_from_str(to, "%H:%M").map_err(|_| format!("{day}: '{to}' is not HH:MM"))?;
            if t <= f {
                return Err(format!("{day}: {to} is not after {from}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logo_is_an_absolute_https_address_of_at_most_500_characters() {
        assert_eq!(parse_logo_url(" https://cdn.example.com/logo.png ").unwrap(), "https://cdn.example.com/logo.png");
        assert_eq!(parse_logo_url("HTTPS://example.com/a.svg?v=2").unwrap(), "https://example.com/a.svg?v=2");
        assert!(parse_logo_url("http://example.com/logo.png").unwrap_err().contains("https://"));
        assert!(parse_logo_url("/logo.png").unwrap_err().contains("absolute"));
        assert!(parse_logo_url("javascript:alert(1)").is_err());
        assert!(parse_logo_url("https:///logo.png").unwrap_err().contains("host"));
        assert!(parse_logo_url("https://user@example.com/x.png").is_err());
        assert!(parse_logo_url("https://example.com/my logo.png").unwrap_err().contains("%20"));
        assert!(parse_logo_url("https://example.com/\"onerror=\"x").is_err());
        let long = format!("https://example.com/{}", "a".repeat(480));
        assert_eq!(parse_logo_url(&long).unwrap().len(), 500);
        assert!(parse_logo_url(&format!("{long}b")).unwrap_err().contains("at most 500"));
    }
    use phonenumber::country::Id::US;

    #[test]
    fn channel_lists_read_and_write_their_stored_form() {
        let both = ChannelList(vec![Channel::Sms, Channel::Email]);
        assert_eq!(both.to_string(), "sms,email");
        assert_eq!(ChannelList::parse("sms,email"), Some(both));
        assert_eq!(ChannelList::parse("email"), Some(ChannelList(vec![Channel::Email])));
        assert_eq!(ChannelList::parse(""), Some(ChannelList::default()));
        assert_eq!(ChannelList::parse("sms,fax"), None);
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(parse_phone("(415) 555-2671", US).unwrap(), "+14155552671");
        assert_eq!(parse_phone("+44 20 7946 0958", US).unwrap(), "+442079460958");
        assert_eq!(parse_phone("+91 98765 43210", US).unwrap(), "+919876543210");
    }

    #[test]
    fn fictional_555_01xx_demo_numbers_are_valid() {
        assert_eq!(parse_phone("+1 206 555 0100", US).unwrap(), "+12065550100");
    }

    #[test]
    fn nonsense_phones_are_refused() {
        assert!(parse_phone("hello", US).is_err());
        assert!(parse_phone("123", US).is_err());
        assert!(parse_phone("", US).is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(parse_email(" dana@example.test ").unwrap(), "dana@example.test");
        assert!(parse_email("dana@").is_err());
        assert!(parse_email("not an email").is_err());
    }

    #[test]
    fn working_hours_are_checked() {
        assert!(validate_working_hours(&default_working_hours()).is_ok());
        let mut bad = WorkingHours::new();
        bad.insert("funday".into(), vec![]);
        assert!(validate_working_hours(&bad).unwrap_err().contains("funday"));
        let mut bad = WorkingHours::new();
        bad.insert("mon".into(), vec![["17:00".into(), "08:00".into()]]);
        assert!(validate_working_hours(&bad).is_err());
        let mut bad = WorkingHours::new();
        bad.insert("mon".into(), vec![["8am".into(), "17:00".into()]]);
        assert!(validate_working_hours(&bad).is_err());
    }
}
