//! The state every handler reaches: the application's [`Services`], wrapped so the edge can
//! give it HTTP behaviour (extractors keyed on it) without the application knowing HTTP.
use std::ops::Deref;

use steward_app::Services;
use steward_app::clock::Clock;
use steward_app::config::Settings;
use steward_app::crypto::MasterKey;
use steward_store::Store;

#[derive(Clone)]
pub struct AppState(pub Services);

impl AppState {
    pub fn new(settings: Settings, store: Store, master: &MasterKey, clock: Clock) -> anyhow::Result<Self> {
        Services::new(settings, store, master, clock).map(AppState)
    }

    /// The application's services, for use cases and workers that outlive a request.
    #[must_use]
    pub fn services(&self) -> &Services {
        &self.0
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}
