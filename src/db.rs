//! Connecting to SQLite or PostgreSQL, and the one rule for writing to them.
//!
//! SQLite lets one connection write at a time. A deferred transaction that
//! reads first and writes later cannot wait for the write lock in WAL mode:
//! if another connection wrote in between, SQLite answers "database is
//! locked" at once, whatever the busy timeout. And writers that do wait spin
//! in SQLite's busy handler, which is not first come, first served, so the
//! slowest requests wait many times longer than the median.
//!
//! So on SQLite every write takes a **turn** first: a first-come,
//! first-served queue in this process ([`tokio::sync::Mutex`] is fair). A
//! transaction from [`Db::begin`] holds its turn until it commits or is
//! dropped, and takes SQLite's write lock with its first statement, so no
//! other process can slip in between its reads and its writes either; a
//! single write statement outside a transaction holds a turn for that
//! statement. Reads never wait for a turn (WAL readers see the last commit).
//! PostgreSQL needs none of this (row locks and MVCC), so there `Db` is a
//! plain pool.

use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a writer waits for its turn (and SQLite's busy timeout for
/// other processes) before the request is answered 503 with `Retry-After`.
pub const WRITE_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("KEPT_DATABASE_URL must start with sqlite: or postgres:, got '{0}'")]
    UnknownScheme(String),
    #[error("could not open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sea_orm::DbErr),
}

/// The database: a pool, plus on SQLite the writers' queue.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    writers: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.conn.get_database_backend()).finish()
    }
}

/// A transaction that may write. On SQLite it holds the writers' turn and
/// SQLite's write lock from its first statement until commit or drop.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
    /// What to do once the commit has succeeded (never after a rollback).
    after_commit: std::sync::Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

impl Db {
    /// Wraps an open connection; SQLite connections get the writers' queue.
    pub fn new(conn: DatabaseConnection) -> Db {
        let writers = match conn.get_database_backend() {
            DbBackend::Sqlite => Some(Arc::new(Mutex::new(()))),
            _ => None,
        };
        Db { conn, writers }
    }

    /// The pool underneath, for migrations and raw sqlx work.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Waits (first come, first served) for the right to write on SQLite;
    /// `None` on PostgreSQL, where nothing needs to wait here.
    async fn turn(&self) -> Result<Option<OwnedMutexGuard<()>>, DbErr> {
        match &self.writers {
            None => Ok(None),
            Some(queue) => match tokio::time::timeout(WRITE_WAIT, queue.clone().lock_owned()).await {
                Ok(guard) => Ok(Some(guard)),
                Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            },
        }
    }

    /// Begins a transaction that may write. Every write transaction in Kept
    /// starts here, so the SQLite rule above is decided once.
    pub async fn begin(&self) -> Result<WriteTxn, DbErr> {
        let turn = self.turn().await?;
        let txn = self.conn.begin().await?;
        if turn.is_some() {
            // A write as the first statement takes SQLite's write lock now
            // (BEGIN IMMEDIATE, which sea-orm cannot issue), so a writer in
            // another process (the CLI) makes us wait in the busy timeout
            // instead of failing between our reads and our writes.
            txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0").await?;
        }
        Ok(WriteTxn { txn, _turn: turn, after_commit: Default::default() })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Copies the write-ahead log back into the database file (SQLite's
    /// PASSIVE checkpoint: it never blocks a writer, and takes no turn).
    /// `serve` runs it every second; a no-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), DbErr> {
        if self.writers.is_some() {
            self.conn.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await?;
        }
        Ok(())
    }

    /// Closes the pool (used before restoring a file underneath it).
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

impl WriteTxn {
    /// Commits, releases the writers' turn, then runs what was left for
    /// after the commit (`after_commit`), in order.
    pub async fn commit(self) -> Result<(), DbErr> {
        let WriteTxn { txn, _turn, after_commit } = self;
        txn.commit().await?;
        drop(_turn);
        for f in after_commit.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            f();
        }
        Ok(())
    }

    /// Leaves `f` to run once this transaction has committed; if it rolls
    /// back (or is dropped), `f` never runs. For what others may only learn
    /// of a change that happened (the live events on SQLite).
    pub fn after_commit(&self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Box::new(f));
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Whether a statement only reads, so it need not wait for a turn.
fn only_reads(sql: &str) -> bool {
    // Runs for every statement: compare in place, allocate nothing.
    let head = sql.trim_start().as_bytes();
    let starts = |word: &str| head.len() >= word.len() && head[..word.len()].eq_ignore_ascii_case(word.as_bytes());
    starts("SELECT") || starts("EXPLAIN")
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let _turn = if only_reads(&stmt.sql) { None } else { self.turn().await? };
        self.conn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _turn = if only_reads(sql) { None } else { self.turn().await? };
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        // INSERT … RETURNING arrives here too.
        let _turn = if only_reads(&stmt.sql) { None } else { self.turn().await? };
        self.conn.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let _turn = if only_reads(&stmt.sql) { None } else { self.turn().await? };
        self.conn.query_all(stmt).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all(stmt).await
    }
}

/// Whether a database error is about contention or capacity (a lock not
/// granted in time, the pool exhausted, a serialization failure), so that
/// the same request may succeed when retried.
pub fn is_transient(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        other => {
            let text = other.to_string().to_ascii_lowercase();
            text.contains("database is locked")
                || text.contains("database is busy")
                || text.contains("database table is locked")
                || text.contains("could not serialize access")
                || text.contains("deadlock detected")
                || text.contains("pool timed out")
                // A pooled connection that died (server restart): the retry
                // gets a fresh one.
                || text.contains("connection closed")
                || text.contains("connection reset")
                || text.contains("broken pipe")
        }
    }
}

/// Opens a pool. SQLite gets WAL (readers never block the writer), a busy
/// timeout for writers in other processes, foreign keys, and several
/// connections; the file is created if missing.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbSetupError> {
    if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(WRITE_WAIT)
            .foreign_keys(true)
            // Checkpoints run in the background (`Db::checkpoint`), not inside
            // whichever commit crosses the threshold: their fsync would hold
            // that writer's turn, and every writer queued behind it would wait.
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        Ok(Db::new(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        // No ping before each use: a query is the check (a dead connection
        // fails that one query and is replaced), and a crew's day read makes
        // several queries, each of which would otherwise pay a round trip.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(Db::new(SqlxPostgresConnector::from_sqlx_postgres_pool(pool)))
    } else {
        Err(DbSetupError::UnknownScheme(crate::config::redact_url(url)))
    }
}

/// The PostgreSQL advisory lock held while migrating ("kept", then 0).
const MIGRATION_LOCK: i64 = 0x6b65_7074_0000;

/// Applies every pending migration. On PostgreSQL, under an advisory lock
/// on a connection of its own: replicas starting at the same moment take
/// turns, the first migrates and the others find nothing left to do
/// (creating the same table twice at once fails in PostgreSQL's catalog).
pub async fn migrate(db: &Db) -> Result<(), DbSetupError> {
    use migration::{Migrator, MigratorTrait};
    let _turn = db.turn().await?;
    let mut lock = match db.backend() {
        DbBackend::Postgres => {
            use sqlx::{ConnectOptions, Executor};
            let pool = db.connection().get_postgres_connection_pool();
            let mut conn = pool.connect_options().connect().await?;
            conn.execute(sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK)).await?;
            Some(conn)
        }
        _ => None,
    };
    let pending = Migrator::get_pending_migrations(db.connection()).await?.len();
    let done = Migrator::up(db.connection(), None).await;
    if let Some(conn) = lock.as_mut() {
        use sqlx::Executor;
        // Closing the connection would release it too; say so plainly.
        let _ = conn.execute(sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK)).await;
    }
    if let Some(conn) = lock {
        use sqlx::Connection;
        let _ = conn.close().await;
    }
    done?;
    if pending > 0 {
        tracing::info!("applied {pending} database migrations");
    } else {
        tracing::debug!("the database schema is up to date");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_read_and_everything_else_writes() {
        assert!(only_reads("SELECT 1"));
        assert!(only_reads("  select * from job"));
        assert!(only_reads("EXPLAIN QUERY PLAN SELECT 1"));
        assert!(!only_reads("INSERT INTO job (id) VALUES (1) RETURNING id"));
        assert!(!only_reads("UPDATE message SET state = 'sending' RETURNING *"));
        assert!(!only_reads("DELETE FROM session"));
        assert!(!only_reads("WITH x AS (SELECT 1) DELETE FROM session"));
    }

    #[tokio::test]
    async fn what_waits_for_the_commit_runs_after_it_and_never_after_a_rollback() {
        let db = connect("sqlite::memory:", 1).await.unwrap();
        migrate(&db).await.unwrap();
        let ran = Arc::new(std::sync::Mutex::new(Vec::new()));
        let note = |what: &'static str| {
            let ran = ran.clone();
            move || ran.lock().unwrap().push(what)
        };
        let txn = db.begin().await.unwrap();
        txn.after_commit(note("first"));
        txn.after_commit(note("second"));
        assert!(ran.lock().unwrap().is_empty(), "nothing before the commit");
        txn.commit().await.unwrap();
        assert_eq!(*ran.lock().unwrap(), vec!["first", "second"]);

        let txn = db.begin().await.unwrap();
        txn.after_commit(note("rolled back"));
        txn.rollback().await.unwrap();
        let txn = db.begin().await.unwrap();
        txn.after_commit(note("dropped"));
        drop(txn);
        assert_eq!(*ran.lock().unwrap(), vec!["first", "second"]);
    }

    #[tokio::test]
    async fn a_reading_transaction_waits_for_its_turn_instead_of_failing() {
        let dir = std::env::temp_dir().join(format!("kept-db-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let url = format!("sqlite://{}/turns.db", dir.display());
        let db = connect(&url, 8).await.unwrap();
        migrate(&db).await.unwrap();
        db.execute_unprepared("CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL)").await.unwrap();
        db.execute_unprepared("DELETE FROM counter").await.unwrap();
        db.execute_unprepared("INSERT INTO counter (n) VALUES (0)").await.unwrap();
        // Read, then write: the shape that failed at once with "database is locked".
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    let txn = db.begin().await?;
                    let row = txn.query_one(Statement::from_string(DbBackend::Sqlite, "SELECT n FROM counter")).await?;
                    let n: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
                    txn.execute_unprepared(&format!("UPDATE counter SET n = {}", n + 1)).await?;
                    txn.commit().await?;
                }
                Ok::<(), DbErr>(())
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let row = db.query_one(Statement::from_string(DbBackend::Sqlite, "SELECT n FROM counter")).await.unwrap();
        let n: i64 = row.unwrap().try_get("", "n").unwrap();
        assert_eq!(n, 160, "every read-then-write increment landed, none lost");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
