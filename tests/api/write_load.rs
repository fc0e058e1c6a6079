//! Sixteen clients writing at once, every kind of write: nothing fails for
//! lack of a lock (on SQLite the default install met 500s "database is
//! locked" here), and every acknowledged write is stored.

use crate::fakes::FakeTwilio;
use crate::helpers::{spawn_app_with, utc, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

const CLIENTS: usize = 16;
const ROUNDS: usize = 3;
const PUBLIC: &str = "https://kept.example.test";

/// One request's outcome: what was asked and what came back.
struct Outcome {
    what: String,
    status: StatusCode,
    body: String,
}

struct Client {
    app: Arc<TestApp>,
    twilio_token: String,
    log: Vec<Outcome>,
}

impl Client {
    async fn send(&mut self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .app
            .client
            .request(method.clone(), self.app.url(path))
            .bearer_auth(&self.app.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let text = r.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.log.push(Outcome { what: format!("{method} {path}"), status, body: text });
        value
    }

    async fn webhook(&mut self, path: &str, params: Vec<(String, String)>) {
        let signature = kept::webhooks::twilio_signature(&self.twilio_token, &format!("{PUBLIC}{path}"), &params);
        let r = self
            .app
            .client
            .post(self.app.url(path))
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .expect("webhook");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        self.log.push(Outcome { what: format!("POST {path}"), status, body });
    }

    /// Every kind of write the office, the crew and Twilio make, in the
    /// order a day brings them.
    async fn day_of_writes(&mut self, i: usize, tech: i64, round: usize) -> Option<(i64, i64)> {
        let phone = format!("+1 212 555 01{:02}", 10 + i * ROUNDS + round);
        let c = self
            .send(
                reqwest::Method::POST,
                "/api/v1/customers",
                json!({"name": format!("Customer {i}-{round}"), "phone": phone, "email": format!("c{i}r{round}@example.test"),
                       "timezone": "America/New_York", "address": "1 Main St"}),
            )
            .await;
        let c = c["id"].as_i64()?;
        let job = self
            .send(
                reqwest::Method::POST,
                "/api/v1/jobs",
                json!({"customer_id": c, "title": "Leak", "story": "Water under the sink."}),
            )
            .await;
        let job = job["id"].as_i64()?;
        let day = 23 + round;
        let visit = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/jobs/{job}/visits"),
                json!({"kind": "work", "staff_ids": [tech], "duration_minutes": 60,
                       "window_start": format!("2026-11-{day}T09:00:00-05:00"), "window_end": format!("2026-11-{day}T10:00:00-05:00")}),
            )
            .await;
        let visit = visit["id"].as_i64()?;
        self.send(
            reqwest::Method::PATCH,
            &format!("/api/v1/visits/{visit}"),
            json!({"window_start": format!("2026-11-{day}T13:00:00-05:00"), "window_end": format!("2026-11-{day}T14:00:00-05:00")}),
        )
        .await;
        self.send(reqwest::Method::POST, &format!("/api/v1/jobs/{job}/notes"), json!({"text": "Parts ordered."})).await;
        let estimate = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/jobs/{job}/estimates"),
                json!({"tax_rate_bp": 825, "lines": [
                    {"kind": "labor", "description": "Dry-out", "quantity": "2", "unit": "h", "unit_price_minor": 8500}]}),
            )
            .await;
        if let Some(e) = estimate["id"].as_i64() {
            self.send(reqwest::Method::POST, &format!("/api/v1/estimates/{e}/send"), json!({})).await;
        }
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/visits/{visit}/status"),
            json!({"status": "en_route", "eta_minutes": 20}),
        )
        .await;
        self.send(reqwest::Method::POST, &format!("/api/v1/visits/{visit}/status"), json!({"status": "arrived"})).await;
        let from = format!("+121255501{:02}", 10 + i * ROUNDS + round);
        self.webhook(
            "/webhooks/twilio/inbound",
            vec![
                ("AccountSid".into(), "AC00000000000000000000000000000001".into()),
                ("MessageSid".into(), format!("SM{i:04}{round:04}")),
                ("From".into(), from),
                ("To".into(), "+12125550100".into()),
                ("Body".into(), "Thanks, see you then".into()),
            ],
        )
        .await;
        self.webhook(
            "/webhooks/twilio/status",
            vec![
                ("MessageSid".into(), format!("SMunknown{i:04}{round:04}")),
                ("MessageStatus".into(), "delivered".into()),
            ],
        )
        .await;
        Some((job, visit))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_writing_every_kind_of_write_at_once_never_get_a_server_error() {
    let twilio = FakeTwilio::start().await;
    let app = spawn_app_with(TestDb::new().await, &twilio.env()).await;
    app.patch("/api/v1/organization", json!({"phone": "+1 212 555 0100"})).await;
    app.clock.set(utc("2026-11-20T15:00:00Z"));
    let mut techs = Vec::new();
    for i in 0..CLIENTS {
        techs.push(app.staff(&format!("Tech {i}"), "technician", "America/New_York").await);
    }
    let app = Arc::new(app);
    let clients = techs.iter().enumerate().map(|(i, &tech)| {
        let mut client = Client { app: app.clone(), twilio_token: twilio.token.clone(), log: Vec::new() };
        tokio::spawn(async move {
            let mut done = Vec::new();
            for round in 0..ROUNDS {
                done.push(client.day_of_writes(i, tech, round).await);
            }
            (client.log, done)
        })
    });
    let results = futures::future::join_all(clients).await;
    let mut all = Vec::new();
    let mut acknowledged = Vec::new();
    for r in results {
        let (log, done) = r.expect("client task");
        all.extend(log);
        acknowledged.extend(done);
    }
    let failures: Vec<String> = all
        .iter()
        .filter(|o| o.status.is_server_error())
        .map(|o| format!("{} → {} {}", o.what, o.status, o.body))
        .collect();
    assert!(failures.is_empty(), "{} of {} writes failed:\n{}", failures.len(), all.len(), failures.join("\n"));
    let refused: Vec<String> = all
        .iter()
        .filter(|o| !o.status.is_success())
        .map(|o| format!("{} → {} {}", o.what, o.status, o.body))
        .collect();
    assert!(refused.is_empty(), "every write here is valid and should succeed:\n{}", refused.join("\n"));
    // 11 writes a round: customer, job, booking, reschedule, note, estimate,
    // send, two taps, two webhooks.
    assert_eq!(all.len(), CLIENTS * ROUNDS * 11);

    // Every acknowledged write is stored.
    assert_eq!(acknowledged.iter().filter(|a| a.is_some()).count(), CLIENTS * ROUNDS);
    for (job, visit) in acknowledged.into_iter().flatten() {
        let v = app.get(&format!("/api/v1/visits/{visit}")).await;
        assert_eq!(v.body["status"], "arrived", "{}", v.body);
        assert!(v.body["window_start"].as_str().unwrap().contains("T18:00:00"), "rescheduled: {}", v.body);
        let timeline = app.get(&format!("/api/v1/jobs/{job}/timeline")).await;
        let text = timeline.body.to_string();
        assert!(text.contains("Parts ordered."), "note on job {job}: {text}");
        let estimates = app.get(&format!("/api/v1/jobs/{job}/estimates")).await;
        assert_eq!(estimates.body["items"][0]["status"], "sent", "{}", estimates.body);
    }
    let inbound = app.get("/api/v1/inbound?limit=200").await;
    assert_eq!(inbound.body["items"].as_array().unwrap().len(), CLIENTS * ROUNDS, "{}", inbound.body);
}
