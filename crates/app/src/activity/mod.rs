//! Activity: the audit events a person may read (an account's, or their own), filtered and
//! paged or exported whole, each told as a sentence.
pub mod export;
pub mod queries;
pub mod wording;

pub use queries::{ActivityQuery, Answer, EventPage, Scope};
pub use wording::ActivityEvent;
