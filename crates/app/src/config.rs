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
    /// Requests refused for an unknown or expired credential, per address block and minute,
    /// before they are answered 429.
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
            lease: Duration::from_secs(60),
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
}

/// The keys accepted in `steward.toml`: the environment variable names without `STEWARD_`,
/// lower-cased (`listen`, `data_dir`, `database_url`, …).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    signup: Option<String>,
    master_key_file: Option<String>,
    master_key: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    allow_private_networks: Option<bool>,
    session_idle_minutes: Option<u64>,
    session_absolute_minutes: Option<u64>,
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
        let file = match config_file {
            None => FileSettings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                toml::from_str(&text)
                    .map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source: Box::new(source) })?
            }
        };
        let get = |name: &str, from_file: Option<String>| -> Option<String> {
            env.get(name).filter(|v| !v.is_empty()).cloned().or(from_file)
        };

        let listen_raw = get("STEWARD_LISTEN", file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|e| ConfigError::Invalid {
            name: "STEWARD_LISTEN",
            message: format!("{e} (expected host:port)"),
        })?;
        let data_dir = PathBuf::from(get("STEWARD_DATA_DIR", file.data_dir).unwrap_or_else(|| "./steward-data".into()));
        let database_url = get("STEWARD_DATABASE_URL", file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/steward.db", data_dir.display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(ConfigError::Invalid {
                name: "STEWARD_DATABASE_URL",
                message: "must start with sqlite:// or postgres://".into(),
            });
        }
        let public_url = get("STEWARD_PUBLIC_URL", file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "STEWARD_PUBLIC_URL",
                message: "must start with http:// or https://".into(),
            });
        }
        let signup = match get("STEWARD_SIGNUP", file.signup).as_deref().unwrap_or("invite") {
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
        let master_key = match get("STEWARD_MASTER_KEY", file.master_key) {
            Some(inline) => MasterKeySource::Inline(inline),
            None => MasterKeySource::File(
                get("STEWARD_MASTER_KEY_FILE", file.master_key_file)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data_dir.join("master.key")),
            ),
        };
        let flag = |name: &'static str, otherwise: bool| -> Result<bool, ConfigError> {
            match env.get(name).map(String::as_str) {
                Some("true" | "1" | "yes") => Ok(true),
                Some("false" | "0" | "no" | "") => Ok(false),
                Some(other) => {
                    Err(ConfigError::Invalid { name, message: format!("{other:?} (expected true or false)") })
                }
                None => Ok(otherwise),
            }
        };
        let allow_private_networks =
            flag("STEWARD_ALLOW_PRIVATE_NETWORKS", file.allow_private_networks.unwrap_or(false))?;
        let minutes = |name: &'static str, from_file: Option<u64>, default: u64| -> Result<Duration, ConfigError> {
            let m = match env.get(name) {
                Some(v) => v.parse::<u64>().map_err(|e| ConfigError::Invalid { name, message: e.to_string() })?,
                None => from_file.unwrap_or(default),
            };
            if m == 0 {
                return Err(ConfigError::Invalid { name, message: "must be at least 1".into() });
            }
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
            count("STEWARD_PASSWORD_HASH_CONCURRENCY", crate::passwords::default_concurrency(), 1)?;
        let password_hash_queue = count("STEWARD_PASSWORD_HASH_QUEUE", 64, 0)?;
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
            smtp_url: get("STEWARD_SMTP_URL", file.smtp_url),
            mail_from: get("STEWARD_MAIL_FROM", file.mail_from),
            allow_private_networks,
            session_idle: minutes("STEWARD_SESSION_IDLE_MINUTES", file.session_idle_minutes, 7 * 24 * 60)?,
            session_absolute: minutes("STEWARD_SESSION_ABSOLUTE_MINUTES", file.session_absolute_minutes, 30 * 24 * 60)?,
            password_hash_cost: PasswordHashCost::OWASP,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_window: Duration::from_secs(15 * 60),
            refused_credentials_per_minute: 60,
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
        ] {
            let err = Settings::load(None, &env(&[(k, v)])).expect_err(k);
            assert!(err.to_string().contains(k), "{err}");
        }
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
