//! Publishing and engagement on the platforms, through the connectors: one dispatch per
//! operation (`publish`, `status`, `comments`, `reply`, `analytics`) over the account's platform.
//!
//! The scheduler calls [`publish`] with an [`Outgoing`] whose `idempotency_key` is the same on
//! every attempt of one post version, and a [`PublishJournal`] in which an adapter saves
//! (commits) whatever it learns or chooses before the platform has answered (a TikTok
//! `publish_id`, a Bluesky record key), so a retry after a crash reconciles with the platform
//! instead of publishing twice. `ConnectorError`'s classes drive the scheduler: `RateLimited`
//! retries after the hint, `Transient` backs off, `Unauthorized` (after a refresh where the
//! platform has one) means the owner must reconnect, `Rejected` fails for good,
//! `AlreadyPublished` is a success.
//!
//! Adapters: `sandbox` (built in, in the database), Mastodon, LinkedIn, TikTok and Bluesky. What
//! a platform does not offer answers `Misconfigured` ([`not_offered`]), which
//! the API says as a 409 problem.
use serde::{Deserialize, Serialize};
use steward_connectors::ConnectorError;
use steward_domain::ids::PostId;
use steward_domain::moderation::ModerationAction;
use steward_domain::platform::Platform;
use steward_store::{AccountRow, Store};

use crate::services::Services;

pub mod bluesky;
pub mod linkedin;
pub mod mastodon;
pub mod sandbox;
pub mod tiktok;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub url: String,
    pub kind: MediaKind,
    /// An image's alt text, for the platforms that take it (Mastodon's `description`,
    /// Bluesky's `alt`, LinkedIn's `altText`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// One post version, as it goes to the platform.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub post_id: &'a PostId,
    pub version: i64,
    /// Stable for (post, version): identical on every attempt, so platforms can de-duplicate.
    pub idempotency_key: &'a str,
    pub text: &'a str,
    pub title: Option<&'a str>,
    /// Mastodon's content warning (`spoiler_text`); the other platforms have none (the API
    /// refuses one on their accounts).
    pub content_warning: Option<&'a str>,
    pub media: &'a [MediaRef],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub external_id: String,
    pub external_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    Published(Published),
    /// Accepted, the platform is still processing (TikTok): poll `status` with this ref.
    Processing {
        platform_ref: String,
    },
}

/// Durable notes an adapter makes BEFORE/while calling the platform (Bluesky rkey chosen up
/// front, TikTok publish_id after init), committed to the database at once, so that a retry
/// after a crash reconciles with the platform instead of posting twice.
pub struct PublishJournal {
    store: Store,
    post_id: PostId,
    worker: String,
    prior_ref: Option<String>,
    uncertain_since: Option<i64>,
    now_us: i64,
}

impl PublishJournal {
    /// A journal for one attempt at `post_id`'s current job, held by `worker`'s lease;
    /// `prior_ref` is what an earlier attempt of the same version saved.
    #[must_use]
    pub fn new(store: Store, post_id: &PostId, worker: &str, prior_ref: Option<String>, now_us: i64) -> Self {
        Self { store, post_id: post_id.clone(), worker: worker.to_string(), prior_ref, uncertain_since: None, now_us }
    }

    /// Notes when the first attempt of this version whose outcome was never learned started
    /// (a crash, a timeout, a 5xx), for platforms whose de-duplication has a time limit.
    #[must_use]
    pub fn with_uncertain_since(mut self, at_us: Option<i64>) -> Self {
        self.uncertain_since = at_us;
        self
    }

    /// When the first attempt of this version with an unknown outcome started, if any.
    #[must_use]
    pub fn uncertain_since(&self) -> Option<i64> {
        self.uncertain_since
    }

    /// The platform ref saved by an earlier attempt of this same post version, if any.
    #[must_use]
    pub fn prior_ref(&self) -> Option<&str> {
        self.prior_ref.as_deref()
    }

    /// Saves (commits) the platform ref before the adapter goes on. Fails if this worker no
    /// longer holds the job (its lease expired and another worker took over): the adapter must
    /// then stop, since the other worker is reconciling.
    pub async fn save_ref(&self, platform_ref: &str) -> Result<(), steward_store::StoreError> {
        if self.store.save_publish_ref(&self.post_id, &self.worker, platform_ref, self.now_us).await? {
            Ok(())
        } else {
            Err(steward_store::StoreError::Conflict("this worker's lease on the publish job was lost".into()))
        }
    }
}

/// Publishes one post version on the account's platform.
pub async fn publish(
    state: &Services,
    account: &AccountRow,
    out: &Outgoing<'_>,
    journal: &PublishJournal,
) -> Result<PublishOutcome, ConnectorError> {
    match platform_of(account)? {
        Platform::Sandbox => sandbox::publish(state, account, out, journal).await,
        Platform::Mastodon => mastodon::publish(state, account, out, journal).await,
        Platform::LinkedIn => linkedin::publish(state, account, out, journal).await,
        Platform::TikTok => tiktok::publish(state, account, out, journal).await,
        Platform::Bluesky => bluesky::publish(state, account, out, journal).await,
    }
}

/// Asks the platform about a post it was still processing (`PublishOutcome::Processing`).
pub async fn status(
    state: &Services,
    account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    match platform_of(account)? {
        Platform::Sandbox => sandbox::status(state, account, platform_ref).await,
        Platform::Mastodon => mastodon::status(state, account, platform_ref).await,
        Platform::LinkedIn => linkedin::status(state, account, platform_ref).await,
        Platform::TikTok => tiktok::status(state, account, platform_ref).await,
        Platform::Bluesky => bluesky::status(state, account, platform_ref).await,
    }
}

/// A comment on one of the account's published posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformComment {
    pub id: String,
    pub post_external_id: String,
    pub author: String,
    pub text: String,
    /// RFC 3339.
    pub created_at: String,
    pub hidden: bool,
    pub parent_id: Option<String>,
}

/// The comments on these published posts (the platform's ids of them).
pub async fn comments(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    match platform_of(account)? {
        Platform::Sandbox => sandbox::comments(state, account, published_external_ids).await,
        Platform::Mastodon => mastodon::comments(state, account, published_external_ids).await,
        Platform::LinkedIn => linkedin::comments(state, account, published_external_ids).await,
        Platform::TikTok => tiktok::comments(state, account, published_external_ids).await,
        Platform::Bluesky => bluesky::comments(state, account, published_external_ids).await,
    }
}

/// Replies, as the account, to a comment.
pub async fn reply(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    text: &str,
) -> Result<PlatformComment, ConnectorError> {
    match platform_of(account)? {
        Platform::Sandbox => sandbox::reply(state, account, comment_id, text).await,
        Platform::Mastodon => mastodon::reply(state, account, comment_id, text).await,
        Platform::LinkedIn => linkedin::reply(state, account, comment_id, text).await,
        Platform::TikTok => tiktok::reply(state, account, comment_id, text).await,
        Platform::Bluesky => bluesky::reply(state, account, comment_id, text).await,
    }
}

/// What a moderation action did on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    /// The comment's author on the platform, when the action concerned them (mute, block).
    pub author: Option<String>,
}

/// Applies a moderation action the platform offers (checked by the caller with
/// `steward_domain::moderation::offered`) to one of the account's comments.
pub async fn moderate(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    action: ModerationAction,
) -> Result<Moderated, ConnectorError> {
    match platform_of(account)? {
        Platform::Sandbox => sandbox::moderate(state, account, comment_id, action).await,
        Platform::Mastodon => mastodon::moderate(state, account, comment_id, action).await,
        Platform::LinkedIn => linkedin::moderate(state, account, comment_id, action).await,
        Platform::Bluesky => bluesky::moderate(state, account, comment_id, action).await,
        Platform::TikTok => Err(not_offered("TikTok", action.words(), "its APIs for apps offer no access to comments")),
    }
}

/// One post's counts. `None` is "the platform does not tell" — never reported as 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostStats {
    pub external_id: String,
    pub impressions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
}

/// A platform's count as Steward reports it (platforms count in unsigned 64 bits).
pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStats {
    pub followers: Option<i64>,
    pub posts: Vec<PostStats>,
}

/// Follower count and per-post statistics for these published posts.
pub async fn analytics(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    match platform_of(account)? {
        Platform::Sandbox => sandbox::analytics(state, account, published_external_ids).await,
        Platform::Mastodon => mastodon::analytics(state, account, published_external_ids).await,
        Platform::LinkedIn => linkedin::analytics(state, account, published_external_ids).await,
        Platform::TikTok => tiktok::analytics(state, account, published_external_ids).await,
        Platform::Bluesky => bluesky::analytics(state, account, published_external_ids).await,
    }
}

/// The account's platform (the store refuses a row naming one Steward does not know).
#[allow(clippy::unnecessary_wraps)]
fn platform_of(account: &AccountRow) -> Result<Platform, ConnectorError> {
    Ok(account.platform)
}

/// Something a platform's API does not offer at all (`why` says what it lacks): 409 at the API.
pub(crate) fn not_offered(platform: &str, what: &str, why: &str) -> ConnectorError {
    ConnectorError::Misconfigured(format!("{what} is not possible on {platform}: {why}"))
}

/// A database failure inside an adapter: worth retrying, never the platform's fault.
/// A platform's rate limit as the API says it (429 with `Retry-After`): the platform's hint,
/// else its documented reset (LinkedIn: 00:00 UTC), else a minute.
#[must_use]
pub fn rate_limited(platform: &str, retry_after: Option<std::time::Duration>, now_us: i64) -> crate::error::AppError {
    let now = now_us.div_euclid(1_000_000);
    let limits = steward_domain::rate_limits::limits(platform);
    let secs = retry_after
        .map(|d| d.as_secs().max(1))
        .or_else(|| {
            steward_domain::rate_limits::retry_at_without_hint(&limits, now).and_then(|at| u64::try_from(at - now).ok())
        })
        .unwrap_or(60);
    let name = steward_domain::platform::platform(platform).map_or(platform, |p| p.name);
    let at = crate::clock::rfc3339((now + i64::try_from(secs).unwrap_or(i64::MAX / 2_000_000)) * 1_000_000);
    crate::error::AppError::PlatformRateLimited {
        detail: format!("{name}'s rate limit for this account was reached; try again after {at}."),
        retry_after_secs: secs,
    }
}

pub(crate) fn store_failure(e: &steward_store::StoreError) -> ConnectorError {
    ConnectorError::Transient(format!("Steward's database: {e}"))
}
