//! Connecting to SQLite or PostgreSQL with the settings each needs.

use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("KEPT_DATABASE_URL must start with sqlite: or postgres:, got '{0}'")]
    UnknownScheme(String),
    #[error("could not open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sea_orm::DbErr),
}

/// Opens a pool. SQLite gets WAL (readers never block the writer), a busy
/// timeout (writers queue instead of failing), foreign keys, and several
/// connections; the file is created if missing.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbSetupError> {
    if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        Err(DbSetupError::UnknownScheme(crate::config::redact_url(url)))
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbSetupError> {
    use migration::{Migrator, MigratorTrait};
    Migrator::up(db, None).await?;
    Ok(())
}
