//! Several `kept serve` processes on one database, delivering to one
//! Twilio-compatible server: exactly once, through a SIGKILL mid-send and a
//! SIGTERM with sends in flight, and starting together on an empty database.
//!
//! These need PostgreSQL (several processes serving one database is a
//! PostgreSQL deployment; a SQLite file is served by one process): on
//! SQLite each test prints that it was skipped and returns.

use crate::fakes::FakeTwilio;
use crate::helpers::{backend, Backend, TestDb};
use kept::domain::messaging::{MessageKind, MessageState};
use kept::domain::people::Channel;
use kept::entities::message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

fn postgres_only(test: &str) -> bool {
    if backend() == Backend::Sqlite {
        // Straight to stderr, past the test harness's capture, so the run shows it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED on SQLite: {test} runs several `kept serve` processes on one PostgreSQL database"
        );
        return false;
    }
    true
}

/// One `kept serve` process and what it has written to stderr.
struct Replica {
    child: tokio::process::Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// Starts `kept serve` on `db_url` (its own port) and waits until it serves.
async fn start(db_url: &str, env: &[(&str, String)]) -> Replica {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kept"));
    cmd.arg("serve")
        .env("KEPT_DATABASE_URL", db_url)
        .env("KEPT_LISTEN", "127.0.0.1:0")
        .env("KEPT_DEMO", "never")
        .env("KEPT_LOG", "info")
        .env_remove("KEPT_SMTP_URL")
        .env_remove("KEPT_METRICS_TOKEN")
        .env_remove("KEPT_METRICS_LISTEN")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start kept serve");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let keep = log.clone();
    tokio::spawn(async move {
        let mut addr_tx = Some(addr_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("serving") && !line.contains("/metrics") {
                if let Some(addr) = line.split("addr=").nth(1).and_then(|a| a.split_whitespace().next()) {
                    if let Some(tx) = addr_tx.take() {
                        let _ = tx.send(addr.to_string());
                    }
                }
            }
            keep.lock().unwrap().push(line);
        }
    });
    let addr = match tokio::time::timeout(Duration::from_secs(60), addr_rx).await {
        Ok(Ok(a)) => a,
        _ => panic!("kept serve did not start:\n{}", log.lock().unwrap().join("\n")),
    };
    Replica { child, addr, log }
}

/// The fake provider's settings with short timeouts and leases.
fn env_for(twilio: &FakeTwilio, timeout_secs: u64, lease_secs: u64) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> =
        twilio.env().into_iter().filter(|(k, _)| *k != "KEPT_TWILIO_TIMEOUT_SECS").collect();
    env.push(("KEPT_TWILIO_TIMEOUT_SECS", timeout_secs.to_string()));
    env.push(("KEPT_DELIVERY_LEASE_SECS", lease_secs.to_string()));
    env
}

/// An organization (through the CLI, on a migrated database) and `n` due
/// texts in its outbox, announced the way a request announces them.
async fn queue_texts(db_url: &str, n: usize) -> kept::db::Db {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kept"))
        .args(["org", "create", "--name", "Replica Roofing", "--timezone", "America/Chicago"])
        .args(["--admin-email", "owner@replica.example.test"])
        .env("KEPT_DATABASE_URL", db_url)
        .env("KEPT_LOG", "warn")
        .output()
        .expect("kept org create");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let org: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let org_id = org["organization"]["id"].as_i64().unwrap();
    let db = kept::db::connect(db_url, 4).await.unwrap();
    let now = chrono::Utc::now();
    let rows = (0..n).map(|i| message::ActiveModel {
        organization_id: Set(org_id),
        kind: Set(MessageKind::StatusUpdate),
        channel: Set(Channel::Sms),
        recipient: Set(format!("+1212555{:04}", i)),
        body_text: Set(format!("Replica Roofing: update {i} on your roof.")),
        dedupe_key: Set(format!("replicas:{i}")),
        state: Set(MessageState::Pending),
        due_at: Set(now),
        next_attempt_at: Set(now),
        attempts: Set(0),
        // Whatever the hour where the test runs: quiet hours are tested elsewhere.
        quiet_hours_exempt_until: Set(Some(now + chrono::Duration::days(1))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    });
    let txn = db.begin().await.unwrap();
    message::Entity::insert_many(rows).exec_without_returning(&txn).await.unwrap();
    kept::notify::wake(&txn).await.unwrap();
    txn.commit().await.unwrap();
    db
}

async fn states(db: &kept::db::Db) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in message::Entity::find().all(db).await.unwrap() {
        *counts.entry(m.state.to_string()).or_insert(0) += 1;
    }
    counts
}

/// Waits (up to `limit`) until every message is sent; the time it took.
/// On failure, says what the replicas logged.
async fn until_all_sent(db: &kept::db::Db, n: usize, limit: Duration, replicas: &[&Replica]) -> Duration {
    let started = Instant::now();
    loop {
        let s = states(db).await;
        if s.get("sent").copied().unwrap_or(0) == n {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not all sent after {limit:?}: {s:?}\n{}",
            replicas.iter().map(|r| r.log()).collect::<Vec<_>>().join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_each_once(twilio: &FakeTwilio, n: usize) {
    let accepted = twilio.accepted();
    let bodies: BTreeSet<String> = accepted.iter().map(|f| f["Body"].clone()).collect();
    assert_eq!(bodies.len(), n, "every message reached the provider");
    assert_eq!(accepted.len(), n, "and none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_deliver_every_due_message_exactly_once() {
    if !postgres_only("three_replicas_deliver_every_due_message_exactly_once") {
        return;
    }
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start().await;
    twilio.set_latency(Duration::from_millis(100));
    let env = env_for(&twilio, 2, 4);
    let first = start(&db.url, &env).await;
    let (second, third) = tokio::join!(start(&db.url, &env), start(&db.url, &env));
    let replicas = [first, second, third];
    let conn = queue_texts(&db.url, 150).await;
    until_all_sent(&conn, 150, Duration::from_secs(30), &replicas.iter().collect::<Vec<_>>()).await;
    assert_each_once(&twilio, 150);
    let sids: BTreeSet<String> = message::Entity::find()
        .all(&conn)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.provider_id.expect("a provider id"))
        .collect();
    assert_eq!(sids.len(), 150, "each row carries its own message's SID");
    // Every replica LISTENs, so the one announcement wakes them all and they share the work.
    let delivering = replicas.iter().filter(|r| r.log().contains(" sent")).count();
    assert!(delivering >= 2, "{}", replicas.iter().map(Replica::log).collect::<Vec<_>>().join("\n---\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_send_loses_nothing_and_sends_nothing_twice() {
    if !postgres_only("a_replica_killed_mid_send_loses_nothing_and_sends_nothing_twice") {
        return;
    }
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start().await;
    // Accepted at once, answered after 1.5 s: a kill in between leaves sends
    // that reached Twilio but were never recorded.
    twilio.set_latency(Duration::from_millis(1500));
    let lease = 4;
    let mut env = env_for(&twilio, 3, lease);
    env.push(("KEPT_DELIVERY_CONCURRENCY", "8".into()));
    let mut replicas = [start(&db.url, &env).await, start(&db.url, &env).await, start(&db.url, &env).await];
    let n = 40;
    let conn = queue_texts(&db.url, n).await;
    // The victim: a replica with sends started and not yet answered.
    let started = Instant::now();
    // Killed only once Twilio has accepted one of its sends (answered 1.5 s
    // later), so the survivors have one to find in Twilio's list.
    let victim = loop {
        let accepted: BTreeSet<String> = twilio.accepted().iter().map(|f| f["Body"].clone()).collect();
        let busy: Vec<String> = message::Entity::find()
            .filter(message::Column::State.eq(MessageState::Sending))
            .filter(message::Column::SendStartedAt.is_not_null())
            .all(&conn)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| accepted.contains(&m.body_text))
            .filter_map(|m| m.lease_owner)
            .collect();
        let found = replicas.iter().position(|r| busy.iter().any(|o| o.starts_with(&format!("{}-", r.pid()))));
        if let Some(i) = found {
            break i;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no replica ever had a send in flight");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let victim_owner_prefix = format!("{}-", replicas[victim].pid());
    replicas[victim].child.start_kill().expect("SIGKILL");
    let killed_at = Instant::now();
    let _ = replicas[victim].child.wait().await;
    let in_flight_at_kill = message::Entity::find()
        .filter(message::Column::State.eq(MessageState::Sending))
        .filter(message::Column::SendStartedAt.is_not_null())
        .all(&conn)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.lease_owner.as_deref().is_some_and(|o| o.starts_with(&victim_owner_prefix)))
        .count();
    assert!(in_flight_at_kill > 0, "the kill came mid-send");
    let took = until_all_sent(&conn, n, Duration::from_secs(4 * lease), &replicas.iter().collect::<Vec<_>>()).await;
    let since_kill = killed_at.elapsed();
    assert_each_once(&twilio, n);
    assert!(twilio.list_reads() > 0, "the survivors asked Twilio about the dead replica's sends");
    assert!(
        since_kill <= Duration::from_secs(2 * lease),
        "the last one was settled {since_kill:?} after the kill (all sent {took:?} after it was checked)"
    );
    let survivors: String = replicas.iter().map(Replica::log).collect::<Vec<_>>().join("\n");
    assert!(survivors.contains("found at Twilio after its worker stopped"), "{survivors}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_the_sends_in_flight_records_them_and_exits_0() {
    if !postgres_only("sigterm_finishes_the_sends_in_flight_records_them_and_exits_0") {
        return;
    }
    let db = TestDb::new().await;
    let twilio = FakeTwilio::start().await;
    twilio.set_latency(Duration::from_millis(1500));
    let mut env: Vec<(&'static str, String)> =
        env_for(&twilio, 3, 6).into_iter().filter(|(k, _)| *k != "KEPT_SMS_RATE_PER_SECOND").collect();
    // 4 claimed at once, paced 2 a second: one or two in flight, the rest
    // waiting their turn when SIGTERM comes.
    env.push(("KEPT_DELIVERY_CONCURRENCY", "4".into()));
    env.push(("KEPT_SMS_RATE_PER_SECOND", "2".into()));
    let mut replica = start(&db.url, &env).await;
    let n = 12;
    let conn = queue_texts(&db.url, n).await;
    let started = Instant::now();
    while twilio.received().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "nothing was sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight = twilio.received().len();
    let status = std::process::Command::new("kill").args(["-TERM", &replica.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), replica.child.wait())
        .await
        .expect("exits within the lease")
        .expect("exit status");
    assert!(exit.success(), "exit 0, got {exit:?}:\n{}", replica.log());
    let rows = message::Entity::find().all(&conn).await.unwrap();
    let sent: Vec<&message::Model> = rows.iter().filter(|m| m.state == MessageState::Sent).collect();
    assert!(sent.len() >= in_flight, "the {in_flight} in flight at SIGTERM were answered and recorded");
    assert!(sent.iter().all(|m| m.provider_id.is_some()));
    assert_eq!(sent.len(), twilio.accepted().len(), "recorded exactly what the provider accepted");
    let given_back: Vec<&message::Model> = rows.iter().filter(|m| m.state != MessageState::Sent).collect();
    assert!(!given_back.is_empty(), "some were still waiting for the pace at SIGTERM");
    for m in given_back {
        assert_eq!(m.state, MessageState::Pending, "the rest were given back, not left claimed: {m:?}");
        assert!(m.lease_owner.is_none() && m.send_started_at.is_none());
    }
    let log = replica.log();
    assert!(log.contains("given back at shutdown") && log.contains("delivery stopped"), "{log}");
    // What was given back goes out with the next replica.
    let next = start(&db.url, &env).await;
    until_all_sent(&conn, n, Duration::from_secs(20), &[&next]).await;
    assert_each_once(&twilio, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_starting_at_once_on_an_empty_database_migrate_once_and_all_serve() {
    if !postgres_only("three_replicas_starting_at_once_on_an_empty_database_migrate_once_and_all_serve") {
        return;
    }
    let db = TestDb::new().await;
    let (a, b, c) = tokio::join!(start(&db.url, &[]), start(&db.url, &[]), start(&db.url, &[]));
    let replicas = [a, b, c];
    let client = reqwest::Client::new();
    for r in &replicas {
        let health = client.get(format!("http://{}/healthz", r.addr)).send().await.unwrap();
        assert_eq!(health.status(), 200, "{}", r.log());
    }
    let migrated: Vec<bool> = replicas.iter().map(|r| r.log().contains("database migrations")).collect();
    assert_eq!(
        migrated.iter().filter(|m| **m).count(),
        1,
        "exactly one applied the migrations: {migrated:?}\n{}",
        replicas.iter().map(Replica::log).collect::<Vec<_>>().join("\n---\n")
    );
}
