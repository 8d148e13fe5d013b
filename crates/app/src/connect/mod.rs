//! Connecting an account to its platform: the OAuth flow (its single-use state, PKCE, and the
//! callback's decisions), Steward's app registration on Mastodon instances, and Bluesky's app
//! password. The HTTP redirect and the callback's page stay at the edge.
pub mod bluesky;
pub mod linkedin_pages;
pub mod mastodon;
pub mod oauth;
