//! The web pages in a real headless Chromium, driven over WebDriver
//! (chromedriver): a person signs in and out, and a customer approves an
//! estimate by tapping the button on their page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/install-browser).
//! Without them the test says it was skipped, unless
//! KEPT_TEST_REQUIRE_BROWSER=1 (as in CI), where that is a failure.

use crate::helpers::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn which(name: &str) -> Option<String> {
    ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).exists())
}

impl Driver {
    /// Starts chromedriver and a headless Chromium session, or None (skipped).
    async fn start() -> Option<Driver> {
        let (Some(driver), Some(chromium)) = (which("chromedriver"), which("chromium")) else {
            assert!(
                std::env::var("KEPT_TEST_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "chromium and chromedriver are required (scripts/install-browser)"
            );
            eprintln!("SKIPPED: browser test: install chromium and chromium-driver (scripts/install-browser)");
            return None;
        };
        // chromedriver picks its own free port (--port=0) and prints it, so no
        // other test can take the port between our choosing it and its binding.
        let mut child = Command::new(driver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromedriver");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let mut said = Vec::new();
        let port = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let port = line
                        .split_once("started successfully on port ")
                        .and_then(|(_, p)| p.trim_end_matches('.').trim().parse::<u16>().ok());
                    said.push(line);
                    if let Some(port) = port {
                        break port;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "chromedriver did not start ({e:?}); exit: {:?}; it said:\n{}",
                        child.try_wait(),
                        said.join("\n")
                    );
                }
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut ready = false;
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        ready = true;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver on port {port} never said it was ready");
        let profile = std::env::temp_dir().join(format!("kept-chromium-{port}"));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=412,900", "--lang=en-US",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let r: Value = http.post(format!("{base}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session =
            r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {r}")).to_string();
        Some(Driver { child, base, session, http, profile })
    }

    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.http.request(method, url);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let r: Value = req.send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
        match r["value"]["error"].as_str() {
            Some(err) => Err(format!("WebDriver {path}: {err}: {}", r["value"]["message"])),
            None => Ok(r["value"].clone()),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap().to_string()
    }

    /// The page's text; empty while a navigation replaces the page.
    async fn text(&self) -> String {
        let Ok(body) = self
            .try_call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": "body"})))
            .await
        else {
            return String::new();
        };
        let Some(id) = body[ELEMENT].as_str() else { return String::new() };
        match self.try_call(reqwest::Method::GET, &format!("/element/{id}/text"), None).await {
            Ok(v) => v.as_str().unwrap_or_default().to_string(),
            Err(_) => String::new(),
        }
    }

    /// Waits (up to 15 s, for a busy machine) until the page shows `needle`.
    async fn wait_text(&self, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..150 {
            last = self.text().await;
            if last.contains(needle) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {needle:?}; it shows:\n{last}");
    }

    /// Waits until the address ends with `suffix`.
    async fn wait_url(&self, suffix: &str) {
        for _ in 0..150 {
            if self.url().await.ends_with(suffix) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never reached {suffix}; at {}", self.url().await);
    }

    /// Saves what the browser shows, for a person to look at (target/).
    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or("")) {
            let _ = std::fs::write(format!("{}/target/browser-{name}.png", env!("CARGO_MANIFEST_DIR")), png);
        }
    }
}

async fn set_password(app: &TestApp, email: &str, pw: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    kept::entities::staff::Entity::update_many()
        .col_expr(
            kept::entities::staff::Column::PasswordHash,
            sea_orm::sea_query::Expr::value(kept::store::sessions::hash_password(pw).unwrap()),
        )
        .filter(kept::entities::staff::Column::Email.eq(email))
        .exec(&app.state.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn in_a_real_browser_staff_sign_in_and_a_customer_approves_an_estimate() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    let job = app.ny_job().await;
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    app.book(job, &[lena], "2026-11-20T13:00:00-05:00", "2026-11-20T15:00:00-05:00", 60).await;

    // A wrong password, then the right one.
    browser.go(&app.url("/login")).await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "wrong password").await;
    browser.click("button[type=submit]").await;
    browser.wait_text("do not match").await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app").await;
    let home = browser.wait_text("Sign out").await;
    assert!(home.contains("Test Restoration") && home.contains("Olive Owner") && home.contains("Leak"), "{home}");
    assert!(
        home.contains("Promises kept (last 30 days)") && home.contains("arrival window"),
        "the KPI dashboard: {home}"
    );
    // The office taps On my way for Lena, with an ETA; the customer's message is listed.
    browser.type_into("form.tap input[name=eta_minutes]", "20").await;
    browser.click("form.tap button").await;
    let home = browser.wait_text("Arrived").await;
    assert!(
        home.contains("en route") && home.contains("Latest messages") && home.contains("about 20 minutes"),
        "{home}"
    );
    browser.screenshot("app").await;
    // The job: the customer's story, and news for their next update.
    browser.click("a[href^='/app/jobs/']").await;
    browser.wait_text("In their words").await;
    browser.type_into("#note", "Parts ordered: the pump arrives Tuesday").await;
    browser.click("form[action$='/notes'] button").await;
    let page = browser.wait_text("Parts ordered: the pump arrives Tuesday").await;
    assert!(page.contains("Water under the sink.") && page.contains("Lena Okafor"), "{page}");
    browser.screenshot("job").await;
    // The office books a second visit for Lena, typing the window in the customer's time.
    browser.click(&format!("input[name=staff_ids][value='{lena}']")).await;
    browser.type_into("input[name=date]", "11212026").await;
    browser.type_into("input[name=start]", "0900AM").await;
    browser.type_into("input[name=end]", "1100AM").await;
    browser.click("form.book button").await;
    let page = browser.wait_text("Saturday, November 21, between 9:00 AM and 11:00 AM").await;
    assert!(!page.contains("is not"), "{page}");
    let visits = app.get(&format!("/api/v1/jobs/{job}/visits")).await.body["items"].clone();
    assert_eq!(visits[1]["window_start"], "2026-11-21T14:00:00Z", "{visits}");
    browser.go(&app.url("/app")).await;
    browser.wait_text("Sign out").await;
    browser.click("header form button").await;
    browser.wait_url("/login").await;
    browser.go(&app.url("/app")).await;
    browser.wait_url("/login").await; // signed out for good

    // The customer opens their link and taps Approve.
    let e = app
        .post(&format!("/api/v1/jobs/{job}/estimates"), json!({"tax_rate_bp": 825, "lines": [{"kind": "labor", "description": "Dry-out, 2 technicians", "quantity": "2.5", "unit": "h", "unit_price_minor": 8500}]}))
        .await
        .id();
    app.post(&format!("/api/v1/estimates/{e}/send"), json!({})).await;
    let body = app.outbox("kind=pricing_breakdown&channel=sms").await[0]["body_text"].as_str().unwrap().to_string();
    let i = body.find("/c/").unwrap() + 3;
    browser.go(&app.url(&format!("/c/{}", &body[i..i + 40]))).await;
    let page = browser.text().await;
    assert!(
        page.contains("Estimate (version 1)") && page.contains("$230.03") && page.contains("Lena Okafor"),
        "{page}"
    );
    browser.screenshot("customer").await;
    browser.click("form[action$='/approve'] button").await;
    browser.wait_text("You approved this estimate").await;
    let r = app.get(&format!("/api/v1/estimates/{e}")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("approved")));
    browser.call(reqwest::Method::DELETE, "", None).await;
}
