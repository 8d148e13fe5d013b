//! HTTP handlers, one module per area of API.md.
pub mod accounts;
pub mod activity;
pub mod alerts;
pub mod connect;
pub mod engagement;
pub mod identity;
pub mod lockdown;
pub mod me;
pub mod members;
pub mod notifications;
pub mod ops;
pub mod posts;

pub use steward_app::paging::Page;
