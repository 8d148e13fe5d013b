//! Social accounts: connecting one with credentials, reading it, its settings and house rules,
//! transferring or deleting it, and checking its platform connection.
pub mod check;
pub mod create;
pub mod ownership;
pub mod rules;
pub mod settings;
pub mod view;
