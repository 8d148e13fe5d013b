//! A person's sessions: which are live, ending one, ending all of them; and the rule that
//! account security needs a signed-in session, not a personal access token.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::ids::SessionId;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// Session tokens start with this; personal access tokens with [`super::tokens::API_TOKEN_PREFIX`].
pub const SESSION_TOKEN_PREFIX: &str = "sts_";

/// Account security (2FA, sessions, tokens, alert delivery) needs a signed-in session, so a
/// leaked access token cannot mint more tokens, end the owner's sessions or switch off 2FA.
pub fn require_session(who: &Principal) -> AppResult<()> {
    who.require_signed_in("account security settings need a signed-in session, not a personal access token")
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[schema(value_type = String)]
    pub id: SessionId,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    /// True for the session making this request.
    pub current: bool,
}

/// The person's live sessions (not ended, not expired, not idle too long).
pub async fn list_sessions(s: &Services, who: &Principal) -> AppResult<Vec<SessionView>> {
    require_session(who)?;
    let now = s.clock.now_us();
    let idle = i64::try_from(s.settings.session_idle.as_micros()).unwrap_or(i64::MAX);
    Ok(s.store
        .live_sessions(&who.user_id, now)
        .await?
        .into_iter()
        .filter(|x| x.last_seen_at.saturating_add(idle) > now)
        .map(|x| SessionView {
            current: who.session_id.as_ref() == Some(&x.id),
            id: x.id,
            user_agent: x.user_agent,
            ip: x.ip,
            created_at: rfc3339(x.created_at),
            last_seen_at: rfc3339(x.last_seen_at),
            expires_at: rfc3339(x.expires_at),
        })
        .collect())
}

/// Ends one of the person's sessions.
pub async fn revoke_session(s: &Services, ctx: &Ctx, who: &Principal, session_id: &SessionId) -> AppResult<()> {
    ctx.slot.set_action(Action::SessionRevoke, Some(format!("session:{session_id}")));
    require_session(who)?;
    audited(s, ctx, &who.actor(), async |tx| {
        if !tx.revoke_session(&who.user_id, session_id, s.clock.now_us()).await? {
            return Err(AppError::NotFound);
        }
        Ok(((), Audit::personal(Action::SessionRevoke).target(format!("session:{session_id}"))))
    })
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeAllRequest {
    /// Keep the session making this request signed in.
    #[serde(default)]
    pub keep_current: bool,
    /// Revoke the person's personal access tokens too.
    #[serde(default)]
    pub include_tokens: bool,
}

/// "Log out everywhere": ends every session of the person, or every other one, and with
/// `include_tokens` their personal access tokens too.
pub async fn revoke_all_sessions(s: &Services, ctx: &Ctx, who: &Principal, input: RevokeAllRequest) -> AppResult<()> {
    ctx.slot.set_action(Action::SessionsRevokeAll, None);
    require_session(who)?;
    let keep = if input.keep_current { who.session_id.as_ref() } else { None };
    audited(s, ctx, &who.actor(), async |tx| {
        let now = s.clock.now_us();
        let revoked = tx.revoke_all_sessions(&who.user_id, keep, now).await?;
        let tokens = if input.include_tokens { tx.revoke_all_api_tokens(&who.user_id, now).await? } else { 0 };
        let audit = Audit::personal(Action::SessionsRevokeAll)
            .target(format!("user:{}", who.user_id))
            .detail(json!({ "revoked": revoked, "kept_current": input.keep_current, "revoked_tokens": tokens }));
        Ok(((), audit))
    })
    .await
}
