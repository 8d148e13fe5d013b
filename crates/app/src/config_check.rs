//! `steward admin check-config`: whether what the settings name is there and answers — the
//! database, the master key, the mail server and each configured platform — without changing
//! anything (no database or key file is created).
use std::time::Duration;

use lettre::{AsyncSmtpTransport, Tokio1Executor};
use steward_store::Store;

use crate::config::{MasterKeySource, Settings};
use crate::crypto::{Keyring, MasterKey};

/// One check's verdict, as a line for the operator.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
}

fn verdict(what: &'static str, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check { what, ok: true, detail },
        Err(detail) => Check { what, ok: false, detail },
    }
}

/// Runs every check; none of them writes anything.
pub async fn run(settings: &Settings) -> Vec<Check> {
    let mut checks = vec![
        verdict("database", database(settings).await),
        verdict("master key", master_key(&settings.master_key)),
        verdict("mail", mail(settings).await),
    ];
    for (what, app) in [("platform linkedin", &settings.linkedin), ("platform tiktok", &settings.tiktok)] {
        if let Some(app) = app {
            checks.push(verdict(what, reachable(&[&app.auth_base, &app.api_base]).await));
        }
    }
    checks
}

async fn database(settings: &Settings) -> Result<String, String> {
    if let Some(file) = steward_store::sqlite_file(&settings.database_url)
        && !file.exists()
    {
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        return if dir.is_dir() {
            Ok(format!("{} does not exist yet; `steward serve` creates it in {}", file.display(), dir.display()))
        } else {
            Ok(format!(
                "{} does not exist yet; `steward serve` creates it and its directory {}",
                file.display(),
                dir.display()
            ))
        };
    }
    let store = Store::connect(&settings.database_url).await.map_err(|e| e.to_string())?;
    let result = store.ping().await.map_err(|e| e.to_string());
    store.close().await;
    result.map(|()| format!("{} answers", crate::config::redact_url(&settings.database_url)))
}

fn master_key(source: &MasterKeySource) -> Result<String, String> {
    match source {
        MasterKeySource::Inline(b64) => MasterKey::from_base64(b64)
            .map(|_| "STEWARD_MASTER_KEY holds a valid key".to_string())
            .map_err(|e| format!("STEWARD_MASTER_KEY: {e}")),
        MasterKeySource::File(path) => match Keyring::read_file(path) {
            Ok(Some(ring)) => Ok(format!("{} holds {} key(s)", path.display(), ring.keys().len())),
            Ok(None) => Ok(format!("{} does not exist yet; `steward serve` creates it (mode 0600)", path.display())),
            Err(e) => {
                Err(format!("{}: {e}; fix its content or permissions, or set STEWARD_MASTER_KEY_FILE", path.display()))
            }
        },
    }
}

async fn mail(settings: &Settings) -> Result<String, String> {
    match (&settings.smtp_url, &settings.mail_from) {
        (None, None) => {
            Ok("off (STEWARD_SMTP_URL and STEWARD_MAIL_FROM unset): alerts and invitations are not emailed".into())
        }
        (Some(_), None) | (None, Some(_)) => Err("set both STEWARD_SMTP_URL and STEWARD_MAIL_FROM, or neither".into()),
        (Some(url), Some(_)) => {
            let shown = crate::config::redact_url(url);
            let transport: AsyncSmtpTransport<Tokio1Executor> = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| format!("STEWARD_SMTP_URL {shown} is not usable: {e}"))?
                .timeout(Some(Duration::from_secs(10)))
                .build();
            match transport.test_connection().await {
                Ok(true) => Ok(format!("{shown} answers")),
                Ok(false) => Err(format!("{shown} did not answer as a mail server")),
                Err(e) => Err(format!("{shown}: {e}")),
            }
        }
    }
}

/// Any HTTP answer counts: the origin is reachable; what it says to an anonymous GET does not matter.
async fn reachable(origins: &[&String]) -> Result<String, String> {
    let client = steward_connectors::http::client_with_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    for origin in origins {
        if seen.contains(origin) {
            continue;
        }
        client.get(origin.as_str()).send().await.map_err(|e| format!("{origin} cannot be reached: {e}"))?;
        seen.push(*origin);
    }
    Ok(format!("{} reachable", seen.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")))
}
