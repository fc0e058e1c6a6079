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
    /// The provider asked us to slow down (Twilio's 429 / error 20429, too
    /// many requests): not an attempt and never a failure; the sender's pace
    /// is pushed back and the message goes again shortly.
    Throttled(String),
}

/// What the provider says about a message whose send started but whose
/// worker died before it recorded the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The provider has it: sent, with this id.
    Found { provider_id: String },
    /// The provider has nothing like it: send it.
    NotFound,
    /// We could not ask: leave it `uncertain` for the office.
    Unreachable(String),
}

/// One page of Twilio's message list (`GET .../Messages.json`).
#[derive(Deserialize)]
struct TwilioMessageList {
    messages: Vec<TwilioListedMessage>,
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct TwilioListedMessage {
    sid: String,
    body: Option<String>,
    from: Option<String>,
    messaging_service_sid: Option<String>,
}

pub use crate::domain::messaging::Flag;

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
            // Too many requests (Twilio's 20429 is "too many concurrent
            // requests"): slow down, never give up.
            (429, _) | (_, Some(20429)) => Outcome::Throttled(reason),
            // Our credentials or account: retry, someone will fix the settings.
            (401 | 403, _) => Outcome::Transient(reason),
            (s, _) if s >= 500 => Outcome::Transient(reason),
            _ => Outcome::Permanent { reason, flag: None },
        }
    }
}

impl Twilio {
    /// Whether Twilio accepted a message to `to` with `body` sent on or
    /// after `since` (its message list, filtered by `To` and `DateSent>`,
    /// the day before `since` to allow for clocks; matched on the body and
    /// our sender). Up to five pages of 50 are read.
    #[tracing::instrument(skip_all, fields(provider = "twilio"))]
    pub async fn find_sent(&self, to: &str, body: &str, since: chrono::DateTime<chrono::Utc>) -> Lookup {
        let after = (since - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut url = Some(
            reqwest::Url::parse_with_params(
                &self.messages_url(),
                &[("To", to), ("DateSent>", after.as_str()), ("PageSize", "50")],
            )
            .map_err(|e| e.to_string()),
        );
        let mut pages = 0;
        while let Some(next) = url.take() {
            pages += 1;
            let next = match next {
                Ok(u) => u,
                Err(e) => return Lookup::Unreachable(format!("the message list address: {e}")),
            };
            let res = self
                .http
                .get(next)
                .basic_auth(&self.settings.account_sid, Some(&self.settings.auth_token))
                .send()
                .await;
            let res = match res {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => return Lookup::Unreachable(format!("the message list answered {}", r.status())),
                Err(e) => return Lookup::Unreachable(format!("could not read the message list: {e}")),
            };
            let list: TwilioMessageList = match res.json().await {
                Ok(l) => l,
                Err(e) => return Lookup::Unreachable(format!("the message list was not understood: {e}")),
            };
            let ours = |m: &TwilioListedMessage| match (&self.settings.messaging_service_sid, &self.settings.from) {
                (Some(ms), _) => m.messaging_service_sid.as_deref() == Some(ms.as_str()),
                (None, Some(from)) => m.from.as_deref() == Some(from.as_str()),
                (None, None) => true,
            };
            if let Some(m) = list.messages.iter().find(|m| m.body.as_deref() == Some(body) && ours(m)) {
                return Lookup::Found { provider_id: m.sid.clone() };
            }
            if pages < 5 {
                url = list
                    .next_page_uri
                    .map(|p| reqwest::Url::parse(&format!("{}{p}", self.settings.base_url)).map_err(|e| e.to_string()));
            }
        }
        Lookup::NotFound
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

    /// The Message-ID of outbox row `id`: the same for every attempt, so a
    /// resend after a crash is the same message to the recipient's mail client.
    pub fn message_id(&self, id: i64) -> String {
        let domain = self.from.email.domain();
        format!("<kept-message-{id}@{domain}>")
    }

    #[tracing::instrument(skip_all, fields(provider = "smtp"))]
    pub async fn send(&self, id: i64, to: &str, subject: &str, text: &str, html: Option<&str>) -> Outcome {
        let to = match to.parse::<Mailbox>() {
            Ok(m) => m,
            Err(e) => {
                return Outcome::Permanent {
                    reason: format!("bad address {to}: {e}"),
                    flag: Some(Flag::Unreachable("invalid email address".into())),
                }
            }
        };
        let builder =
            Message::builder().from(self.from.clone()).to(to).subject(subject).message_id(Some(self.message_id(id)));
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
        let sender = match &s.twilio {
            Some(t) => format!(
                "twilio:{}:{}",
                t.account_sid,
                t.messaging_service_sid.as_deref().or(t.from.as_deref()).unwrap_or_default()
            ),
            None => "none".into(),
        };
        Ok(Transports { twilio, smtp, sms_pacer: Pacer::per_second(s.sms_rate_per_second, sender) })
    }
}

/// Paces sends to at most `rate` per second for one sender.
pub struct Pacer {
    /// Microseconds between two sends from this sender.
    interval_us: i64,
    /// Who sends: the Twilio account and number (or messaging service).
    sender: String,
    /// Whether this process has made sure the sender's row exists.
    ready: std::sync::atomic::AtomicBool,
}

impl Pacer {
    pub fn per_second(rate: f64, sender: impl Into<String>) -> Pacer {
        let interval_us = (1_000_000.0 / rate.max(0.001)).round() as i64;
        Pacer { interval_us, sender: sender.into(), ready: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Sends per second at most.
    pub fn rate(&self) -> f64 {
        1_000_000.0 / self.interval_us as f64
    }

    /// Takes the sender's next sending moment and waits for it. The pace
    /// lives in the database, so every replica (and every worker in it)
    /// shares one pace per sender. Returns the moment taken (µs since the
    /// Unix epoch).
    pub async fn wait<C: sea_orm::ConnectionTrait>(&self, db: &C) -> Result<i64, sea_orm::DbErr> {
        let slot = self.take(db, now_us()).await?;
        sleep_until_us(slot).await;
        Ok(slot)
    }

    /// One atomic statement moves the sender's next moment on by one
    /// interval, from `now_us` if it lies in the past, and answers the moment
    /// this send may go.
    pub async fn take<C: sea_orm::ConnectionTrait>(&self, db: &C, now_us: i64) -> Result<i64, sea_orm::DbErr> {
        Ok(self.take_many(db, now_us, 1).await?.first)
    }

    /// Reserves `n` consecutive sending moments of this sender in one atomic
    /// statement (for the rows of one claim): the sender's next moment moves
    /// on by `n` intervals, from `now_us` if it lies in the past. Every
    /// replica draws from the same row, so the moments never overlap.
    pub async fn take_many<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        now_us: i64,
        n: usize,
    ) -> Result<Slots, sea_orm::DbErr> {
        use sea_orm::sea_query::{Alias, Expr, OnConflict, Query, SimpleExpr};
        use std::sync::atomic::Ordering;
        let (table, sender, next) = (Alias::new("send_pace"), Alias::new("sender"), Alias::new("next_at_us"));
        let backend = db.get_database_backend();
        if !self.ready.load(Ordering::Relaxed) {
            let insert = Query::insert()
                .into_table(table.clone())
                .columns([sender.clone(), next.clone()])
                .values_panic([self.sender.clone().into(), 0i64.into()])
                .on_conflict(OnConflict::column(sender.clone()).do_nothing().to_owned())
                .to_owned();
            db.execute(backend.build(&insert)).await?;
            self.ready.store(true, Ordering::Relaxed);
        }
        let from: SimpleExpr =
            Expr::case(Expr::col(next.clone()).gt(now_us), Expr::col(next.clone())).finally(now_us).into();
        let update = Query::update()
            .table(table)
            .value(next.clone(), from.add(self.interval_us * n as i64))
            .and_where(Expr::col(sender).eq(self.sender.as_str()))
            .returning_col(next)
            .to_owned();
        let row = db
            .query_one(backend.build(&update))
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("send pace of {}", self.sender)))?;
        let end = row.try_get::<i64>("", "next_at_us")?;
        Ok(Slots { first: end - self.interval_us * n as i64, interval_us: self.interval_us, n })
    }
}

/// Consecutive sending moments reserved for one sender (µs since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    pub first: i64,
    pub interval_us: i64,
    pub n: usize,
}

impl Slots {
    /// The `i`-th moment (`i < n`).
    pub fn at(&self, i: usize) -> i64 {
        self.first + self.interval_us * i as i64
    }
}

/// Waits until the moment `slot_us` (µs since the Unix epoch).
pub async fn sleep_until_us(slot_us: i64) {
    let ahead = slot_us - now_us();
    if ahead > 0 {
        tokio::time::sleep(Duration::from_micros(ahead as u64)).await;
    }
}

impl Pacer {
    /// The provider asked us to slow down: the sender's next moment moves
    /// `by` later (from now if it lay in the past), for every replica.
    pub async fn push_back<C: sea_orm::ConnectionTrait>(&self, db: &C, by: Duration) -> Result<(), sea_orm::DbErr> {
        use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
        let (table, sender, next) = (Alias::new("send_pace"), Alias::new("sender"), Alias::new("next_at_us"));
        let now = now_us();
        let from: SimpleExpr = Expr::case(Expr::col(next.clone()).gt(now), Expr::col(next.clone())).finally(now).into();
        let update = Query::update()
            .table(table)
            .value(next, from.add(by.as_micros() as i64))
            .and_where(Expr::col(sender).eq(self.sender.as_str()))
            .to_owned();
        db.execute(db.get_database_backend().build(&update)).await?;
        Ok(())
    }
}

/// Now, in µs since the Unix epoch (the pace's unit).
pub fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}
