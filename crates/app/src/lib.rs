//! Steward's application layer. Every use case lives here once, whichever edge runs it (the
//! JSON API, the web app, the background workers or the CLI): it takes the acting party, asks
//! the one authorization point, does its work in one transaction with its audit event and
//! answers a typed result or an [`AppError`]. No HTTP types: the edges translate.
pub mod accounts;
pub mod activity;
pub mod actor;
pub mod alerts;
pub mod audit_verify;
pub mod authz;
pub mod clock;
pub mod config;
pub mod config_check;
pub mod connect;
pub mod credentials;
pub mod crypto;
pub mod engagement;
pub mod error;
pub mod files;
pub mod identity;
pub mod input;
pub mod lockdown;
pub mod mail;
pub mod members;
pub mod metrics;
pub mod moderation;
pub mod notifications;
pub mod notify;
pub mod paging;
pub mod passwords;
pub mod platforms;
pub mod posts;
pub mod scheduler;
pub mod services;
pub mod strict_json;
pub mod sweeper;
pub mod twofactor;
pub mod usecase;
pub mod vault;
pub mod worker;

pub use config::Settings;
pub use error::{AppError, AppResult, FieldError};
pub use services::Services;
