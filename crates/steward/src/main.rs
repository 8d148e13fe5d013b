//! `steward`: serve, demo and admin commands.
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use steward_app::audit_verify::{Verdict, VerifyOptions, verify_chain_with};
use steward_app::config::{MasterKeySource, SignupMode};
use steward_app::crypto::{Keyring, MasterKey};
use steward_app::vault::Vault;
use steward_app::vault::rotation::{count_stale, rewrap_all};
use steward_server::error::ApiError;
use steward_server::{App, Settings, shutdown_signal};
use steward_store::{Backend, Store};
use tokio::net::TcpListener;

mod demo;
mod log_writer;

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
    /// Run a ready-to-try server on a fresh embedded database, with open sign-up, local stand-ins
    /// for every platform and a sample team with accounts, posts in every state and an alert.
    Demo {
        /// Start bare: the sample people only, no accounts or posts.
        #[arg(long)]
        empty: bool,
    },
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
    /// Set a person's password (for a server without mail); the new password is read from
    /// standard input. Every session of the person ends.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective settings (secrets hidden) and check the database, the master key,
    /// mail and each configured platform; exit 1 if a check fails. Changes nothing.
    CheckConfig,
    /// Write a consistent copy of the SQLite database to PATH (PostgreSQL: use pg_dump).
    Backup { path: PathBuf },
    /// The activity log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Replace the master key while servers keep serving: writes a new key file (new key first,
    /// old key kept) and re-wraps every data key and two-factor secret under the new key.
    /// Then, once every server has the new file, `--finish` drops the old key.
    RotateMasterKey {
        /// Re-wrap anything still under the old key, check nothing is left, then remove the old
        /// key from the key file.
        #[arg(long)]
        finish: bool,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: i64,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the whole activity log against every line of the anchor file
    /// (exit 2 when something is wrong, or when the anchor file is missing); names the first
    /// altered, removed or reordered event.
    Verify {
        /// Check the database alone, without the anchor file (a server that never anchored, or
        /// an anchor file kept elsewhere). Cutting events off the end then goes unnoticed.
        #[arg(long)]
        without_anchor: bool,
    },
}

/// glibc's tunable that keeps large allocations (each password hash's 19 MiB Argon2 block) out
/// of the heap: with a fixed mmap threshold they are mapped and unmapped, so their memory goes
/// back to the operating system as soon as the hash is done. Left to itself glibc raises the
/// threshold after the first such block is freed and from then on keeps every later one in a
/// thread's arena for good (see BENCHMARKS.md, "Password hashing memory").
const MALLOC_TUNABLE: &str = "glibc.malloc.mmap_threshold";
const MALLOC_MMAP_THRESHOLD: u32 = 1024 * 1024;
/// glibc gives threads up to 8 heaps ("arenas") per core, each keeping its own free memory;
/// one per core is as many as can allocate at once, and measured ~1 MiB less at idle and
/// ~2 MiB less after a burst of sign-ups (BENCHMARKS.md, "Password hashing memory").
const ARENA_TUNABLE: &str = "glibc.malloc.arena_max";

/// The tunables this process wants that `current` (an operator's `GLIBC_TUNABLES`) does not
/// set already, as `name=value` pairs.
fn missing_malloc_tunables(current: &str, cores: usize) -> Vec<String> {
    let mut missing = Vec::new();
    if !current.contains(MALLOC_TUNABLE) {
        missing.push(format!("{MALLOC_TUNABLE}={MALLOC_MMAP_THRESHOLD}"));
    }
    if !current.contains(ARENA_TUNABLE) {
        missing.push(format!("{ARENA_TUNABLE}={}", cores.max(1)));
    }
    missing
}

/// glibc reads its tunables only when a process starts, and setting them from inside needs
/// `unsafe` (`mallopt`), which this workspace forbids: so the binary starts itself again, once,
/// with the tunables added (same process id, arguments, standard streams). A tunable the
/// operator's own `GLIBC_TUNABLES` already names is kept as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn start_again_with_malloc_tuning() {
    use std::os::unix::process::CommandExt;
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let missing = missing_malloc_tunables(&current, cores);
    if missing.is_empty() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let added = missing.join(":");
    let value = if current.is_empty() { added } else { format!("{current}:{added}") };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    let err = cmd.args(args).env("GLIBC_TUNABLES", value).exec();
    // Only reached when exec failed: serve anyway, with glibc's default behaviour.
    eprintln!(
        "warning: could not restart with {MALLOC_TUNABLE} set ({err}); memory freed after password hashing may stay with the process"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn start_again_with_malloc_tuning() {}

fn main() -> std::process::ExitCode {
    start_again_with_malloc_tuning();
    // Before any file exists: the database, its WAL and SHM, backups, the anchor file and the
    // key file are the owner's alone.
    steward_app::files::private_umask();
    let cli = Cli::parse();
    // Settings first, the log filter among them: a value that is not understood stops here,
    // in one line naming the setting, before anything is opened.
    let settings = match Settings::load(cli.config.as_deref(), &env_map()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Lives until `main` returns: dropping it flushes the lines still queued for stderr, so the
    // last lines before a shutdown (or an error exit) are written, not lost.
    let _log_writer = match init_logging(&settings) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
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
            eprintln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once: a cause whose words the message
/// already carries (`database error: X` caused by `X`) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out.push_str(": ");
            out.push_str(&cause);
        }
    }
    out
}

/// Log lines go to stderr from a writer thread of their own, in batches (`log_writer`): a
/// request never waits on a slow or blocked stderr (a pipe, a terminal, a log shipper), and
/// nothing is dropped.
fn init_logging(settings: &Settings) -> Result<log_writer::Guard, String> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::builder().parse(&settings.log).map_err(|e| {
        format!(
            "invalid value for STEWARD_LOG: {:?} is not a log filter ({e}); expected e.g. info, debug or info,steward_server=trace",
            settings.log
        )
    })?;
    let (writer, guard) = log_writer::batched(std::io::stderr(), "steward-log")
        .map_err(|e| format!("cannot start the log writer thread: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(guard)
}

/// Binds the listening address, or says what to do when it cannot.
async fn listen_on(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let fix = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "address already in use; stop the process using it or set STEWARD_LISTEN to another address".to_string()
            }
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges); set STEWARD_LISTEN to another port".to_string()
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "this machine has no such address; set STEWARD_LISTEN to one of its addresses".to_string()
            }
            _ => format!("{e}; check STEWARD_LISTEN"),
        };
        anyhow::anyhow!("cannot listen on {addr}: {fix}")
    })
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
        Command::Demo { empty } => demo(cli.config.as_deref(), env, empty).await?,
        Command::Admin(cmd) => {
            let settings = Settings::load(cli.config.as_deref(), &env)?;
            return admin(settings, cmd).await;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// One server per SQLite file: an exclusive lock on `<database>.lock`, held while the process
/// lives, naming the process that holds it. Two servers on one file would each trust their own
/// read cache and serve a session the other has ended; admin commands do not take it.
fn lock_the_database(settings: &Settings) -> anyhow::Result<Option<std::fs::File>> {
    let Some(db) = steward_store::sqlite_file(&settings.database_url) else { return Ok(None) };
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the database's directory {}; create it (writable by this user) or set STEWARD_DATA_DIR or STEWARD_DATABASE_URL",
                dir.display()
            )
        })?;
    }
    let path = db.with_file_name(format!(
        "{}.lock",
        db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "steward.db".into())
    ));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        let holder = holder.trim();
        let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
        anyhow::bail!(
            "another Steward server ({who}) is serving {}: stop it first, or give this one its own STEWARD_DATA_DIR",
            db.display()
        );
    }
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(Some(file))
}

async fn serve(settings: Settings, banner: Option<String>) -> anyhow::Result<()> {
    // The address first: a port in use refuses before the database is opened or migrated.
    let listener = listen_on(settings.listen).await?;
    let _lock = lock_the_database(&settings)?;
    let app = App::build(settings).await?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "steward is listening");
    let shutdown = shutdown_signal();
    println!("{}", banner.unwrap_or_else(|| format!("steward listening on http://{bound}")));
    let _ = std::io::stdout().flush();
    app.serve(listener, shutdown).await?;
    tracing::info!("steward stopped: requests in flight answered, the database closed");
    Ok(())
}

async fn demo(config: Option<&Path>, mut env: HashMap<String, String>, empty: bool) -> anyhow::Result<()> {
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
    // With no LinkedIn app configured, the demo brings its own LinkedIn: a local double that
    // speaks LinkedIn's OAuth and API, so connecting works with no internet and no developer app.
    let mut doubles = Vec::new();
    let mut linkedin_double = None;
    if !env.contains_key("STEWARD_LINKEDIN_CLIENT_ID") {
        let linkedin =
            steward_doubles::linkedin::LinkedInDouble::start(steward_doubles::linkedin::Config::default()).await?;
        demo::prepare_linkedin(&linkedin);
        env.insert("STEWARD_LINKEDIN_CLIENT_ID".into(), linkedin.config().client_id.clone());
        env.insert("STEWARD_LINKEDIN_CLIENT_SECRET".into(), linkedin.config().client_secret.clone());
        env.insert("STEWARD_LINKEDIN_AUTH_BASE".into(), linkedin.base.clone());
        env.insert("STEWARD_LINKEDIN_API_BASE".into(), linkedin.base.clone());
        doubles.push(format!("  LinkedIn (local double, a member and a Company Page) at {}\n", linkedin.base));
        linkedin_double = Some(linkedin);
    }
    if !env.contains_key("STEWARD_TIKTOK_CLIENT_ID") {
        let tiktok = steward_doubles::tiktok::TikTokDouble::start(steward_doubles::tiktok::Config::default()).await?;
        env.insert("STEWARD_TIKTOK_CLIENT_ID".into(), tiktok.config().client_key.clone());
        env.insert("STEWARD_TIKTOK_CLIENT_SECRET".into(), tiktok.config().client_secret.clone());
        env.insert("STEWARD_TIKTOK_AUTH_BASE".into(), tiktok.base.clone());
        env.insert("STEWARD_TIKTOK_API_BASE".into(), tiktok.base.clone());
        doubles.push(format!("  TikTok (local double) at {}\n", tiktok.base));
    }
    // Mastodon and Bluesky need no operator app: any instance or PDS connects, so the demo
    // always brings its own.
    let mastodon =
        steward_doubles::mastodon::MastodonDouble::start(steward_doubles::mastodon::Config::default()).await?;
    doubles.push(format!("  Mastodon (local double) at {}\n", mastodon.base));
    let bluesky = steward_doubles::bluesky::BlueskyDouble::start(steward_doubles::bluesky::Config::default()).await?;
    doubles.push(format!("  Bluesky (local double) at {}\n", bluesky.base));
    env.entry("STEWARD_ALLOW_PRIVATE_NETWORKS".into()).or_insert_with(|| "true".into());
    // Bind first so that an ephemeral port (STEWARD_LISTEN=127.0.0.1:0) is known before the
    // public URL is derived from it.
    let probe = Settings::load(config, &env)?;
    let listener = listen_on(probe.listen).await?;
    env.insert("STEWARD_LISTEN".into(), listener.local_addr()?.to_string());
    let settings = Settings::load(config, &env)?;
    if settings.signup != SignupMode::Open {
        tracing::warn!("demo running with sign-up {:?}", settings.signup);
    }
    let _lock = lock_the_database(&settings)?;
    let app = App::build(settings.clone()).await?;
    let mut created = Vec::new();
    for (email, name, password, role) in demo::PEOPLE {
        if app.state.store.user_by_email(email).await?.is_none() {
            steward_app::identity::create_user_as_operator(
                &app.state,
                email,
                name,
                password.to_string(),
                "steward demo",
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating demo user {email}: {}", ApiError(e).describe()))?;
        }
        created.push((email, name, password, role));
    }
    let serving = tokio::spawn(app.serve(listener, shutdown_signal()));
    if !empty {
        let started = std::time::Instant::now();
        let bsky = &bluesky.config();
        demo::seed(
            &settings.public_url,
            linkedin_double.as_ref(),
            Some(&mastodon.base),
            Some((&bluesky.base, &bsky.handle, &bsky.app_password)),
        )
        .await
        .context("seeding the demo")?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "demo seeded");
    }
    let mut banner = format!(
        "\nSteward demo is running at {}\n  web app: open {}/signin in a browser\n  data directory: {}\n  sign-up: open\n\nSample people (name / email / password / role):\n",
        settings.public_url,
        settings.public_url,
        data_dir.display()
    );
    for (email, name, password, role) in created {
        banner.push_str(&format!("  {name:<14} {email:<28} {password:<24} {role}\n"));
    }
    if !doubles.is_empty() {
        banner.push_str("\nPlatforms simulated on this machine (no internet needed):\n");
        for d in doubles {
            banner.push_str(&d);
        }
    }
    banner.push_str("\nPress Ctrl-C to stop.\n");
    println!("{banner}");
    let _ = std::io::stdout().flush();
    serving.await??;
    Ok(())
}

async fn admin(settings: Settings, cmd: Admin) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        Admin::CreateUser { email, display_name, password_stdin: _ } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let app = App::build(settings).await?;
            let user = steward_app::identity::create_user_as_operator(
                &app.state,
                &email,
                &display_name,
                password,
                "steward admin",
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the user: {}", ApiError(e).describe()))?;
            println!("created user {} <{}> with id {}", user.display_name, user.email, user.id);
        }
        Admin::ResetPassword { email } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let app = App::build(settings).await?;
            let user = steward_app::identity::password::reset_password_as_operator(
                &app.state,
                &email,
                password,
                "steward admin",
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot reset the password: {}", ApiError(e).describe()))?;
            println!("the password of {} <{}> is set; their sessions are signed out", user.display_name, user.email);
        }
        Admin::CheckConfig => {
            println!("Effective settings (the environment wins over steward.toml):");
            for (name, value) in settings.effective() {
                println!("  {name} = {value}");
            }
            println!("\nChecks:");
            let checks = steward_app::config_check::run(&settings).await;
            for c in &checks {
                println!("  {} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.what, c.detail);
            }
            if checks.iter().any(|c| !c.ok) {
                return Ok(std::process::ExitCode::FAILURE);
            }
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
        Admin::RotateMasterKey { finish, batch_size } => return rotate_master_key(&settings, finish, batch_size).await,
        Admin::Audit(AuditCmd::Verify { without_anchor }) => {
            let anchor_file = settings.audit_anchor_file.as_path();
            if !without_anchor && !anchor_file.exists() {
                println!(
                    "MISSING: the anchor file {} does not exist, so a cut-off end of the log cannot be detected; \
                     give STEWARD_AUDIT_ANCHOR_FILE, or pass --without-anchor to check the database alone",
                    anchor_file.display()
                );
                return Ok(std::process::ExitCode::from(2));
            }
            let store = Store::connect(&settings.database_url).await?;
            // The master keys, if readable here (never created), check retention checkpoints' signatures.
            let keys: Vec<MasterKey> = match &settings.master_key {
                MasterKeySource::Inline(b64) => MasterKey::from_base64(b64).into_iter().collect(),
                MasterKeySource::File(path) => {
                    Keyring::read_file(path).ok().flatten().map(Keyring::into_keys).unwrap_or_default()
                }
            };
            let opts = VerifyOptions {
                master_keys: &keys,
                anchor_file: (!without_anchor).then_some(anchor_file),
                split_above: None,
            };
            // A bar only on a terminal: scripts and logs get the verdict line alone.
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "verifying the activity log {bar:40} {pos}/{len} events ({per_sec}, {eta} left)",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            let started = std::time::Instant::now();
            let verdict = verify_chain_with(&store, &opts, |done, total| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            })
            .await?;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let secs = started.elapsed().as_secs_f64();
            match verdict {
                Verdict::Intact { events } => {
                    #[allow(clippy::cast_precision_loss)]
                    let rate = events as f64 / secs.max(1e-9);
                    println!(
                        "OK: the activity log is intact ({events} event{}) — checked in {secs:.2} s, {rate:.0} events/s",
                        if events == 1 { "" } else { "s" }
                    );
                }
                Verdict::Broken(b) => {
                    println!("TAMPERED: {b}");
                    return Ok(std::process::ExitCode::from(2));
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `steward admin rotate-master-key [--finish]`. See README's "Rotating the master key".
async fn rotate_master_key(
    settings: &Settings,
    finish: bool,
    batch_size: i64,
) -> anyhow::Result<std::process::ExitCode> {
    let path = match &settings.master_key {
        MasterKeySource::File(path) => path.clone(),
        MasterKeySource::Inline(_) => bail!(
            "the master key comes from STEWARD_MASTER_KEY, which this command cannot rewrite. To rotate it:\n  \
             1. write the current key to a file only the server's user can read (umask 077; printf '%s\\n' \"$STEWARD_MASTER_KEY\" > /etc/steward/master.key),\n  \
             2. unset STEWARD_MASTER_KEY, set STEWARD_MASTER_KEY_FILE=/etc/steward/master.key and restart the servers,\n  \
             3. run `steward admin rotate-master-key` again."
        ),
    };
    let Some(ring) = Keyring::read_file(&path)? else {
        bail!("there is no master key file at {}: nothing is sealed under a key yet", path.display());
    };
    let fingerprint = |k: &MasterKey| hex::encode(k.fingerprint());
    if settings.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    let store = Store::open(&settings.database_url).await?;
    let on_terminal = std::io::stderr().is_terminal();
    let progress = |seen: u64| {
        if on_terminal {
            eprint!("\rre-wrapping: {seen} rows");
        }
    };
    if finish {
        if ring.keys().len() == 1 {
            println!("nothing to finish: the key file holds one key ({})", fingerprint(ring.primary()));
            return Ok(std::process::ExitCode::SUCCESS);
        }
        let vault = Vault::from_keyring(&ring);
        let report = rewrap_all(&store, &vault, batch_size, progress).await?;
        if on_terminal {
            eprintln!();
        }
        let stale = count_stale(&store, &vault, batch_size).await?;
        if report.remaining > 0 || stale > 0 {
            println!(
                "NOT FINISHED: {} values are still under an old key (they changed while being re-wrapped); run --finish again",
                report.remaining.max(stale)
            );
            return Ok(std::process::ExitCode::from(3));
        }
        let primary = ring.into_keys().swap_remove(0);
        let id = fingerprint(&primary);
        Keyring::from_keys(vec![primary])?.write_file(&path)?;
        println!(
            "finished: every data key and two-factor secret is under key {id}; old keys removed from {}",
            path.display()
        );
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let (vault_ring, started) = if ring.keys().len() > 1 {
        // A rotation was started and not finished: carry on under its new key.
        (ring, false)
    } else {
        let mut keys = vec![MasterKey::generate()];
        keys.extend(ring.into_keys());
        let ring = Keyring::from_keys(keys)?;
        ring.write_file(&path)?;
        (ring, true)
    };
    let new_id = fingerprint(vault_ring.primary());
    let old_ids: Vec<String> = vault_ring.keys()[1..].iter().map(fingerprint).collect();
    if started {
        println!("new master key {new_id} written to {} (old key {} kept)", path.display(), old_ids.join(", "));
    } else {
        println!("resuming the rotation to key {new_id} (old keys {} kept)", old_ids.join(", "));
    }
    let vault = Vault::from_keyring(&vault_ring);
    let report = rewrap_all(&store, &vault, batch_size, progress).await?;
    if on_terminal {
        eprintln!();
    }
    println!(
        "re-wrapped {} data keys, moved {} older credentials to data keys, re-sealed {} two-factor secrets and {} Mastodon app secrets ({} already current, {} left)",
        report.data_keys_rewrapped,
        report.legacy_credentials_upgraded,
        report.totp_secrets_resealed,
        report.app_secrets_resealed,
        report.already_current,
        report.remaining
    );
    println!(
        "Running servers pick up the new key file by themselves. Copy it to every replica that has its own, \
         keep a backup of it, then run `steward admin rotate-master-key --finish` to remove the old key."
    );
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malloc_tunables_are_added_unless_the_operator_set_them() {
        assert_eq!(
            missing_malloc_tunables("", 4),
            vec!["glibc.malloc.mmap_threshold=1048576".to_string(), "glibc.malloc.arena_max=4".to_string()]
        );
        assert_eq!(missing_malloc_tunables("glibc.malloc.arena_max=8", 2), vec!["glibc.malloc.mmap_threshold=1048576"]);
        assert!(missing_malloc_tunables("glibc.malloc.mmap_threshold=4194304:glibc.malloc.arena_max=1", 2).is_empty());
    }
}
