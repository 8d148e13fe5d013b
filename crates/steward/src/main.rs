//! `steward`: serve, demo and admin commands.
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use steward_server::audit_verify::{Verdict, verify_chain};
use steward_server::config::SignupMode;
use steward_server::{App, Settings, shutdown_signal};
use steward_store::{Backend, Store};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(name = "steward", version, about = "Share the work on your social media accounts, never the password.")]
struct Cli {
    /// Path to steward.toml (settings there are overridden by STEWARD_* environment variables).
    #[arg(long, global = true, env = "STEWARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Run a ready-to-try server on a fresh embedded database, with open sign-up and sample people.
    Demo,
    /// Operator commands.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Create a user; the password is read from standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: String,
        /// Read the password from standard input (required, so it never appears in shell history).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the SQLite database to PATH (PostgreSQL: use pg_dump).
    Backup { path: PathBuf },
    /// The activity log.
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the whole activity log; names the first altered, removed or reordered event.
    Verify,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("STEWARD_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if std::env::var("STEWARD_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn env_map() -> HashMap<String, String> {
    std::env::vars().filter(|(k, _)| k.starts_with("STEWARD_")).collect()
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let env = env_map();
    match cli.command {
        Command::Serve => {
            let settings = Settings::load(cli.config.as_deref(), &env)?;
            serve(settings, None).await?;
        }
        Command::Demo => demo(cli.config.as_deref(), env).await?,
        Command::Admin(cmd) => {
            let settings = Settings::load(cli.config.as_deref(), &env)?;
            return admin(settings, cmd).await;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn serve(settings: Settings, banner: Option<String>) -> anyhow::Result<()> {
    let listen = settings.listen;
    let app = App::build(settings).await?;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "steward is listening");
    println!("{}", banner.unwrap_or_else(|| format!("steward listening on http://{bound}")));
    let _ = std::io::stdout().flush();
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}

const DEMO_PEOPLE: [(&str, &str, &str); 2] = [
    ("olivia@demo.steward.test", "Olivia Owner", "olivia-demo-passphrase"),
    ("eddie@demo.steward.test", "Eddie Editor", "eddie-demo-passphrase"),
];

async fn demo(config: Option<&Path>, mut env: HashMap<String, String>) -> anyhow::Result<()> {
    // A fresh data directory every run, unless the operator names one: the demo always starts clean.
    let data_dir = match env.get("STEWARD_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let d = std::env::temp_dir().join(format!("steward-demo-{}", std::process::id()));
            env.insert("STEWARD_DATA_DIR".into(), d.display().to_string());
            d
        }
    };
    env.entry("STEWARD_SIGNUP".into()).or_insert_with(|| "open".into());
    env.entry("STEWARD_ALLOW_PRIVATE_NETWORKS".into()).or_insert_with(|| "true".into());
    // Bind first so that an ephemeral port (STEWARD_LISTEN=127.0.0.1:0) is known before the
    // public URL is derived from it.
    let probe = Settings::load(config, &env)?;
    let listener =
        TcpListener::bind(probe.listen).await.with_context(|| format!("cannot listen on {}", probe.listen))?;
    env.insert("STEWARD_LISTEN".into(), listener.local_addr()?.to_string());
    let settings = Settings::load(config, &env)?;
    if settings.signup != SignupMode::Open {
        tracing::warn!("demo running with sign-up {:?}", settings.signup);
    }
    let app = App::build(settings.clone()).await?;
    let mut created = Vec::new();
    for (email, name, password) in DEMO_PEOPLE {
        if app.state.store.user_by_email(email).await?.is_none() {
            steward_server::routes::identity::create_user_as_operator(
                &app.state,
                email,
                name,
                password.to_string(),
                "steward demo",
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating demo user {email}: {}", e.describe()))?;
        }
        created.push((email, name, password));
    }
    let mut banner = format!(
        "\nSteward demo is running at {}\n  data directory: {}\n  sign-up: open\n\nSample people (email / password):\n",
        settings.public_url,
        data_dir.display()
    );
    for (email, name, password) in created {
        banner.push_str(&format!("  {name:<14} {email:<28} {password}\n"));
    }
    banner.push_str("\nPress Ctrl-C to stop.\n");
    println!("{banner}");
    let _ = std::io::stdout().flush();
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}

async fn admin(settings: Settings, cmd: Admin) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        Admin::CreateUser { email, display_name, password_stdin: _ } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let app = App::build(settings).await?;
            let user = steward_server::routes::identity::create_user_as_operator(
                &app.state,
                &email,
                &display_name,
                password,
                "steward admin",
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the user: {}", e.describe()))?;
            println!("created user {} <{}> with id {}", user.display_name, user.email, user.id);
        }
        Admin::Migrate => {
            if settings.database_url.starts_with("sqlite:") {
                std::fs::create_dir_all(&settings.data_dir)?;
            }
            Store::open(&settings.database_url).await?;
            println!("database is up to date");
        }
        Admin::Backup { path } => {
            let store = Store::connect(&settings.database_url).await?;
            if store.backend() != Backend::Sqlite {
                bail!("backups of PostgreSQL are taken with pg_dump; this command copies the embedded SQLite database");
            }
            if path.exists() {
                bail!("{} already exists; choose a new file", path.display());
            }
            store.sqlite_backup(&path.display().to_string()).await?;
            println!("backup written to {}", path.display());
        }
        Admin::Audit(AuditCmd::Verify) => {
            let store = Store::connect(&settings.database_url).await?;
            let on_terminal = std::io::stderr().is_terminal();
            let verdict = verify_chain(&store, |done, total| {
                if on_terminal {
                    let pct = (done * 100).checked_div(total).unwrap_or(100);
                    eprint!("\rverifying the activity log: {done}/{total} events ({pct}%)");
                }
            })
            .await?;
            if on_terminal {
                eprintln!();
            }
            match verdict {
                Verdict::Intact { events } => println!("OK: the activity log is intact ({events} events)"),
                Verdict::Broken(b) => {
                    println!("TAMPERED: {b}");
                    return Ok(std::process::ExitCode::from(2));
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
