//! Notifier figures (run with `scripts/bench`):
//! - one tick planning the status updates of N open jobs (default 100,000),
//!   next to a plain bulk insert of the same number of outbox rows (the floor),
//!   on SQLite and, when reachable, PostgreSQL;
//! - delivery throughput in messages/second against a local
//!   Twilio-compatible HTTP server.
//!
//! `KEPT_BENCH_JOBS` sets N; `KEPT_BENCH_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres) is where a scratch database is made.

use chrono::{DateTime, Utc};
use kept::db::Db;
use kept::domain::job::JobStatus;
use kept::domain::messaging::{MessageKind, MessageState, SmsEncoding};
use kept::domain::people::{Channel, ChannelList};
use kept::entities::{customer, job, message};
use kept::notify::{planner, worker, NotifyCtx};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use std::sync::Arc;
use std::time::Instant;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn seed(db: &Db, n: usize) -> i64 {
    let clock = kept::clock::ManualClock::new(utc("2026-11-20T12:00:00Z"));
    let org = kept::demo::create_org(db, &clock, "Bench Restoration", "America/New_York", "bench@example.test", None)
        .await
        .unwrap()
        .organization;
    let zones = ["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney"];
    let created = utc("2026-11-20T12:00:00Z");
    for chunk_start in (0..n).step_by(1000) {
        let end = (chunk_start + 1000).min(n);
        customer::Entity::insert_many((chunk_start..end).map(|i| customer::ActiveModel {
            organization_id: Set(org.id),
            name: Set(format!("Customer {i}")),
            phone: Set(Some(format!("+1212555{:04}", i % 10000))),
            email: Set(None),
            channels: Set(ChannelList(vec![Channel::Sms])),
            timezone: Set(zones[i % zones.len()].into()),
            address: Set(String::new()),
            sms_opted_out: Set(false),
            email_opted_out: Set(false),
            sms_problem: Set(None),
            email_problem: Set(None),
            created_at: Set(created),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
    }
    let first_customer: i64 = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT MIN(id) AS id FROM customers WHERE organization_id IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    for chunk_start in (0..n).step_by(1000) {
        let end = (chunk_start + 1000).min(n);
        job::Entity::insert_many((chunk_start..end).map(|i| job::ActiveModel {
            organization_id: Set(org.id),
            customer_id: Set(first_customer + i as i64),
            title: Set("Water in the basement".into()),
            story: Set("It came up through the drain.".into()),
            status: Set(JobStatus::Scheduled),
            created_at: Set(created),
            updated_at: Set(created),
            last_update_slot: Set(None),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
    }
    org.id
}

async fn floor(db: &Db, org_id: i64, n: usize) -> f64 {
    let t = Instant::now();
    let now = utc("2026-11-21T12:00:00Z");
    for chunk_start in (0..n).step_by(800) {
        let end = (chunk_start + 800).min(n);
        let txn = db.begin().await.unwrap();
        message::Entity::insert_many((chunk_start..end).map(|i| message::ActiveModel {
            organization_id: Set(org_id),
            job_id: Set(None),
            visit_id: Set(None),
            customer_id: Set(None),
            kind: Set(MessageKind::StatusUpdate),
            channel: Set(Channel::Sms),
            recipient: Set("+12125550100".into()),
            subject: Set(None),
            body_text: Set(format!("Bench Restoration: Good morning, Customer {i}. Water in the basement: scheduled.\nNo news yet - we haven't forgotten you.\nNext update: 4:30 PM. https://kept.example.test/c/0123456789abcdef0123456789abcdef01234567")),
            body_html: Set(None),
            segments: Set(Some(2)),
            encoding: Set(Some(SmsEncoding::Gsm7)),
            dedupe_key: Set(format!("floor:{i}")),
            state: Set(MessageState::NoProvider),
            due_at: Set(now),
            next_attempt_at: Set(now),
            expires_at: Set(None),
            attempts: Set(0),
            lease_until: Set(None),
            provider_id: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            sent_at: Set(None),
            ..Default::default()
        }))
        .on_conflict(sea_orm::sea_query::OnConflict::column(message::Column::DedupeKey).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    t.elapsed().as_secs_f64()
}

async fn planning(label: &str, url: &str, n: usize) {
    let db = kept::db::connect(url, 4).await.unwrap();
    kept::db::migrate(&db).await.unwrap();
    let t = Instant::now();
    let org_id = seed(&db, n).await;
    // As in a running database, the planner has table statistics to work with.
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    let seeded = t.elapsed().as_secs_f64();
    let n_ctx = NotifyCtx {
        templates: Arc::new(kept::messages::templates::Templates::embedded().unwrap()),
        public_url: "https://kept.example.test".into(),
        live: kept::live::Bus::new(),
    };
    // 2026-11-21T12:00Z: every zone has a slot after the jobs were created.
    let t = Instant::now();
    let report = planner::tick(&db, &n_ctx, utc("2026-11-21T12:00:00Z")).await.unwrap();
    let tick = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = planner::tick(&db, &n_ctx, utc("2026-11-21T12:01:00Z")).await.unwrap();
    let idle = t.elapsed().as_secs_f64();
    let floor = floor(&db, org_id, n).await;
    println!(
        "{label:<10} jobs {n:>7}  seed {seeded:>6.2}s  tick {tick:>6.2}s ({} messages, {:>6.0} jobs/s)  next tick {:>6.3}s ({} new)  bulk-insert floor {floor:>6.2}s  tick/floor {:>4.1}x",
        report.status_updates,
        n as f64 / tick,
        idle,
        again.status_updates,
        tick / floor
    );
}

/// A Twilio-compatible endpoint that accepts everything, on loopback.
async fn fake_twilio() -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(|axum::Form(f): axum::Form<std::collections::HashMap<String, String>>| async move {
            (
                axum::http::StatusCode::CREATED,
                axum::Json(serde_json::json!({"sid": format!("SM{:032x}", f.get("Body").map(|b| b.len()).unwrap_or(0)), "status": "queued"})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn delivery(url: &str, n: usize) {
    let db = kept::db::connect(url, 4).await.unwrap();
    kept::db::migrate(&db).await.unwrap();
    seed(&db, n).await;
    let n_ctx = NotifyCtx {
        templates: Arc::new(kept::messages::templates::Templates::embedded().unwrap()),
        public_url: "https://kept.example.test".into(),
        live: kept::live::Bus::new(),
    };
    // Plan at 13:30 UTC (08:30 in New York): a quarter of the jobs get an update,
    // and it is inside SMS hours for every zone that has one due.
    planner::tick(&db, &n_ctx, utc("2026-11-21T13:30:00Z")).await.unwrap();
    let base = fake_twilio().await;
    let settings = kept::config::TwilioSettings {
        account_sid: "AC0".into(),
        auth_token: "t".into(),
        from: Some("+12065550100".into()),
        messaging_service_sid: None,
        base_url: base,
        timeout_secs: 10,
    };
    let transports = kept::notify::transport::Transports {
        twilio: Some(kept::notify::transport::Twilio::new(settings, "http://127.0.0.1").unwrap()),
        smtp: None,
        sms_pacer: kept::notify::transport::Pacer::per_second(1_000_000.0, "twilio:bench"),
    };
    let clock = kept::clock::ManualClock::new(utc("2026-11-21T13:31:00Z"));
    let t = Instant::now();
    let r = worker::drain(&db, &transports, &n_ctx.live, &clock).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "delivery   {} messages sent in {secs:.2}s = {:.0} messages/s (one worker, local Twilio-compatible server)",
        r.sent,
        r.sent as f64 / secs
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("KEPT_BENCH_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("kept-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    planning("sqlite", &format!("sqlite://{}/plan.db", dir.display()), n).await;
    let pg_admin = std::env::var("KEPT_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pg_db = format!("kept_bench_{}", std::process::id());
    let pg_ok = match kept::db::connect(&pg_admin, 1).await {
        Ok(admin) => admin.execute_unprepared(&format!("CREATE DATABASE {pg_db}")).await.is_ok(),
        Err(_) => false,
    };
    let pg_url = format!("{}/{pg_db}", pg_admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&pg_admin));
    if pg_ok {
        planning("postgres", &pg_url, n).await;
    } else {
        println!("postgres   skipped: no server at {pg_admin}");
    }
    delivery(&format!("sqlite://{}/deliver.db", dir.display()), 8000).await;
    if pg_ok {
        if let Ok(admin) = kept::db::connect(&pg_admin, 1).await {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")).await;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
