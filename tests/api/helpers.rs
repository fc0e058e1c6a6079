use chrono::{DateTime, Utc};
use kept::clock::ManualClock;
use kept::config::Settings;
use kept::startup::Application;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("test timestamp").with_timezone(&Utc)
}

/// Which database this run of the suite uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// The server URL to create a fresh database on, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
    Postgres(String),
}

pub fn backend() -> Backend {
    match std::env::var("KEPT_TEST_BACKEND").unwrap_or_default().as_str() {
        "postgres" => Backend::Postgres(
            std::env::var("KEPT_TEST_POSTGRES_URL")
                .expect("KEPT_TEST_BACKEND=postgres needs KEPT_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)"),
        ),
        "" | "sqlite" => Backend::Sqlite,
        other => panic!("KEPT_TEST_BACKEND must be sqlite or postgres, not {other}"),
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

/// A fresh, empty database, removed when dropped.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another TestDb owns the database (a second server on the same one).
    Nothing,
}

impl TestDb {
    pub async fn new() -> TestDb {
        match backend() {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("kept-test-{}", random_suffix()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                TestDb { url: format!("sqlite://{}/kept.db", dir.display()), cleanup: Cleanup::Dir(dir) }
            }
            Backend::Postgres(admin_url) => {
                use sqlx::Connection;
                let name = format!("kept_test_{}", random_suffix());
                let mut conn =
                    sqlx::PgConnection::connect(&admin_url).await.expect("connect to KEPT_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
                let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_string()).expect("URL with a database name");
                TestDb { url: format!("{base}/{name}"), cleanup: Cleanup::Postgres { admin_url, name } }
            }
        }
    }
}

impl TestDb {
    /// A database at `url` that the test removes itself.
    pub fn new_at(url: &str) -> TestDb {
        TestDb { url: url.to_string(), cleanup: Cleanup::Nothing }
    }

    /// The same database again, for a second server ("a restart").
    pub fn shared(&self) -> TestDb {
        TestDb { url: self.url.clone(), cleanup: Cleanup::Nothing }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    rt.block_on(async {
                        use sqlx::Connection;
                        let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await
                            .ok()
                    })
                })
                .join();
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// Admin token of the organization created for this test.
    pub token: String,
    pub org_id: i64,
    pub clock: ManualClock,
    pub state: kept::state::AppState,
    /// Kept until the app is dropped; removes the database then.
    #[allow(dead_code)]
    pub db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Answers that did not match the OpenAPI document (see `schema_check`).
    violations: crate::schema_check::Violations,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let violations = std::mem::take(&mut *self.violations.lock().unwrap());
        if !violations.is_empty() && !std::thread::panicking() {
            panic!("{} answers did not match the OpenAPI document:\n{}", violations.len(), violations.join("\n"));
        }
    }
}

pub const DEFAULT_NOW: &str = "2026-11-20T15:00:00Z";

pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDb::new().await).await
}

pub async fn spawn_app_on(db: TestDb) -> TestApp {
    spawn_app_with(db, &[]).await
}

/// An app with extra `KEPT_*` settings (e.g. pointing at fake providers).
/// The notifier's cron is off: tests drive ticks with [`TestApp::tick`].
pub async fn spawn_app_with(db: TestDb, extra: &[(&str, String)]) -> TestApp {
    let url = db.url.clone();
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let settings = Settings::from_lookup(|k| {
        if let Some((_, v)) = extra.iter().find(|(ek, _)| ek == k) {
            return Some(v.clone());
        }
        match k {
            "KEPT_DATABASE_URL" => Some(url.clone()),
            "KEPT_LISTEN" => Some("127.0.0.1:0".into()),
            "KEPT_DEMO" => Some("never".into()),
            "KEPT_DB_MAX_CONNECTIONS" => Some("10".into()),
            "KEPT_NOTIFIER" => Some("off".into()),
            "KEPT_PUBLIC_URL" => Some("https://kept.example.test".into()),
            _ => None,
        }
    })
    .expect("test settings");
    let clock = ManualClock::new(utc(DEFAULT_NOW));
    let app = Application::build_with_clock(settings, Arc::new(clock.clone())).await.expect("app builds");
    // Every request goes through a proxy that holds the answers against
    // the OpenAPI document.
    let (base, violations) = crate::schema_check::start(format!("http://{}", app.local_addr())).await;
    let state = app.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(async {
        let _ = rx.await;
    }));
    let created = kept::demo::create_org(
        &state.db,
        &clock,
        "Test Restoration",
        "America/New_York",
        "owner@example.test",
        Some("Olive Owner".into()),
    )
    .await
    .expect("org");
    TestApp {
        base,
        client: reqwest::Client::new(),
        token: created.api_token,
        org_id: created.organization.id,
        clock,
        state,
        db,
        shutdown: Some(tx),
        violations,
    }
}

/// A response's status and JSON body, for one-line assertions.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub async fn from(r: Response) -> Reply {
        let status = r.status();
        // An event stream never ends: its status is the answer (see `events`).
        if r.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream")) {
            return Reply { status, body: Value::Null };
        }
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// The fields named in a 422 body.
    pub fn fields(&self) -> Vec<String> {
        self.body["fields"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["field"].as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    pub fn id(&self) -> i64 {
        self.body["id"].as_i64().unwrap_or_else(|| panic!("no id in {} {}", self.status, self.body))
    }
}

impl TestApp {
    /// One notifier tick at the test clock's time: plan, then deliver.
    pub async fn tick(&self) -> (kept::notify::planner::TickReport, kept::notify::worker::DeliveryReport) {
        kept::notify::run_tick(&self.state.notifier()).await.expect("tick")
    }

    /// The outbox, filtered by a query string such as `kind=status_update`.
    pub async fn outbox(&self, query: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/outbox?limit=200&{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["items"].as_array().cloned().unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        Reply::from(self.client.get(self.url(path)).bearer_auth(token).send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_as(&self.token, path).await
    }

    pub async fn send_as(&self, token: &str, method: reqwest::Method, path: &str, body: &Value) -> Reply {
        Reply::from(
            self.client.request(method, self.url(path)).bearer_auth(token).json(body).send().await.expect("request"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send_as(&self.token, reqwest::Method::POST, path, &body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send_as(&self.token, reqwest::Method::PATCH, path, &body).await
    }

    /// Creates a staff member and returns their id.
    pub async fn staff(&self, name: &str, role: &str, tz: &str) -> i64 {
        let email = format!("{}@example.test", name.to_lowercase().replace(' ', "."));
        let r = self
            .post(
                "/api/v1/staff",
                json!({"name": name, "role": role, "email": email, "timezone": tz, "phone": "+1 212 555 0150"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    /// A signed-in session for a staff member, as the sign-in form opens
    /// one: the `Cookie` header value and the session's CSRF token.
    pub async fn session_for(&self, staff_id: i64) -> (String, String) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let pw = "a long enough password";
        let hash = kept::store::sessions::hash_password(pw).await.expect("hash");
        let person = kept::entities::staff::Entity::find_by_id(staff_id)
            .one(&self.state.db)
            .await
            .expect("read")
            .expect("the staff member");
        kept::entities::staff::Entity::update_many()
            .col_expr(kept::entities::staff::Column::PasswordHash, sea_orm::sea_query::Expr::value(hash))
            .filter(kept::entities::staff::Column::Id.eq(staff_id))
            .exec(&self.state.db)
            .await
            .expect("set a password");
        let (_, token, csrf) = kept::store::sessions::sign_in(
            &self.state.db,
            &person.email,
            pw,
            "127.0.0.1",
            kept::clock::Clock::now(&self.clock),
        )
        .await
        .expect("sign in")
        .expect("the password works");
        (format!("kept_session={token}"), csrf)
    }

    pub async fn customer(&self, name: &str, tz: &str) -> i64 {
        let r = self
            .post(
                "/api/v1/customers",
                json!({"name": name, "phone": "+1 212 555 0199", "email": "c@example.test", "timezone": tz, "address": "1 Main St"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    pub async fn job(&self, customer_id: i64) -> i64 {
        let r = self
            .post(
                "/api/v1/jobs",
                json!({"customer_id": customer_id, "title": "Leak", "story": "Water under the sink."}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    /// A job for a New York customer, ready for visits.
    pub async fn ny_job(&self) -> i64 {
        let c = self.customer("Nadia Brooks", "America/New_York").await;
        self.job(c).await
    }

    pub async fn book(&self, job_id: i64, staff_ids: &[i64], start: &str, end: &str, minutes: i64) -> Reply {
        self.post(
            &format!("/api/v1/jobs/{job_id}/visits"),
            json!({"kind": "work", "staff_ids": staff_ids, "window_start": start, "window_end": end, "duration_minutes": minutes}),
        )
        .await
    }

    /// The admin token of a second organization ("Rival Roofing") on the same database.
    pub async fn rival_token(&self) -> String {
        kept::demo::create_org(
            &self.state.db,
            &self.clock,
            "Rival Roofing",
            "America/Chicago",
            "boss@rival.example.test",
            None,
        )
        .await
        .expect("a second organization")
        .api_token
    }

    /// Issues a token with `role` (tied to `staff_id`) in this test's organization.
    pub async fn token_for(&self, role: kept::domain::people::Role, staff_id: Option<i64>) -> String {
        kept::store::orgs::issue_token(&self.state.db, self.org_id, staff_id, role, "test", utc(DEFAULT_NOW))
            .await
            .expect("token")
    }
}
