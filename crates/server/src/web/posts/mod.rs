//! Posts in the browser: the account's calendar, the planning calendar across accounts and the
//! composer for several accounts, the review queue, and the post editor with
//! its forms. Every change is a use case of `steward_app::posts` (the same authorization,
//! workflow rules, audit event and errors as the API). Buttons are offered only when
//! `available_actions` (the domain's own decision, asked in advance) allows them; the use
//! case decides again when one is pressed.
mod actions;
mod calendar;
mod compose;
mod editor;
mod list;
mod planner;
mod preview;
mod review;
mod shared;

pub use actions::{
    approve, cancel, comment, create_submit, edit_submit, publish_now, request_changes, schedule, submit,
};
pub use calendar::calendar_page;
pub use compose::{compose_page, compose_submit};
pub use editor::{new_post_page, post_page};
pub use list::posts_page;
pub use planner::{move_page, move_submit, planner_page};
pub use review::review_page;
