//! `kept`: serve (the default), migrate, create organizations.

use clap::{Parser, Subcommand};
use kept::config::Settings;
use kept::startup::Application;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kept",
    version,
    about = "Kept: appointments that keep their promises",
    after_help = kept::config::env_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed the demo on an empty database (see KEPT_DEMO), and serve.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Write a consistent copy of the SQLite database to FILE while the
    /// server runs (PostgreSQL: use pg_dump, see the README).
    Backup {
        /// Where to write the copy; must not exist yet.
        file: std::path::PathBuf,
    },
    /// Put a backup in place of the SQLite database, after checking it. The
    /// server must be stopped; the replaced database is kept beside it.
    Restore {
        /// A file written by `kept backup`.
        file: std::path::PathBuf,
    },
    /// Print the OpenAPI document of the API (the one served at
    /// /api/v1/openapi.json) and exit; needs no database.
    Openapi,
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Set a staff member's password, read from the first line of standard
    /// input (so it stays out of the shell's history), and sign them out
    /// everywhere: for a first admin when no email provider can send a link.
    Password {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization with an admin, printing JSON with its API token.
    Create {
        #[arg(long)]
        name: String,
        /// IANA time zone, e.g. America/New_York.
        #[arg(long)]
        timezone: String,
        #[arg(long)]
        admin_email: String,
        /// The admin's name (defaults to the part of the email before '@').
        #[arg(long)]
        admin_name: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // One readable line per event: no module targets, no span context.
    tracing_subscriber::fmt()
        .compact()
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEPT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(kept::config::DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", kept::routes::document());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Backup { file } => backup(settings, file).await,
        Command::Restore { file } => restore(settings, file).await,
        Command::Openapi => unreachable!("answered before the settings are read"),
        Command::Staff { command: StaffCommand::Password { email } } => staff_password(settings, email).await,
        Command::Org { command: OrgCommand::Create { name, timezone, admin_email, admin_name } } => {
            org_create(settings, name, timezone, admin_email, admin_name).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

async fn serve(settings: Settings) -> Result<(), AnyError> {
    tracing::info!("starting: {}", settings.summary());
    let app = Application::build(settings.clone()).await?;
    if settings.should_seed_demo() {
        if let Some(seeded) =
            kept::demo::seed_if_empty(&app.state.db, &app.state.notify, app.state.clock.as_ref(), &settings).await?
        {
            let addr = app.local_addr();
            eprintln!(
                "\nSeeded the demo company \"{}\".\nDemo admin API token (shown once): {}\nTry: curl -H 'Authorization: Bearer {}' http://{addr}/api/v1/outbox\nWeb UI: http://{addr}/login as {} with password {} (shown once)\n",
                seeded.created.organization.name,
                seeded.created.api_token,
                seeded.created.api_token,
                seeded.created.admin.email,
                seeded.admin_password,
            );
        }
    }
    tracing::info!(addr = %app.local_addr(), "serving");
    app.serve(stop_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM (what container runtimes send before SIGKILL).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn migrate(settings: Settings) -> Result<(), AnyError> {
    let db = kept::db::connect(&settings.database_url, 1).await?;
    kept::db::migrate(&db).await?;
    eprintln!("migrations applied");
    Ok(())
}

async fn backup(settings: Settings, file: std::path::PathBuf) -> Result<(), AnyError> {
    let r = kept::backup::backup(&settings.database_url, &file).await?;
    println!(
        "backed up to {} ({}) in {:.2} s",
        r.path.display(),
        kept::backup::human_size(r.bytes),
        r.took.as_secs_f64()
    );
    Ok(())
}

async fn restore(settings: Settings, file: std::path::PathBuf) -> Result<(), AnyError> {
    let r = kept::backup::restore(&settings.database_url, &file, chrono::Utc::now()).await?;
    println!(
        "restored {} from {} ({}) in {:.2} s{}",
        r.path.display(),
        file.display(),
        kept::backup::human_size(r.bytes),
        r.took.as_secs_f64(),
        r.previous.map(|p| format!("; the replaced database is kept as {}", p.display())).unwrap_or_default()
    );
    Ok(())
}

async fn staff_password(settings: Settings, email: String) -> Result<(), AnyError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = kept::db::connect(&settings.database_url, 2).await?;
    kept::db::migrate(&db).await?;
    let people = kept::entities::staff::Entity::find()
        .filter(kept::entities::staff::Column::Email.eq(email.trim()))
        .all(&db)
        .await?;
    let person = match people.as_slice() {
        [one] => one.clone(),
        [] => return Err(format!("--email: no staff member has the email {email}").into()),
        _ => return Err(format!("--email: {email} belongs to people in {} organizations", people.len()).into()),
    };
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']);
    match kept::store::sessions::set_password(&db, &person, pw, kept::clock::Clock::now(&kept::clock::SystemClock))
        .await
    {
        Ok(()) => {
            println!("Password set for {} ({}); they can sign in at /login.", person.name, person.email);
            Ok(())
        }
        Err(kept::error::Error::Validation(f)) => Err(format!("the password: {}", f[0].message).into()),
        Err(e) => Err(e.into()),
    }
}

async fn org_create(
    settings: Settings,
    name: String,
    timezone: String,
    admin_email: String,
    admin_name: Option<String>,
) -> Result<(), AnyError> {
    let db = kept::db::connect(&settings.database_url, 2).await?;
    kept::db::migrate(&db).await?;
    let created = kept::demo::create_org(&db, &kept::clock::SystemClock, &name, &timezone, &admin_email, admin_name)
        .await
        .map_err(|e| -> AnyError { e.into() })?;
    let out = serde_json::json!({
        "organization": {"id": created.organization.id, "name": created.organization.name, "timezone": created.organization.timezone},
        "admin": {"id": created.admin.id, "name": created.admin.name, "email": created.admin.email},
        "api_token": created.api_token,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
