//! What every use case can reach: the store, the clock, the vault, the password hasher, the
//! platform HTTP client and the publishing worker's bell.
use std::ops::Deref;
use std::sync::Arc;

use steward_store::Store;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::metrics::Metrics;
use crate::passwords::Passwords;
use crate::vault::Vault;

#[derive(Clone)]
pub struct Services(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub store: Store,
    pub clock: Clock,
    /// The credential vault: platform credentials under per-account data keys, and our own small
    /// secrets (TOTP) under the master key; follows the key file through a rotation.
    pub sealer: Vault,
    /// Keys CSRF tokens to sessions without storing them.
    pub csrf_key: [u8; 32],
    /// Keys device fingerprints, so the database does not hold raw user agents twice.
    pub device_key: [u8; 32],
    pub passwords: Passwords,
    pub metrics: Metrics,
    /// The client for platform calls (one TLS provider, timeouts, no redirects, and a resolver
    /// that refuses non-public addresses unless `STEWARD_ALLOW_PRIVATE_NETWORKS`).
    pub http: reqwest::Client,
    /// One lock per account, so refreshes of an account's tokens never run concurrently
    /// (platforms that rotate refresh tokens would otherwise kill the one just issued).
    pub refresh_locks: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The publishing worker's identity and wake-up bell (`scheduler.wake()` after scheduling).
    pub scheduler: crate::worker::Scheduler,
}

impl Services {
    pub fn new(settings: Settings, store: Store, master: &MasterKey, clock: Clock) -> anyhow::Result<Self> {
        let passwords = Passwords::new(settings.password_hash_cost)?
            .with_budget(settings.password_hash_concurrency, settings.password_hash_queue);
        let sealer = Vault::load(&settings.master_key)?;
        let http = steward_connectors::http::client_for(settings.allow_private_networks)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self(Arc::new(Inner {
            settings,
            store,
            clock,
            sealer,
            csrf_key: master.derive("steward.csrf.v1"),
            device_key: master.derive("steward.device.v1"),
            passwords,
            metrics: Metrics::default(),
            http,
            refresh_locks: std::sync::Mutex::new(std::collections::HashMap::new()),
            scheduler: crate::worker::Scheduler::default(),
        })))
    }
}

impl Services {
    /// The credential vault (the `sealer` field, named so before platform credentials had data keys).
    #[must_use]
    pub fn vault(&self) -> &Vault {
        &self.sealer
    }
}

impl Deref for Services {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
