//! Notifier figures (run with `scripts/bench`):
//! - the planning tick for N open jobs (default 10,000, 100,000 and
//!   1,000,000) whose customers live in 20 zones, next to a bulk insert of
//!   the very outbox rows the tick stored (the floor), on SQLite and, when
//!   reachable, PostgreSQL, with the tick's peak RSS (each size and database
//!   in a process of its own, its peak reset after seeding);
//! - delivery throughput in messages/second against a local
//!   Twilio-compatible HTTP server.
//!
//! `KEPT_BENCH_JOBS` sets the sizes (comma-separated, e.g. `10000,100000`);
//! `KEPT_BENCH_SKIP_DELIVERY=1` leaves the delivery figure out;
//! `KEPT_BENCH_ONLY=sqlite|postgres` runs one database;
//! `KEPT_BENCH_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres) is where a scratch database is made.

use chrono::{DateTime, Utc};
use kept::db::Db;
use kept::domain::job::JobStatus;
use kept::domain::messaging::MessageKind;
use kept::domain::people::{Channel, ChannelList};
use kept::entities::{customer, job, message};
use kept::notify::{planner, worker, NotifyCtx};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect, Set};
use std::sync::Arc;
use std::time::Instant;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Twenty zones around the world: at the tick's moment each has had an
/// update slot since the jobs were created.
const ZONES: [&str; 20] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Sao_Paulo",
    "America/Halifax",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Mexico_City",
];

/// The lowest id of the organization's rows in `table` (the seeded rows
/// are numbered from it, in order).
async fn first_id(db: &Db, table: &str, org_id: i64) -> i64 {
    db.query_one(sea_orm::Statement::from_string(
        db.get_database_backend(),
        format!("SELECT MIN(id) AS id FROM {table} WHERE organization_id = {org_id}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "id")
    .unwrap()
}

/// Job `i`'s private link token: 40 hex digits, different for every job.
fn token(i: usize) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(format!("bench link {i}"))[..20])
}

async fn seed(db: &Db, n: usize) -> i64 {
    let clock = kept::clock::ManualClock::new(utc("2026-11-20T12:00:00Z"));
    let org = kept::demo::create_org(db, &clock, "Bench Restoration", "America/New_York", "bench@example.test", None)
        .await
        .unwrap()
        .organization;
    let zones = ZONES;
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
    let first_customer = first_id(db, "customers", org.id).await;
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
            link_token: Set(Some(token(i))),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
    }
    // As the app leaves them: each job has its private link, made with its
    // first message (the introduction).
    let first_job = first_id(db, "jobs", org.id).await;
    for chunk_start in (0..n).step_by(1000) {
        let end = (chunk_start + 1000).min(n);
        kept::entities::customer_link::Entity::insert_many((chunk_start..end).map(|i| {
            kept::entities::customer_link::ActiveModel {
                organization_id: Set(org.id),
                job_id: Set(first_job + i as i64),
                token_hash: Set(kept::domain::tokens::hash_token(&token(i))),
                created_at: Set(created),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
    }
    org.id
}

/// The floor: the same outbox rows the tick stored (its messages, read back
/// a page at a time, each under a new dedupe key), bulk-inserted 800 to a
/// transaction. Only the inserts are timed. Answers seconds.
async fn floor(db: &Db) -> f64 {
    use sea_orm::{ActiveValue::NotSet, ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder};
    let mut spent = 0.0;
    let mut after = 0i64;
    // The tick's rows only, not the copies made here.
    let last: Option<i64> = message::Entity::find()
        .select_only()
        .column_as(message::Column::Id.max(), "id")
        .into_tuple()
        .one(db)
        .await
        .unwrap()
        .flatten();
    let Some(last) = last else { return 0.0 };
    loop {
        let rows = message::Entity::find()
            .filter(message::Column::Id.gt(after))
            .filter(message::Column::Id.lte(last))
            .filter(message::Column::Kind.eq(MessageKind::StatusUpdate))
            .order_by_asc(message::Column::Id)
            .limit(800)
            .all(db)
            .await
            .unwrap();
        let Some(page_end) = rows.last() else { break };
        after = page_end.id;
        let copies: Vec<message::ActiveModel> = rows
            .into_iter()
            .map(|m| {
                let key = format!("floor:{}", m.id);
                let mut a = m.into_active_model();
                a.id = NotSet;
                a.dedupe_key = Set(key);
                a
            })
            .collect();
        let t = Instant::now();
        let txn = db.begin().await.unwrap();
        message::Entity::insert_many(copies)
            .on_conflict(sea_orm::sea_query::OnConflict::column(message::Column::DedupeKey).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        spent += t.elapsed().as_secs_f64();
    }
    spent
}

/// What rendering alone costs (CPU, no database): `n` status updates drawn
/// as the tick draws them (a new private link, the context, the template),
/// for the first thousand jobs over and over. Answers seconds.
async fn render_only(db: &Db, n: usize) -> f64 {
    use kept::messages::compose::{self, Parties, Plan};
    let org = kept::entities::organization::Entity::find().one(db).await.unwrap().unwrap();
    let jobs: Vec<job::Model> = job::Entity::find().limit(1000).all(db).await.unwrap();
    let customers = kept::store::customers::by_ids(db, jobs.iter().map(|j| j.customer_id)).await.unwrap();
    let templates = kept::messages::templates::Templates::embedded().unwrap();
    let wording = kept::messages::templates::Wording::none();
    let (zone, slot) = (kept::domain::time::Zone::parse("America/New_York").unwrap(), utc("2026-11-21T13:30:00Z"));
    let t = Instant::now();
    let mut drafts = 0;
    for i in 0..n {
        let j = &jobs[i % jobs.len()];
        let parties = Parties { org: &org, customer: &customers[&j.customer_id], job: j };
        let link = kept::messages::outbox::job_link("https://kept.example.test", j);
        let mut ctx = compose::base_ctx(&parties, &link.url);
        ctx.insert("slot".into(), serde_json::json!("morning"));
        ctx.insert("news".into(), serde_json::json!([]));
        ctx.insert("next_promise".into(), serde_json::Value::Null);
        ctx.insert("next_update".into(), serde_json::json!(compose::clock_time(zone, slot)));
        let plan = Plan {
            kind: MessageKind::StatusUpdate,
            key: format!("status_update:{}:{}", j.id, slot.timestamp()),
            visit_id: None,
            due_at: slot,
            expires_at: None,
            ctx: &ctx,
        };
        drafts += compose::drafts(&templates, &wording, &parties, plan).unwrap().len();
    }
    assert_eq!(drafts, n);
    t.elapsed().as_secs_f64()
}

/// This process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

/// Starts the peak resident set over from what is resident now (Linux).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn planning(label: &str, url: &str, n: usize) {
    let db = kept::db::connect(url, 4).await.unwrap();
    kept::db::migrate(&db).await.unwrap();
    // As `kept serve` does: SQLite's write-ahead log checkpointed every second.
    let checkpoints = {
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let _ = db.checkpoint().await;
            }
        })
    };
    let t = Instant::now();
    seed(&db, n).await;
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
    let reset = reset_peak_rss();
    // 2026-11-21T12:00Z: every zone has a slot after the jobs were created.
    let t = Instant::now();
    let report = planner::tick(&db, &n_ctx, utc("2026-11-21T12:00:00Z")).await.unwrap();
    let tick = t.elapsed().as_secs_f64();
    let rss = peak_rss_mb();
    let t = Instant::now();
    let again = planner::tick(&db, &n_ctx, utc("2026-11-21T12:01:00Z")).await.unwrap();
    let idle = t.elapsed().as_secs_f64();
    // The updates' promises, recorded by the ledger watch once the messages
    // have settled: every update marked sent (not timed), then one watch.
    db.execute_unprepared("UPDATE messages SET state = 'sent', sent_at = due_at WHERE kind = 'status_update'")
        .await
        .unwrap();
    let t = Instant::now();
    let watched = kept::notify::ledger::watch(&db, &n_ctx, utc("2026-11-21T12:02:00Z")).await.unwrap();
    let record = t.elapsed().as_secs_f64();
    assert_eq!(watched.updates_decided as usize, n, "one promise per update");
    let floor = floor(&db).await;
    checkpoints.abort();
    let render = render_only(&db, n).await;
    println!(
        "| {label:<8} | {n:>9} | {seeded:>6.1} s | {tick:>7.2} s | {:>8.1} | {floor:>6.2} s | {:>5.2}x | {render:>6.2} s | {rss:>6.0} MB{} | {idle:>6.2} s ({} new) | {record:>6.2} s |",
        tick * 1e6 / n as f64,
        tick / floor,
        if reset { "" } else { " (whole run)" },
        again.status_updates,
    );
    assert_eq!(report.status_updates as usize, n, "one update per open job");
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

/// One size on one database, in this process (a child of `main`).
async fn child(spec: &str) {
    let (db, n) = spec.split_once(':').unwrap();
    let n: usize = n.parse().unwrap();
    match db {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("kept-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            planning("sqlite", &format!("sqlite://{}/plan.db", dir.display()), n).await;
            let _ = std::fs::remove_dir_all(dir);
        }
        _ => {
            let pg_admin = std::env::var("KEPT_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let pg_db = format!("kept_bench_{}", std::process::id());
            let admin = kept::db::connect(&pg_admin, 1).await.unwrap();
            admin.execute_unprepared(&format!("CREATE DATABASE {pg_db}")).await.unwrap();
            let pg_url = format!("{}/{pg_db}", pg_admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&pg_admin));
            planning("postgres", &pg_url, n).await;
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")).await;
        }
    }
}

async fn postgres_reachable() -> bool {
    let pg_admin = std::env::var("KEPT_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match kept::db::connect(&pg_admin, 1).await {
        Ok(admin) => admin.execute_unprepared("SELECT 1").await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::main]
async fn main() {
    if let Ok(spec) = std::env::var("KEPT_BENCH_CHILD") {
        return child(&spec).await;
    }
    let sizes: Vec<usize> = std::env::var("KEPT_BENCH_JOBS")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let only = std::env::var("KEPT_BENCH_ONLY").unwrap_or_default();
    let mut dbs = Vec::new();
    if only.is_empty() || only == "sqlite" {
        dbs.push("sqlite");
    }
    if only.is_empty() || only == "postgres" {
        if postgres_reachable().await {
            dbs.push("postgres");
        } else {
            println!("postgres   skipped: no server");
        }
    }
    println!(
        "planning tick: open jobs across {} zones, one update each, vs a bulk insert of the same outbox rows",
        ZONES.len()
    );
    println!("| database | open jobs |   seed   |   tick    | µs/job   | floor    | tick/floor | rendering alone (CPU) | peak RSS (tick) | next tick (nothing due) | promises recorded (watch, after) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for n in &sizes {
        for db in &dbs {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .env("KEPT_BENCH_CHILD", format!("{db}:{n}"))
                .status()
                .unwrap();
            if !status.success() {
                println!("| {db} | {n} | failed: {status} |");
            }
        }
    }
    if std::env::var("KEPT_BENCH_SKIP_DELIVERY").is_err() {
        let dir = std::env::temp_dir().join(format!("kept-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        delivery(&format!("sqlite://{}/deliver.db", dir.display()), 8000).await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
