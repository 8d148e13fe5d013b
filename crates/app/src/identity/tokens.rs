//! Personal access tokens: creating one (narrowed to scopes, accounts and capabilities, with
//! an end: 90 days unless told, at most a year; a recent re-authentication), listing and revoking them. The secret is shown once and stored as a hash.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::ids::TokenId;
use steward_store::{ApiTokenRow, NewApiToken};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::actor::{Ctx, Principal};
use crate::clock::rfc3339;
use crate::crypto::{new_token, sha256};
use crate::error::{AppError, AppResult, FieldError};
use crate::identity::sessions::require_session;
use crate::identity::step_up;
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// Personal access tokens start with this.
pub const API_TOKEN_PREFIX: &str = "stp_";
/// A token without an end date given ends after this many days…
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
/// …and none lasts longer than this.
pub const MAX_TOKEN_DAYS: i64 = 366;
/// Creating a token needs the session to have proved who it is this recently.
pub const REAUTH_WINDOW_US: i64 = 10 * 60 * 1_000_000;
const DAY_US: i64 = 86_400_000_000;

/// A recent re-authentication is needed and none was given.
#[must_use]
pub fn reauth_required() -> AppError {
    AppError::ForbiddenAs {
        code: "reauth-required",
        title: "Re-authentication required",
        detail: "confirm it is you: send your password (or, with two-factor sign-in on, a code) with this request"
            .into(),
    }
}

/// Creating a token needs a re-authentication within the last 10 minutes: the password or code
/// sent with the request (which then counts for the session), or the session's own recent one.
async fn require_recent_auth(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    password: Option<&str>,
    totp: Option<&str>,
) -> AppResult<()> {
    let now = s.clock.now_us();
    let Some(session_id) = who.session_id.as_ref() else { return Err(reauth_required()) };
    let given = password.is_some_and(|p| !p.is_empty()) || totp.is_some_and(|c| !c.trim().is_empty());
    if !given {
        let at = s.store.session_reauthenticated_at(session_id).await?;
        return match at {
            Some(at) if now - at <= REAUTH_WINDOW_US => Ok(()),
            _ => Err(reauth_required()),
        };
    }
    let user = s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })?;
    step_up::confirm(s, ctx, &user, password, totp).await?;
    let mut tx = s.store.begin().await?;
    tx.mark_session_reauthenticated(session_id, now).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTokenRequest {
    pub name: String,
    /// `read` and/or `write` (`write` includes reading).
    pub scopes: Vec<String>,
    /// RFC 3339; the token stops working then.
    pub expires_at: Option<String>,
    /// Narrow the token to these social accounts.
    pub accounts: Option<Vec<String>>,
    /// Narrow the token to these capabilities (names as in the API, e.g. `drafts.create`).
    pub capabilities: Option<Vec<String>>,
    /// Re-authentication, needed unless this session signed in or re-authenticated within the
    /// last 10 minutes: the person's password…
    pub password: Option<String>,
    /// …or, with 2FA on, a code from the authenticator app (or a recovery code).
    pub totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    #[schema(value_type = String)]
    pub id: TokenId,
    pub name: String,
    pub scopes: Vec<String>,
    pub accounts: Option<Vec<String>>,
    pub capabilities: Option<Vec<String>>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The secret: shown this once, stored only as a hash.
    pub token: String,
}

impl From<ApiTokenRow> for TokenView {
    fn from(t: ApiTokenRow) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            scopes: serde_json::from_str(&t.scopes).unwrap_or_default(),
            accounts: t.accounts.as_deref().and_then(|a| serde_json::from_str(a).ok()),
            capabilities: t.capabilities.as_deref().and_then(|c| serde_json::from_str(c).ok()),
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
        }
    }
}

fn validate_list(field: &str, list: Option<&Vec<String>>, errors: &mut Vec<FieldError>) {
    if let Some(items) = list {
        if items.is_empty() {
            errors.push(FieldError::new(field, "must not be empty when given (leave it out for no narrowing)"));
        } else if items.len() > 100 {
            errors.push(FieldError::new(field, "must have at most 100 entries"));
        } else if items.iter().any(|s| s.trim().is_empty() || s.chars().count() > 200) {
            errors.push(FieldError::new(field, "entries must be 1 to 200 characters, not blank"));
        }
    }
}

/// Creates a personal access token for the person; the answer holds its secret, once.
pub async fn create_token(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    input: CreateTokenRequest,
) -> AppResult<CreatedToken> {
    ctx.slot.set_action(Action::TokenCreate, None);
    require_session(who)?;
    let now = s.clock.now();
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    let mut scopes: Vec<String> = input.scopes.clone();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() || scopes.iter().any(|s| s != "read" && s != "write") {
        errors.push(FieldError::new("scopes", "must be a non-empty list of `read` and/or `write`"));
    }
    let latest = now.as_microsecond() + MAX_TOKEN_DAYS * DAY_US;
    let expires_at = match input.expires_at.as_deref() {
        None => Some(now.as_microsecond() + DEFAULT_TOKEN_DAYS * DAY_US),
        Some(raw) => match raw.parse::<jiff::Timestamp>() {
            Ok(t) if t > now && t.as_microsecond() <= latest => Some(t.as_microsecond()),
            Ok(t) if t > now => {
                errors.push(FieldError::new("expires_at", "must be within a year"));
                None
            }
            Ok(_) => {
                errors.push(FieldError::new("expires_at", "must be in the future"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("expires_at", "must be an RFC 3339 time such as 2027-01-31T00:00:00Z"));
                None
            }
        },
    };
    validate_list("accounts", input.accounts.as_ref(), &mut errors);
    validate_list("capabilities", input.capabilities.as_ref(), &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    require_recent_auth(s, ctx, who, input.password.as_deref(), input.totp.as_deref()).await?;
    let token = Zeroizing::new(new_token(API_TOKEN_PREFIX));
    let id = TokenId::new(uuid::Uuid::now_v7().to_string());
    let scopes_json = serde_json::to_string(&scopes).map_err(AppError::internal)?;
    let accounts_json = input.accounts.as_ref().map(serde_json::to_string).transpose().map_err(AppError::internal)?;
    let caps_json = input.capabilities.as_ref().map(serde_json::to_string).transpose().map_err(AppError::internal)?;
    let row = audited(s, ctx, &who.actor(), async |tx| {
        let row = tx
            .insert_api_token(NewApiToken {
                id: &id,
                user_id: &who.user_id,
                name,
                token_hash: &sha256(token.as_bytes()),
                scopes: &scopes_json,
                accounts: accounts_json.as_deref(),
                capabilities: caps_json.as_deref(),
                now: now.as_microsecond(),
                expires_at,
            })
            .await?;
        let audit = Audit::personal(Action::TokenCreate).target(format!("token:{id}")).detail(json!({
            "name": name, "scopes": scopes, "accounts": input.accounts, "capabilities": input.capabilities,
        }));
        Ok((row, audit))
    })
    .await?;
    Ok(CreatedToken { view: TokenView::from(row), token: token.to_string() })
}

/// The person's tokens still in force (not revoked, not expired), newest first.
pub async fn list_tokens(s: &Services, who: &Principal) -> AppResult<Vec<TokenView>> {
    require_session(who)?;
    let now = s.clock.now_us();
    Ok(s.store
        .api_tokens_for_user(&who.user_id)
        .await?
        .into_iter()
        .filter(|t| t.expires_at.is_none_or(|e| e > now))
        .map(TokenView::from)
        .collect())
}

/// Revokes one of the person's tokens.
pub async fn revoke_token(s: &Services, ctx: &Ctx, who: &Principal, token_id: &TokenId) -> AppResult<()> {
    ctx.slot.set_action(Action::TokenRevoke, Some(format!("token:{token_id}")));
    require_session(who)?;
    audited(s, ctx, &who.actor(), async |tx| {
        if !tx.revoke_api_token(&who.user_id, token_id, s.clock.now_us()).await? {
            return Err(AppError::NotFound);
        }
        Ok(((), Audit::personal(Action::TokenRevoke).target(format!("token:{token_id}"))))
    })
    .await
}
