//! Delivery figures, each next to its floor measured in the same run:
//!
//! - throughput to a local Twilio-compatible server answering after 0 ms
//!   and 150 ms, with 1 and 3 replicas (each its own pool, transports and
//!   worker, in this process) on one PostgreSQL database, the pace set high:
//!   messages/s, and its ratio to the pace ceiling; two floors: the same
//!   number of requests sent straight to the server at the same
//!   concurrency, with no database at all, and the same number of rows
//!   claimed and marked by the same replicas with no provider at all (what
//!   the database and the shared cores allow without any HTTP);
//! - enqueue to provider: a transaction queues one text and announces it
//!   (as a status tap does), the delivery loop of `kept serve` sends it: p50
//!   and p99 of the time until the server has it, 150 ms server.
//!
//! Knobs: KEPT_BENCH_POSTGRES_URL (admin URL, default
//! postgres://postgres@127.0.0.1:5432/postgres), KEPT_BENCH_MESSAGES
//! (default 3000), KEPT_BENCH_PACE (SMS/s, default 2000),
//! KEPT_BENCH_CONCURRENCY (sends in flight per replica, default 128).

use chrono::Utc;

use kept::domain::messaging::{MessageKind, MessageState};
use kept::domain::people::Channel;
use kept::entities::message;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When the server received each body.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A Twilio-compatible endpoint on loopback: accepts everything, answers after `latency`.
async fn fake_twilio(latency: Duration, arrivals: Arrivals) -> String {
    use axum::routing::post;
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(move |axum::Form(f): axum::Form<HashMap<String, String>>| {
            let (arrivals, n) = (arrivals.clone(), n.clone());
            async move {
                let body = f.get("Body").cloned().unwrap_or_default();
                arrivals.lock().unwrap().insert(body, Instant::now());
                let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(serde_json::json!({"sid": format!("SM{i:032x}"), "status": "queued"})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Runs `replicas` workers (each its own pool, transports and worker) until
/// nothing is due; answers how many texts they sent and how many rows they
/// claimed.
async fn drain_replicas(
    url: &str,
    replicas: usize,
    concurrency: usize,
    transports: impl Fn() -> kept::notify::transport::Transports,
) -> (usize, usize) {
    let runs = (0..replicas).map(|_| {
        let url = url.to_string();
        let transports = transports();
        tokio::spawn(async move {
            let db = kept::db::connect(&url, 16).await.unwrap();
            let live = kept::live::Bus::new();
            let w = kept::notify::worker::Worker {
                concurrency,
                ..kept::notify::worker::Worker::new(&db, &transports, &live)
            };
            kept::notify::worker::drain_with(&w, &kept::clock::SystemClock).await.unwrap()
        })
    });
    let (mut sent, mut claimed) = (0, 0);
    for r in futures::future::join_all(runs).await {
        let r = r.unwrap();
        sent += r.sent;
        claimed += r.claimed;
    }
    (sent, claimed)
}

/// The database's floor: the same rows claimed and marked by the same
/// replicas, with no provider at all (each row is claimed in a batch and
/// marked `no_provider` with its live event: no pace, no start mark, no HTTP).
async fn database_floor(url: &str, org: i64, replicas: usize, n: usize, concurrency: usize) -> f64 {
    let admin = kept::db::connect(url, 4).await.unwrap();
    queue(&admin, org, &format!("floor-{replicas}"), n).await;
    let t = Instant::now();
    let none = || kept::notify::transport::Transports {
        twilio: None,
        smtp: None,
        sms_pacer: kept::notify::transport::Pacer::per_second(1.0, "none"),
    };
    let (_, claimed) = drain_replicas(url, replicas, concurrency, none).await;
    let rate = claimed as f64 / t.elapsed().as_secs_f64();
    admin.execute_unprepared("DELETE FROM messages").await.unwrap();
    rate
}

fn transports(base: &str, pace: f64) -> kept::notify::transport::Transports {
    let settings = kept::config::TwilioSettings {
        account_sid: "AC0".into(),
        auth_token: "t".into(),
        from: Some("+12065550100".into()),
        messaging_service_sid: None,
        base_url: base.to_string(),
        timeout_secs: 10,
    };
    kept::notify::transport::Transports {
        twilio: Some(kept::notify::transport::Twilio::new(settings, "http://127.0.0.1").unwrap()),
        smtp: None,
        sms_pacer: kept::notify::transport::Pacer::per_second(pace, "twilio:bench"),
    }
}

/// Now as Kept's clock says it (whole seconds, as every enqueue stamps its rows).
fn now() -> chrono::DateTime<Utc> {
    kept::clock::Clock::now(&kept::clock::SystemClock)
}

async fn queue(db: &kept::db::Db, org: i64, tag: &str, n: usize) {
    let now = now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let rows = chunk.iter().map(|i| message::ActiveModel {
            organization_id: Set(org),
            kind: Set(MessageKind::StatusUpdate),
            channel: Set(Channel::Sms),
            recipient: Set(format!("+1212555{:04}", i % 10_000)),
            body_text: Set(format!("{tag} {i}")),
            dedupe_key: Set(format!("{tag}:{i}")),
            state: Set(MessageState::Pending),
            due_at: Set(now),
            next_attempt_at: Set(now),
            attempts: Set(0),
            quiet_hours_exempt_until: Set(Some(now + chrono::Duration::days(1))),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        message::Entity::insert_many(rows).exec_without_returning(db).await.unwrap();
    }
}

/// The floor: `n` requests straight to the server, `concurrency` at a time.
async fn raw_http(base: &str, n: usize, concurrency: usize) -> f64 {
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let url = format!("{base}/2010-04-01/Accounts/AC0/Messages.json");
    let t = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let form =
                    [("To", "+12125550100".to_string()), ("From", "+12065550100".into()), ("Body", format!("raw {i}"))];
                client.post(url).form(&form).send().await.unwrap().bytes().await.unwrap();
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    n as f64 / t.elapsed().as_secs_f64()
}

async fn throughput(url: &str, org: i64, latency_ms: u64, replicas: usize, n: usize, pace: f64, concurrency: usize) {
    let arrivals: Arrivals = Default::default();
    let base = fake_twilio(Duration::from_millis(latency_ms), arrivals.clone()).await;
    let floor = raw_http(&base, n.min(2000), concurrency * replicas).await;
    let tag = format!("tp-{latency_ms}-{replicas}");
    let admin = kept::db::connect(url, 4).await.unwrap();
    queue(&admin, org, &tag, n).await;
    let t = Instant::now();
    let (sent, claimed) = drain_replicas(url, replicas, concurrency, || transports(&base, pace)).await;
    if sent != claimed {
        println!("           (the replicas claimed {claimed} and sent {sent})");
    }
    let secs = t.elapsed().as_secs_f64();
    admin.execute_unprepared("DELETE FROM messages").await.unwrap();
    let db_floor = database_floor(url, org, replicas, n, concurrency).await;
    let rate = sent as f64 / secs;
    let ceiling = pace.min(floor).min(db_floor);
    println!(
        "| {latency_ms:>3} ms | {replicas} | {sent:>6} in {secs:>5.2} s | **{rate:>5.0}/s** | {:>3.0}% of {pace:.0}/s | {floor:>5.0}/s ({} in flight) | {db_floor:>5.0}/s | {:>3.0}% |",
        100.0 * rate / pace,
        concurrency * replicas,
        100.0 * rate / ceiling,
    );
}

async fn enqueue_to_provider(url: &str, org: i64, n: usize) {
    let arrivals: Arrivals = Default::default();
    let base = fake_twilio(Duration::from_millis(150), arrivals.clone()).await;
    let db = kept::db::connect(url, 16).await.unwrap();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    kept::notify::wake::listen(url, stopping.clone()).await.unwrap();
    let notifier = kept::notify::Notifier {
        db: db.clone(),
        notify: kept::notify::NotifyCtx {
            templates: Arc::new(kept::messages::templates::Templates::embedded().unwrap()),
            public_url: "https://kept.example.test".into(),
            live: kept::live::Bus::new(),
        },
        transports: Arc::new(transports(&base, 2000.0)),
        plan_lock: Default::default(),
        deliver_lock: Default::default(),
        clock: Arc::new(kept::clock::SystemClock),
        concurrency: 32,
        lease: chrono::Duration::seconds(30),
    };
    let delivery = kept::notify::spawn_delivery(notifier, stopping);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut queued = HashMap::new();
    for i in 0..n {
        let body = format!("tap {i}");
        let now = now();
        let txn = db.begin().await.unwrap();
        message::Entity::insert(message::ActiveModel {
            organization_id: Set(org),
            kind: Set(MessageKind::OnMyWay),
            channel: Set(Channel::Sms),
            recipient: Set("+12125550100".into()),
            body_text: Set(body.clone()),
            dedupe_key: Set(format!("tap:{i}")),
            state: Set(MessageState::Pending),
            due_at: Set(now),
            next_attempt_at: Set(now),
            attempts: Set(0),
            quiet_hours_exempt_until: Set(Some(now + chrono::Duration::days(1))),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await
        .unwrap();
        kept::notify::wake(&txn).await.unwrap();
        let at = Instant::now();
        txn.commit().await.unwrap();
        queued.insert(body, at);
        // About 20 taps a second.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = Instant::now();
    while arrivals.lock().unwrap().len() < n && t.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let _ = delivery.await;
    let got = arrivals.lock().unwrap().clone();
    let mut ms: Vec<f64> = queued
        .iter()
        .filter_map(|(b, q)| got.get(b).map(|a| a.saturating_duration_since(*q).as_secs_f64() * 1000.0))
        .collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| ms.get(((ms.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN);
    // The floor: one commit (a transaction with one insert) on the same database.
    let t = Instant::now();
    for _ in 0..50 {
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("SELECT 1").await.unwrap();
        txn.commit().await.unwrap();
    }
    let commit_ms = t.elapsed().as_secs_f64() * 1000.0 / 50.0;
    println!(
        "enqueue→provider  {} of {n} taps arrived  p50 {:>6.1} ms  p99 {:>6.1} ms  (target p99 < 1000 ms; the minute tick alone: up to 60000 ms)  floor: one transaction {commit_ms:.1} ms",
        ms.len(),
        pct(0.5),
        pct(0.99),
    );
    db.execute_unprepared("DELETE FROM messages").await.unwrap();
}

#[tokio::main]
async fn main() {
    let env = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let n = env("KEPT_BENCH_MESSAGES", 3000.0) as usize;
    let pace = env("KEPT_BENCH_PACE", 2000.0);
    let concurrency = env("KEPT_BENCH_CONCURRENCY", 128.0) as usize;
    let pg_admin = std::env::var("KEPT_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("kept_bench_delivery_{}", std::process::id());
    let admin = match kept::db::connect(&pg_admin, 1).await {
        Ok(a) => a,
        Err(e) => {
            println!("delivery   skipped: no PostgreSQL at {pg_admin}: {e}");
            return;
        }
    };
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let url = format!("{}/{name}", pg_admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&pg_admin));
    let db = kept::db::connect(&url, 4).await.unwrap();
    kept::db::migrate(&db).await.unwrap();
    let org = kept::demo::create_org(
        &db,
        &kept::clock::SystemClock,
        "Bench Roofing",
        "America/Chicago",
        "o@bench.test",
        None,
    )
    .await
    .unwrap()
    .organization
    .id;
    println!(
        "delivery: {n} texts per row, pace {pace:.0}/s, {concurrency} sends in flight per replica, one PostgreSQL"
    );
    println!("| provider | replicas | sent | rate | share of the pace | floor: raw HTTP, no database | floor: database, no provider (claims + marks) | share of min(pace, floors) |");
    println!("|---|---|---|---|---|---|---|---|");
    for latency in [0, 150] {
        for replicas in [1, 3] {
            throughput(&url, org, latency, replicas, n, pace, concurrency).await;
        }
    }
    enqueue_to_provider(&url, org, 200).await;
    drop(db);
    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}
