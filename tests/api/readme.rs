//! The README tells the truth: its Configuration table is what `kept --help`
//! lists, and its "Trying the API" walkthrough, run as written against a
//! freshly seeded demo, shows the conflict it promises, whatever the time
//! zone of the machine running it.

use crate::helpers::TestDb;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const README: &str = include_str!("../../README.md");

/// The text of the README from the heading `start` to the next line starting with `end`.
fn section<'a>(start: &str, end: &str) -> &'a str {
    let from = README.find(start).unwrap_or_else(|| panic!("README has no {start:?}"));
    let rest = &README[from + start.len()..];
    let to = rest.find(end).unwrap_or(rest.len());
    &rest[..to]
}

/// Every `KEPT_*` name in `text`.
fn var_names(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|w| w.starts_with("KEPT_") && w.len() > "KEPT_".len())
        .map(str::to_string)
        .collect()
}

/// The README's Configuration table: variable -> default, from the rows
/// starting with "| `KEPT_" (a row may name several variables).
fn readme_variables() -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for row in section("## Configuration", "\n## ").lines().filter(|l| l.starts_with("| `KEPT_")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(cells.len() >= 5, "a Configuration row with name, default and meaning: {row}");
        let default = cells[2].replace('`', "");
        let names = var_names(cells[1]);
        assert!(!names.is_empty(), "{row}");
        for name in names {
            assert!(vars.insert(name.clone(), default.clone()).is_none(), "{name} is in the table twice");
        }
    }
    vars
}

/// `kept --help`'s environment lines: variable -> default.
fn help_variables(help: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in help.lines().map(str::trim_start).filter(|l| l.starts_with("KEPT_")) {
        let name = line.split_whitespace().next().unwrap().to_string();
        let default = line
            .rsplit_once("[default: ")
            .and_then(|(_, d)| d.strip_suffix(']'))
            .unwrap_or_else(|| panic!("no [default: ...] on the help line: {line}"));
        let meaning = line[name.len()..line.len() - default.len() - "[default: ]".len()].trim();
        assert!(!meaning.is_empty(), "a meaning for {name}: {line}");
        assert!(vars.insert(name, default.to_string()).is_none(), "twice in the help: {line}");
    }
    vars
}

#[test]
fn help_lists_every_variable_of_the_readme_table_and_no_other() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kept")).arg("--help").output().expect("run kept --help");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8(out.stdout).expect("UTF-8 help");
    let in_help = help_variables(&help);
    let in_readme = readme_variables();
    assert!(in_readme.len() >= 10, "the README's Configuration table was not found: {in_readme:?}");
    let (h, r): (BTreeSet<&String>, BTreeSet<&String>) = (in_help.keys().collect(), in_readme.keys().collect());
    assert!(r.is_subset(&h), "in the README's Configuration table but not in `kept --help`: {:?}", &r - &h);
    assert!(h.is_subset(&r), "in `kept --help` but not in the README's Configuration table: {:?}", &h - &r);
    for (name, default) in &in_readme {
        assert_eq!(&in_help[name], default, "the default of {name}: `kept --help` vs the README");
    }
    // And every variable mentioned anywhere in the help is one it lists.
    for name in var_names(&help) {
        assert!(in_help.contains_key(&name), "{name} is mentioned in the help but not listed");
    }
}

/// `kept serve` on `db_url`, its address and demo token, and its log lines so far.
struct Server {
    child: tokio::process::Child,
    addr: String,
    token: String,
    log: Arc<Mutex<Vec<String>>>,
}

async fn serve_the_demo(db_url: &str) -> Server {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kept"))
        .arg("serve")
        .env("KEPT_DATABASE_URL", db_url)
        .env("KEPT_LISTEN", "127.0.0.1:0")
        .env("KEPT_DEMO", "auto")
        .env("KEPT_NOTIFIER", "off")
        .env_remove("KEPT_LOG") // the default format and filter
        .env_remove("KEPT_PUBLIC_URL")
        .env_remove("KEPT_SMTP_URL")
        .env_remove("KEPT_TWILIO_ACCOUNT_SID")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start kept serve");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (mut token, mut addr) = (None, None);
    let started = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("kept_")) {
                token.get_or_insert(t.trim_matches('\'').to_string());
            }
            let serving = line.contains("serving");
            if serving {
                addr = line.split("addr=").nth(1).map(|a| a.split_whitespace().next().unwrap_or("").to_string());
            }
            log.lock().unwrap().push(line);
            if serving {
                break;
            }
        }
    })
    .await;
    assert!(started.is_ok(), "the server did not start: {:?}", log.lock().unwrap());
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep.lock().unwrap().push(line);
        }
    });
    Server { child, addr: addr.expect("the address on stderr"), token: token.expect("a demo token on stderr"), log }
}

/// The shell blocks of "Trying the API", pointed at `addr`, the token
/// coming from the environment instead of the first run's output.
fn walkthrough(addr: &str) -> String {
    let text = section("## Trying the API", "The full API is described");
    let mut script = String::from("set -eu\n");
    let mut blocks = 0;
    for block in text.split("```sh\n").skip(1) {
        let (code, _) = block.split_once("```").expect("a closed code block");
        blocks += 1;
        for line in code.lines().filter(|l| !l.starts_with("export KEPT_TOKEN=")) {
            script.push_str(&line.replace("http://127.0.0.1:3000", &format!("http://{addr}")));
            script.push('\n');
        }
    }
    assert!(blocks >= 2, "the walkthrough's shell blocks: {text}");
    assert!(!script.contains("127.0.0.1:3000"), "{script}");
    script
}

fn have_curl() -> bool {
    std::process::Command::new("curl").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Run at 7 p.m. in New York on a machine set to UTC, the walkthrough once
/// computed "tomorrow" on the wrong day and booked a real visit instead of
/// showing the conflict. Kiritimati (UTC+14) and Pago Pago (UTC-11) are on
/// different dates from New York at every moment of the day, so a walkthrough
/// that computed dates from the machine's clock would fail in one of them.
#[tokio::test]
async fn the_walkthrough_shows_the_conflict_in_any_time_zone_and_books_nothing() {
    if !have_curl() {
        eprintln!("SKIPPED: the README walkthrough test needs curl");
        return;
    }
    let db = TestDb::new().await;
    let mut server = serve_the_demo(&db.url).await;
    let script = walkthrough(&server.addr);
    for tz in ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York"] {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("KEPT_TOKEN", &server.token)
            .env("TZ", tz)
            .output()
            .await
            .expect("run sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "TZ={tz}: the walkthrough failed:\n{stderr}\n{stdout}");
        assert!(stdout.contains("Marcus Bell") || stdout.contains("\"staff_id\":3"), "TZ={tz}: {stdout}");
        assert!(stdout.contains("\"error\":\"schedule_conflict\""), "TZ={tz}: no conflict:\n{stdout}");
        assert!(stdout.contains("\"conflicting_visit_ids\":[1]"), "TZ={tz}: not Marcus's first estimate:\n{stdout}");
        assert!(stdout.trim_end().ends_with("HTTP 409"), "TZ={tz}: {stdout}");
    }
    // Nothing was booked: Walter's job still has only its own visit.
    let visits: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/jobs/2/visits", server.addr))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(visits["items"].as_array().unwrap().len(), 1, "{visits}");

    // The server logged one readable line per request: method, path without
    // its query, status, latency, request id; and never the token.
    let wanted =
        ["GET /api/v1/jobs/1/visits 200 ", "GET /api/v1/staff/3/schedule 200 ", "POST /api/v1/jobs/2/visits 409 "];
    let mut log = Vec::new();
    for _ in 0..50 {
        log = server.log.lock().unwrap().clone();
        if wanted.iter().all(|w| log.iter().any(|l| l.contains(w))) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let all = log.join("\n");
    for w in wanted {
        let line = log.iter().find(|l| l.contains(w)).unwrap_or_else(|| panic!("no {w:?} line in the log:\n{all}"));
        let mut last = line.rsplit(' ');
        let id = last.next().unwrap();
        let latency = last.next().unwrap();
        assert!(latency.ends_with("ms") || latency.ends_with('s'), "a latency before the id: {line}");
        let id = id.strip_prefix("id=").unwrap_or_else(|| panic!("a request id at the end: {line}"));
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "a request id at the end: {line}");
    }
    let starting = log.iter().find(|l| l.contains("starting: database ")).unwrap_or_else(|| panic!("{all}"));
    assert!(starting.contains("listening on 127.0.0.1:0") && starting.contains("notifier off"), "{starting}");
    // (The demo banner prints the token once, on purpose, before serving.)
    let after_start = log.iter().skip_while(|l| !l.contains("serving")).cloned().collect::<Vec<_>>().join("\n");
    assert!(!after_start.contains(&server.token), "the token was logged:\n{after_start}");
    assert!(!all.contains("date="), "a query string was logged:\n{all}");
    assert!(!all.contains("Settings {"), "a Debug struct was logged:\n{all}");
    let _ = server.child.kill().await;
}
