//! The steps every workflow change of a post shares: load it and authorize on its account,
//! lock it and ask `steward_domain::post::transition` (which applies the author-only and
//! self-approval rules), store what the domain decided with a compare-and-set.
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::{PostId, UserId};
use steward_domain::post::{
    Approval, ApprovalChange, Performer, PostAction, PostActor, PostError, PostErrorKind, PostSnapshot, PostState,
    ScheduleChange, Transition, transition,
};
use steward_store::{PostRow, PostStateWrite, ScheduleWrite, StoreError, Tx};

use crate::actor::{Ctx, Principal};
use crate::authz::{AccountAccess, Need, authorize};
use crate::error::{AppError, AppResult};
use crate::notifications;
use crate::posts::rules::{approval_rules, counting_approvals};
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// The audit target naming a post.
pub(crate) fn target(post_id: &PostId) -> String {
    format!("post:{post_id}")
}

pub(crate) fn post_error(e: PostError) -> AppError {
    match e.kind() {
        PostErrorKind::Forbidden => AppError::Forbidden(e.to_string()),
        PostErrorKind::Conflict => AppError::Conflict(e.to_string()),
    }
}

/// The acting member as the domain sees them, with their capabilities narrowed by the token.
pub(crate) fn performer(access: &AccountAccess, post: &PostRow) -> Performer {
    let mut rights = access.rights;
    rights.capabilities = access.capabilities;
    Performer::Member(PostActor {
        user_id: access.membership.user_id.to_string(),
        is_author: post.author_id == access.membership.user_id,
        rights,
    })
}

/// The post's state (the store refuses a row whose state is none of ours).
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn state_of(post: &PostRow) -> AppResult<PostState> {
    Ok(post.state)
}

pub(crate) fn version_of(post: &PostRow) -> u32 {
    u32::try_from(post.version).unwrap_or(u32::MAX)
}

/// Loads the post and authorizes the caller on its account. A post that does not exist and a
/// post on an account the caller is not a member of are both not found.
pub(crate) async fn load(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    need: Capability,
) -> AppResult<(PostRow, AccountAccess)> {
    let Some(post) = s.store.post(post_id).await? else {
        return Err(AppError::NotFound);
    };
    let access = authorize(s, ctx, who, &post.account_id, Need::Capability(need)).await?;
    Ok((post, access))
}

/// Inside a transaction: the post locked, its approvals, and the domain's decision on an action.
pub(crate) struct Decided {
    pub post: PostRow,
    pub step: Transition,
    pub from: PostState,
    pub counting: Vec<Approval>,
}

pub(crate) async fn decide(
    tx: &mut Tx,
    access: &AccountAccess,
    post_id: &PostId,
    action: &PostAction,
    now: i64,
) -> AppResult<Decided> {
    let post = tx.lock_post(post_id).await?.ok_or(AppError::NotFound)?;
    let approvals = tx.post_approvals(post_id).await?;
    let counting = counting_approvals(&access.account, &approvals, now);
    let from = state_of(&post)?;
    let snapshot = PostSnapshot { state: from, version: version_of(&post), approvals: &counting };
    let step = transition(&snapshot, &approval_rules(&access.account), &performer(access, &post), action)
        .map_err(post_error)?;
    Ok(Decided { post, step, from, counting })
}

/// Stores a decided transition (not an edit) with a compare-and-set on state and version.
pub(crate) async fn store_step(tx: &mut Tx, d: &Decided, scheduled_by: &UserId, now: i64) -> AppResult<()> {
    let schedule = match d.step.schedule {
        ScheduleChange::Keep => ScheduleWrite::Keep,
        ScheduleChange::Clear => ScheduleWrite::Clear,
        ScheduleChange::Set(at) => ScheduleWrite::Set { at: at.as_microsecond(), by: scheduled_by },
    };
    if let ApprovalChange::Add(approval) = &d.step.approvals {
        tx.insert_post_approval(
            &d.post.id,
            i64::from(approval.version),
            &UserId::new(approval.user_id.to_string()),
            approval.by_owner,
            now,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AppError::Conflict("you have already approved this version".into()),
            other => other.into(),
        })?;
    }
    let write = PostStateWrite {
        state: d.step.state.as_str(),
        schedule,
        hold_reason: None,
        clear_approvals: d.step.approvals == ApprovalChange::Clear,
    };
    if !tx.apply_post_transition(&d.post.id, d.from.as_str(), d.post.version, &write, now).await? {
        return Err(AppError::Conflict("the post changed meanwhile; reload it and try again".into()));
    }
    Ok(())
}

/// A plain transition (submit, cancel): authorize with `need`, decide, store, audit, commit.
/// Answers the access it was decided under, to show the post with.
pub(crate) async fn simple_transition(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    need: Capability,
    action: PostAction,
    audit_action: Action,
) -> AppResult<AccountAccess> {
    ctx.slot.set_action(audit_action, Some(target(post_id)));
    let (_, access) = load(s, ctx, who, post_id, need).await?;
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        let d = decide(tx, &access, post_id, &action, now).await?;
        store_step(tx, &d, &who.user_id, now).await?;
        if d.step.state == PostState::InReview && d.from != PostState::InReview {
            notifications::tell_reviewers(
                tx,
                &access.account,
                post_id,
                &d.post.author_id,
                &who.display_name,
                &d.post.text,
                now,
            )
            .await?;
        }
        let audit = Audit::on_account(&d.post.account_id, audit_action).target(target(post_id)).detail(json!({
            "post_id": post_id,
            "version": d.post.version,
            "from_state": d.from.as_str(),
            "to_state": d.step.state.as_str(),
        }));
        Ok(((), audit))
    })
    .await?;
    notifications::mail_after_commit(s).await;
    Ok(access)
}
