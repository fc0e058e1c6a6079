//! `kept backup` and `kept restore` for the embedded SQLite database.
//!
//! A backup is `VACUUM INTO`: SQLite writes a consistent, compacted copy of
//! one read snapshot while the server goes on serving (readers never block
//! writers in WAL mode, and the snapshot holds every commit made before it
//! began). A restore checks the copy (`PRAGMA integrity_check`, and that it
//! is a Kept database this version can open), refuses while a server has the
//! database open, keeps the current file beside it, and moves the copy in.
//! PostgreSQL has `pg_dump` / `pg_restore` for this (see the README).

use crate::db::Db;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sqlx::sqlite::SqliteConnectOptions;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup and restore are for the SQLite database; for PostgreSQL use pg_dump and pg_restore (see the README)"
    )]
    NotSqlite,
    #[error("KEPT_DATABASE_URL does not name a SQLite file: {0}")]
    NoFile(String),
    #[error("{0} already exists; choose a new file name (a backup never overwrites)")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("the server is running on {0}; stop it before restoring (a backup can be taken while it runs)")]
    ServerRunning(PathBuf),
    #[error("{path} is not a usable Kept backup: {why}")]
    Invalid { path: PathBuf, why: String },
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("could not open the database: {0}")]
    Setup(#[from] crate::db::DbSetupError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_path_buf(), source }
}

/// What a backup or restore did, for the one line the CLI prints.
#[derive(Debug, Clone)]
pub struct Report {
    pub path: PathBuf,
    pub bytes: u64,
    pub took: Duration,
    /// Restore only: where the database that was replaced now is.
    pub previous: Option<PathBuf>,
}

/// The database file a `sqlite:` URL names.
pub fn sqlite_file(database_url: &str) -> Result<PathBuf, BackupError> {
    if !database_url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite);
    }
    let opts = SqliteConnectOptions::from_str(database_url)
        .map_err(|_| BackupError::NoFile(crate::config::redact_url(database_url)))?;
    let file = opts.get_filename().to_path_buf();
    let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
    if file.as_os_str().is_empty() || in_memory {
        return Err(BackupError::NoFile(database_url.to_string()));
    }
    Ok(file)
}

/// The lock a serving process holds on its SQLite database, so that a
/// restore cannot swap the file from under it.
pub struct ServerLock {
    _file: File,
}

fn lock_path(db_file: &Path) -> PathBuf {
    let mut name = db_file.as_os_str().to_owned();
    name.push(".server-lock");
    PathBuf::from(name)
}

impl ServerLock {
    /// Taken by `serve` on SQLite. Several servers on one file are allowed
    /// (a shared lock); a restore needs the lock alone.
    pub fn take(database_url: &str) -> Result<Option<ServerLock>, BackupError> {
        let Ok(db_file) = sqlite_file(database_url) else { return Ok(None) };
        let path = lock_path(&db_file);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        file.try_lock_shared()
            .map_err(|e| io(&path)(std::io::Error::other(format!("a restore is in progress ({e})"))))?;
        Ok(Some(ServerLock { _file: file }))
    }
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "''"))
}

/// Writes a consistent copy of the running database to `target`.
pub async fn backup(database_url: &str, target: &Path) -> Result<Report, BackupError> {
    let source = sqlite_file(database_url)?;
    if !source.exists() {
        return Err(BackupError::Missing(source));
    }
    if target.exists() {
        return Err(BackupError::Exists(target.to_path_buf()));
    }
    let started = Instant::now();
    let db = crate::db::connect(database_url, 1).await?;
    db.execute_unprepared(&format!("VACUUM INTO {}", quote(target))).await?;
    db.close().await?;
    let bytes = std::fs::metadata(target).map_err(io(target))?.len();
    Ok(Report { path: target.to_path_buf(), bytes, took: started.elapsed(), previous: None })
}

/// Checks that `file` is an intact Kept database that this version knows.
pub async fn check(file: &Path) -> Result<(), BackupError> {
    let invalid = |why: String| BackupError::Invalid { path: file.to_path_buf(), why };
    if !file.exists() {
        return Err(BackupError::Missing(file.to_path_buf()));
    }
    let mut header = [0u8; 16];
    {
        use std::io::Read;
        let mut f = File::open(file).map_err(io(file))?;
        f.read_exact(&mut header).map_err(|_| invalid("too short to be a SQLite database".into()))?;
    }
    if &header != b"SQLite format 3\0" {
        return Err(invalid("not a SQLite database".into()));
    }
    let url = format!("sqlite://{}?mode=ro", file.display());
    let opts = SqliteConnectOptions::from_str(&url).map_err(|e| invalid(e.to_string()))?.read_only(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let db = Db::new(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool));
    let integrity = db
        .query_all(Statement::from_string(DbBackend::Sqlite, "PRAGMA integrity_check"))
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let verdicts: Vec<String> = integrity.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()).collect();
    if verdicts != ["ok"] {
        return Err(invalid(format!("integrity check: {}", verdicts.join("; "))));
    }
    let applied = db
        .query_all(Statement::from_string(DbBackend::Sqlite, "SELECT version FROM seaql_migrations"))
        .await
        .map_err(|_| invalid("it has no Kept migrations table".into()))?;
    let known: Vec<String> = {
        use migration::MigratorTrait;
        migration::Migrator::migrations().iter().map(|m| m.name().to_string()).collect()
    };
    for row in applied {
        let version: String = row.try_get("", "version")?;
        if !known.contains(&version) {
            return Err(invalid(format!("it was written by a newer Kept (migration {version})")));
        }
    }
    db.close().await?;
    Ok(())
}

/// Puts `backup_file` in place of the database, after checking it, while no
/// server has the database open. The replaced database is kept beside it.
pub async fn restore(
    database_url: &str,
    backup_file: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Report, BackupError> {
    let target = sqlite_file(database_url)?;
    let started = Instant::now();
    check(backup_file).await?;
    let lock_file = lock_path(&target);
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_file).map_err(io(&lock_file))?;
    if lock.try_lock().is_err() {
        return Err(BackupError::ServerRunning(target));
    }
    // Copy next to the target first, so the swap is one rename on one disk.
    let mut incoming = target.as_os_str().to_owned();
    incoming.push(".restoring");
    let incoming = PathBuf::from(incoming);
    std::fs::copy(backup_file, &incoming).map_err(io(&incoming))?;
    File::open(&incoming).and_then(|f| f.sync_all()).map_err(io(&incoming))?;
    let previous = if target.exists() {
        let mut aside = target.as_os_str().to_owned();
        aside.push(format!(".before-restore-{}", now.format("%Y%m%dT%H%M%SZ")));
        let aside = PathBuf::from(aside);
        std::fs::rename(&target, &aside).map_err(io(&target))?;
        // The old file's write-ahead log belongs to it, not to the backup.
        for suffix in ["-wal", "-shm"] {
            let mut side = target.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if side.exists() {
                let mut moved = aside.as_os_str().to_owned();
                moved.push(suffix);
                std::fs::rename(&side, PathBuf::from(moved)).map_err(io(&side))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&incoming, &target).map_err(io(&target))?;
    let bytes = std::fs::metadata(&target).map_err(io(&target))?.len();
    drop(lock);
    Ok(Report { path: target, bytes, took: started.elapsed(), previous })
}

/// `12.3 MB` and friends, for the CLI's line.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_and_postgres_is_turned_away() {
        assert_eq!(sqlite_file("sqlite://kept.db").unwrap(), PathBuf::from("kept.db"));
        assert_eq!(
            sqlite_file("sqlite:///var/lib/kept/kept.db?mode=rwc").unwrap(),
            PathBuf::from("/var/lib/kept/kept.db")
        );
        assert!(matches!(sqlite_file("postgres://u@h/db"), Err(BackupError::NotSqlite)));
        assert!(matches!(sqlite_file("sqlite::memory:"), Err(BackupError::NoFile(_))));
    }

    #[test]
    fn sizes_read_like_a_person_would_say_them() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1_234_567), "1.2 MB");
    }

    #[test]
    fn quotes_in_a_path_cannot_end_the_sql_string() {
        assert_eq!(quote(Path::new("/tmp/it's.db")), "'/tmp/it''s.db'");
    }
}
