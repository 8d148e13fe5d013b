//! Leaving cleanly: a person downloads everything Steward holds about them, and deletes their
//! own user. The user row stays as a tombstone (posts, approvals and the hash-chained audit log
//! name its id), emptied of everything that names the person.
use futures_util::stream::{BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use steward_domain::audit::Action;
use steward_domain::ids::{NotificationId, UserId};
use steward_store::{ActivityFilter, Store};
use utoipa::ToSchema;

use crate::activity::wording::ActivityEvent;
use crate::actor::{AuditActor, Ctx, Principal};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::identity::sessions::require_session;
use crate::identity::step_up;
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// Rows read per database round trip while exporting.
const EXPORT_PAGE: i64 = 500;

/// `DELETE /me`: the password again, and a code when two-factor sign-in is on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    pub password: String,
    #[serde(default)]
    pub totp: Option<String>,
}

/// A personal export under way: one JSON document, its bytes as they are read.
pub struct PersonalExport {
    pub body: BoxStream<'static, Result<Vec<u8>, std::io::Error>>,
}

fn at(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |v| Value::String(rfc3339(v)))
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Everything Steward holds about the caller, as one JSON object: profile, sessions, access
/// tokens (names, scopes and dates; never a secret or a hash), memberships, invitations sent or
/// received, notifications, posts written, review comments written and their activity log. The
/// small parts are read before answering (so a failure is still an error status); posts,
/// comments and activity stream a page at a time, so memory stays flat whatever their number.
pub async fn export_me(s: &Services, who: &Principal) -> AppResult<PersonalExport> {
    who.require_whole_person()?;
    require_session(who)?;
    let user = s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })?;
    let sessions: Vec<Value> = s
        .store
        .sessions_on_record(&user.id)
        .await?
        .into_iter()
        .map(|r| {
            json!({"id": r.id, "user_agent": r.user_agent, "ip": r.ip, "created_at": rfc3339(r.created_at),
                "last_seen_at": rfc3339(r.last_seen_at), "expires_at": rfc3339(r.expires_at), "revoked_at": at(r.revoked_at)})
        })
        .collect();
    let tokens: Vec<Value> = s
        .store
        .api_tokens_on_record(&user.id)
        .await?
        .into_iter()
        .map(|t| {
            json!({"id": t.id, "name": t.name, "scopes": parsed(&t.scopes),
                "accounts": t.accounts.as_deref().map(parsed), "capabilities": t.capabilities.as_deref().map(parsed),
                "created_at": rfc3339(t.created_at), "expires_at": at(t.expires_at),
                "last_used_at": at(t.last_used_at), "revoked_at": at(t.revoked_at)})
        })
        .collect();
    let memberships: Vec<Value> = s
        .store
        .accounts_of_user(&user.id)
        .await?
        .into_iter()
        .map(|(a, m)| {
            json!({"account_id": a.id, "platform": a.platform.as_str(), "handle": a.handle,
                "account_display_name": a.display_name, "owner": a.owner_id == user.id, "role": m.role,
                "grants": parsed(&m.grants), "revokes": parsed(&m.revokes), "windows": parsed(&m.windows),
                "daily_quota": m.daily_quota, "status": m.status, "expires_at": at(m.expires_at),
                "accepted_rules_version": m.accepted_rules_version, "created_at": rfc3339(m.created_at)})
        })
        .collect();
    let invitations: Vec<Value> = s
        .store
        .invitations_of_person(&user.id, &user.email)
        .await?
        .into_iter()
        .map(|i| {
            json!({"id": i.id, "account_id": i.account_id, "email": i.email, "role": i.role,
                "sent_by_me": i.invited_by == user.id, "created_at": rfc3339(i.created_at),
                "expires_at": rfc3339(i.expires_at), "accepted_at": at(i.accepted_at), "withdrawn_at": at(i.withdrawn_at)})
        })
        .collect();
    // Every notification the person may still see, read a page at a time (the same visibility
    // as `GET /notifications`: none about an account they have left).
    let mut notifications: Vec<Value> = Vec::new();
    let mut before: Option<(i64, NotificationId)> = None;
    loop {
        let page = s.store.notifications_for_user(&user.id, s.clock.now_us(), false, before.clone(), 500).await?;
        let full = page.len() == 500;
        before = page.last().map(|n| (n.created_at, n.id.clone()));
        notifications.extend(page.into_iter().map(|n| {
            json!({"id": n.id, "kind": n.kind, "account_id": n.account_id, "post_id": n.post_id, "text": n.text,
                "created_at": rfc3339(n.created_at), "read_at": at(n.read_at)})
        }));
        if !full {
            break;
        }
    }
    let head = json!({
        "format": "steward.personal-export.v1",
        "exported_at": rfc3339(s.clock.now_us()),
        "user": {"id": user.id, "email": user.email, "display_name": user.display_name,
            "totp_enabled": user.totp_enabled, "created_at": rfc3339(user.created_at), "updated_at": rfc3339(user.updated_at)},
        "sessions": sessions,
        "tokens": tokens,
        "memberships": memberships,
        "invitations": invitations,
        "notifications": notifications,
    });
    // The object without its closing brace; the streamed lists follow it.
    let mut head = head.to_string();
    head.pop();
    Ok(PersonalExport { body: stream(s.store.clone(), user.id.clone(), s.clock.now_us(), head.into_bytes()) })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Posts,
    Comments,
    Activity,
    Done,
}

impl Part {
    fn key(self) -> &'static str {
        match self {
            Part::Posts => "posts",
            Part::Comments => "comments",
            Part::Activity | Part::Done => "activity",
        }
    }
    fn next(self) -> Part {
        match self {
            Part::Posts => Part::Comments,
            Part::Comments => Part::Activity,
            Part::Activity | Part::Done => Part::Done,
        }
    }
}

struct Cursor {
    store: Store,
    user_id: UserId,
    /// When the export began: posts are those of accounts the person belongs to then.
    now: i64,
    head: Option<Vec<u8>>,
    part: Part,
    /// Whether the current list has had an item (a comma goes before the next).
    started: bool,
    after: Option<(i64, String)>,
    before_seq: Option<(i64, i64)>,
}

/// One page of the current part as JSON items; `true` when the part is exhausted.
async fn page(cur: &mut Cursor) -> steward_store::Result<(Vec<Value>, bool)> {
    let after = cur.after.as_ref().map(|(t, id)| (*t, id.as_str()));
    match cur.part {
        Part::Posts => {
            let rows = cur.store.posts_by_author(&cur.user_id, cur.now, after, EXPORT_PAGE).await?;
            let done = (rows.len() as i64) < EXPORT_PAGE;
            cur.after = rows.last().map(|p| (p.created_at, p.id.to_string()));
            let items = rows
                .into_iter()
                .map(|p| {
                    json!({"id": p.id, "account_id": p.account_id, "state": p.state, "version": p.version,
                        "title": p.title, "text": p.text, "media": parsed(&p.media), "reply_to": p.reply_to,
                        "scheduled_at": at(p.scheduled_at), "published_at": at(p.published_at),
                        "external_url": p.external_url, "created_at": rfc3339(p.created_at), "updated_at": rfc3339(p.updated_at)})
                })
                .collect();
            Ok((items, done))
        }
        Part::Comments => {
            let rows = cur.store.comments_by_author(&cur.user_id, after, EXPORT_PAGE).await?;
            let done = (rows.len() as i64) < EXPORT_PAGE;
            cur.after = rows.last().map(|c| (c.created_at, c.id.clone()));
            let items = rows
                .into_iter()
                .map(|c| {
                    json!({"id": c.id, "post_id": c.post_id, "kind": c.kind, "body": c.body, "version": c.version,
                        "created_at": rfc3339(c.created_at)})
                })
                .collect();
            Ok((items, done))
        }
        Part::Activity => {
            let filter = ActivityFilter { actor_id: Some(cur.user_id.to_string()), ..ActivityFilter::default() };
            let rows = cur.store.activity(&filter, cur.before_seq, EXPORT_PAGE).await?;
            let done = (rows.len() as i64) < EXPORT_PAGE;
            cur.before_seq = rows.last().map(|r| (r.at, r.seq));
            let items =
                rows.into_iter().map(|r| serde_json::to_value(ActivityEvent::from(r)).unwrap_or(Value::Null)).collect();
            Ok((items, done))
        }
        Part::Done => Ok((Vec::new(), true)),
    }
}

fn stream(
    store: Store,
    user_id: UserId,
    now: i64,
    head: Vec<u8>,
) -> BoxStream<'static, Result<Vec<u8>, std::io::Error>> {
    let start = Cursor {
        store,
        user_id,
        now,
        head: Some(head),
        part: Part::Posts,
        started: false,
        after: None,
        before_seq: None,
    };
    futures_util::stream::unfold(start, |mut cur| async move {
        if cur.part == Part::Done {
            return None;
        }
        let mut out = cur.head.take().unwrap_or_default();
        if !cur.started {
            out.extend_from_slice(format!(",\"{}\":[", cur.part.key()).as_bytes());
        }
        let (items, done) = match page(&mut cur).await {
            Ok(page) => page,
            Err(e) => {
                // The status line is gone; cutting the body short (invalid JSON) tells the
                // client the export is incomplete.
                tracing::error!(error = %e, "personal export failed mid-stream");
                cur.part = Part::Done;
                return Some((Err(std::io::Error::other("export failed")), cur));
            }
        };
        for item in items {
            if cur.started {
                out.push(b',');
            }
            cur.started = true;
            if serde_json::to_writer(&mut out, &item).is_err() {
                out.extend_from_slice(b"null");
            }
        }
        if done {
            out.push(b']');
            cur.part = cur.part.next();
            cur.started = false;
            cur.after = None;
            if cur.part == Part::Done {
                out.push(b'}');
            }
        } else {
            // More pages of this part follow; the list is open.
            cur.started = true;
        }
        Some((Ok(out), cur))
    })
    .boxed()
}

/// Deletes the caller's own user, after their password (and code with 2FA on) again, counted
/// with the other step-ups. Refused (409) while they own a social account: they transfer or
/// delete it first. Their sessions, tokens, memberships and personal settings go; the user row
/// stays as a tombstone so their posts and the audit log keep a pseudonymous id.
pub async fn delete_me(s: &Services, ctx: &Ctx, who: &Principal, input: DeleteMeRequest) -> AppResult<()> {
    ctx.slot.set_action(Action::UserDelete, Some(format!("user:{}", who.user_id)));
    who.require_whole_person()?;
    require_session(who)?;
    let user = s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })?;
    if input.password.is_empty() {
        return Err(AppError::validation("password", "is required: enter your password again"));
    }
    step_up::confirm(s, ctx, &user, Some(&input.password), input.totp.as_deref()).await?;
    let now = s.clock.now_us();
    // The last event of theirs: it names them by id only (the email would outlive them here).
    let actor = AuditActor { email: None, ..who.actor() };
    audited(s, ctx, &actor, async |tx| {
        let owned = tx.owned_account_count(&user.id).await?;
        if owned > 0 {
            return Err(AppError::Conflict(format!(
                "you own {owned} social account{}: transfer or delete {} first",
                if owned == 1 { "" } else { "s" },
                if owned == 1 { "it" } else { "them" }
            )));
        }
        tx.erase_user(&user.id, now).await?;
        Ok(((), Audit::personal(Action::UserDelete).target(format!("user:{}", user.id))))
    })
    .await
}
