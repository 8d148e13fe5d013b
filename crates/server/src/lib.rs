//! The Steward server: HTTP API, web app and background work over a [`steward_store::Store`].
pub mod alerts;
pub mod app;
pub mod audit_verify;
pub mod auth;
pub mod authz;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod error;
pub mod metrics;
pub mod notify;
pub mod passwords;
pub mod platforms;
pub mod request;
pub mod routes;
pub mod scheduler;
pub mod state;
pub mod sweeper;
pub mod twofactor;
pub mod vault;
pub mod web;

pub use app::{App, openapi, shutdown_signal};
pub use config::Settings;
