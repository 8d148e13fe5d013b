//! What every request handler can reach.
use std::ops::Deref;
use std::sync::Arc;

use steward_store::Store;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{MasterKey, Sealer};
use crate::metrics::Metrics;
use crate::passwords::Passwords;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub store: Store,
    pub clock: Clock,
    pub sealer: Sealer,
    /// Keys CSRF tokens to sessions without storing them.
    pub csrf_key: [u8; 32],
    /// Keys device fingerprints, so the database does not hold raw user agents twice.
    pub device_key: [u8; 32],
    pub passwords: Passwords,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(settings: Settings, store: Store, master: &MasterKey, clock: Clock) -> anyhow::Result<Self> {
        let passwords = Passwords::new(settings.password_hash_cost)?;
        Ok(Self(Arc::new(Inner {
            settings,
            store,
            clock,
            sealer: Sealer::new(master),
            csrf_key: master.derive("steward.csrf.v1"),
            device_key: master.derive("steward.device.v1"),
            passwords,
            metrics: Metrics::default(),
        })))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
