//! Real-protocol stand-ins for the providers we cannot reach from here: an
//! SMTP server speaking the wire protocol, and a Twilio-compatible HTTP API
//! (form-encoded POST to /2010-04-01/Accounts/{sid}/Messages.json, basic
//! auth, Twilio's JSON message and error bodies).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the fake Twilio does with the next request.
#[derive(Debug, Clone)]
pub enum Twilio {
    /// 201 with a message resource.
    Accept,
    /// An error status with Twilio's error body for `code`.
    Error(u16, i64),
    /// Accept, but only after `delay` (longer than the client waits).
    Slow(Duration),
}

/// One accepted message in the list: its sid, its form, when it was accepted.
type Listed = (String, HashMap<String, String>, chrono::DateTime<chrono::Utc>);

#[derive(Clone, Default)]
struct TwilioState {
    script: Arc<Mutex<VecDeque<Twilio>>>,
    /// Every well-formed request, accepted or not.
    received: Arc<Mutex<Vec<HashMap<String, String>>>>,
    /// Only the requests that were answered 201.
    accepted: Arc<Mutex<Vec<HashMap<String, String>>>>,
    /// What the message list serves: each accepted message's sid, form and
    /// when it was accepted.
    listed: Arc<Mutex<Vec<Listed>>>,
    /// How long every accepted send waits before it is answered (accepted
    /// at once, as Twilio does, answered late).
    latency: Arc<Mutex<Duration>>,
    /// The message list answers 503 while this is set.
    list_down: Arc<std::sync::atomic::AtomicBool>,
    /// How many times the message list was read.
    list_reads: Arc<std::sync::atomic::AtomicUsize>,
}

pub struct FakeTwilio {
    pub base_url: String,
    pub sid: String,
    pub token: String,
    state: TwilioState,
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let state = TwilioState::default();
        let sid = "AC00000000000000000000000000000001".to_string();
        let token = "test-auth-token".to_string();
        let expected_auth =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}")));
        let expected_sid = sid.clone();
        let list_auth = expected_auth.clone();
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                axum::routing::post(
                    move |State(st): State<TwilioState>,
                          Path(path_sid): Path<String>,
                          headers: HeaderMap,
                          Form(form): Form<HashMap<String, String>>| {
                        let expected_auth = expected_auth.clone();
                        let expected_sid = expected_sid.clone();
                        async move { twilio_messages(st, path_sid, headers, form, expected_auth, expected_sid).await }
                    },
                )
                .get(
                    move |State(st): State<TwilioState>,
                          Path(path_sid): Path<String>,
                          headers: HeaderMap,
                          axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
                        let expected_auth = list_auth.clone();
                        async move { twilio_list(st, path_sid, headers, q, expected_auth).await }
                    },
                ),
            )
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeTwilio { base_url, sid, token, state }
    }

    /// Queues replies for the next requests; afterwards every request is accepted.
    pub fn script(&self, replies: &[Twilio]) {
        self.state.script.lock().unwrap().extend(replies.iter().cloned());
    }

    /// Every accepted send from now on is answered only after `d`
    /// (accepted at once: a client that gives up or dies still sent it).
    pub fn set_latency(&self, d: Duration) {
        *self.state.latency.lock().unwrap() = d;
    }

    /// While `down`, the message list answers 503.
    pub fn list_down(&self, down: bool) {
        self.state.list_down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many times the message list was read.
    pub fn list_reads(&self) -> usize {
        self.state.list_reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<HashMap<String, String>> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<HashMap<String, String>> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Settings that point Kept at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KEPT_TWILIO_ACCOUNT_SID", self.sid.clone()),
            ("KEPT_TWILIO_AUTH_TOKEN", self.token.clone()),
            ("KEPT_TWILIO_FROM", "+12065550100".into()),
            ("KEPT_TWILIO_BASE_URL", self.base_url.clone()),
            ("KEPT_TWILIO_TIMEOUT_SECS", "1".into()),
            ("KEPT_SMS_RATE_PER_SECOND", "1000".into()),
        ]
    }
}

fn twilio_error(status: u16, code: i64, message: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(
            json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
        ),
    )
}

async fn twilio_messages(
    st: TwilioState,
    path_sid: String,
    headers: HeaderMap,
    form: HashMap<String, String>,
    expected_auth: String,
    expected_sid: String,
) -> axum::response::Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != expected_auth || path_sid != expected_sid {
        return twilio_error(401, 20003, "Authenticate").into_response();
    }
    if !form.contains_key("To")
        || !form.contains_key("Body")
        || !(form.contains_key("From") || form.contains_key("MessagingServiceSid"))
    {
        return twilio_error(400, 21604, "A 'To', 'Body' and 'From' or 'MessagingServiceSid' are required")
            .into_response();
    }
    st.received.lock().unwrap().push(form.clone());
    let next = st.script.lock().unwrap().pop_front().unwrap_or(Twilio::Accept);
    match next {
        Twilio::Error(status, code) => {
            let message = match code {
                21610 => "Attempt to send to unsubscribed recipient",
                21211 => "The 'To' number is not a valid phone number.",
                21614 => "'To' number is not a valid mobile number",
                20429 => "Too Many Requests",
                _ => "Service unavailable",
            };
            twilio_error(status, code, message).into_response()
        }
        Twilio::Slow(delay) => {
            tokio::time::sleep(delay).await;
            accept(&st, &path_sid, form).into_response()
        }
        Twilio::Accept => {
            let answer = accept(&st, &path_sid, form).into_response();
            let latency = *st.latency.lock().unwrap();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            answer
        }
    }
}

/// Twilio's message list, `GET .../Messages.json?To=…&DateSent>=…`: its
/// real wire format (a page of message resources, newest first, with the
/// paging fields), filtered by `To` and by `DateSent>` (on or after).
async fn twilio_list(
    st: TwilioState,
    account: String,
    headers: HeaderMap,
    q: HashMap<String, String>,
    expected_auth: String,
) -> axum::response::Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != expected_auth {
        return twilio_error(401, 20003, "Authenticate").into_response();
    }
    st.list_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if st.list_down.load(std::sync::atomic::Ordering::SeqCst) {
        return twilio_error(503, 20500, "Service unavailable").into_response();
    }
    let after = q.get("DateSent>").map(|d| {
        chrono::DateTime::parse_from_rfc3339(d).map(|d| d.with_timezone(&chrono::Utc)).unwrap_or_else(|_| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
        })
    });
    let page_size: usize = q.get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50);
    let mut found: Vec<Value> = st
        .listed
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, form, _)| q.get("To").is_none_or(|to| form.get("To") == Some(to)))
        .filter(|(_, _, at)| after.is_none_or(|a| *at >= a))
        .map(|(sid, form, at)| message_resource(&account, sid, form, Some(*at), "sent"))
        .collect();
    found.reverse();
    found.truncate(page_size);
    let uri = format!("/2010-04-01/Accounts/{account}/Messages.json?PageSize={page_size}&Page=0");
    Json(json!({
        "end": found.len().saturating_sub(1), "first_page_uri": uri, "messages": found,
        "next_page_uri": null, "page": 0, "page_size": page_size, "previous_page_uri": null,
        "start": 0, "uri": uri,
    }))
    .into_response()
}

/// A message resource as Twilio writes it (dates in RFC 2822).
fn message_resource(
    account: &str,
    sid: &str,
    form: &HashMap<String, String>,
    sent: Option<chrono::DateTime<chrono::Utc>>,
    status: &str,
) -> Value {
    let rfc2822 = |d: chrono::DateTime<chrono::Utc>| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string();
    let now = rfc2822(chrono::Utc::now());
    json!({
        "account_sid": account, "api_version": "2010-04-01", "body": form.get("Body"),
        "date_created": sent.map(rfc2822).unwrap_or_else(|| now.clone()), "date_sent": sent.map(rfc2822),
        "date_updated": now, "direction": "outbound-api", "error_code": null, "error_message": null,
        "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0", "num_segments": "1", "price": null, "price_unit": "USD", "sid": sid, "status": status,
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json")},
        "to": form.get("To"), "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    })
}

fn accept(st: &TwilioState, account: &str, form: HashMap<String, String>) -> (StatusCode, Json<Value>) {
    let n = {
        let mut accepted = st.accepted.lock().unwrap();
        accepted.push(form.clone());
        accepted.len()
    };
    let sid = format!("SM{n:032x}");
    st.listed.lock().unwrap().push((sid.clone(), form.clone(), chrono::Utc::now()));
    (
        StatusCode::CREATED,
        Json(json!({
            "account_sid": account, "api_version": "2010-04-01", "body": form.get("Body"),
            "direction": "outbound-api", "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_segments": "1", "sid": sid, "status": "queued", "to": form.get("To"),
            "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
        })),
    )
}

/// One email as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
pub struct FakeSmtp {
    pub url: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    reject: Arc<Mutex<Vec<String>>>,
}

impl FakeSmtp {
    pub async fn start() -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let server = FakeSmtp { url, ..Default::default() };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(sock).await;
                });
            }
        });
        server
    }

    /// RCPT TO for this address is refused with 550.
    pub fn reject(&self, address: &str) {
        self.reject.lock().unwrap().push(address.to_lowercase());
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KEPT_SMTP_URL", self.url.clone()),
            ("KEPT_EMAIL_FROM", "Harbor & Pine <office@harborpine.example.test>".into()),
        ]
    }

    async fn session(&self, sock: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 fake.test ESMTP ready\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_uppercase();
            if upper.starts_with("EHLO") {
                w.write_all(b"250-fake.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").await?;
            } else if upper.starts_with("HELO") {
                w.write_all(b"250 fake.test\r\n").await?;
            } else if upper.starts_with("MAIL FROM:") {
                from = addr(&cmd[10..]);
                to.clear();
                w.write_all(b"250 2.1.0 OK\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                let a = addr(&cmd[8..]);
                if self.reject.lock().unwrap().contains(&a.to_lowercase()) {
                    w.write_all(b"550 5.1.1 No such mailbox here\r\n").await?;
                } else {
                    to.push(a);
                    w.write_all(b"250 2.1.5 OK\r\n").await?;
                }
            } else if upper == "DATA" {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                let n = {
                    let mut mails = self.mails.lock().unwrap();
                    mails.push(Mail { from: from.clone(), to: to.clone(), data });
                    mails.len()
                };
                w.write_all(format!("250 2.0.0 OK queued as Q{n:05}\r\n").as_bytes()).await?;
            } else if upper == "RSET" || upper == "NOOP" {
                w.write_all(b"250 OK\r\n").await?;
            } else if upper == "QUIT" {
                w.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"502 5.5.2 Command not recognized\r\n").await?;
            }
        }
    }
}

fn addr(s: &str) -> String {
    s.trim().trim_start_matches('<').split('>').next().unwrap_or("").to_string()
}
