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
        if states.len() == 8 && states.iter().all(|(_, s)| !matches!(s.as_str(), "pending" | "sending" | "retry")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Every message is rendered and marked not sent: with no provider there
    // is nothing to hold for quiet hours either.
    assert_eq!(states.len(), 8, "{states:?}");
    assert!(states.iter().all(|(_, s)| s == "not_sent_no_provider"), "{states:?}");
    let _ = child.kill().await;
}
