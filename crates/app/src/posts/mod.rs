//! Posts: drafts and their versions, review and approval, scheduling, media, and the rules a
//! post is held to. Publishing itself is the scheduler's (DESIGN.md "Post workflow",
//! Invariants 5 and 7).
pub mod compose;
pub mod drafts;
pub mod media;
pub mod media_storage;
pub mod needs_you;
pub mod planner;
pub mod review;
pub mod rules;
pub mod scheduling;
pub mod view;
mod workflow;
