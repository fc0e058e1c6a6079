//! The web pages in a real headless Chromium, driven over WebDriver
//! (chromedriver): a person signs in and out, and a customer approves an
//! estimate by tapping the button on their page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/install-browser).
//! Without them the test says it was skipped, unless
//! KEPT_TEST_REQUIRE_BROWSER=1 (as in CI), where that is a failure.

use crate::helpers::{spawn_app, utc, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: std::path::PathBuf,
    /// One browser at a time: several Chromiums starting at once on a busy
    /// two-core machine is what made chromedriver miss its start.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

static BROWSER_TURN: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Killing chromedriver leaves its Chromium running: end the browser
        // by its own profile directory, or every test leaves one behind.
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(format!("user-data-dir={}", self.profile.display()))
            .status();
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
    pub(crate) async fn start() -> Option<Driver> {
        let (Some(driver), Some(chromium)) = (which("chromedriver"), which("chromium")) else {
            assert!(
                std::env::var("KEPT_TEST_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "chromium and chromedriver are required (scripts/install-browser)"
            );
            eprintln!("SKIPPED: browser test: install chromium and chromium-driver (scripts/install-browser)");
            return None;
        };
        let turn = BROWSER_TURN.clone().lock_owned().await;
        // chromedriver picks its own free port (--port=0) and prints it, so no
        // other test can take the port between our choosing it and its binding.
        // Its own pick can still collide with a port another process is
        // binding at that moment ("IPv4 port not available"): then it starts again.
        let mut attempt = 0;
        let (child, rx, port) = loop {
            attempt += 1;
            let mut child = Command::new(&driver)
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
                            break Some(port);
                        }
                    }
                    Err(e) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        if attempt < 3 && said.iter().any(|l| l.contains("port not available")) {
                            break None;
                        }
                        panic!(
                            "chromedriver did not start ({e:?}); exit: {:?}; it said:\n{}",
                            child.try_wait(),
                            said.join("\n")
                        );
                    }
                }
            };
            if let Some(port) = port {
                break (child, rx, port);
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
        Some(Driver { child, base, session, http, profile, _turn: turn })
    }

    pub(crate) async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
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

    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    pub(crate) async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap().to_string()
    }

    /// The page's text; empty while a navigation replaces the page.
    pub(crate) async fn text(&self) -> String {
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
    pub(crate) async fn wait_text(&self, needle: &str) -> String {
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
    pub(crate) async fn wait_url(&self, suffix: &str) {
        for _ in 0..150 {
            if self.url().await.ends_with(suffix) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never reached {suffix}; at {}", self.url().await);
    }

    /// Saves what the browser shows, for a person to look at
    /// (target/screenshots/{name}.png).
    pub(crate) async fn screenshot(&self, name: &str) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        save_png(name, b64.as_str().unwrap_or(""));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub(crate) async fn js(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// A Chrome DevTools command, through chromedriver.
    pub(crate) async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(reqwest::Method::POST, "/goog/cdp/execute", Some(json!({"cmd": cmd, "params": params}))).await
    }

    /// Shows pages as a screen `width` CSS pixels wide does (`phone`: a
    /// touch screen honouring the viewport meta tag), from here on.
    pub(crate) async fn screen(&self, width: u32, phone: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": if phone { 844 } else { 900 }, "deviceScaleFactor": 1, "mobile": phone}),
        )
        .await;
    }

    /// How wide the page is laid out, against how wide the screen is: more
    /// than the screen means the reader has to scroll sideways.
    pub(crate) async fn widths(&self) -> (i64, i64) {
        let v = self.js("return [document.documentElement.scrollWidth, window.innerWidth];", json!([])).await;
        (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0))
    }

    /// The text of the page's section headed `heading`: as shown
    /// (`innerText`), or all of it, folded parts too (`textContent`).
    pub(crate) async fn section(&self, heading: &str, shown: bool) -> Option<String> {
        let v = self
            .js(
                "const h = [...document.querySelectorAll('h2')].find(h => h.textContent.trim() === arguments[0]);
                 const s = h && h.closest('section');
                 return s ? (arguments[1] ? s.innerText : s.textContent) : null;",
                json!([heading, shown]),
            )
            .await;
        v.as_str().map(String::from)
    }

    /// The rows (list items or table rows) of the section headed `heading`,
    /// each as one line of the text shown.
    pub(crate) async fn rows(&self, heading: &str) -> Vec<String> {
        let v = self
            .js(
                "const h = [...document.querySelectorAll('h2')].find(h => h.textContent.trim() === arguments[0]);
                 const s = h && h.closest('section');
                 return s ? [...s.querySelectorAll('li, tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim()) : [];",
                json!([heading]),
            )
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Saves the whole page, top to bottom, as the current screen shows it.
    pub(crate) async fn full_page_screenshot(&self, name: &str) {
        let v = self.cdp("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true})).await;
        save_png(name, v["data"].as_str().unwrap_or(""));
    }
}

pub(crate) fn save_png(name: &str, b64: &str) {
    use base64::Engine;
    let dir = format!("{}/target/screenshots", env!("CARGO_MANIFEST_DIR"));
    if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64) {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(format!("{dir}/{name}.png"), png);
    }
}

pub(crate) async fn set_password(app: &TestApp, email: &str, pw: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    kept::entities::staff::Entity::update_many()
        .col_expr(
            kept::entities::staff::Column::PasswordHash,
            sea_orm::sea_query::Expr::value(kept::store::sessions::hash_password(pw).await.unwrap()),
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
    browser.screenshot("staff-home").await;
    // The job: the customer's story, and news for their next update.
    browser.click("a[href^='/app/jobs/']").await;
    browser.wait_text("In their words").await;
    browser.type_into("#note", "Parts ordered: the pump arrives Tuesday").await;
    browser.click("form[action$='/notes'] button").await;
    let page = browser.wait_text("Parts ordered: the pump arrives Tuesday").await;
    assert!(page.contains("Water under the sink.") && page.contains("Lena Okafor"), "{page}");
    browser.screenshot("staff-job").await;
    // The office books a second visit for Lena, typing the window in the customer's time.
    browser.click(&format!("form.book input[name=staff_ids][value='{lena}']")).await;
    browser.type_into("form.book input[name=date]", "11212026").await;
    browser.type_into("form.book input[name=start]", "0900AM").await;
    browser.type_into("form.book input[name=end]", "1100AM").await;
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
    browser.screen(390, true).await;
    browser.go(&app.url(&format!("/c/{}", &body[i..i + 40]))).await;
    let page = browser.text().await;
    assert!(
        page.contains("Estimate (version 1)") && page.contains("$230.03") && page.contains("Lena Okafor"),
        "{page}"
    );
    browser.full_page_screenshot("customer-estimate").await;
    browser.click("form[action$='/approve'] button").await;
    browser.wait_text("You approved this estimate").await;
    let r = app.get(&format!("/api/v1/estimates/{e}")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("approved")));
    browser.call(reqwest::Method::DELETE, "", None).await;
}

/// The customer's private link, from the first message on `job` that has it.
async fn customer_link(app: &TestApp, job: i64) -> String {
    let messages = app.outbox(&format!("job_id={job}")).await;
    let body = messages
        .iter()
        .filter_map(|m| m["body_text"].as_str())
        .find(|b| b.contains("/c/"))
        .unwrap_or_else(|| panic!("no message on job {job} carries the customer's link: {messages:?}"));
    let i = body.find("/c/").unwrap() + 3;
    app.url(&format!("/c/{}", &body[i..i + 40]))
}

#[tokio::test]
async fn the_customers_page_reads_right_after_a_reschedule_and_after_completion() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await; // Friday, November 20, 10:00 AM in New York
    let lena = app.staff("Lena Okafor", "technician", "America/New_York").await;
    let job = app.ny_job().await;
    let r = app.book(job, &[lena], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let visit = r.id();
    app.tick().await;
    let r = app
        .patch(
            &format!("/api/v1/visits/{visit}"),
            json!({"window_start": "2026-11-24T13:00:00-05:00", "window_end": "2026-11-24T15:00:00-05:00",
                   "reason": "The replacement valve arrives Tuesday morning."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.tick().await;
    let link = customer_link(&app, job).await;

    // 1. Rescheduled: the page on a phone.
    browser.screen(390, true).await;
    browser.go(&link).await;
    let page = browser.wait_text("Who is coming").await;
    assert!(page.contains("this job is scheduled") || page.contains("Next:"), "{page}");
    let coming = browser.section("Who is coming", true).await.expect("a Who is coming section");
    assert!(coming.contains("Tuesday, November 24, between 1:00 PM and 3:00 PM EST"), "the new window: {coming}");
    assert!(coming.contains("Lena Okafor"), "{coming}");
    assert!(!coming.contains("November 23"), "the old window is not coming any more: {coming}");
    let promises = browser.rows("Our promises to you").await;
    let old = promises
        .iter()
        .find(|l| l.contains("Monday, November 23, between 9:00 AM and 11:00 AM"))
        .unwrap_or_else(|| panic!("the old arrival promise is listed: {promises:?}"));
    assert!(old.contains("↻ renegotiated"), "the old arrival promise was renegotiated: {old:?}");
    assert!(
        promises
            .iter()
            .any(|l| l.contains("Tuesday, November 24, between 1:00 PM and 3:00 PM") && l.contains("pending")),
        "the new arrival promise is pending: {promises:?}"
    );
    let told = browser.section("What we told you", true).await.expect("the messages");
    assert!(told.to_lowercase().contains("visit rescheduled"), "{told}");
    let told_all = browser.section("What we told you", false).await.unwrap();
    assert!(told_all.contains("The replacement valve arrives Tuesday morning."), "{told_all}");
    let (laid_out, screen) = browser.widths().await;
    assert!(laid_out <= screen, "no sideways scrolling on a phone: {laid_out}px on a {screen}px screen");
    browser.full_page_screenshot("customer-rescheduled-visit").await;
    // Every message unfolded: long lines and links wrap, nothing runs off the screen.
    browser.js("document.querySelectorAll('details').forEach(d => d.open = true);", json!([])).await;
    let told = browser.section("What we told you", true).await.unwrap();
    assert!(told.contains("The replacement valve arrives Tuesday morning."), "{told}");
    let (laid_out, screen) = browser.widths().await;
    assert!(laid_out <= screen, "messages unfolded: {laid_out}px on a {screen}px screen");
    browser.full_page_screenshot("customer-rescheduled-visit-messages").await;

    // 2. Tuesday: Lena is on her way at 1:10, arrives at 1:30 (inside the
    // window), finishes at 3:15; the office closes the job.
    for (at, status) in [
        ("2026-11-24T18:10:00Z", "en_route"),
        ("2026-11-24T18:30:00Z", "arrived"),
        ("2026-11-24T20:15:00Z", "completed"),
    ] {
        app.clock.set(utc(at));
        let r = app.post(&format!("/api/v1/visits/{visit}/status"), json!({"status": status})).await;
        assert_eq!(r.status, StatusCode::OK, "{status}: {}", r.body);
        app.tick().await;
    }
    let r = app.patch(&format!("/api/v1/jobs/{job}"), json!({"status": "completed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.tick().await;

    browser.go(&link).await;
    let page = browser.wait_text("How did we do?").await;
    assert!(page.contains("this job is completed"), "{page}");
    assert!(!page.contains("Next:"), "nothing is next on a completed job: {page}");
    assert!(!page.contains("Who is coming"), "nobody is coming: {page}");
    let scores = browser
        .js(
            "return [...document.querySelectorAll('form[action$=\"/rating\"] button[name=score]')].map(b => b.value);",
            json!([]),
        )
        .await;
    assert_eq!(scores, json!(["1", "2", "3", "4", "5"]), "one tap to rate us");
    let promises = browser.rows("Our promises to you").await;
    assert!(
        promises
            .iter()
            .any(|l| l.contains("Tuesday, November 24, between 1:00 PM and 3:00 PM") && l.contains("✔ kept")),
        "we arrived inside the new window: {promises:?}"
    );
    assert!(!promises.iter().any(|l| l.contains("✘ broken")), "no promise broken: {promises:?}");
    let told = browser.section("What we told you", true).await.expect("the messages");
    assert!(told.to_lowercase().contains("visit rescheduled"), "{told}");
    let (laid_out, screen) = browser.widths().await;
    assert!(laid_out <= screen, "no sideways scrolling on a phone: {laid_out}px on a {screen}px screen");
    browser.full_page_screenshot("customer-completed-job").await;
    browser.screen(360, true).await; // a small phone
    browser.go(&link).await;
    browser.wait_text("How did we do?").await;
    let (laid_out, screen) = browser.widths().await;
    assert!(laid_out <= screen, "no sideways scrolling on a small phone: {laid_out}px on a {screen}px screen");
    browser.screen(1280, false).await;
    browser.go(&link).await;
    browser.wait_text("How did we do?").await;
    browser.full_page_screenshot("customer-completed-job-desktop").await;
    browser.call(reqwest::Method::DELETE, "", None).await;
}

#[tokio::test]
async fn in_a_real_browser_the_dispatcher_moves_a_visit_on_the_board() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    app.staff("Lena Okafor", "technician", "America/New_York").await;
    let nadia = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "timezone": "America/New_York", "address": "48 Linden St"}),
        )
        .await
        .id();
    let job = app.job(nadia).await;
    app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T10:00:00-05:00", 90).await;
    let walter = app.customer("Walter Kim", "America/New_York").await;
    let job2 = app.job(walter).await;
    let second = app.book(job2, &[marcus], "2026-11-23T13:00:00-05:00", "2026-11-23T14:00:00-05:00", 90).await.id();
    // Nobody has booked this one yet: it waits in the side list.
    let rosa = app.customer("Rosa Delgado", "America/New_York").await;
    let unbooked = app.post("/api/v1/jobs", json!({"customer_id": rosa, "title": "Sump pump alarm"})).await.id();

    browser.screen(1366, false).await;
    browser.go(&app.url("/login")).await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app").await;
    browser.go(&app.url("/app/board?date=2026-11-23")).await;
    let board = browser.wait_text("Monday, November 23").await;
    assert!(
        board.contains("Marcus Bell") && board.contains("Lena Okafor") && board.contains("1:00 PM–2:00 PM"),
        "{board}"
    );
    browser.full_page_screenshot("board-desktop").await;
    let (page, screen) = browser.widths().await;
    assert!(page <= screen, "the page fits the screen (the board scrolls inside it): {page} > {screen}");

    // The keyboard path: the one move form beside the board, naming the
    // visit (the same person). Into a conflict first.
    let move_to = |start: &'static str| {
        format!(
            "const f = document.querySelector(\"form[action='/app/board/move']\");
             f.elements.visit_id.value = '{second}'; f.elements.staff_id.value = '';
             f.elements.start.value = '{start}';
             f.querySelector('button').click(); return true;"
        )
    };
    browser.js(&move_to("09:15"), json!([])).await;
    let refused = browser.wait_text("Nothing was changed.").await;
    assert!(refused.contains("Marcus could no longer reach 48 Linden St between 9:00 and 10:00 AM"), "{refused}");
    browser.screenshot("board-refused").await;
    let still = app.get(&format!("/api/v1/visits/{second}")).await.body;
    assert_eq!(
        crate::helpers::utc(still["window_start"].as_str().unwrap()),
        crate::helpers::utc("2026-11-23T13:00:00-05:00")
    );

    // Then into a slot that keeps every window: the board redraws itself.
    browser.js(&move_to("11:30"), json!([])).await;
    browser.wait_text("Moved; the customer is told.").await;
    browser.wait_text("11:30 AM–12:30 PM").await;
    assert!(browser.url().await.ends_with("/app/board?date=2026-11-23"), "no reload, no navigation");
    let moved = app.get(&format!("/api/v1/visits/{second}")).await.body;
    assert_eq!(
        crate::helpers::utc(moved["window_start"].as_str().unwrap()),
        crate::helpers::utc("2026-11-23T11:30:00-05:00")
    );

    // Live: the technician taps On my way on their phone; the board shows it
    // without a reload.
    let lena = app.get("/api/v1/staff").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Lena Okafor")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // A mark in the page: a reload would wipe it.
    browser.js("window.keptMark = 42; return true;", json!([])).await;
    let job3 = app.job(walter).await;
    let lenas = app.book(job3, &[lena], "2026-11-23T14:00:00-05:00", "2026-11-23T16:00:00-05:00", 60).await.id();
    browser.wait_text("2:00 PM–4:00 PM").await;
    app.clock.set(crate::helpers::utc("2026-11-23T13:40:00-05:00"));
    let (crew, crew_csrf) = app.session_for(lena).await;
    let tapped = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url(&format!("/app/visits/{lenas}/status")))
        .header(reqwest::header::COOKIE, crew)
        .form(&[("csrf", crew_csrf.as_str()), ("status", "en_route"), ("eta_minutes", "20")])
        .send()
        .await
        .unwrap();
    assert_eq!(tapped.status(), StatusCode::SEE_OTHER);
    browser.wait_text("on the way since 1:40 PM").await;
    assert_eq!(browser.js("return window.keptMark;", json!([])).await, json!(42), "updated in place, not reloaded");
    browser.screenshot("board-live").await;

    // The job's page is live too: Lena arrives, and it says so in place.
    browser.go(&app.url(&format!("/app/jobs/{job3}"))).await;
    browser.wait_text("Timeline").await;
    browser.js("window.keptMark = 7; return true;", json!([])).await;
    let (crew, crew_csrf) = app.session_for(lena).await;
    let arrived = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url(&format!("/app/visits/{lenas}/status")))
        .header(reqwest::header::COOKIE, crew)
        .form(&[("csrf", crew_csrf.as_str()), ("status", "arrived")])
        .send()
        .await
        .unwrap();
    assert_eq!(arrived.status(), StatusCode::SEE_OTHER);
    let page = browser.wait_text("arrived").await;
    assert!(page.contains("Timeline"), "{page}");
    assert_eq!(browser.js("return window.keptMark;", json!([])).await, json!(7), "updated in place, not reloaded");

    // On a phone the page still fits; the lanes scroll sideways inside it.
    browser.screen(360, true).await;
    browser.go(&app.url("/app/board?date=2026-11-23")).await;
    browser.wait_text("Monday, November 23").await;
    let (page, screen) = browser.widths().await;
    assert!(page <= screen, "fits a phone: {page} > {screen}");
    browser.full_page_screenshot("board-phone").await;

    // A new job's free windows on the day, in the estimator's lane; one
    // tap books the earliest, and the board shows it there.
    browser.screen(1366, false).await;
    browser.go(&app.url("/app/board?date=2026-11-23")).await;
    browser.wait_text("Not booked yet").await;
    browser.click(&format!("a[href='/app/board?date=2026-11-23&job={unbooked}']")).await;
    let free = browser.wait_text("Free windows for “Sump pump alarm”").await;
    assert!(free.contains("Book "), "{free}");
    browser.full_page_screenshot("board-free-windows").await;
    browser.click(".offer button").await;
    browser.wait_text("Rosa Delgado").await;
    let visits = app.get(&format!("/api/v1/jobs/{unbooked}/visits")).await.body;
    assert_eq!(visits["items"][0]["staff_ids"], json!([marcus]), "{visits}");
}

#[tokio::test]
async fn in_a_real_browser_a_phone_call_is_taken_and_booked_on_a_phone() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let r = app
        .post(
            "/api/v1/customers",
            json!({"name": "Nadia Brooks", "phone": "+1 212 555 0142", "address": "48 Linden St"}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED);

    browser.screen(390, true).await;
    browser.go(&app.url("/login")).await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app").await;
    browser.go(&app.url("/app/new")).await;
    browser.wait_text("Who is calling?").await;
    // Found as the office types, without a reload.
    browser.type_into("#q", "linden").await;
    browser.wait_text("Nadia Brooks").await;
    assert!(browser.url().await.ends_with("/app/new"), "searched in place");
    browser.full_page_screenshot("new-call-search-phone").await;

    // A new caller instead: added with the same rules as the API.
    browser.type_into("#name", "Rosa Delgado").await;
    browser.type_into("#phone", "(718) 555-0163").await;
    browser.type_into("#address", "1450 Grand Concourse, Bronx").await;
    browser.click("section[aria-labelledby=add-h] button[type=submit]").await;
    browser.wait_text("Their job, and the visit").await;
    browser.type_into("#title", "Sump pump alarm keeps going off").await;
    browser.type_into("#story", "The alarm has gone off three times since Sunday. I'm home after 3.").await;
    // The earliest window that keeps every promise is offered first, and chosen.
    let page = browser.wait_text("The earliest windows that keep every promise").await;
    assert!(page.contains("Marcus Bell"), "{page}");
    browser.full_page_screenshot("new-call-job-phone").await;
    browser.click("section[aria-labelledby=job-h] button[type=submit]").await;
    let done = browser.wait_text("is about to receive").await;
    assert!(done.contains("Booked: Rosa Delgado") && done.contains("Marcus"), "{done}");
    let (page, screen) = browser.widths().await;
    assert!(page <= screen, "fits a phone: {page} > {screen}");
    browser.full_page_screenshot("new-call-done-phone").await;
}

#[tokio::test]
async fn in_a_real_browser_the_homeowner_picks_another_time() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    let marcus = app.staff("Marcus Bell", "estimator", "America/New_York").await;
    let job = app.ny_job().await;
    let visit = app.book(job, &[marcus], "2026-11-23T09:00:00-05:00", "2026-11-23T11:00:00-05:00", 60).await.id();
    browser.screen(390, true).await;
    browser.go(&customer_link(&app, job).await).await;
    browser.wait_text("Who is coming").await;
    browser.click("details.other-times summary").await;
    let offered = browser.wait_text("These times work for Marcus Bell").await;
    browser.full_page_screenshot("customer-other-time-phone").await;
    let first = browser.js("return document.querySelector('details.other-times button').innerText;", json!([])).await;
    let first = first.as_str().unwrap().to_string();
    assert!(offered.contains(&first), "{offered}");
    browser.click("details.other-times button").await;
    // The button's words are on the page before it is pressed: wait for the new page.
    let after = browser.wait_text(&format!("work visit: {first}")).await;
    assert!(after.contains(&format!("work visit: {first}")), "who is coming, at the new time: {after}");
    let moved = app.get(&format!("/api/v1/visits/{visit}")).await.body;
    assert_ne!(utc(moved["window_start"].as_str().unwrap()), utc("2026-11-23T09:00:00-05:00"));
}

#[tokio::test]
async fn in_a_real_browser_the_office_adds_a_customer_and_a_bad_phone_saves_nothing() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    let before = app.get("/api/v1/customers").await.body["items"].as_array().unwrap().len();

    browser.screen(390, true).await;
    browser.go(&app.url("/login")).await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app").await;
    browser.go(&app.url("/app/customers")).await;
    browser.wait_text("Add a customer").await;
    browser.click("a[href='/app/customers/new']").await;
    browser.wait_text("Send updates by").await;
    browser.type_into("input[name=name]", "Rosa Delgado").await;
    browser.type_into("input[name=phone]", "555").await;
    browser.type_into("input[name=address]", "1450 Grand Concourse, Bronx").await;
    browser.click("form.customer button[type=submit]").await;
    let refused = browser.wait_text("Nothing was saved").await;
    assert!(refused.contains("Phone:"), "the phone's own problem is shown beside it: {refused}");
    let typed = browser.js("return document.querySelector('input[name=name]').value", json!([])).await;
    assert_eq!(typed, json!("Rosa Delgado"), "what was typed is kept");
    assert_eq!(app.get("/api/v1/customers").await.body["items"].as_array().unwrap().len(), before, "nothing was saved");
    browser.full_page_screenshot("customer-form-refused-phone").await;

    browser.js("document.querySelector('input[name=phone]').value = ''; return true", json!([])).await;
    browser.type_into("input[name=phone]", "(718) 555-0163").await;
    browser.click("form.customer button[type=submit]").await;
    let page = browser.wait_text("How we reach them").await;
    assert!(
        page.contains("Rosa Delgado") && page.contains("+17185550163") && page.contains("updates go here"),
        "{page}"
    );
    let (width, screen) = browser.widths().await;
    assert!(width <= screen, "fits a phone: {width} > {screen}");
    browser.full_page_screenshot("customer-page-phone").await;
    let all = app.get("/api/v1/customers").await.body;
    let rosa = all["items"].as_array().unwrap().iter().find(|c| c["name"] == "Rosa Delgado").expect("saved");
    assert_eq!(rosa["phone"], "+17185550163");

    // Found again from the list's search, by the digits of the phone.
    browser.go(&app.url("/app/customers?q=555-0163")).await;
    let found = browser.wait_text("Customers").await;
    assert!(found.contains("Rosa Delgado"), "{found}");
}

#[tokio::test]
async fn in_a_real_browser_the_office_writes_revises_and_sends_an_estimate_and_the_customer_approves() {
    let Some(browser) = Driver::start().await else { return };
    let app = spawn_app().await;
    set_password(&app, "owner@example.test", "correct horse battery").await;
    let job = app.ny_job().await;

    browser.go(&app.url("/login")).await;
    browser.type_into("#email", "owner@example.test").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("button[type=submit]").await;
    browser.wait_url("/app").await;
    browser.go(&app.url(&format!("/app/jobs/{job}"))).await;
    browser.wait_text("Write an estimate").await;
    browser.click(&format!("a[href='/app/jobs/{job}/estimate']")).await;
    browser.wait_text("Write the estimate").await;

    // Two lines and a tax; a price typed wrong first is named by its line.
    let fill = |row: usize, css: &str| format!("table.lines tr:nth-child({}) input[name={css}]", row + 1);
    browser.type_into(&fill(1, "description"), "Dry out the basement").await;
    browser.type_into(&fill(1, "quantity"), "6").await;
    browser.type_into(&fill(1, "unit"), "hr").await;
    browser.type_into(&fill(1, "price"), "85").await;
    browser.js("document.querySelectorAll('select[name=kind]')[1].value = 'equipment'; return true", json!([])).await;
    browser.type_into(&fill(2, "description"), "Dehumidifier rental").await;
    browser.type_into(&fill(2, "quantity"), "2").await;
    browser.type_into(&fill(2, "unit"), "day").await;
    browser.type_into(&fill(2, "price"), "45.505").await;
    browser.type_into("input[name=tax_name]", "Sales tax").await;
    // New York City's rate, with one decimal too many the first time.
    browser.type_into("input[name=tax_rate]", "8.8755").await;
    browser.click("form.estimate button[type=submit]").await;
    let refused = browser.wait_text("Nothing was saved").await;
    assert!(refused.contains("Line 2, unit price: '45.505' has more than 2 decimal places"), "{refused}");
    assert!(refused.contains("Tax 1, rate: '8.8755' has more than 3 decimal places"), "{refused}");
    assert!(app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"].as_array().unwrap().is_empty());
    browser.js("document.querySelectorAll('input[name=price]')[1].value = ''; return true", json!([])).await;
    browser.type_into(&fill(2, "price"), "45.50").await;
    browser.js("document.querySelector('input[name=tax_rate]').value = ''; return true", json!([])).await;
    browser.type_into("input[name=tax_rate]", "8.875").await;
    browser.click("form.estimate button[type=submit]").await;
    let saved = browser.wait_text("Version 1: not sent yet").await;
    // The server's prices, exactly as the API has them: 60,100 × 8.875% =
    // 5,333.875 -> $53.34.
    let api = app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"][0].clone();
    assert_eq!(api["total"], "$654.34", "601.00 + 8.875% tax (53.34)");
    assert_eq!(api["taxes"][0]["rate_percent"], "8.875");
    assert!(saved.contains(api["total"].as_str().unwrap()) && saved.contains("$53.34"), "{saved}");
    assert!(saved.contains("Sales tax (8.875%)"), "{saved}");
    let typed = browser.js("return document.querySelector('input[name=tax_rate]').value", json!([])).await;
    assert_eq!(typed, json!("8.875"), "the rate reads back as it was typed");
    browser.click("form[action$='/send'] button").await;
    browser.wait_text("Revise it (a new version)").await;
    assert_eq!(app.outbox("kind=pricing_breakdown").await.len(), 2, "text and email");

    // A revision: 8 hours instead of 6. The editor says what the customer will read changed.
    browser.js("document.querySelectorAll('input[name=quantity]')[0].value = ''; return true", json!([])).await;
    browser.type_into(&fill(1, "quantity"), "8").await;
    browser.click("form.estimate button[type=submit]").await;
    let preview = browser.wait_text("What the customer will read changed since version 1").await;
    assert!(preview.contains("Changed: Dry out the basement, $510.00 → $680.00 (6 → 8)"), "{preview}");
    // 77,100 × 8.875% = 6,842.625 -> $68.43; $771.00 + $68.43 = $839.43.
    assert!(preview.contains("Total: $654.34 → $839.43"), "{preview}");
    browser.full_page_screenshot("estimate-editor").await;
    browser.click("form[action$='/send'] button").await;
    browser.wait_text("Revise it (a new version)").await;

    // The customer approves version 2 from their link; the editor shows it.
    let link = customer_link(&app, job).await;
    browser.screen(390, true).await;
    browser.go(&link).await;
    browser.wait_text("Estimate (version 2)").await;
    browser.click("form[action$='/approve'] button").await;
    browser.wait_text("You approved this estimate").await;
    let v2 = app.get(&format!("/api/v1/jobs/{job}/estimates")).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == 2)
        .cloned()
        .unwrap();
    assert_eq!(v2["status"], "approved");
    browser.go(&app.url(&format!("/app/jobs/{job}/estimate"))).await;
    let page = browser.wait_text("Versions").await;
    assert!(page.contains("approved") && page.contains("The customer has answered"), "{page}");
    let (width, screen) = browser.widths().await;
    assert!(width <= screen, "the editor fits a phone: {width} > {screen}");
    browser.full_page_screenshot("estimate-editor-phone").await;
}
