//! The `kept` command line.

use crate::helpers::{spawn_app_on, TestDb};
use reqwest::StatusCode;
use std::process::Command;

fn kept(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kept"))
        .args(args)
        .env("KEPT_DATABASE_URL", db_url)
        .env("KEPT_LOG", "warn")
        .output()
        .expect("run kept")
}

#[tokio::test]
async fn org_create_prints_a_working_api_token() {
    let db = TestDb::new().await;
    let out = kept(
        &db.url,
        &[
            "org",
            "create",
            "--name",
            "Kiwi Restoration",
            "--timezone",
            "Pacific/Auckland",
            "--admin-email",
            "ops@kiwi.example.test",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let token = printed["api_token"].as_str().expect("api_token").to_string();
    assert_eq!(printed["organization"]["timezone"], "Pacific/Auckland");
    let app = spawn_app_on(db).await;
    let me = app.get_as(&token, "/api/v1/organization").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["name"], "Kiwi Restoration");
    assert_eq!(me.body["travel_buffer_minutes"], 30);
}

#[tokio::test]
async fn org_create_explains_bad_input_and_migrate_is_repeatable() {
    let db = TestDb::new().await;
    let out =
        kept(&db.url, &["org", "create", "--name", "X", "--timezone", "Mars/Base", "--admin-email", "a@example.test"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--timezone") && err.contains("Mars/Base"), "{err}");
    for _ in 0..2 {
        let out = kept(&db.url, &["migrate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = kept("mysql://nope", &["migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEPT_DATABASE_URL"));
}

/// The README's first command, end to end: migrate, seed the demo, print the
/// token, serve, and run the notifier, which renders the demo's messages
/// into the outbox (no provider configured).
#[tokio::test]
async fn serve_seeds_the_demo_prints_a_token_and_runs_the_notifier() {
    use tokio::io::AsyncBufReadExt;
    let db = TestDb::new().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kept"))
        .arg("serve")
        .env("KEPT_DATABASE_URL", &db.url)
        .env("KEPT_LISTEN", "127.0.0.1:0")
        .env("KEPT_DEMO", "auto")
        .env("KEPT_LOG", "info")
        .env_remove("KEPT_SMTP_URL")
        .env_remove("KEPT_TWILIO_ACCOUNT_SID")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start kept serve");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut token, mut addr) = (None, None);
    let found = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("kept_")) {
                token.get_or_insert(t.trim_matches('\'').to_string());
            }
            if line.contains("serving") {
                addr = line.split("addr=").nth(1).map(|a| a.split_whitespace().next().unwrap_or("").to_string());
                break;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "the server did not start");
    let (token, addr) = (token.expect("a demo token on stderr"), addr.expect("the address on stderr"));
    let client = reqwest::Client::new();
    let mut states = Vec::new();
    for _ in 0..100 {
        let r: serde_json::Value = client
            .get(format!("http://{addr}/api/v1/outbox?kind=introduction&limit=200"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        states = r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["channel"].as_str().unwrap().to_string(), m["state"].as_str().unwrap().to_string()))
            .collect();
        // Settled: the worker has finished with every one of them.
        if states.len() == 10 && states.iter().all(|(_, s)| !matches!(s.as_str(), "pending" | "sending" | "retry")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Every message is rendered and marked not sent: with no provider there
    // is nothing to hold for quiet hours either.
    assert_eq!(states.len(), 10, "{states:?}");
    assert!(states.iter().all(|(_, s)| s == "not_sent_no_provider"), "{states:?}");
    let _ = child.kill().await;
}

/// Customers acknowledged (201) so far, by a writer that keeps going.
async fn keep_writing(
    app: std::sync::Arc<crate::helpers::TestApp>,
    acked: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    writer: usize,
) {
    let mut n = 0;
    // Bounded: at most 400 writes each, even if nobody says stop.
    while !stop.load(std::sync::atomic::Ordering::SeqCst) && n < 400 {
        let r = app
            .post(
                "/api/v1/customers",
                serde_json::json!({"name": format!("Writer {writer} #{n}"), "phone": "+1 212 555 0199", "timezone": "America/New_York"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        acked.lock().unwrap().push(r.id());
        n += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_writes_restores_every_acknowledged_row_intact() {
    if crate::helpers::backend() != crate::helpers::Backend::Sqlite {
        // On PostgreSQL the command points to pg_dump instead of copying anything.
        let db = TestDb::new().await;
        let out = kept(&db.url, &["backup", "/tmp/never-written.db"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        assert!(!std::path::Path::new("/tmp/never-written.db").exists());
        return;
    }
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};
    let db = TestDb::new().await;
    let url = db.url.clone();
    let app = Arc::new(spawn_app_on(db).await);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> =
        (0..4).map(|w| tokio::spawn(keep_writing(app.clone(), acked.clone(), stop.clone(), w))).collect();
    while acked.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before_backup: Vec<i64> = acked.lock().unwrap().clone();
    let dir = std::env::temp_dir().join(format!("kept-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("copy.db");
    let file_arg = file.to_string_lossy().to_string();
    let backup_url = url.clone();
    let out = tokio::task::spawn_blocking(move || kept(&backup_url, &["backup", &file_arg])).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.expect("writer");
    }
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("backed up to") && printed.contains(" s") && printed.contains("B"), "{printed}");
    let after_backup = acked.lock().unwrap().len();
    assert!(after_backup > before_backup.len(), "writes went on around the backup");

    // Never overwrites; never restores under a running server.
    let again = kept(&url, &["backup", &file.to_string_lossy()]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let refused = kept(&url, &["restore", &file.to_string_lossy()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stop it"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // A garbage file is refused and changes nothing.
    let restored_url = format!("sqlite://{}/restored.db", dir.display());
    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"definitely not a database").unwrap();
    let out = kept(&restored_url, &["restore", &junk.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SQLite database"));
    assert!(!dir.join("restored.db").exists());

    let out = kept(&restored_url, &["restore", &file.to_string_lossy()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&restored_url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.unwrap();
    assert_eq!(check, "ok");
    let stored: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers").fetch_all(&mut conn).await.unwrap();
    let missing: Vec<&i64> = before_backup.iter().filter(|id| !stored.contains(id)).collect();
    assert!(missing.is_empty(), "acknowledged before the backup but not in it: {missing:?}");
    conn.close().await.unwrap();
    // The restored file serves.
    let served = spawn_app_on(TestDb::new_at(&restored_url)).await;
    let r = served.get_as(&app.token, &format!("/api/v1/customers/{}", before_backup[0])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}
