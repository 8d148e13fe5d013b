//! Posts: the rules a post is held to, and its media.
pub mod media;
pub mod rules;
