//! Steward's edges over the application layer (`steward_app`): the JSON API (`routes`), the
//! web app (`web`) and the request middleware; `App` wires them with the background workers.
pub mod api;
pub mod app;
pub mod auth;
pub mod error;
pub mod escape;
pub mod openapi;
pub mod request;
pub mod state;
pub mod web;
pub mod worker;

pub use app::{App, openapi, shutdown_signal};
pub use steward_app::config::Settings;
