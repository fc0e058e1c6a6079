//! Typed settings: defaults in code, `KEPT_*` environment overrides.

use std::net::SocketAddr;

/// Whether to seed the demo company on an empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoMode {
    /// Seed only when no SMS or email provider is configured, so a demo
    /// never texts or mails a real person.
    Auto,
    Always,
    Never,
}

#[derive(Clone)]
pub struct Settings {
    /// `KEPT_DATABASE_URL`: `sqlite://kept.db` (default) or `postgres://...`.
    pub database_url: String,
    /// `KEPT_LISTEN`: address to serve on, default `127.0.0.1:3000`.
    pub listen: SocketAddr,
    /// `KEPT_PUBLIC_URL`: how customers and staff reach this server.
    pub public_url: String,
    /// `KEPT_DEMO`: `auto` (default), `always`, `never`.
    pub demo: DemoMode,
    /// `KEPT_DB_MAX_CONNECTIONS`: pool size, default 8.
    pub db_max_connections: u32,
    /// Whether an SMS or email provider is configured (`KEPT_SMTP_URL`,
    /// `KEPT_TWILIO_ACCOUNT_SID`).
    pub provider_configured: bool,
    /// `KEPT_TEMPLATES_DIR`: message templates overriding the built-in ones
    /// (default `./templates` when it exists).
    pub templates_dir: Option<std::path::PathBuf>,
    /// `KEPT_SMTP_URL`: e.g. `smtp://127.0.0.1:2525`, `smtps://user:pass@host`.
    pub smtp_url: Option<String>,
    /// `KEPT_EMAIL_FROM`: the From of customer email.
    pub email_from: String,
    pub twilio: Option<TwilioSettings>,
    /// `KEPT_SMS_RATE_PER_SECOND`: pace of SMS per sender (default 1).
    pub sms_rate_per_second: f64,
    /// `KEPT_NOTIFIER`: `on` (default) runs the minute tick and delivery in `serve`.
    pub notifier_enabled: bool,
    /// `KEPT_TRUSTED_PROXY`: the reverse proxy's address, whose X-Forwarded-For is believed.
    pub trusted_proxy: Option<std::net::IpAddr>,
    /// `KEPT_PAGE_CACHE_MS`: how long a rendered board may be served again
    /// while nothing on it changed (default 2000; 0 turns it off).
    pub page_cache_ms: u64,
    /// `KEPT_DELIVERY_CONCURRENCY`: sends in flight per process (default 32).
    pub delivery_concurrency: usize,
    /// `KEPT_DELIVERY_LEASE_SECS`: how long a claim lasts (default 30);
    /// longer than `KEPT_TWILIO_TIMEOUT_SECS`.
    pub delivery_lease_secs: u64,
    /// `KEPT_METRICS_TOKEN`: the bearer token `/metrics` asks for.
    pub metrics_token: Option<String>,
    /// `KEPT_METRICS_LISTEN`: a separate address serving only `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
}

/// Twilio (or a Twilio-compatible provider) for SMS.
#[derive(Clone)]
pub struct TwilioSettings {
    /// `KEPT_TWILIO_ACCOUNT_SID`
    pub account_sid: String,
    /// `KEPT_TWILIO_AUTH_TOKEN`
    pub auth_token: String,
    /// `KEPT_TWILIO_FROM`: a sending number in E.164.
    pub from: Option<String>,
    /// `KEPT_TWILIO_MESSAGING_SERVICE_SID`: used instead of `from` when set.
    pub messaging_service_sid: Option<String>,
    /// `KEPT_TWILIO_BASE_URL`: default `https://api.twilio.com`.
    pub base_url: String,
    /// `KEPT_TWILIO_TIMEOUT_SECS`: how long to wait for an answer (default 15).
    pub timeout_secs: u64,
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"***")
            .field("from", &self.from)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("base_url", &self.base_url)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl std::fmt::Debug for Settings {
    // The database URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("demo", &self.demo)
            .field("db_max_connections", &self.db_max_connections)
            .field("provider_configured", &self.provider_configured)
            .field("templates_dir", &self.templates_dir)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("email_from", &self.email_from)
            .field("twilio", &self.twilio)
            .field("sms_rate_per_second", &self.sms_rate_per_second)
            .field("notifier_enabled", &self.notifier_enabled)
            .field("trusted_proxy", &self.trusted_proxy)
            .field("page_cache_ms", &self.page_cache_ms)
            .field("delivery_concurrency", &self.delivery_concurrency)
            .field("delivery_lease_secs", &self.delivery_lease_secs)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// One `KEPT_*` environment variable: its name, its default, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    /// As the README's Configuration table shows it ("unset" when there is none).
    pub default: &'static str,
    /// One line.
    pub meaning: &'static str,
}

/// The log filter used when `KEPT_LOG` is unset.
pub const DEFAULT_LOG: &str = "info,sqlx=warn,sea_orm_migration=warn,tokio_cron_scheduler=warn";

/// Every `KEPT_*` variable the server reads, in the README's order: the one
/// list behind `kept --help` (see [`env_help`]) and the README's
/// Configuration table (a test keeps the two in step).
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "KEPT_DATABASE_URL",
        default: Settings::DEFAULT_DATABASE_URL,
        meaning: "sqlite://path/to/file.db or postgres://user:pass@host:5432/db",
    },
    EnvVar { name: "KEPT_LISTEN", default: Settings::DEFAULT_LISTEN, meaning: "address and port to serve on" },
    EnvVar {
        name: "KEPT_PUBLIC_URL",
        default: "http://<KEPT_LISTEN>",
        meaning: "how people reach this server (base of customers' links and Twilio callbacks)",
    },
    EnvVar {
        name: "KEPT_DEMO",
        default: "auto",
        meaning: "auto: seed the demo on an empty database unless a provider is configured; always; never",
    },
    EnvVar { name: "KEPT_DB_MAX_CONNECTIONS", default: "8", meaning: "database pool size" },
    EnvVar { name: "KEPT_LOG", default: DEFAULT_LOG, meaning: "log filter (tracing env-filter syntax)" },
    EnvVar {
        name: "KEPT_NOTIFIER",
        default: "on",
        meaning: "off stops the minute tick in `serve` (tests drive it themselves)",
    },
    EnvVar {
        name: "KEPT_TEMPLATES_DIR",
        default: "./templates if present",
        meaning: "message templates overriding the built-in ones",
    },
    EnvVar {
        name: "KEPT_SMTP_URL",
        default: "unset",
        meaning: "email provider, e.g. smtp://127.0.0.1:2525 or smtps://user:pass@mail.example.com",
    },
    EnvVar { name: "KEPT_EMAIL_FROM", default: "Kept <kept@localhost>", meaning: "the From of customer email" },
    EnvVar {
        name: "KEPT_TWILIO_ACCOUNT_SID",
        default: "unset",
        meaning: "Twilio (or compatible) account; with KEPT_TWILIO_AUTH_TOKEN, turns SMS on",
    },
    EnvVar { name: "KEPT_TWILIO_AUTH_TOKEN", default: "unset", meaning: "Twilio auth token (never logged)" },
    EnvVar {
        name: "KEPT_TWILIO_FROM",
        default: "unset",
        meaning: "the sending number (E.164); it or a messaging service is needed for SMS",
    },
    EnvVar {
        name: "KEPT_TWILIO_MESSAGING_SERVICE_SID",
        default: "unset",
        meaning: "the messaging service to send from, instead of KEPT_TWILIO_FROM",
    },
    EnvVar {
        name: "KEPT_TWILIO_BASE_URL",
        default: "https://api.twilio.com",
        meaning: "for Twilio-compatible providers",
    },
    EnvVar {
        name: "KEPT_TWILIO_TIMEOUT_SECS",
        default: "15",
        meaning: "seconds to wait for Twilio's answer before a send is `uncertain`",
    },
    EnvVar {
        name: "KEPT_SMS_RATE_PER_SECOND",
        default: "1",
        meaning: "SMS pace per sender, shared by every replica on the database",
    },
    EnvVar {
        name: "KEPT_TRUSTED_PROXY",
        default: "unset",
        meaning: "the reverse proxy's IP; only its X-Forwarded-For is believed for abuse limits",
    },
    EnvVar {
        name: "KEPT_PAGE_CACHE_MS",
        default: "2000",
        meaning: "how long a rendered board is served again while nothing on it changed (0: off)",
    },
    EnvVar {
        name: "KEPT_DELIVERY_CONCURRENCY",
        default: "32",
        meaning: "sends in flight at once in each process (the SMS pace still applies)",
    },
    EnvVar {
        name: "KEPT_DELIVERY_LEASE_SECS",
        default: "30",
        meaning: "how long a claimed message stays with one process; above KEPT_TWILIO_TIMEOUT_SECS",
    },
    EnvVar {
        name: "KEPT_METRICS_TOKEN",
        default: "unset",
        meaning: "bearer token that /metrics asks for on the main address (unset: not served there)",
    },
    EnvVar {
        name: "KEPT_METRICS_LISTEN",
        default: "unset",
        meaning: "a separate address serving only /metrics (for a private network)",
    },
];

/// The environment section of `kept --help`: one line per variable, with
/// its meaning and default.
pub fn env_help() -> String {
    let width = ENV_VARS.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut out = String::from("Environment (every setting is optional; the defaults need nothing):\n");
    for v in ENV_VARS {
        out.push_str(&format!("  {:width$}  {} [default: {}]\n", v.name, v.meaning, v.default));
    }
    out
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl Settings {
    pub const DEFAULT_DATABASE_URL: &'static str = "sqlite://kept.db";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:3000";

    /// Reads `KEPT_*` variables from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through `get`, so tests need not touch the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let database_url = get("KEPT_DATABASE_URL").unwrap_or_else(|| Self::DEFAULT_DATABASE_URL.into());
        let listen_raw = get("KEPT_LISTEN").unwrap_or_else(|| Self::DEFAULT_LISTEN.into());
        let listen = listen_raw.parse().map_err(|_| ConfigError {
            var: "KEPT_LISTEN",
            message: format!("'{listen_raw}' is not an address such as 127.0.0.1:3000"),
        })?;
        let demo = match get("KEPT_DEMO").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("auto") => DemoMode::Auto,
            Some("always") | Some("1") | Some("true") | Some("yes") => DemoMode::Always,
            Some("never") | Some("0") | Some("false") | Some("no") => DemoMode::Never,
            Some(other) => {
                return Err(ConfigError {
                    var: "KEPT_DEMO",
                    message: format!("'{other}' is not auto, always or never"),
                })
            }
        };
        let db_max_connections = match get("KEPT_DB_MAX_CONNECTIONS") {
            None => 8,
            Some(v) => v.parse().ok().filter(|n| *n >= 1).ok_or(ConfigError {
                var: "KEPT_DB_MAX_CONNECTIONS",
                message: format!("'{v}' is not a positive number"),
            })?,
        };
        let public_url =
            get("KEPT_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}")).trim_end_matches('/').to_string();
        let smtp_url = get("KEPT_SMTP_URL");
        if let Some(u) = &smtp_url {
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                return Err(ConfigError {
                    var: "KEPT_SMTP_URL",
                    message: "must start with smtp:// or smtps://".into(),
                });
            }
        }
        let twilio = match get("KEPT_TWILIO_ACCOUNT_SID") {
            None => None,
            Some(account_sid) => {
                let auth_token = get("KEPT_TWILIO_AUTH_TOKEN").ok_or(ConfigError {
                    var: "KEPT_TWILIO_AUTH_TOKEN",
                    message: "is required with KEPT_TWILIO_ACCOUNT_SID".into(),
                })?;
                let from = get("KEPT_TWILIO_FROM");
                let messaging_service_sid = get("KEPT_TWILIO_MESSAGING_SERVICE_SID");
                if from.is_none() && messaging_service_sid.is_none() {
                    return Err(ConfigError {
                        var: "KEPT_TWILIO_FROM",
                        message: "set it (or KEPT_TWILIO_MESSAGING_SERVICE_SID) with KEPT_TWILIO_ACCOUNT_SID".into(),
                    });
                }
                let timeout_secs = match get("KEPT_TWILIO_TIMEOUT_SECS") {
                    None => 15,
                    Some(v) => v.parse().ok().filter(|n| *n >= 1).ok_or(ConfigError {
                        var: "KEPT_TWILIO_TIMEOUT_SECS",
                        message: format!("'{v}' is not a positive number of seconds"),
                    })?,
                };
                Some(TwilioSettings {
                    account_sid,
                    auth_token,
                    from,
                    messaging_service_sid,
                    base_url: get("KEPT_TWILIO_BASE_URL")
                        .unwrap_or_else(|| "https://api.twilio.com".into())
                        .trim_end_matches('/')
                        .to_string(),
                    timeout_secs,
                })
            }
        };
        let sms_rate_per_second = match get("KEPT_SMS_RATE_PER_SECOND") {
            None => 1.0,
            Some(v) => v.parse::<f64>().ok().filter(|r| *r > 0.0 && r.is_finite()).ok_or(ConfigError {
                var: "KEPT_SMS_RATE_PER_SECOND",
                message: format!("'{v}' is not a positive number"),
            })?,
        };
        let notifier_enabled = match get("KEPT_NOTIFIER").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("on") | Some("1") | Some("true") => true,
            Some("off") | Some("0") | Some("false") => false,
            Some(other) => {
                return Err(ConfigError { var: "KEPT_NOTIFIER", message: format!("'{other}' is not on or off") })
            }
        };
        let templates_dir = get("KEPT_TEMPLATES_DIR").map(std::path::PathBuf::from).or_else(|| {
            let local = std::path::PathBuf::from("templates");
            local.join("messages").is_dir().then_some(local)
        });
        let trusted_proxy = match get("KEPT_TRUSTED_PROXY") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError {
                var: "KEPT_TRUSTED_PROXY",
                message: format!("'{v}' is not an IP address"),
            })?),
        };
        let page_cache_ms = match get("KEPT_PAGE_CACHE_MS") {
            None => 2000,
            Some(v) => v.trim().parse::<u64>().ok().filter(|ms| *ms <= 60_000).ok_or_else(|| ConfigError {
                var: "KEPT_PAGE_CACHE_MS",
                message: format!("'{v}' is not a whole number of milliseconds from 0 to 60000"),
            })?,
        };
        let delivery_concurrency = match get("KEPT_DELIVERY_CONCURRENCY") {
            None => 32,
            Some(v) => v.parse::<usize>().ok().filter(|n| (1..=10_000).contains(n)).ok_or(ConfigError {
                var: "KEPT_DELIVERY_CONCURRENCY",
                message: format!("'{v}' is not a number from 1 to 10000"),
            })?,
        };
        let delivery_lease_secs = match get("KEPT_DELIVERY_LEASE_SECS") {
            None => 30,
            Some(v) => v.parse::<u64>().ok().filter(|n| (1..=86_400).contains(n)).ok_or(ConfigError {
                var: "KEPT_DELIVERY_LEASE_SECS",
                message: format!("'{v}' is not a number of seconds from 1 to 86400"),
            })?,
        };
        if let Some(t) = &twilio {
            // A send must end (answer or timeout) inside the claim, or a
            // second process could take the row while the first still waits.
            if delivery_lease_secs <= t.timeout_secs {
                return Err(ConfigError {
                    var: "KEPT_DELIVERY_LEASE_SECS",
                    message: format!(
                        "{delivery_lease_secs} must be longer than KEPT_TWILIO_TIMEOUT_SECS ({})",
                        t.timeout_secs
                    ),
                });
            }
        }
        let metrics_token = get("KEPT_METRICS_TOKEN");
        if let Some(t) = &metrics_token {
            if t.trim().len() < 16 {
                return Err(ConfigError {
                    var: "KEPT_METRICS_TOKEN",
                    message: "must be at least 16 characters".into(),
                });
            }
        }
        let metrics_listen = match get("KEPT_METRICS_LISTEN") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError {
                var: "KEPT_METRICS_LISTEN",
                message: format!("'{v}' is not an address such as 127.0.0.1:9100"),
            })?),
        };
        let provider_configured = smtp_url.is_some() || twilio.is_some();
        Ok(Settings {
            database_url,
            listen,
            public_url,
            demo,
            db_max_connections,
            provider_configured,
            templates_dir,
            smtp_url,
            email_from: get("KEPT_EMAIL_FROM").unwrap_or_else(|| "Kept <kept@localhost>".into()),
            twilio,
            sms_rate_per_second,
            notifier_enabled,
            trusted_proxy,
            page_cache_ms,
            delivery_concurrency,
            delivery_lease_secs,
            metrics_token,
            metrics_listen,
        })
    }

    /// What `kept serve` logs as it starts, secrets left out: `database
    /// sqlite://kept.db, listening on 127.0.0.1:3000, public URL
    /// http://127.0.0.1:3000, notifier on, demo auto, sms off, email off`.
    pub fn summary(&self) -> String {
        let demo = match self.demo {
            DemoMode::Auto => "auto",
            DemoMode::Always => "always",
            DemoMode::Never => "never",
        };
        format!(
            "database {}, listening on {}, public URL {}, notifier {}, demo {demo}, sms {}, email {}",
            redact_url(&self.database_url),
            self.listen,
            self.public_url,
            if self.notifier_enabled { "on" } else { "off" },
            if self.twilio.is_some() { "twilio" } else { "off" },
            if self.smtp_url.is_some() { "smtp" } else { "off" },
        )
    }

    pub fn should_seed_demo(&self) -> bool {
        match self.demo {
            DemoMode::Always => true,
            DemoMode::Never => false,
            DemoMode::Auto => !self.provider_configured,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_a_local_sqlite_file_on_port_3000() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, "sqlite://kept.db");
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert!(s.should_seed_demo());
    }

    #[test]
    fn a_configured_provider_turns_the_demo_off_unless_asked() {
        assert!(!settings(&[("KEPT_SMTP_URL", "smtp://127.0.0.1:2525")]).unwrap().should_seed_demo());
        let twilio = [
            ("KEPT_TWILIO_ACCOUNT_SID", "AC1"),
            ("KEPT_TWILIO_AUTH_TOKEN", "secret"),
            ("KEPT_TWILIO_FROM", "+12065550100"),
        ];
        assert!(!settings(&twilio).unwrap().should_seed_demo());
        let mut always = twilio.to_vec();
        always.push(("KEPT_DEMO", "always"));
        assert!(settings(&always).unwrap().should_seed_demo());
        assert!(!settings(&[("KEPT_DEMO", "never")]).unwrap().should_seed_demo());
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(settings(&[("KEPT_LISTEN", "nowhere")]).err().unwrap().var, "KEPT_LISTEN");
        assert_eq!(settings(&[("KEPT_DEMO", "maybe")]).err().unwrap().var, "KEPT_DEMO");
        assert_eq!(settings(&[("KEPT_DB_MAX_CONNECTIONS", "0")]).err().unwrap().var, "KEPT_DB_MAX_CONNECTIONS");
    }

    #[test]
    fn twilio_needs_a_token_and_a_sender() {
        assert_eq!(settings(&[("KEPT_TWILIO_ACCOUNT_SID", "AC1")]).err().unwrap().var, "KEPT_TWILIO_AUTH_TOKEN");
        let no_sender = [("KEPT_TWILIO_ACCOUNT_SID", "AC1"), ("KEPT_TWILIO_AUTH_TOKEN", "t")];
        assert_eq!(settings(&no_sender).err().unwrap().var, "KEPT_TWILIO_FROM");
        let ok = settings(&[
            ("KEPT_TWILIO_ACCOUNT_SID", "AC1"),
            ("KEPT_TWILIO_AUTH_TOKEN", "hunter2"),
            ("KEPT_TWILIO_MESSAGING_SERVICE_SID", "MG1"),
            ("KEPT_TWILIO_BASE_URL", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        let t = ok.twilio.clone().unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:9");
        assert!(!format!("{ok:?}").contains("hunter2"));
        assert_eq!(settings(&[("KEPT_SMTP_URL", "http://x")]).err().unwrap().var, "KEPT_SMTP_URL");
        assert_eq!(settings(&[("KEPT_SMS_RATE_PER_SECOND", "0")]).err().unwrap().var, "KEPT_SMS_RATE_PER_SECOND");
    }

    #[test]
    fn env_vars_lists_exactly_the_variables_read() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let given =
            [("KEPT_TWILIO_ACCOUNT_SID", "AC1"), ("KEPT_TWILIO_AUTH_TOKEN", "t"), ("KEPT_TWILIO_FROM", "+12065550100")];
        Settings::from_lookup(|k| {
            asked.borrow_mut().insert(k.to_string());
            given.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        })
        .unwrap();
        let mut asked = asked.into_inner();
        asked.insert("KEPT_LOG".to_string()); // read by main, before the settings
        let listed: std::collections::BTreeSet<String> = ENV_VARS.iter().map(|v| v.name.to_string()).collect();
        assert_eq!(listed, asked);
        let defaults = settings(&[]).unwrap();
        let default_of = |name: &str| ENV_VARS.iter().find(|v| v.name == name).unwrap().default;
        assert_eq!(default_of("KEPT_DATABASE_URL"), defaults.database_url);
        assert_eq!(default_of("KEPT_LISTEN"), defaults.listen.to_string());
        assert_eq!(default_of("KEPT_EMAIL_FROM"), defaults.email_from);
        assert_eq!(default_of("KEPT_DB_MAX_CONNECTIONS"), defaults.db_max_connections.to_string());
        let help = env_help();
        assert!(ENV_VARS.iter().all(|v| help.contains(v.name)), "{help}");
        assert_eq!(help.lines().count(), ENV_VARS.len() + 1, "one line per variable:\n{help}");
    }

    #[test]
    fn the_startup_summary_is_one_line_without_secrets() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.summary(),
            "database sqlite://kept.db, listening on 127.0.0.1:3000, public URL http://127.0.0.1:3000, \
             notifier on, demo auto, sms off, email off"
        );
        let s = settings(&[
            ("KEPT_DATABASE_URL", "postgres://kept:hunter2@db/kept"),
            ("KEPT_SMTP_URL", "smtps://mail:hunter3@mail.example.test"),
            ("KEPT_TWILIO_ACCOUNT_SID", "AC1"),
            ("KEPT_TWILIO_AUTH_TOKEN", "hunter4"),
            ("KEPT_TWILIO_FROM", "+12065550100"),
            ("KEPT_NOTIFIER", "off"),
        ])
        .unwrap();
        let shown = s.summary();
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(shown.contains("database postgres://kept:***@db/kept,"), "{shown}");
        assert!(shown.ends_with("notifier off, demo auto, sms twilio, email smtp"), "{shown}");
    }

    #[test]
    fn passwords_are_redacted_in_debug_output() {
        let s = settings(&[("KEPT_DATABASE_URL", "postgres://kept:hunter2@db/kept")]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://kept:***@db/kept"));
    }
}
