//! The publishing scheduler (DESIGN.md Invariant 10): what a round does with the posts that are due.
//!
//! The schedule is the database: posts in state `scheduled` with their `scheduled_at`, and
//! the publish jobs of posts being published (migration 0006). Each `steward serve` runs one
//! worker loop; several replicas on one PostgreSQL share the work safely:
//!
//! 1. **Claim** (one transaction per batch): due posts are locked with `FOR UPDATE SKIP LOCKED`
//!    (SQLite: the IMMEDIATE transaction excludes other writers). For each, the rules are checked
//!    again with the people's rights as they are NOW: approvals count only from members who still
//!    hold `posts.approve`, the account must not be locked down or need reconnecting, the pace
//!    rules and the scheduling member's windows and daily quota must still hold. A post that no
//!    longer fits is held (domain `Hold`), `last_error` says why, `posts.held` is audited and the
//!    people told. Otherwise the post becomes `publishing`, its job is leased to this worker and
//!    an attempt row is written: all COMMITTED before any platform call. Jobs whose retry or poll
//!    is due, and jobs whose worker's lease ran out (it crashed mid-call), are claimed the same way.
//! 2. **Call** the platform with the post version's idempotency key (f(post id, version), the
//!    same on every attempt) while a heartbeat renews the leases.
//! 3. **Record** the outcome (one transaction per batch), each write a compare-and-set on this
//!    worker's lease. A job found in flight after a crash is never simply retried: the next call
//!    is a reconciliation (same key; the adapter's journaled ref), and the attempt says so.
//!
//! Rate limits: before a due post's call, the platform's published per-account
//! limits (`domain::rate_limits`, counted in `publish_calls`) and its last 429 (kept per account
//! in `account_rate_limits`) are checked; a post that would exceed them waits, `scheduled`, for
//! the first free instant, using no attempt. A 429 waits for the platform's hint, or where there
//! is none for the documented reset (LinkedIn: 00:00 UTC), and never counts against
//! `max_attempts`.
//!
//! Failures: 429 waits for the platform's hint; 5xx, timeouts and unreadable answers back off
//! exponentially with jitter up to `max_attempts`; `Rejected` fails at once; `Unauthorized`
//! (after the connector's refresh) marks the account `needs_reconnect` and holds the post. A
//! post whose attempt may have reached the platform unanswered stays `publishing` (not editable)
//! until the platform has told us, so an edit can never make it go out twice.
//!
//! Idle, the worker sleeps until the next due time, a wake-up ([`Scheduler::wake`], called by
//! schedule / publish-now / cancel), the test clock moving, or `recheck` (work another replica
//! scheduled): no busy polling.
use std::sync::Arc;
use std::time::Duration;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, AttemptId, PostId, UserId};
use steward_domain::status::{AccountStatus, MembershipStatus};

use serde_json::json;
use sha2::{Digest, Sha256};
use steward_connectors::ConnectorError;
use steward_domain::pace::{self, AccountPace, MemberPace, PaceViolation, Slot};
use steward_domain::post::{
    ApprovalRules, HoldReason, Performer, PostAction, PostError, PostSnapshot, PostState, transition,
};
use steward_domain::rate_limits;
use steward_domain::windows::{parse_time_zone, stored_windows};
use steward_store::{
    AccountRow, JobStart, JobUpdate, MembershipRow, Micros, NewAuditEvent, PostRow, PostStateWrite, PublishAttemptRow,
    PublishJobRow, PublishResultWrite, ScheduleWrite, StoreError, Tx,
};
use tracing::Instrument;

use crate::authz::membership_rights;
use crate::notify::{self, Outcome, PostNotice};
use crate::platforms::{self, MediaRef, Outgoing, PublishJournal, PublishOutcome, Published};
use crate::posts::rules::{approval_rules, counting_approvals};
use crate::services::Services;
use crate::usecase::{self, Audit};

/// How soon a platform that is still processing a post is asked again.
const POLL_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest pause when something is due but could not be claimed (another replica holds it).
const CONTENDED_PAUSE: Duration = Duration::from_millis(250);
/// How often a retry held by a lockdown looks whether the lockdown was lifted.
const LOCKDOWN_RECHECK: Duration = Duration::from_secs(30);

pub use crate::worker::Scheduler;

/// Why a round (or the recovery at a worker's start) stopped. Nothing of the failed
/// transaction is kept: its claims or outcomes roll back, and a later round does them again.
/// A platform's answer is never one of these: it is an outcome, recorded on the post.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The database could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed while the scheduler was deciding about (or recording) one post.
    #[error("post {post_id}: {source}")]
    PostStore {
        post_id: PostId,
        #[source]
        source: StoreError,
    },
    /// The post's state machine refused a move the scheduler had just checked: the post was
    /// not as it was read, so nothing is written for it.
    #[error("post {post_id}: {source}")]
    Transition {
        post_id: PostId,
        #[source]
        source: PostError,
    },
}

impl SchedulerError {
    /// The post the failure is about, when it is about one (for the worker's log).
    #[must_use]
    pub fn post_id(&self) -> Option<&PostId> {
        match self {
            Self::Store(_) => None,
            Self::PostStore { post_id, .. } | Self::Transition { post_id, .. } => Some(post_id),
        }
    }

    /// Names the post a database failure happened on (other failures already name theirs).
    fn on_post(self, post_id: &PostId) -> Self {
        match self {
            Self::Store(source) => Self::PostStore { post_id: post_id.clone(), source },
            other => other,
        }
    }
}

type Result<T, E = SchedulerError> = std::result::Result<T, E>;

/// The idempotency key of one post version: the same on every attempt, different for each
/// version (an edited post is new content).
#[must_use]
pub fn idempotency_key(post_id: &PostId, version: i64) -> String {
    let digest = Sha256::digest(format!("steward.publish.v1:{post_id}:{version}").as_bytes());
    format!("stw-{}", hex::encode(&digest[..16]))
}

/// How long to sleep when nothing could be claimed: until the next due instant, at most
/// `recheck`; a little when something is due but held by another replica.
pub async fn idle_wait(state: &Services) -> Duration {
    // Never longer than a lease: a replica that went idle before another claimed a job still
    // looks again before that lease can run out, so it wakes when the lease does.
    let recheck = state.settings.publishing.recheck.min(state.settings.publishing.lease);
    match state.store.next_publish_wakeup().await {
        Ok(Some(at)) => {
            let until = at.saturating_sub(state.clock.now_us());
            if until <= 0 { CONTENDED_PAUSE } else { Duration::from_micros(until.unsigned_abs()).min(recheck) }
        }
        Ok(None) => recheck,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the next publishing time");
            Duration::from_secs(5)
        }
    }
}

/// At a worker's start: on SQLite, where the server's exclusive lock on the database file means
/// no other worker can be alive, every job still `running` was in flight when this server last
/// stopped (a crash or a kill), so its lease is ended at once and the first round reconciles it
/// through the expired-lease path (same key, the attempt marked as a reconciliation) instead of
/// waiting out the dead worker's lease. On PostgreSQL another replica may hold those leases, so
/// nothing is touched there: a lease is only ever reclaimed once it has run out.
pub async fn recover_in_flight(state: &Services) -> Result<u64> {
    if state.store.backend() != steward_store::Backend::Sqlite {
        return Ok(0);
    }
    let n = state.store.expire_foreign_publish_leases(state.scheduler.worker_id(), state.clock.now_us()).await?;
    if n > 0 {
        tracing::info!(jobs = n, "reconciling publish jobs left in flight when the server last stopped");
    }
    Ok(n)
}

/// What a worker calls the platform with, prepared (and committed) in the claim.
#[derive(Debug, Clone)]
struct Work {
    post_id: PostId,
    author_id: UserId,
    scheduled_by: Option<UserId>,
    account: AccountRow,
    version: i64,
    key: String,
    title: Option<String>,
    text: String,
    content_warning: Option<String>,
    media: Result<Vec<MediaRef>, String>,
    attempt_id: AttemptId,
    attempt: i64,
    started_at: Micros,
    prior_ref: Option<String>,
    uncertain_since: Option<Micros>,
    /// Ask about a post the platform was processing, instead of publishing.
    poll: Option<String>,
    /// A reply draft: the platform's comment it answers (sent as a reply, never as a post).
    reply_to: Option<String>,
}

/// One round: claim what is due, call the platforms, record the outcomes. Returns how many
/// posts and jobs were claimed (0: nothing to do now).
pub async fn run_once(state: &Services) -> Result<usize> {
    let cfg = &state.settings.publishing;
    let now = state.clock.now_us();
    let lease_until = now + micros(cfg.lease);
    let worker = state.scheduler.worker_id().to_string();
    let mut notices = Vec::new();
    let mut works = Vec::new();
    let mut tx = state.store.begin().await?;
    let due = tx.lock_due_post_ids(now, cfg.batch).await?;
    let jobs = tx.lock_claimable_jobs(now, cfg.batch).await?;
    // Posts and jobs left for a later round because their account was busy are not work done:
    // with nothing else claimed the worker pauses briefly instead of spinning on them.
    let mut busy = 0;
    let locked = due.len() + jobs.len();
    for post_id in &due {
        let prepared = prepare_due(&mut tx, &mut busy, post_id, &worker, now, lease_until, &mut notices).await;
        if let Some(w) = prepared.map_err(|e| e.on_post(post_id))? {
            works.push(w);
        }
    }
    for job in jobs {
        let post_id = job.post_id.clone();
        let prepared = prepare_job(&mut tx, &mut busy, job, &worker, now, lease_until).await;
        if let Some(w) = prepared.map_err(|e| e.on_post(&post_id))? {
            works.push(w);
        }
    }
    notify::raise_alerts(&mut tx, &notices, state.clock.now_us()).await?;
    notify::tell_authors(&mut tx, &notices, state.clock.now_us()).await?;
    tx.commit().await?;
    send(&notices);
    if !notices.is_empty() {
        crate::notifications::mail_after_commit(state).await;
    }
    let claimed = locked - busy;
    if works.is_empty() {
        return Ok(claimed);
    }

    let ids: Vec<PostId> = works.iter().map(|w| w.post_id.clone()).collect();
    let heartbeat = tokio::spawn(heartbeat(state.clone(), ids, worker.clone()));
    let permits = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut calls = tokio::task::JoinSet::new();
    for w in works {
        let state = state.clone();
        let worker = worker.clone();
        let permits = permits.clone();
        let span =
            tracing::info_span!("publish_job", post_id = %w.post_id, account_id = %w.account.id, attempt = w.attempt);
        calls.spawn(
            async move {
                let _permit = permits.acquire_owned().await;
                let result = call(&state, &w, &worker).await;
                (w, result)
            }
            .instrument(span),
        );
    }
    let mut results = Vec::new();
    while let Some(done) = calls.join_next().await {
        match done {
            Ok(r) => results.push(r),
            // A panicked call leaves its job leased; the lease runs out and it is reconciled.
            Err(e) => tracing::error!(error = %e, "a platform call panicked"),
        }
    }
    heartbeat.abort();
    record_outcomes(state, results, &worker).await?;
    Ok(claimed)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

async fn heartbeat(state: Services, ids: Vec<PostId>, worker: String) {
    let lease = state.settings.publishing.lease;
    let every = (lease / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        let until = state.clock.now_us() + micros(lease);
        if let Err(e) = state.store.renew_publish_leases(&ids, &worker, until).await {
            tracing::warn!(error = %e, "renewing publish leases failed");
        }
    }
}

async fn call(state: &Services, w: &Work, worker: &str) -> Result<PublishOutcome, ConnectorError> {
    let journal =
        PublishJournal::new(state.store.clone(), &w.post_id, worker, w.prior_ref.clone(), state.clock.now_us())
            .with_uncertain_since(w.uncertain_since);
    if let Some(platform_ref) = &w.poll {
        tracing::info!(platform = %w.account.platform, "asking the platform how the post is doing");
        return platforms::status(state, &w.account, platform_ref).await;
    }
    if let Some(comment_id) = &w.reply_to {
        // A reply has no idempotency key on any platform: once an attempt may have reached
        // the platform unanswered, sending again could reply twice, so it is not sent again.
        if w.uncertain_since.is_some() {
            return Err(ConnectorError::Rejected(
                "an earlier attempt to send this reply went unanswered and may have reached the platform, so \
                 Steward does not send it again; look for it under the comment"
                    .into(),
            ));
        }
        tracing::info!(platform = %w.account.platform, "sending the approved reply to the platform");
        let sent = platforms::reply(state, &w.account, comment_id, &w.text).await?;
        return Ok(PublishOutcome::Published(Published { external_id: sent.id, external_url: None }));
    }
    tracing::info!(platform = %w.account.platform, "sending the post to the platform");
    let media = w.media.as_ref().map_err(|e| ConnectorError::Rejected(e.clone()))?;
    let out = Outgoing {
        post_id: &w.post_id,
        version: w.version,
        idempotency_key: &w.key,
        text: &w.text,
        title: w.title.as_deref(),
        content_warning: w.content_warning.as_deref(),
        media,
    };
    platforms::publish(state, &w.account, &out, &journal).await
}

fn system_event(
    post: &PostId,
    account_id: &AccountId,
    action: Action,
    detail: serde_json::Value,
    at: Micros,
) -> NewAuditEvent {
    let audit = Audit::on_account(account_id, action).target(format!("post:{post}")).detail(detail);
    usecase::system_event("steward (scheduler)", audit, at)
}

fn send(notices: &[(Outcome, PostNotice, AccountRow)]) {
    for (outcome, n, _) in notices {
        match outcome {
            Outcome::Published => {}
            Outcome::Held => notify::post_held(n),
            Outcome::Failed => notify::post_failed(n),
        }
    }
}

fn ts(us: Micros) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Whether the account's pace rules and the scheduling member's windows and quota allow
/// publishing now (`domain::pace`, the same check as at scheduling, with the rules as they are
/// now); the reason and a sentence for people when they do not. Only posts that went out (or
/// are going out) count here: a post scheduled later is checked when it is due.
async fn rules_now(
    tx: &mut Tx,
    account: &AccountRow,
    post: &PostRow,
    member: Option<&MembershipRow>,
    now: Micros,
) -> Result<Option<(HoldReason, String)>> {
    let Ok(tz) = parse_time_zone(&account.time_zone) else {
        return Ok(Some((
            HoldReason::PaceExceeded,
            format!("The account's time zone {:?} is not valid, so its rules cannot be checked.", account.time_zone),
        )));
    };
    // Unreadable windows hold the post (fail closed), like windows it fell outside of.
    let Ok(windows) = member.map(|m| stored_windows(&m.windows)).transpose() else {
        return Ok(Some((
            HoldReason::OutsideWindow,
            "The posting windows of the member who scheduled it cannot be read; they must be set again.".to_string(),
        )));
    };
    let windows = windows.unwrap_or_default();
    let member_pace = MemberPace {
        windows: &windows,
        daily_quota: member.as_ref().and_then(|m| m.daily_quota).map(|q| u32::try_from(q.max(0)).unwrap_or(u32::MAX)),
    };
    let account_pace = AccountPace {
        min_gap_minutes: u32::try_from(account.min_gap_minutes.max(0)).unwrap_or(u32::MAX),
        max_posts_per_day: account.max_posts_per_day.map(|m| u32::try_from(m.max(0)).unwrap_or(u32::MAX)),
    };
    let candidate = ts(now);
    // Without pace limits only the windows matter: no need to read the day's posts.
    let slots = if account_pace == AccountPace::default() && member_pace.daily_quota.is_none() {
        Vec::new()
    } else {
        let (from, to) = pace::relevant_range(&account_pace, &tz, candidate);
        tx.published_slots(&account.id, &post.id, from.as_microsecond(), to.as_microsecond())
            .await?
            .into_iter()
            .map(|s| Slot {
                at: ts(s.at),
                by_member: s.scheduled_by.is_some() && s.scheduled_by.as_deref() == post.scheduled_by.as_deref(),
            })
            .collect()
    };
    Ok(pace::check(&account_pace, &member_pace, &tz, candidate, &slots).err().map(|v| {
        let message = match v {
            PaceViolation::OutsideWindow { .. } => {
                "It fell due outside the posting windows of the member who scheduled it.".to_string()
            }
            PaceViolation::DailyQuotaExceeded { quota } => {
                format!("The member who scheduled it had already used their daily quota of {quota} posts.")
            }
            PaceViolation::MinGap { min_gap_minutes, conflicting } => format!(
                "The account allows one post every {min_gap_minutes} minutes, and another went out at {}.",
                conflicting.strftime("%Y-%m-%d %H:%M UTC")
            ),
            PaceViolation::MaxPostsPerDay { max } => {
                format!("The account's limit of {max} posts a day was already reached.")
            }
        };
        (v.hold_reason(), message)
    }))
}

/// Whether the member who scheduled the post (`member`, as read now) may still publish it: an active, unexpired member
/// holding `posts.publish` now (the owner always may). A post goes out only while the people
/// behind it still may; `None` when they may.
fn scheduler_rights_now(post: &PostRow, member: Option<&MembershipRow>, now: Micros) -> Option<(HoldReason, String)> {
    post.scheduled_by.as_ref()?;
    let may = member.and_then(|m| Some((m, membership_rights(m)?))).is_some_and(|(m, rights)| {
        rights.is_owner()
            || (m.status == MembershipStatus::Active
                && m.expires_at.is_none_or(|e| e > now)
                && rights.has(Capability::PostsPublish))
    });
    (!may).then(|| {
        (
            HoldReason::SchedulerLostRights,
            "The member who scheduled it may no longer publish on this account (removed, suspended, expired or \
             without the right to publish), so Steward did not publish it; someone who may can schedule it again."
                .to_string(),
        )
    })
}

async fn prepare_due(
    tx: &mut Tx,
    busy: &mut usize,
    post_id: &PostId,
    worker: &str,
    now: Micros,
    lease_until: Micros,
    notices: &mut Vec<(Outcome, PostNotice, AccountRow)>,
) -> Result<Option<Work>> {
    let Some((post, approvals)) = tx.lock_post_with_approvals(post_id).await? else { return Ok(None) };
    if post.state != PostState::Scheduled {
        return Ok(None);
    }
    // Posts are locked before their account here: never wait for it (see the store's note).
    let Some(account) = tx.lock_account_unless_busy(&post.account_id).await? else {
        *busy += 1;
        return Ok(None);
    };
    let counted = counting_approvals(&account, &approvals, now);
    let version = u32::try_from(post.version).unwrap_or(u32::MAX);
    let snapshot = PostSnapshot { state: PostState::Scheduled, version, approvals: &counted };
    let rules = approval_rules(&account);

    let hold = match account.status.as_str() {
        "locked_down" => Some((
            HoldReason::LockedDown,
            "The account is locked down, so Steward did not publish it; it can be scheduled again once the lockdown is over."
                .to_string(),
        )),
        "needs_reconnect" | "disconnected" => Some((
            HoldReason::NeedsReconnect,
            "The account's platform credential no longer works; its owner must reconnect it, then the post can be scheduled again."
                .to_string(),
        )),
        _ => match transition(&snapshot, &rules, &Performer::System, &PostAction::Due) {
            Err(_) => Some((
                HoldReason::ApprovalsNoLongerValid,
                "Its approvals no longer meet the account's approval policy (an approver lost the right to approve, \
                 or the owner's approval is missing), so it went back to review."
                    .to_string(),
            )),
            Ok(_) => {
                // The scheduling member, read once for their rights and their windows and quota.
                let member = match &post.scheduled_by {
                    Some(user) => tx.membership(&account.id, user).await?,
                    None => None,
                };
                match scheduler_rights_now(&post, member.as_ref(), now) {
                    Some(lost) => Some(lost),
                    // A reply is not a post: the posting windows and pace rules are about posts.
                    None if post.reply_to.is_some() => None,
                    None => rules_now(tx, &account, &post, member.as_ref(), now).await?,
                }
            }
        },
    };
    if let Some((reason, message)) = hold {
        hold_post(tx, &account, &post, &snapshot, &rules, reason, &message, now, notices).await?;
        return Ok(None);
    }
    if let Some((until, why)) = rate_gate(tx, &account, now).await? {
        defer_post(tx, &account, &post, until, &why, now).await?;
        return Ok(None);
    }

    let due = transition(&snapshot, &rules, &Performer::System, &PostAction::Due)
        .map_err(|source| SchedulerError::Transition { post_id: post_id.clone(), source })?;
    let write = PostStateWrite {
        state: due.state.as_str(),
        schedule: ScheduleWrite::Keep,
        hold_reason: None,
        clear_approvals: false,
    };
    if !tx.apply_post_transition(&post.id, PostState::Scheduled.as_str(), post.version, &write, now).await? {
        return Ok(None);
    }
    let key = idempotency_key(&post.id, post.version);
    let job = tx
        .start_publish_job(&JobStart {
            post_id: &post.id,
            account_id: &account.id,
            version: post.version,
            idempotency_key: &key,
            due_at: post.scheduled_at.unwrap_or(now),
            worker,
            lease_expires_at: lease_until,
            now,
        })
        .await?;
    Ok(Some(begin_attempt(tx, post, account, &job, &key, worker, false, None, now).await?))
}

#[allow(clippy::too_many_arguments)]
async fn hold_post(
    tx: &mut Tx,
    account: &AccountRow,
    post: &PostRow,
    snapshot: &PostSnapshot<'_>,
    rules: &ApprovalRules,
    reason: HoldReason,
    message: &str,
    now: Micros,
    notices: &mut Vec<(Outcome, PostNotice, AccountRow)>,
) -> Result<()> {
    let held = transition(snapshot, rules, &Performer::System, &PostAction::Hold { reason })
        .map_err(|source| SchedulerError::Transition { post_id: post.id.clone(), source })?;
    let write = PostStateWrite {
        state: held.state.as_str(),
        schedule: ScheduleWrite::Clear,
        hold_reason: Some(reason.as_str()),
        clear_approvals: false,
    };
    if !tx.apply_post_transition(&post.id, snapshot.state.as_str(), post.version, &write, now).await? {
        return Ok(());
    }
    set_last_error(tx, &post.id, held.state.as_str(), message, now).await?;
    tx.append_audit(system_event(
        &post.id,
        &account.id,
        Action::PostHeld,
        json!({ "reason": reason.as_str(), "message": message, "version": post.version, "state": held.state.as_str() }),
        now,
    ))
    .await?;
    notices.push((
        Outcome::Held,
        PostNotice {
            account_id: account.id.clone(),
            post_id: post.id.clone(),
            author_id: post.author_id.clone(),
            owner_id: account.owner_id.clone(),
            reason: reason.as_str().into(),
            message: message.into(),
        },
        account.clone(),
    ));
    Ok(())
}

async fn set_last_error(tx: &mut Tx, post_id: &PostId, state: &str, message: &str, now: Micros) -> Result<()> {
    tx.record_publish_result(
        post_id,
        state,
        &PublishResultWrite {
            state,
            published_at: None,
            external_id: None,
            external_url: None,
            last_error: Some(message),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Writes the attempt row and its audit event (committed with the claim, before the call).
#[allow(clippy::too_many_arguments)]
async fn begin_attempt(
    tx: &mut Tx,
    post: PostRow,
    account: AccountRow,
    job: &PublishJobRow,
    key: &str,
    worker: &str,
    reconcile: bool,
    poll: Option<String>,
    now: Micros,
) -> Result<Work> {
    let attempt = PublishAttemptRow {
        id: AttemptId::new(uuid::Uuid::now_v7().to_string()),
        post_id: post.id.clone(),
        version: post.version,
        attempt: job.attempts,
        idempotency_key: key.to_string(),
        worker: worker.to_string(),
        reconcile,
        started_at: now,
        finished_at: None,
        outcome: None,
        error: None,
    };
    tx.insert_publish_attempt(&attempt).await?;
    if poll.is_none() {
        count_publish_call(tx, &account, &post.id, now).await?;
    }
    let action = if poll.is_some() { Action::PublishStatusCheck } else { Action::PublishAttempt };
    tx.append_audit(system_event(
        &post.id,
        &account.id,
        action,
        json!({ "attempt": job.attempts, "version": post.version, "platform": account.platform.as_str(), "reconcile": reconcile }),
        now,
    ))
    .await?;
    let media = serde_json::from_str::<Vec<MediaRef>>(&post.media)
        .map_err(|_| "the post's media list could not be read".to_string());
    Ok(Work {
        post_id: post.id,
        author_id: post.author_id,
        scheduled_by: post.scheduled_by,
        account,
        version: post.version,
        key: key.to_string(),
        title: post.title,
        text: post.text,
        content_warning: post.content_warning,
        media,
        attempt_id: attempt.id,
        attempt: job.attempts,
        started_at: now,
        prior_ref: job.platform_ref.clone(),
        uncertain_since: job.uncertain_since,
        poll,
        reply_to: post.reply_to,
    })
}

async fn prepare_job(
    tx: &mut Tx,
    busy: &mut usize,
    job: PublishJobRow,
    worker: &str,
    now: Micros,
    lease_until: Micros,
) -> Result<Option<Work>> {
    let Some(post) = tx.lock_post(&job.post_id).await? else { return Ok(None) };
    // Before the job is taken: an account held by another transaction leaves it for a later round.
    let Some(account) = tx.lock_account_unless_busy(&job.account_id).await? else {
        *busy += 1;
        return Ok(None);
    };
    if !tx.take_publish_job(&job.post_id, worker, lease_until, now).await? {
        return Ok(None);
    }
    if post.state != PostState::Publishing || post.version != job.version {
        tx.update_publish_job(
            &job.post_id,
            worker,
            &JobUpdate {
                state: "abandoned",
                next_attempt_at: None,
                uncertain_since: job.uncertain_since,
                platform_ref: None,
                last_error: Some("the post changed while its job waited"),
                now,
            },
        )
        .await?;
        return Ok(None);
    }
    // A job still `running` whose lease ran out: its worker died or stalled mid-call, so the
    // platform may or may not have the post. The next call reconciles (same key, journaled ref).
    let in_flight = job.state == "running";
    let mut job = job;
    if in_flight {
        let earliest = tx.close_open_publish_attempts(&job.post_id, now).await?;
        job.uncertain_since = job.uncertain_since.or(earliest).or(Some(now));
        tx.mark_publish_job_uncertain(&job.post_id, job.uncertain_since.unwrap_or(now)).await?;
    }
    let poll = (job.state == "polling").then(|| job.platform_ref.clone()).flatten();
    // A locked-down account makes no call that could publish (DESIGN.md "Lockdown"). A job here
    // is a retry whose earlier call may or may not have published the post: it waits, its
    // doubt kept, until the owner lifts the lockdown, and then reconciles as before (same key).
    // A poll only asks the platform about a post it already has, so it goes on.
    if account.status == AccountStatus::LockedDown && poll.is_none() {
        let msg = "The account is locked down: Steward makes no publishing call for it. Whether an earlier try \
                   published this post is checked once its owner lifts the lockdown.";
        let update = JobUpdate {
            state: "waiting",
            next_attempt_at: Some(now + micros(LOCKDOWN_RECHECK)),
            uncertain_since: job.uncertain_since,
            platform_ref: None,
            last_error: Some(msg),
            now,
        };
        tx.update_publish_job(&job.post_id, worker, &update).await?;
        set_last_error(tx, &job.post_id, PostState::Publishing.as_str(), msg, now).await?;
        return Ok(None);
    }
    job.attempts += 1;
    let key = job.idempotency_key.clone();
    let reconcile = job.uncertain_since.is_some();
    Ok(Some(begin_attempt(tx, post, account, &job, &key, worker, reconcile, poll, now).await?))
}

/// The platform's published limits and its last rate-limit answer, checked before a publish
/// call: `Some` is when the next call of the account may go, and why not now.
async fn rate_gate(tx: &mut Tx, account: &AccountRow, now: Micros) -> Result<Option<(Micros, String)>> {
    let platform = platform_name(account.platform.as_str());
    if let Some(until) = tx.account_blocked_until(&account.id, now).await? {
        return Ok(Some((until, format!("{platform} answered that the account's rate limit was reached"))));
    }
    let limits = rate_limits::limits(account.platform.as_str());
    let (lookback, max) = limits.lookback();
    if max == 0 {
        return Ok(None);
    }
    // Whole seconds, rounded up alike: never earlier than the exact instant a call leaves a window.
    let up = |us: Micros| us.div_euclid(1_000_000) + i64::from(us.rem_euclid(1_000_000) != 0);
    let recent: Vec<i64> = tx
        .recent_publish_calls(&account.id, now - lookback * 1_000_000, i64::from(max))
        .await?
        .into_iter()
        .map(up)
        .collect();
    Ok(match rate_limits::next_slot(&limits, &recent, up(now)) {
        (_, None) => None,
        (at, Some(w)) => Some((at * 1_000_000, format!("{platform} allows at most {}", w.label))),
    })
}

/// Counts a publish call toward the account's platform limits (platforms that publish none
/// keep no count).
async fn count_publish_call(tx: &mut Tx, account: &AccountRow, post_id: &PostId, now: Micros) -> Result<()> {
    let (lookback, max) = rate_limits::limits(account.platform.as_str()).lookback();
    if max > 0 {
        tx.record_publish_call(&account.id, post_id, now, now - lookback * 1_000_000).await?;
    }
    Ok(())
}

/// Moves a due post to the first instant its platform's limits allow; it stays `scheduled`
/// (editable), and says why and when. Nothing was sent, so no attempt is used.
async fn defer_post(
    tx: &mut Tx,
    account: &AccountRow,
    post: &PostRow,
    until: Micros,
    why: &str,
    now: Micros,
) -> Result<()> {
    let scheduled = PostState::Scheduled.as_str();
    let write = PostStateWrite {
        state: scheduled,
        schedule: ScheduleWrite::Set { at: until, by: post.scheduled_by.as_ref().unwrap_or(&post.author_id) },
        hold_reason: None,
        clear_approvals: false,
    };
    if !tx.apply_post_transition(&post.id, scheduled, post.version, &write, now).await? {
        return Ok(());
    }
    let at = crate::clock::rfc3339(until);
    let message = format!("{why}, so Steward publishes it at {at} instead.");
    set_last_error(tx, &post.id, scheduled, &message, now).await?;
    tx.append_audit(system_event(
        &post.id,
        &account.id,
        Action::PublishDeferred,
        json!({ "reason": "rate_limit", "message": message, "until": at, "version": post.version }),
        now,
    ))
    .await?;
    Ok(())
}

/// Exponential backoff with "equal jitter": half the doubled delay, plus a random part of the
/// other half, so replicas retrying together spread out.
fn backoff(state: &Services, attempt: i64) -> Duration {
    let cfg = &state.settings.publishing;
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = cfg.backoff_base.saturating_mul(2u32.saturating_pow(exp)).min(cfg.backoff_max);
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).expect("the operating system's random number generator failed");
    let fraction = f64::from(u32::from_le_bytes([r[0], r[1], r[2], r[3]])) / f64::from(u32::MAX);
    full / 2 + (full / 2).mul_f64(fraction)
}

fn platform_name(platform: &str) -> &str {
    steward_domain::platform::platform(platform).map_or(platform, |p| p.name)
}

async fn record_outcomes(
    state: &Services,
    results: Vec<(Work, Result<PublishOutcome, ConnectorError>)>,
    worker: &str,
) -> Result<()> {
    let mut notices = Vec::new();
    let mut tx = state.store.begin().await?;
    for (w, result) in results {
        record_one(state, &mut tx, &w, result, worker, &mut notices).await.map_err(|e| e.on_post(&w.post_id))?;
    }
    notify::raise_alerts(&mut tx, &notices, state.clock.now_us()).await?;
    notify::tell_authors(&mut tx, &notices, state.clock.now_us()).await?;
    tx.commit().await?;
    send(&notices);
    if !notices.is_empty() {
        crate::notifications::mail_after_commit(state).await;
    }
    Ok(())
}

/// What to do with one outcome.
enum Next {
    Published { external_id: String, external_url: Option<String> },
    Processing(String),
    RateLimited(Option<Duration>),
    Retry(String),
    Reconnect(String),
    Fail(String),
}

async fn record_one(
    state: &Services,
    tx: &mut Tx,
    w: &Work,
    result: Result<PublishOutcome, ConnectorError>,
    worker: &str,
    notices: &mut Vec<(Outcome, PostNotice, AccountRow)>,
) -> Result<()> {
    let now = state.clock.now_us();
    let max = i64::from(state.settings.publishing.max_attempts);
    let platform = platform_name(w.account.platform.as_str()).to_string();
    let mut next = match result {
        Ok(PublishOutcome::Published(p)) => {
            Next::Published { external_id: p.external_id, external_url: p.external_url }
        }
        Err(ConnectorError::AlreadyPublished { external_id }) => Next::Published { external_id, external_url: None },
        Ok(PublishOutcome::Processing { platform_ref }) => Next::Processing(platform_ref),
        Err(ConnectorError::RateLimited { retry_after }) => Next::RateLimited(retry_after),
        Err(e @ (ConnectorError::Transient(_) | ConnectorError::Protocol(_))) => Next::Retry(e.to_string()),
        Err(e @ ConnectorError::Unauthorized(_)) => Next::Reconnect(e.to_string()),
        Err(e @ (ConnectorError::Rejected(_) | ConnectorError::NotFound(_) | ConnectorError::Misconfigured(_))) => {
            Next::Fail(e.to_string())
        }
    };
    // The platform refused the credential the claim read. If the owner has connected the
    // account again since, the refusal concerned the old grant: the post is tried again with
    // the new connection, not held.
    if let Next::Reconnect(e) = &next
        && state.store.sealed_credential(&w.account.id).await?.is_some_and(|r| {
            r.credential_sealed.is_some() && r.credential_generation != w.account.credential_generation
        })
    {
        next = Next::Retry(format!("{e} (the account's connection changed meanwhile: trying with the current one)"));
    }
    // A rate limit is the platform saying "later", not a failed try: it never uses up attempts
    // (the claim's attempt is given back below), so a daily quota cannot fail a post.
    if let Next::Retry(e) = &next
        && w.attempt >= max
    {
        next = Next::Fail(format!("{platform} could not be reached after {} attempts: {e}", w.attempt));
    }
    let account_id = &w.account.id;
    let job =
        |state: &'static str,
         next_at: Option<Micros>,
         uncertain: Option<Micros>,
         r: Option<&'_ str>,
         e: Option<&'_ str>| { (state, next_at, uncertain, r.map(str::to_string), e.map(str::to_string)) };
    let (job_state, next_at, uncertain, platform_ref, job_error) = match &next {
        Next::Published { .. } => job("done", None, w.uncertain_since, None, None),
        Next::Processing(r) => job("polling", Some(now + micros(POLL_INTERVAL)), w.uncertain_since, Some(r), None),
        Next::RateLimited(hint) => {
            let wait = hint
                .or_else(|| {
                    let reset = rate_limits::retry_at_without_hint(
                        &rate_limits::limits(w.account.platform.as_str()),
                        now / 1_000_000,
                    )?;
                    Some(Duration::from_micros(u64::try_from(reset * 1_000_000 - now).ok()?))
                })
                .unwrap_or_else(|| backoff(state, w.attempt))
                .max(Duration::from_secs(1));
            let state_name = if w.uncertain_since.is_none() { "requeued" } else { "waiting" };
            job(state_name, Some(now + micros(wait)), w.uncertain_since, None, Some("rate limited"))
        }
        Next::Retry(e) => job(
            "waiting",
            Some(now + micros(backoff(state, w.attempt))),
            w.uncertain_since.or(Some(w.started_at)),
            None,
            Some(e),
        ),
        Next::Reconnect(e) => job("held", None, w.uncertain_since, None, Some(e)),
        Next::Fail(e) => job("failed", None, w.uncertain_since, None, Some(e)),
    };
    let held = tx
        .update_publish_job(
            &w.post_id,
            worker,
            &JobUpdate {
                state: job_state,
                next_attempt_at: next_at,
                uncertain_since: uncertain,
                platform_ref: platform_ref.as_deref(),
                last_error: job_error.as_deref(),
                now,
            },
        )
        .await?;
    if !held {
        // Our lease ran out and another worker took the job over: it reconciles; we write nothing.
        tracing::warn!(post_id = %w.post_id, "lost the lease on a publish job before recording its outcome");
        return Ok(());
    }
    let publishing = PostState::Publishing.as_str();
    let (outcome, attempt_error, action, detail) = match &next {
        Next::Published { external_id, external_url } => {
            tx.record_publish_result(
                &w.post_id,
                publishing,
                &PublishResultWrite {
                    state: PostState::Published.as_str(),
                    published_at: Some(now),
                    external_id: Some(external_id),
                    external_url: external_url.as_deref(),
                    last_error: None,
                },
                now,
            )
            .await?;
            notices.push((Outcome::Published, notice(w, "published", ""), w.account.clone()));
            ("published", None, Action::Published, json!({ "external_id": external_id, "attempt": w.attempt }))
        }
        Next::Processing(r) => {
            let msg = format!("{platform} is still processing the post; Steward checks again shortly.");
            set_last_error(tx, &w.post_id, publishing, &msg, now).await?;
            ("processing", None, Action::PublishProcessing, json!({ "platform_ref": r, "attempt": w.attempt }))
        }
        Next::RateLimited(_) => {
            let retry_at = next_at.unwrap_or(now);
            tx.block_account_until(account_id, retry_at, now).await?;
            tx.give_back_publish_attempt(&w.post_id).await?;
            let msg = format!(
                "{platform}'s rate limit was reached; Steward tries again at {}.",
                crate::clock::rfc3339(retry_at)
            );
            if w.uncertain_since.is_none() {
                // The platform refused before doing anything, and no earlier attempt is in
                // doubt: the post goes back to its schedule (editable again), at the hint.
                let write = PostStateWrite {
                    state: PostState::Scheduled.as_str(),
                    schedule: ScheduleWrite::Set { at: retry_at, by: w.scheduled_by.as_ref().unwrap_or(&w.author_id) },
                    hold_reason: None,
                    clear_approvals: false,
                };
                tx.apply_post_transition(&w.post_id, publishing, w.version, &write, now).await?;
                set_last_error(tx, &w.post_id, PostState::Scheduled.as_str(), &msg, now).await?;
            } else {
                set_last_error(tx, &w.post_id, publishing, &msg, now).await?;
            }
            (
                "rate_limited",
                Some(msg),
                Action::PublishRetry,
                json!({ "reason": "rate_limited", "retry_at": crate::clock::rfc3339(retry_at), "attempt": w.attempt }),
            )
        }
        Next::Retry(e) => {
            let retry_at = next_at.unwrap_or(now);
            let msg = format!("{e}; Steward tries again at {}.", crate::clock::rfc3339(retry_at));
            set_last_error(tx, &w.post_id, publishing, &msg, now).await?;
            (
                "transient",
                Some(e.clone()),
                Action::PublishRetry,
                json!({ "reason": "unavailable", "error": e, "retry_at": crate::clock::rfc3339(retry_at), "attempt": w.attempt }),
            )
        }
        Next::Reconnect(e) => {
            let msg = format!(
                "{platform} refused the account's credential ({e}); its owner must reconnect the account, then the post \
                 can be scheduled again."
            );
            // Only the connection the claim read, and only an active account (a lockdown stays).
            if tx.mark_credential_refused(account_id, w.account.credential_generation, now).await? {
                let failed = Audit::on_account(account_id, Action::CredentialFailed)
                    .target(format!("account:{account_id}"))
                    .detail(json!({ "reason": e }));
                tx.append_audit(usecase::system_event("steward (platform credential)", failed, now)).await?;
            }
            let write = PostStateWrite {
                state: PostState::Approved.as_str(),
                schedule: ScheduleWrite::Clear,
                hold_reason: Some(HoldReason::NeedsReconnect.as_str()),
                clear_approvals: false,
            };
            tx.apply_post_transition(&w.post_id, publishing, w.version, &write, now).await?;
            set_last_error(tx, &w.post_id, PostState::Approved.as_str(), &msg, now).await?;
            tx.append_audit(system_event(
                &w.post_id,
                account_id,
                Action::PostHeld,
                json!({ "reason": HoldReason::NeedsReconnect.as_str(), "message": msg, "version": w.version }),
                now,
            ))
            .await?;
            notices.push((Outcome::Held, notice(w, HoldReason::NeedsReconnect.as_str(), &msg), w.account.clone()));
            ("unauthorized", Some(e.clone()), Action::PublishAttemptRefused, json!({ "attempt": w.attempt }))
        }
        Next::Fail(e) => {
            let msg = format!("{platform} did not publish the post: {e}");
            tx.record_publish_result(
                &w.post_id,
                publishing,
                &PublishResultWrite {
                    state: PostState::Failed.as_str(),
                    published_at: None,
                    external_id: None,
                    external_url: None,
                    last_error: Some(&msg),
                },
                now,
            )
            .await?;
            notices.push((Outcome::Failed, notice(w, "publish_failed", &msg), w.account.clone()));
            ("rejected", Some(e.clone()), Action::PublishFailed, json!({ "error": e, "attempt": w.attempt }))
        }
    };
    let mut detail = detail;
    if let (Some(reply_to), Some(fields)) = (&w.reply_to, detail.as_object_mut()) {
        fields.insert("reply_to".into(), json!(reply_to));
    }
    tx.finish_publish_attempt(&w.attempt_id, outcome, attempt_error.as_deref(), now).await?;
    tx.append_audit(system_event(&w.post_id, account_id, action, detail, now)).await?;
    Ok(())
}

fn notice(w: &Work, reason: &str, message: &str) -> PostNotice {
    PostNotice {
        account_id: w.account.id.clone(),
        post_id: w.post_id.clone(),
        author_id: w.author_id.clone(),
        owner_id: w.account.owner_id.clone(),
        reason: reason.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{SchedulerError, idempotency_key};
    use steward_domain::ids::PostId;
    use steward_domain::post::{PostActionKind, PostError};
    use steward_store::StoreError;

    #[test]
    fn a_database_failure_during_a_post_names_the_post_and_keeps_its_cause() {
        let plain = SchedulerError::from(StoreError::Conflict("publish_jobs".into()));
        assert_eq!(plain.post_id(), None);
        assert_eq!(plain.to_string(), "conflict: publish_jobs");

        let on_post = plain.on_post(&PostId::from("p1"));
        assert_eq!(on_post.post_id(), Some(&PostId::from("p1")));
        assert_eq!(on_post.to_string(), "post p1: conflict: publish_jobs");
        let cause = std::error::Error::source(&on_post).expect("the store error is the cause");
        assert_eq!(cause.to_string(), "conflict: publish_jobs");
    }

    #[test]
    fn a_refused_transition_keeps_the_post_it_was_about() {
        let refused =
            SchedulerError::Transition { post_id: "p2".into(), source: PostError::SystemOnly(PostActionKind::Due) };
        // Naming another post later (a wrapping caller) does not overwrite the one it is about.
        let refused = refused.on_post(&PostId::from("p3"));
        assert_eq!(refused.post_id(), Some(&PostId::from("p2")));
        assert!(matches!(refused, SchedulerError::Transition { ref post_id, .. } if *post_id == "p2"));
        assert!(refused.to_string().starts_with("post p2: "), "{refused}");
    }

    #[test]
    fn keys_are_stable_per_version_and_differ_between_versions() {
        assert_eq!(idempotency_key(&PostId::from("p1"), 1), idempotency_key(&PostId::from("p1"), 1));
        assert_ne!(idempotency_key(&PostId::from("p1"), 1), idempotency_key(&PostId::from("p1"), 2));
        assert_ne!(idempotency_key(&PostId::from("p1"), 1), idempotency_key(&PostId::from("p2"), 1));
        assert!(idempotency_key(&PostId::from("p1"), 1).starts_with("stw-"));
    }
}
