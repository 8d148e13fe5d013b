//! Steward's domain rules, free of I/O: everything here is pure and unit-tested, so the
//! server, the store and the CLI can all lean on one definition of each rule.
pub mod alerts;
pub mod audit;
pub mod audit_chain;
pub mod capability;
pub mod device;
pub mod identity;
pub mod ids;
pub mod moderation;
pub mod pace;
pub mod platform;
pub mod post;
pub mod preview;
pub mod rate_limits;
pub mod status;
pub mod throttle;
pub mod windows;
