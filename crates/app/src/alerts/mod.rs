//! Suspicious-activity alerts: raising them, delivering them, each person's inbox and their
//! delivery preferences.
//!
//! **Detection** happens in the store, as each audit event is appended (`store::alerts`): any
//! code that records what it did — members, settings, sign-ins, denials, posting and
//! scheduling — is covered without calling anything here. Code that knows of a finding no event
//! describes (the scheduler holding a post, say) calls [`raise`] inside its transaction.
pub mod delivery;
pub mod inbox;
pub mod preferences;
pub mod raise;
pub mod view;

pub use delivery::{POLL as DELIVERY_POLL, backoff, deliver_due, email_message, signature};
pub use preferences::new_webhook_secret;
pub use raise::raise;
pub use steward_domain::alerts::AlertKind;
pub use steward_store::{Finding, Raised};
pub use view::AlertView;

pub use crate::vault::webhook_secret_aad;
