//! Settings, from `steward.toml` (path from `--config`) and `STEWARD_*` environment variables;
//! the environment wins. Names follow DESIGN.md's Configuration table.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    Open,
    Invite,
    Closed,
}

/// Argon2id cost. Production uses OWASP's recommendation; tests use a cheap one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordHashCost {
    /// OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
    pub const OWASP: Self = Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };
    /// For tests only: orders of magnitude cheaper, same algorithm.
    pub const TEST: Self = Self { memory_kib: 64, iterations: 1, parallelism: 1 };
}

#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// Base64 of 32 bytes (`STEWARD_MASTER_KEY`).
    Inline(String),
    /// A file holding the base64 key, created with mode 0600 if absent.
    File(PathBuf),
}

#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: String,
    pub signup: SignupMode,
    pub master_key: MasterKeySource,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub allow_private_networks: bool,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub password_hash_cost: PasswordHashCost,
    /// `STEWARD_PASSWORD_HASH_CONCURRENCY` (default: the number of cores): Argon2 hashes that
    /// run at once, each taking `password_hash_cost.memory_kib` of memory.
    pub password_hash_concurrency: usize,
    /// `STEWARD_PASSWORD_HASH_QUEUE` (default 64): sign-ins and sign-ups that wait for a turn;
    /// past it they are answered 503 with `Retry-After`.
    pub password_hash_queue: usize,
    /// Failed sign-ins per account, and per IP, within `login_window` before throttling.
    pub login_max_failures_per_account: i64,
    pub login_max_failures_per_ip: i64,
    pub login_window: Duration,
    /// `STEWARD_REFUSED_CREDENTIALS_PER_MINUTE` (default 60): requests refused for an unknown or
    /// expired credential, per address block and minute, before they are answered 429.
    pub refused_credentials_per_minute: i64,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`STEWARD_TRUSTED_PROXIES`,
    /// comma-separated addresses); from anyone else the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// LinkedIn's OAuth app and origins; `None` while no client id and secret are configured.
    pub linkedin: Option<steward_connectors::OauthApp>,
    /// The `LinkedIn-Version` header (`YYYYMM`); LinkedIn retires each version after about a year.
    pub linkedin_version: String,
    /// `STEWARD_LINKEDIN_MEMBER_READ`: the LinkedIn app is approved for `r_member_social`, so
    /// member profiles are connected with it and their post counts can be read.
    pub linkedin_member_read: bool,
    /// TikTok's OAuth app (TikTok calls the client id "client key").
    pub tiktok: Option<steward_connectors::OauthApp>,
    /// `STEWARD_AUDIT_RETENTION_DAYS`: audit events older than this are pruned behind a signed
    /// checkpoint; `None` (the default) keeps everything.
    pub audit_retention_days: Option<u32>,
    /// `STEWARD_AUDIT_ANCHOR_FILE` (default `$STEWARD_DATA_DIR/audit-anchor.log`): where the
    /// server appends the chain head every minute, outside the database.
    pub audit_anchor_file: PathBuf,
    pub publishing: PublishingSettings,
    /// `STEWARD_LOG`: the log filter (checked by the binary, which owns logging).
    pub log: String,
    /// `STEWARD_LOG_FORMAT=json`.
    pub log_json: bool,
}

/// The scheduler's timings (`STEWARD_SCHEDULER_*`, `STEWARD_PUBLISH_*`).
#[derive(Debug, Clone)]
pub struct PublishingSettings {
    /// How long a worker's claim on a job lasts without a heartbeat; after it, another worker
    /// (or this one restarted) reconciles the job. Renewed every third of it while a call runs.
    pub lease: Duration,
    /// How often an idle worker looks at the database even without a wake-up, so that work
    /// another replica scheduled is noticed (PostgreSQL; SQLite has one process).
    pub recheck: Duration,
    /// Attempts of one post version before it fails for good.
    pub max_attempts: u32,
    /// First retry delay after a 5xx or timeout; doubled each attempt (with jitter), at most `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Posts claimed per batch, and platform calls in flight at once per worker.
    pub batch: i64,
    pub concurrency: usize,
}

impl Default for PublishingSettings {
    fn default() -> Self {
        Self {
            // Short enough that a post in flight on a replica that crashed still goes out within
            // a minute of its due time; the heartbeat renews it every third while a call runs.
            lease: Duration::from_secs(20),
            recheck: Duration::from_secs(30),
            max_attempts: 8,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            batch: 200,
            concurrency: 32,
        }
    }
}

fn publishing_settings(env: &HashMap<String, String>) -> Result<PublishingSettings, ConfigError> {
    let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
        match env.get(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => {
                    Err(ConfigError::Invalid { name, message: format!("{v:?} (expected a whole number, at least 1)") })
                }
            },
        }
    };
    let d = PublishingSettings::default();
    let secs = |name: &'static str, default: Duration| number(name, default.as_secs()).map(Duration::from_secs);
    Ok(PublishingSettings {
        lease: secs("STEWARD_SCHEDULER_LEASE_SECS", d.lease)?,
        recheck: secs("STEWARD_SCHEDULER_RECHECK_SECS", d.recheck)?,
        max_attempts: u32::try_from(number("STEWARD_PUBLISH_MAX_ATTEMPTS", u64::from(d.max_attempts))?)
            .unwrap_or(u32::MAX),
        backoff_base: secs("STEWARD_PUBLISH_BACKOFF_SECS", d.backoff_base)?,
        backoff_max: secs("STEWARD_PUBLISH_BACKOFF_MAX_SECS", d.backoff_max)?,
        batch: i64::try_from(number("STEWARD_SCHEDULER_BATCH", u64::try_from(d.batch).unwrap_or(200))?).unwrap_or(200),
        concurrency: usize::try_from(number("STEWARD_SCHEDULER_CONCURRENCY", d.concurrency as u64)?).unwrap_or(32),
    })
}

/// Reads `STEWARD_<NAME>_CLIENT_ID`/`_CLIENT_SECRET`/`_AUTH_BASE`/`_API_BASE`.
fn oauth_app(
    env: &HashMap<String, String>,
    name: &'static str,
    default_auth: &str,
    default_api: &str,
) -> Result<Option<steward_connectors::OauthApp>, ConfigError> {
    let get = |suffix: &str| env.get(&format!("STEWARD_{name}_{suffix}")).filter(|v| !v.is_empty()).cloned();
    let base = |suffix: &'static str, default: &str| -> Result<String, ConfigError> {
        let value = get(suffix).unwrap_or_else(|| default.to_string()).trim_end_matches('/').to_string();
        let scheme_ok = value.starts_with("https://") || value.starts_with("http://");
        let path_free = value.splitn(4, '/').nth(3).is_none();
        if !scheme_ok || !path_free {
            return Err(ConfigError::Invalid {
                name: if suffix == "AUTH_BASE" {
                    "STEWARD_<PLATFORM>_AUTH_BASE"
                } else {
                    "STEWARD_<PLATFORM>_API_BASE"
                },
                message: format!("{value:?} must be an origin: scheme, host and port, no path"),
            });
        }
        Ok(value)
    };
    let auth_base = base("AUTH_BASE", default_auth)?;
    let api_base = base("API_BASE", default_api)?;
    match (get("CLIENT_ID"), get("CLIENT_SECRET")) {
        (Some(client_id), Some(secret)) => Ok(Some(steward_connectors::OauthApp {
            client_id,
            client_secret: zeroize::Zeroizing::new(secret),
            auth_base,
            api_base,
        })),
        (None, None) => Ok(None),
        _ => Err(ConfigError::Invalid {
            name: "STEWARD_<PLATFORM>_CLIENT_ID",
            message: format!("set both STEWARD_{name}_CLIENT_ID and STEWARD_{name}_CLIENT_SECRET, or neither"),
        }),
    }
}

impl std::fmt::Debug for Settings {
    // Hand-written so a printed Settings never shows an inline master key or database password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("signup", &self.signup)
            .finish_non_exhaustive()
    }
}

/// The URL with any password replaced, for logs.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else { return url.to_string() };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
    format!("{}://{}{}", &url[..scheme_end], masked, &rest[at..])
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("invalid value for {name}: {message}")]
    Invalid { name: &'static str, message: String },
    #[error("unknown setting {key:?} in {path}: the keys are the STEWARD_* names of README's settings table without STEWARD_, lower-cased ({})", SETTINGS.iter().map(|k| file_key(k.name)).collect::<Vec<_>>().join(", "))]
    UnknownKey { path: PathBuf, key: String },
}

/// One setting: its environment name (`steward.toml` takes it without `STEWARD_`, lower-cased),
/// what it accepts, and whether its value is a secret (never printed).
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub name: &'static str,
    pub accepts: &'static str,
    pub secret: bool,
}

const fn known(name: &'static str, accepts: &'static str) -> Known {
    Known { name, accepts, secret: false }
}

const fn secret(name: &'static str, accepts: &'static str) -> Known {
    Known { name, accepts, secret: true }
}

/// Every setting, as README's table lists them (a test reads the table).
pub const SETTINGS: &[Known] = &[
    known("STEWARD_LISTEN", "host:port, e.g. 127.0.0.1:8080"),
    known("STEWARD_DATA_DIR", "a directory path"),
    secret("STEWARD_DATABASE_URL", "sqlite://PATH or postgres://user:pass@host/db"),
    known("STEWARD_PUBLIC_URL", "an http:// or https:// URL"),
    known("STEWARD_SIGNUP", "open, invite or closed"),
    known("STEWARD_MASTER_KEY_FILE", "a file path"),
    secret("STEWARD_MASTER_KEY", "base64 of 32 bytes"),
    known("STEWARD_SESSION_IDLE_MINUTES", "a whole number of minutes, at least 1"),
    known("STEWARD_SESSION_ABSOLUTE_MINUTES", "a whole number of minutes, at least 1"),
    known("STEWARD_ALLOW_PRIVATE_NETWORKS", "true or false"),
    known("STEWARD_PASSWORD_HASH_CONCURRENCY", "a whole number, at least 1"),
    known("STEWARD_PASSWORD_HASH_QUEUE", "a whole number"),
    known("STEWARD_REFUSED_CREDENTIALS_PER_MINUTE", "a whole number, at least 1"),
    known("STEWARD_TRUSTED_PROXIES", "comma-separated IP addresses, e.g. 127.0.0.1, ::1"),
    secret("STEWARD_SMTP_URL", "smtp://, smtps:// or smtp://…?tls=required URL"),
    known("STEWARD_MAIL_FROM", "an email address, e.g. Steward <steward@example.com>"),
    known("STEWARD_LINKEDIN_CLIENT_ID", "the LinkedIn app's client id"),
    secret("STEWARD_LINKEDIN_CLIENT_SECRET", "the LinkedIn app's client secret"),
    known("STEWARD_LINKEDIN_AUTH_BASE", "an origin (scheme, host, port; no path)"),
    known("STEWARD_LINKEDIN_API_BASE", "an origin (scheme, host, port; no path)"),
    known("STEWARD_LINKEDIN_VERSION", "YYYYMM, e.g. 202610"),
    known("STEWARD_LINKEDIN_MEMBER_READ", "true or false"),
    known("STEWARD_TIKTOK_CLIENT_ID", "the TikTok app's client key"),
    secret("STEWARD_TIKTOK_CLIENT_SECRET", "the TikTok app's client secret"),
    known("STEWARD_TIKTOK_AUTH_BASE", "an origin (scheme, host, port; no path)"),
    known("STEWARD_TIKTOK_API_BASE", "an origin (scheme, host, port; no path)"),
    known("STEWARD_AUDIT_RETENTION_DAYS", "a whole number of days, at least 1"),
    known("STEWARD_AUDIT_ANCHOR_FILE", "a file path"),
    known("STEWARD_SCHEDULER_LEASE_SECS", "a whole number of seconds, at least 1"),
    known("STEWARD_SCHEDULER_RECHECK_SECS", "a whole number of seconds, at least 1"),
    known("STEWARD_SCHEDULER_BATCH", "a whole number, at least 1"),
    known("STEWARD_SCHEDULER_CONCURRENCY", "a whole number, at least 1"),
    known("STEWARD_PUBLISH_MAX_ATTEMPTS", "a whole number, at least 1"),
    known("STEWARD_PUBLISH_BACKOFF_SECS", "a whole number of seconds, at least 1"),
    known("STEWARD_PUBLISH_BACKOFF_MAX_SECS", "a whole number of seconds, at least 1"),
    known("STEWARD_LOG", "a log filter such as info, debug or info,steward_server=trace"),
    known("STEWARD_LOG_FORMAT", "text or json"),
];

/// The default number of password hashes at once (`STEWARD_PASSWORD_HASH_CONCURRENCY`): one per core.
#[must_use]
pub fn default_password_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// The `steward.toml` key of a setting: its name without `STEWARD_`, lower-cased.
#[must_use]
pub fn file_key(name: &str) -> String {
    name.trim_start_matches("STEWARD_").to_ascii_lowercase()
}

/// Reads `steward.toml` into the settings' environment names; an unknown key or a value that is
/// not a string, number or boolean stops here, naming the key.
fn read_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source: Box::new(source) })?;
    let mut out = HashMap::new();
    for (key, value) in table {
        let Some(setting) = SETTINGS.iter().find(|k| file_key(k.name) == key) else {
            return Err(ConfigError::UnknownKey { path: path.to_path_buf(), key });
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(ConfigError::Invalid {
                    name: setting.name,
                    message: format!("{key} in {} must be {}", path.display(), setting.accepts),
                });
            }
        };
        out.insert(setting.name.to_string(), value);
    }
    Ok(out)
}

fn trusted_proxies(env: &HashMap<String, String>) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    let Some(list) = env.get("STEWARD_TRUSTED_PROXIES") else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|_| ConfigError::Invalid {
                name: "STEWARD_TRUSTED_PROXIES",
                message: format!("{p:?} is not an IP address (expected a comma-separated list of addresses)"),
            })
        })
        .collect()
}

impl Settings {
    /// Loads settings from an optional TOML file and the given environment.
    pub fn load(config_file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut merged = match config_file {
            None => HashMap::new(),
            Some(path) => read_file(path)?,
        };
        // The environment wins; an empty variable counts as unset.
        for k in SETTINGS {
            if let Some(v) = env.get(k.name).filter(|v| !v.is_empty()) {
                merged.insert(k.name.to_string(), v.clone());
            }
        }
        let env = &merged;
        let get = |name: &str| -> Option<String> { env.get(name).cloned() };

        let listen_raw = get("STEWARD_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|e| ConfigError::Invalid {
            name: "STEWARD_LISTEN",
            message: format!("{e} (expected host:port)"),
        })?;
        let data_dir = PathBuf::from(get("STEWARD_DATA_DIR").unwrap_or_else(|| "./steward-data".into()));
        let database_url =
            get("STEWARD_DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}/steward.db", data_dir.display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(ConfigError::Invalid {
                name: "STEWARD_DATABASE_URL",
                message: "must start with sqlite:// or postgres://".into(),
            });
        }
        let public_url =
            get("STEWARD_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}")).trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "STEWARD_PUBLIC_URL",
                message: "must start with http:// or https://".into(),
            });
        }
        let signup = match get("STEWARD_SIGNUP").as_deref().unwrap_or("invite") {
            "open" => SignupMode::Open,
            "invite" => SignupMode::Invite,
            "closed" => SignupMode::Closed,
            other => {
                return Err(ConfigError::Invalid {
                    name: "STEWARD_SIGNUP",
                    message: format!("{other:?} (expected open, invite or closed)"),
                });
            }
        };
        let master_key = match get("STEWARD_MASTER_KEY") {
            Some(inline) => MasterKeySource::Inline(inline),
            None => MasterKeySource::File(
                get("STEWARD_MASTER_KEY_FILE").map(PathBuf::from).unwrap_or_else(|| data_dir.join("master.key")),
            ),
        };
        let flag = |name: &'static str, otherwise: bool| -> Result<bool, ConfigError> {
            match env.get(name).map(String::as_str) {
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => {
                    Err(ConfigError::Invalid { name, message: format!("{other:?} (expected true or false)") })
                }
                None => Ok(otherwise),
            }
        };
        let allow_private_networks = flag("STEWARD_ALLOW_PRIVATE_NETWORKS", false)?;
        let minutes = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            let m = match env.get(name) {
                Some(v) => match v.parse::<u64>() {
                    Ok(m) if m >= 1 => m,
                    _ => {
                        return Err(ConfigError::Invalid {
                            name,
                            message: format!("{v:?} (expected a whole number of minutes, at least 1)"),
                        });
                    }
                },
                None => default,
            };
            Ok(Duration::from_secs(m * 60))
        };
        let audit_retention_days = match env.get("STEWARD_AUDIT_RETENTION_DAYS").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(d) if d >= 1 => Some(d),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "STEWARD_AUDIT_RETENTION_DAYS",
                        message: format!("{v:?} (expected a number of days, at least 1)"),
                    });
                }
            },
        };
        let count = |name: &'static str, default: usize, least: usize| -> Result<usize, ConfigError> {
            match env.get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => match v.parse::<usize>() {
                    Ok(n) if n >= least => Ok(n),
                    _ => Err(ConfigError::Invalid {
                        name,
                        message: format!("{v:?} (expected a whole number, at least {least})"),
                    }),
                },
            }
        };
        let password_hash_concurrency =
            count("STEWARD_PASSWORD_HASH_CONCURRENCY", default_password_hash_concurrency(), 1)?;
        let password_hash_queue = count("STEWARD_PASSWORD_HASH_QUEUE", 64, 0)?;
        let refused_credentials_per_minute = count("STEWARD_REFUSED_CREDENTIALS_PER_MINUTE", 60, 1)?;
        let audit_anchor_file = env
            .get("STEWARD_AUDIT_ANCHOR_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("audit-anchor.log"));
        Ok(Self {
            password_hash_concurrency,
            password_hash_queue,
            audit_retention_days,
            audit_anchor_file,
            listen,
            data_dir,
            database_url,
            public_url,
            signup,
            master_key,
            log: get("STEWARD_LOG").unwrap_or_else(|| "info,sqlx=warn".into()),
            log_json: match get("STEWARD_LOG_FORMAT").as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "STEWARD_LOG_FORMAT",
                        message: format!("{other:?} (expected text or json)"),
                    });
                }
            },
            smtp_url: get("STEWARD_SMTP_URL"),
            mail_from: get("STEWARD_MAIL_FROM"),
            allow_private_networks,
            session_idle: minutes("STEWARD_SESSION_IDLE_MINUTES", 7 * 24 * 60)?,
            session_absolute: minutes("STEWARD_SESSION_ABSOLUTE_MINUTES", 30 * 24 * 60)?,
            password_hash_cost: PasswordHashCost::OWASP,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_window: Duration::from_secs(15 * 60),
            refused_credentials_per_minute: i64::try_from(refused_credentials_per_minute).unwrap_or(i64::MAX),
            trusted_proxies: trusted_proxies(env)?,
            linkedin: oauth_app(
                env,
                "LINKEDIN",
                steward_connectors::linkedin::DEFAULT_AUTH_BASE,
                steward_connectors::linkedin::DEFAULT_API_BASE,
            )?,
            linkedin_version: match env.get("STEWARD_LINKEDIN_VERSION").filter(|v| !v.is_empty()) {
                Some(v) if v.len() == 6 && v.chars().all(|c| c.is_ascii_digit()) => v.clone(),
                Some(v) => {
                    return Err(ConfigError::Invalid {
                        name: "STEWARD_LINKEDIN_VERSION",
                        message: format!("{v:?} (expected YYYYMM, e.g. 202610)"),
                    });
                }
                None => "202610".into(),
            },
            linkedin_member_read: flag("STEWARD_LINKEDIN_MEMBER_READ", false)?,
            tiktok: oauth_app(env, "TIKTOK", "https://www.tiktok.com", "https://open.tiktokapis.com")?,
            publishing: publishing_settings(env)?,
        })
    }

    /// Every setting's effective value, in README's order, secrets masked (`steward admin check-config`).
    #[must_use]
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        let secret = |set: bool| if set { "(set, hidden)".to_string() } else { "(unset)".to_string() };
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
        let app = |a: &Option<steward_connectors::OauthApp>, part: &str| match (a, part) {
            (None, "secret") => secret(false),
            (None, _) => "(unset)".into(),
            (Some(a), "id") => a.client_id.clone(),
            (Some(_), "secret") => secret(true),
            (Some(a), "auth") => a.auth_base.clone(),
            (Some(a), _) => a.api_base.clone(),
        };
        let p = &self.publishing;
        SETTINGS
            .iter()
            .map(|k| {
                let v = match k.name {
                    "STEWARD_LISTEN" => self.listen.to_string(),
                    "STEWARD_DATA_DIR" => self.data_dir.display().to_string(),
                    "STEWARD_DATABASE_URL" => redact_url(&self.database_url),
                    "STEWARD_PUBLIC_URL" => self.public_url.clone(),
                    "STEWARD_SIGNUP" => format!("{:?}", self.signup).to_ascii_lowercase(),
                    "STEWARD_MASTER_KEY_FILE" => match &self.master_key {
                        MasterKeySource::File(f) => f.display().to_string(),
                        MasterKeySource::Inline(_) => "(unused: STEWARD_MASTER_KEY is set)".into(),
                    },
                    "STEWARD_MASTER_KEY" => secret(matches!(self.master_key, MasterKeySource::Inline(_))),
                    "STEWARD_SESSION_IDLE_MINUTES" => (self.session_idle.as_secs() / 60).to_string(),
                    "STEWARD_SESSION_ABSOLUTE_MINUTES" => (self.session_absolute.as_secs() / 60).to_string(),
                    "STEWARD_ALLOW_PRIVATE_NETWORKS" => self.allow_private_networks.to_string(),
                    "STEWARD_PASSWORD_HASH_CONCURRENCY" => self.password_hash_concurrency.to_string(),
                    "STEWARD_PASSWORD_HASH_QUEUE" => self.password_hash_queue.to_string(),
                    "STEWARD_REFUSED_CREDENTIALS_PER_MINUTE" => self.refused_credentials_per_minute.to_string(),
                    "STEWARD_TRUSTED_PROXIES" => {
                        if self.trusted_proxies.is_empty() {
                            "(none)".into()
                        } else {
                            self.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                        }
                    }
                    "STEWARD_SMTP_URL" => self.smtp_url.as_deref().map(redact_url).unwrap_or_else(|| "(unset)".into()),
                    "STEWARD_MAIL_FROM" => opt(&self.mail_from),
                    "STEWARD_LINKEDIN_CLIENT_ID" => app(&self.linkedin, "id"),
                    "STEWARD_LINKEDIN_CLIENT_SECRET" => app(&self.linkedin, "secret"),
                    "STEWARD_LINKEDIN_AUTH_BASE" => app(&self.linkedin, "auth"),
                    "STEWARD_LINKEDIN_API_BASE" => app(&self.linkedin, "api"),
                    "STEWARD_LINKEDIN_VERSION" => self.linkedin_version.clone(),
                    "STEWARD_LINKEDIN_MEMBER_READ" => self.linkedin_member_read.to_string(),
                    "STEWARD_TIKTOK_CLIENT_ID" => app(&self.tiktok, "id"),
                    "STEWARD_TIKTOK_CLIENT_SECRET" => app(&self.tiktok, "secret"),
                    "STEWARD_TIKTOK_AUTH_BASE" => app(&self.tiktok, "auth"),
                    "STEWARD_TIKTOK_API_BASE" => app(&self.tiktok, "api"),
                    "STEWARD_AUDIT_RETENTION_DAYS" => {
                        self.audit_retention_days.map_or_else(|| "(unset: keep all)".into(), |d| d.to_string())
                    }
                    "STEWARD_AUDIT_ANCHOR_FILE" => self.audit_anchor_file.display().to_string(),
                    "STEWARD_SCHEDULER_LEASE_SECS" => p.lease.as_secs().to_string(),
                    "STEWARD_SCHEDULER_RECHECK_SECS" => p.recheck.as_secs().to_string(),
                    "STEWARD_SCHEDULER_BATCH" => p.batch.to_string(),
                    "STEWARD_SCHEDULER_CONCURRENCY" => p.concurrency.to_string(),
                    "STEWARD_PUBLISH_MAX_ATTEMPTS" => p.max_attempts.to_string(),
                    "STEWARD_PUBLISH_BACKOFF_SECS" => p.backoff_base.as_secs().to_string(),
                    "STEWARD_PUBLISH_BACKOFF_MAX_SECS" => p.backoff_max.as_secs().to_string(),
                    "STEWARD_LOG" => self.log.clone(),
                    "STEWARD_LOG_FORMAT" => if self.log_json { "json" } else { "text" }.into(),
                    _ => "?".into(),
                };
                (k.name, v)
            })
            .collect()
    }

    /// Whether cookies must be `Secure`: only when people reach Steward over https.
    #[must_use]
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Whether this server sends email: an SMTP server and a sender are both configured.
    #[must_use]
    pub fn mail_enabled(&self) -> bool {
        self.smtp_url.is_some() && self.mail_from.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn defaults_follow_the_design() {
        let s = Settings::load(None, &env(&[])).expect("defaults load");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./steward-data"));
        assert_eq!(s.database_url, "sqlite://./steward-data/steward.db");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.signup, SignupMode::Invite);
        assert!(matches!(s.master_key, MasterKeySource::File(ref p) if p == Path::new("./steward-data/master.key")));
        assert!(!s.allow_private_networks);
        assert!(!s.secure_cookies());
        // A post in flight on a replica that crashed waits out the lease before another takes it:
        // 20 s keeps the burst's last post within a minute of its due time (docs/deploy.md).
        assert_eq!(s.publishing.lease, Duration::from_secs(20));
        assert_eq!(s.publishing.recheck, Duration::from_secs(30));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile_dir();
        let path = dir.join("steward.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nsignup = \"closed\"\ndata_dir = \"/srv/st\"\n")
            .expect("write");
        let s = Settings::load(Some(&path), &env(&[("STEWARD_SIGNUP", "open")])).expect("load");
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.signup, SignupMode::Open);
        assert_eq!(s.database_url, "sqlite:///srv/st/steward.db");
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (k, v) in [
            ("STEWARD_LISTEN", "nowhere"),
            ("STEWARD_SIGNUP", "sometimes"),
            ("STEWARD_DATABASE_URL", "mysql://x"),
            ("STEWARD_PUBLIC_URL", "ftp://x"),
            ("STEWARD_ALLOW_PRIVATE_NETWORKS", "maybe"),
            ("STEWARD_REFUSED_CREDENTIALS_PER_MINUTE", "0"),
        ] {
            let err = Settings::load(None, &env(&[(k, v)])).expect_err(k);
            assert!(err.to_string().contains(k), "{err}");
        }
    }

    /// A valid value for every setting, different from its default.
    fn sample(name: &str) -> &'static str {
        match name {
            "STEWARD_LISTEN" => "127.0.0.1:9001",
            "STEWARD_DATA_DIR" => "/srv/steward",
            "STEWARD_DATABASE_URL" => "postgres://app:pw@db/steward",
            "STEWARD_PUBLIC_URL" => "https://steward.example.com",
            "STEWARD_SIGNUP" => "closed",
            "STEWARD_MASTER_KEY_FILE" => "/etc/steward/master.key",
            "STEWARD_MASTER_KEY" => "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "STEWARD_ALLOW_PRIVATE_NETWORKS" | "STEWARD_LINKEDIN_MEMBER_READ" => "true",
            "STEWARD_SMTP_URL" => "smtp://mail.example.com:25",
            "STEWARD_MAIL_FROM" => "steward@example.com",
            "STEWARD_LINKEDIN_VERSION" => "202601",
            "STEWARD_LINKEDIN_AUTH_BASE" | "STEWARD_TIKTOK_AUTH_BASE" => "https://auth.example.com",
            "STEWARD_LINKEDIN_API_BASE" | "STEWARD_TIKTOK_API_BASE" => "https://api.example.com",
            "STEWARD_AUDIT_ANCHOR_FILE" => "/var/log/steward-anchor.log",
            "STEWARD_LOG" => "debug",
            "STEWARD_LOG_FORMAT" => "json",
            "STEWARD_TRUSTED_PROXIES" => "10.0.0.1",
            n if n.ends_with("CLIENT_ID") || n.ends_with("CLIENT_SECRET") => "abc",
            _ => "7",
        }
    }

    /// The names in the first column of README's settings table; `_X` continues the previous
    /// name's first word (`STEWARD_SCHEDULER_LEASE_SECS`, `_BATCH` → `STEWARD_SCHEDULER_BATCH`).
    fn readme_settings() -> Vec<String> {
        let readme = include_str!("../../../README.md");
        let mut names = Vec::new();
        for line in readme.lines().filter(|l| l.starts_with("| `STEWARD_")) {
            let first = line.split('|').nth(1).unwrap_or_default();
            let mut prefix = String::new();
            for name in first.split('`').skip(1).step_by(2) {
                let full = if let Some(rest) = name.strip_prefix('_') {
                    format!("{prefix}{rest}")
                } else {
                    let word = name.trim_start_matches("STEWARD_").split('_').next().unwrap_or_default();
                    prefix = format!("STEWARD_{word}_");
                    name.to_string()
                };
                names.push(full);
            }
        }
        names
    }

    #[test]
    fn readme_and_settings_agree_and_the_file_takes_every_setting() {
        let mut readme = readme_settings();
        let mut known: Vec<String> = SETTINGS.iter().map(|k| k.name.to_string()).collect();
        readme.sort();
        known.sort();
        assert_eq!(readme, known, "README's settings table and config::SETTINGS differ");
        let dir = tempfile_dir();
        let default = Settings::load(None, &env(&[])).expect("defaults").effective();
        for k in SETTINGS {
            // A platform's app is its client id and secret together; its origins need the app.
            let mut names = vec![k.name.to_string()];
            for platform in ["STEWARD_LINKEDIN_", "STEWARD_TIKTOK_"] {
                if k.name.starts_with(platform) && (k.name.contains("CLIENT_") || k.name.ends_with("_BASE")) {
                    for part in ["CLIENT_ID", "CLIENT_SECRET"] {
                        let n = format!("{platform}{part}");
                        if n != k.name {
                            names.push(n);
                        }
                    }
                }
            }
            let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), sample(n))).collect();
            let from_env = Settings::load(None, &env(&pairs)).unwrap_or_else(|e| panic!("{}: {e}", k.name)).effective();
            let toml: String = pairs
                .iter()
                .map(|(n, v)| {
                    let literal =
                        if v.parse::<u64>().is_ok() || *v == "true" { (*v).to_string() } else { format!("{v:?}") };
                    format!("{} = {literal}\n", file_key(n))
                })
                .collect();
            let path = dir.join("one.toml");
            std::fs::write(&path, toml).expect("write");
            let from_file =
                Settings::load(Some(&path), &env(&[])).unwrap_or_else(|e| panic!("{}: {e}", k.name)).effective();
            assert_eq!(from_env, from_file, "{} from the environment and from steward.toml", k.name);
            assert_ne!(from_env, default, "{} changed nothing", k.name);
        }
    }

    #[test]
    fn values_not_understood_stop_with_one_line_naming_the_key() {
        let dir = tempfile_dir();
        let path = dir.join("unknown.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nallow_private_network = true\n").expect("write");
        let err = Settings::load(Some(&path), &env(&[])).expect_err("unknown key").to_string();
        assert!(err.contains("\"allow_private_network\"") && err.contains("allow_private_networks"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        for (k, v) in [
            ("STEWARD_ALLOW_PRIVATE_NETWORKS", "yes"),
            ("STEWARD_LINKEDIN_MEMBER_READ", "1"),
            ("STEWARD_LOG_FORMAT", "xml"),
            ("STEWARD_SESSION_IDLE_MINUTES", "0"),
        ] {
            let err = Settings::load(None, &env(&[(k, v)])).expect_err(k).to_string();
            assert!(err.contains(k) && err.contains("expected") && !err.contains('\n'), "{err}");
        }
        std::fs::write(&path, "allow_private_networks = \"yes\"\n").expect("write");
        let err = Settings::load(Some(&path), &env(&[])).expect_err("yes").to_string();
        assert!(err.contains("STEWARD_ALLOW_PRIVATE_NETWORKS") && err.contains("true or false"), "{err}");
    }

    #[test]
    fn effective_settings_hide_secrets() {
        let s = Settings::load(
            None,
            &env(&[
                ("STEWARD_MASTER_KEY", sample("STEWARD_MASTER_KEY")),
                ("STEWARD_DATABASE_URL", "postgres://app:pw@db/steward"),
                ("STEWARD_SMTP_URL", "smtps://u:mailpw@mail.example.com"),
                ("STEWARD_TIKTOK_CLIENT_ID", "id"),
                ("STEWARD_TIKTOK_CLIENT_SECRET", "tiktok-secret"),
            ]),
        )
        .expect("load");
        let printed = format!("{:?}", s.effective());
        for secret in ["AAAAAAAA", ":pw@", "mailpw", "tiktok-secret"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("postgres://app:***@db/steward"), "{printed}");
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/steward"), "postgres://app:***@db:5432/steward");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("steward-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn trusted_proxies_are_addresses_or_an_error() {
        let s = Settings::load(None, &env(&[])).expect("defaults load");
        assert!(s.trusted_proxies.is_empty(), "no proxy is trusted by default");
        let s = Settings::load(None, &env(&[("STEWARD_TRUSTED_PROXIES", "127.0.0.1, ::1")])).expect("load");
        assert_eq!(
            s.trusted_proxies,
            vec!["127.0.0.1".parse::<std::net::IpAddr>().expect("test value"), "::1".parse().expect("test value")]
        );
        let e = Settings::load(None, &env(&[("STEWARD_TRUSTED_PROXIES", "10.0.0.0/8")])).expect_err("refused");
        assert!(e.to_string().contains("STEWARD_TRUSTED_PROXIES"), "{e}");
    }
}
