//! Delivery transports: Twilio's Messages API over reqwest, SMTP over lettre.
//! Each answers with an [`Outcome`] that says whether to retry.

use crate::config::{Settings, TwilioSettings};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use std::time::Duration;

/// What happened to one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the provider's id.
    Sent { provider_id: String },
    /// Not accepted, worth retrying later (connect errors, 429, 5xx).
    Transient(String),
    /// Never going to work for this recipient.
    Permanent { reason: String, flag: Option<Flag> },
    /// We sent it and do not know whether it was accepted (timeout after
    /// sending): not resent blindly.
    Uncertain(String),
}

/// What a permanent failure says about the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    /// They told the carrier STOP (Twilio 21610).
    OptedOut,
    /// The address cannot receive this channel (invalid number, landline, mailbox refused).
    Unreachable(String),
}

/// Twilio's error body.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct TwilioMessage {
    sid: Option<String>,
}

pub struct Twilio {
    http: reqwest::Client,
    settings: TwilioSettings,
    status_callback: Option<String>,
}

impl Twilio {
    pub fn new(settings: TwilioSettings, public_url: &str) -> Result<Twilio, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(settings.timeout_secs))
            .build()?;
        // Twilio can only call back a public https address.
        let status_callback =
            public_url.starts_with("https://").then(|| format!("{public_url}/webhooks/twilio/status"));
        Ok(Twilio { http, settings, status_callback })
    }

    pub fn messages_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages.json", self.settings.base_url, self.settings.account_sid)
    }

    #[tracing::instrument(skip_all, fields(provider = "twilio"))]
    pub async fn send(&self, to: &str, body: &str) -> Outcome {
        let mut form: Vec<(&str, &str)> = vec![("To", to), ("Body", body)];
        match (&self.settings.messaging_service_sid, &self.settings.from) {
            (Some(ms), _) => form.push(("MessagingServiceSid", ms)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => return Outcome::Permanent { reason: "no sender configured".into(), flag: None },
        }
        if let Some(cb) = &self.status_callback {
            form.push(("StatusCallback", cb));
        }
        let res = self
            .http
            .post(self.messages_url())
            .basic_auth(&self.settings.account_sid, Some(&self.settings.auth_token))
            .form(&form)
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Outcome::Transient(format!("could not connect: {e}")),
            Err(e) if e.is_timeout() => {
                return Outcome::Uncertain(format!("no answer within {}s after sending", self.settings.timeout_secs))
            }
            Err(e) => return Outcome::Uncertain(format!("request failed after sending: {e}")),
        };
        let status = res.status();
        let text = match res.text().await {
            Ok(t) => t,
            Err(e) if status.is_success() => {
                return Outcome::Uncertain(format!("accepted but the answer was cut: {e}"))
            }
            Err(_) => String::new(),
        };
        if status.is_success() {
            return match serde_json::from_str::<TwilioMessage>(&text).ok().and_then(|m| m.sid) {
                Some(sid) => Outcome::Sent { provider_id: sid },
                None => Outcome::Uncertain(format!("{status} without a message sid")),
            };
        }
        let err: Option<TwilioError> = serde_json::from_str(&text).ok();
        let code = err.as_ref().and_then(|e| e.code);
        let message = err.and_then(|e| e.message).unwrap_or_else(|| text.chars().take(200).collect());
        let reason = match code {
            Some(c) => format!("{status} Twilio {c}: {message}"),
            None => format!("{status}: {message}"),
        };
        match (status.as_u16(), code) {
            (_, Some(21610)) => Outcome::Permanent { reason, flag: Some(Flag::OptedOut) },
            (_, Some(21211)) => {
                Outcome::Permanent { reason, flag: Some(Flag::Unreachable("invalid phone number".into())) }
            }
            (_, Some(21614)) => {
                Outcome::Permanent { reason, flag: Some(Flag::Unreachable("number cannot receive SMS".into())) }
            }
            // Our credentials or account: retry, someone will fix the settings.
            (401 | 403 | 429, _) => Outcome::Transient(reason),
            (s, _) if s >= 500 => Outcome::Transient(reason),
            _ => Outcome::Permanent { reason, flag: None },
        }
    }
}

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    pub fn new(url: &str, from: &str) -> Result<Smtp, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("KEPT_SMTP_URL: {e}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from = from.parse::<Mailbox>().map_err(|e| format!("KEPT_EMAIL_FROM '{from}': {e}"))?;
        Ok(Smtp { transport, from })
    }

    #[tracing::instrument(skip_all, fields(provider = "smtp"))]
    pub async fn send(&self, to: &str, subject: &str, text: &str, html: Option<&str>) -> Outcome {
        let to = match to.parse::<Mailbox>() {
            Ok(m) => m,
            Err(e) => {
                return Outcome::Permanent {
                    reason: format!("bad address {to}: {e}"),
                    flag: Some(Flag::Unreachable("invalid email address".into())),
                }
            }
        };
        let builder = Message::builder().from(self.from.clone()).to(to).subject(subject);
        let message = match html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(text.to_string(), html.to_string())),
            None => builder.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text.to_string())),
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Permanent { reason: format!("could not build the email: {e}"), flag: None },
        };
        match self.transport.send(message).await {
            Ok(resp) => {
                let id = resp.message().collect::<Vec<_>>().join(" ");
                Outcome::Sent { provider_id: format!("{} {}", resp.code(), id).trim().to_string() }
            }
            Err(e) if e.is_permanent() => Outcome::Permanent {
                reason: format!("SMTP refused: {e}"),
                flag: Some(Flag::Unreachable(format!("mail refused: {e}"))),
            },
            Err(e) if e.is_transient() => Outcome::Transient(format!("SMTP deferred: {e}")),
            Err(e) if e.is_timeout() => Outcome::Uncertain(format!("SMTP timed out: {e}")),
            Err(e) => Outcome::Transient(format!("SMTP connection: {e}")),
        }
    }
}

/// The transports configured for this process; `None` means "no provider".
pub struct Transports {
    pub twilio: Option<Twilio>,
    pub smtp: Option<Smtp>,
    pub sms_pacer: Pacer,
}

impl Transports {
    pub fn from_settings(s: &Settings) -> Result<Transports, String> {
        let twilio = match &s.twilio {
            Some(t) => Some(Twilio::new(t.clone(), &s.public_url).map_err(|e| e.to_string())?),
            None => None,
        };
        let smtp = match &s.smtp_url {
            Some(url) => Some(Smtp::new(url, &s.email_from)?),
            None => None,
        };
        Ok(Transports { twilio, smtp, sms_pacer: Pacer::per_second(s.sms_rate_per_second) })
    }
}

/// Paces sends to at most `rate` per second for one sender.
pub struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn per_second(rate: f64) -> Pacer {
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        Pacer { interval, next: tokio::sync::Mutex::new(tokio::time::Instant::now()) }
    }

    pub async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.interval;
    }
}
