//! Every connector against its platform's local double: success and each failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bluesky;
mod linkedin;
mod mastodon;
mod tiktok;
