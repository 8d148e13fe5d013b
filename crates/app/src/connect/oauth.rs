//! The OAuth connection flow: starting it (a single-use `state` bound to the session that
//! started it, expiring after 10 minutes, with the PKCE verifier kept sealed on the server) and
//! deciding what the platform's callback means. A refused callback (bad, replayed, expired or
//! foreign state, or the owner cancelling) changes nothing.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_connectors::{ConnectorError, OauthApp, linkedin, mastodon as mastodon_api, pkce, tiktok};
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PageChoiceId};
use steward_domain::platform::{self, ConnectMethod};
use steward_store::{NewAccount, NewOauthState};
use utoipa::{IntoParams, ToSchema};

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::connect::{linkedin_pages, mastodon};
use crate::credentials::{self, OauthCredential};
use crate::crypto::{new_token, sha256};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::Services;
use crate::usecase::{Audit, audited};

const STATE_TTL_US: i64 = 10 * 60 * 1_000_000;

#[derive(Deserialize, ToSchema)]
pub struct ConnectRequest {
    pub platform: String,
    pub account_kind: Option<String>,
    /// Mastodon: the instance's URL.
    pub instance_url: Option<String>,
    /// Reconnect this existing account instead of connecting a new one (owner only).
    pub account_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectResponse {
    /// Send the owner's browser here; the platform sends it back to Steward's callback.
    pub authorize_url: String,
}

/// The operator's OAuth app for a platform, if configured.
fn oauth_app(s: &Services, platform: &str) -> Option<OauthApp> {
    match platform {
        "linkedin" => s.settings.linkedin.clone(),
        "tiktok" => s.settings.tiktok.clone(),
        _ => None,
    }
}

/// Where the platform sends the browser back.
#[must_use]
pub fn redirect_uri(s: &Services, platform: &str) -> String {
    format!("{}/oauth/{platform}/callback", s.settings.public_url)
}

fn verifier_aad(state_hash: &[u8]) -> String {
    format!("oauth_states:{}:verifier", hex::encode(state_hash))
}

/// Trades the callback's code for tokens and asks the platform who the account is (LinkedIn,
/// TikTok: the operator's app).
pub async fn exchange(
    s: &Services,
    platform: &str,
    app: &OauthApp,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> Result<OauthCredential, ConnectorError> {
    let now = s.clock.now().as_second();
    let (tokens, identity) = match platform {
        "tiktok" => {
            let tokens = tiktok::exchange_code(&s.http, app, code, redirect, verifier, now).await?;
            let identity = tiktok::user_info(&s.http, app, &tokens.access_token).await?;
            (tokens, identity)
        }
        _ => {
            let tokens = linkedin::exchange_code(&s.http, app, code, redirect, verifier, now).await?;
            let identity = linkedin::userinfo(&s.http, app, &tokens.access_token).await?;
            (tokens, identity)
        }
    };
    Ok(OauthCredential { tokens, identity, instance: None })
}

/// Starts connecting (or reconnecting) an account through the platform's sign-in page: answers
/// where to send the browser. Needs a signed-in session, which the callback must come back to.
pub async fn start_connect(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    input: ConnectRequest,
) -> AppResult<ConnectResponse> {
    ctx.slot.set_action(Action::AccountConnectStart, None);
    let Some(p) = platform::platform(&input.platform) else {
        return Err(AppError::validation("platform", "is not a platform Steward knows (see GET /api/v1/platforms)"));
    };
    if p.connect != ConnectMethod::Oauth {
        return Err(AppError::validation("platform", "connects with credentials: use POST /api/v1/accounts"));
    }
    let session_id = who.session_id.clone().ok_or(AppError::Unauthenticated { presented: true })?;
    // Reconnecting: only the owner touches the credential, and the kind is the account's own.
    let mut kind_name = input.account_kind.clone();
    let mut reconnect_instance = None;
    // The account to reconnect arrives as text: typed once here.
    let reconnect = input.account_id.as_deref().map(AccountId::from);
    if let Some(account_id) = &reconnect {
        let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::CredentialManage)).await?;
        if access.account.platform.as_str() != p.id {
            return Err(AppError::validation("account_id", "is an account on another platform"));
        }
        kind_name = Some(access.account.account_kind.clone());
        if p.id == "mastodon" {
            reconnect_instance = credentials::load(s, account_id).await.ok().and_then(|c| c.instance);
        }
    }
    let Some(kind) = platform::account_kind(p, kind_name.as_deref()) else {
        return Err(AppError::validation("account_kind", "is not a kind of account of this platform"));
    };
    let redirect = redirect_uri(s, p.id);
    // Mastodon: any instance the owner names, with an app Steward registers there on first use.
    let mut instance = None;
    let mut new_registration = None;
    let mut mastodon_app = if p.id == "mastodon" {
        let requested = match (&input.instance_url, &reconnect_instance) {
            (Some(url), _) => url.trim().to_string(),
            (None, Some(stored)) => stored.clone(),
            (None, None) => {
                return Err(AppError::validation(
                    "instance_url",
                    "is required for Mastodon (e.g. https://mastodon.social)",
                ));
            }
        };
        let origin = mastodon::instance_origin(s, &requested).await?;
        if reconnect_instance.as_ref().is_some_and(|stored| *stored != origin) {
            return Err(AppError::validation("instance_url", "is not the instance this account lives on"));
        }
        let (app, new_row) = mastodon::app_for(s, &origin, &redirect).await?;
        new_registration = new_row;
        instance = Some(origin);
        Some(app)
    } else {
        None
    };
    let app = if mastodon_app.is_some() {
        None
    } else if let Some(app) = oauth_app(s, p.id) {
        Some(app)
    } else {
        return Err(AppError::Validation(vec![FieldError::new(
            "platform",
            format!(
                "{} is not set up on this server: its operator sets STEWARD_{}_CLIENT_ID and STEWARD_{}_CLIENT_SECRET (see docs/platforms.md)",
                p.name,
                p.id.to_uppercase(),
                p.id.to_uppercase()
            ),
        )]));
    };
    let state_token = zeroize::Zeroizing::new(new_token(""));
    let state_hash = sha256(state_token.as_bytes());
    let verifier = pkce::new_verifier();
    let sealed_verifier = s.vault().seal(&verifier_aad(&state_hash), verifier.as_bytes());
    let now = s.clock.now_us();
    let challenge = pkce::challenge_s256(&verifier);
    let registered_app = new_registration.is_some();
    let authorize_url = audited(s, ctx, &who.actor(), async |tx| {
        if let Some(row) = &new_registration {
            // Kept with this attempt's audit event. Of two first connects to one instance, the
            // registration stored first wins and both use it.
            tx.save_mastodon_app(row).await?;
            let stored = tx.mastodon_app(&row.instance).await?.ok_or(AppError::NotFound)?;
            mastodon_app = Some(mastodon::open_app(s, &stored)?);
        }
        let url = match (&mastodon_app, &app) {
            (Some(m), _) => mastodon_api::authorize_url(m, mastodon_api::SCOPES, &state_token, &challenge),
            (None, Some(app)) if p.id == "tiktok" => {
                tiktok::authorize_url(app, &redirect, &state_token, &challenge, tiktok::SCOPES)
            }
            (None, Some(app)) => {
                let scopes = linkedin::scopes_for(kind.id, s.settings.linkedin_member_read);
                linkedin::authorize_url(app, &redirect, &state_token, &challenge, &scopes)
            }
            (None, None) => return Err(AppError::internal(anyhow::anyhow!("no OAuth app for {}", p.id))),
        }
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
        tx.insert_oauth_state(NewOauthState {
            state_hash: &state_hash,
            user_id: &who.user_id,
            session_id: &session_id,
            platform: p.id,
            account_kind: kind.id,
            verifier_sealed: &sealed_verifier,
            reconnect_account_id: reconnect.as_ref(),
            instance: instance.as_deref(),
            now,
            expires_at: now + STATE_TTL_US,
        })
        .await?;
        let audit = Audit {
            action: Action::AccountConnectStart,
            account_id: reconnect.clone(),
            target: reconnect.as_ref().map(|a| format!("account:{a}")),
            detail: json!({
                "platform": p.id, "account_kind": kind.id, "reconnect": input.account_id.is_some(),
                "instance": instance, "registered_app": registered_app,
            }),
        };
        Ok((url, audit))
    })
    .await?;
    Ok(ConnectResponse { authorize_url })
}

/// What the platform's browser redirect carries.
#[derive(Deserialize, IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Why a callback connected nothing (the edge shows the message and says nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The answer is not one Steward can use: no, bad or replayed state, another platform, no
    /// code.
    Unusable,
    /// The attempt was started more than 10 minutes ago.
    Expired,
    /// The owner cancelled on the platform's page, or did not allow Steward in
    /// (`error=access_denied`, `user_cancelled_authorize`, …).
    Cancelled,
    /// The platform sent back another error instead of a code.
    PlatformError,
    /// The platform refused to trade the code for tokens.
    PlatformRefused,
    /// Reconnecting, the owner signed in to the platform as another account.
    OtherIdentity,
    /// Reconnecting a LinkedIn Company Page as a member who does not administer it.
    NotPageAdmin,
    /// LinkedIn Company Page: the member administers no page to connect.
    NoPages,
}

impl Refusal {
    /// A stable name for the reason (the web app's key for its sentence).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unusable => "unusable",
            Refusal::Expired => "expired",
            Refusal::Cancelled => "cancelled",
            Refusal::PlatformError => "platform_error",
            Refusal::PlatformRefused => "platform_refused",
            Refusal::OtherIdentity => "other_identity",
            Refusal::NotPageAdmin => "not_page_admin",
            Refusal::NoPages => "no_pages",
        }
    }

    /// Every reason, for the pages that word them.
    pub const ALL: [Refusal; 8] = [
        Refusal::Unusable,
        Refusal::Expired,
        Refusal::Cancelled,
        Refusal::PlatformError,
        Refusal::PlatformRefused,
        Refusal::OtherIdentity,
        Refusal::NotPageAdmin,
        Refusal::NoPages,
    ];
}

/// The OAuth error codes (RFC 6749 4.1.2.1, and LinkedIn's own) that mean the person said no
/// or went back on the platform's page, rather than a fault.
const DECLINED: [&str; 5] =
    ["access_denied", "user_cancelled_authorize", "user_cancelled_login", "consent_required", "login_required"];

/// What a callback decided.
#[derive(Debug)]
pub enum CallbackOutcome {
    Connected {
        account_id: AccountId,
        display_name: String,
        /// An existing account was reconnected (no new account).
        reconnected: bool,
    },
    /// LinkedIn Company Page: the member signed in; the owner now picks which of the pages they
    /// administer to connect (`linkedin_pages::page_choice`, `linkedin_pages::choose_pages`).
    ChoosePages {
        choice_id: PageChoiceId,
        pages: usize,
    },
    Refused {
        why: Refusal,
        message: String,
    },
}

fn refused(why: Refusal, message: impl Into<String>) -> AppResult<CallbackOutcome> {
    Ok(CallbackOutcome::Refused { why, message: message.into() })
}

/// Decides what the platform's callback means: consumes the state (whatever happens, it works
/// once), checks it belongs to `who`'s session, trades the code for tokens and connects the new
/// account or reconnects the existing one.
pub async fn finish_connect(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    platform_id: &str,
    q: CallbackQuery,
) -> AppResult<CallbackOutcome> {
    ctx.slot.set_action(Action::AccountConnect, None);
    let Some(state_token) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return refused(Refusal::Unusable, "The platform's answer carried no state.");
    };
    let now = s.clock.now_us();
    let state_hash = sha256(state_token.as_bytes());
    let mut tx = s.store.begin().await?;
    let Some(st) = tx.consume_oauth_state(&state_hash, now).await? else {
        return refused(Refusal::Unusable, "This connection link is not valid or was already used.");
    };
    // Consumed even when refused below: a state works once, whatever happens.
    tx.commit().await?;
    let same_session = who.user_id == st.user_id && who.session_id.as_ref() == Some(&st.session_id);
    if !same_session {
        return Err(AppError::Forbidden("this connection was started by another sign-in".into()));
    }
    if st.expires_at <= now {
        return refused(Refusal::Expired, "This connection attempt expired (after 10 minutes).");
    }
    if st.platform != platform_id {
        return refused(Refusal::Unusable, "The answer came from another platform than the one asked.");
    }
    if let Some(error) = &q.error {
        let why = q.error_description.clone().unwrap_or_else(|| error.clone());
        tracing::info!(platform = %st.platform, error = %error, "the platform sent back an error instead of a code");
        let kind = if DECLINED.contains(&error.as_str()) { Refusal::Cancelled } else { Refusal::PlatformError };
        return refused(kind, format!("The platform said: {why}"));
    }
    let Some(code) = q.code.as_deref() else {
        return refused(Refusal::Unusable, "The platform's answer carried no authorization code.");
    };
    let verifier = s
        .vault()
        .open(&verifier_aad(&state_hash), &st.verifier_sealed)
        .map_err(|e| AppError::internal(anyhow::anyhow!("oauth state: {e}")))?;
    let verifier = String::from_utf8_lossy(&verifier).to_string();
    let exchanged = if st.platform == "mastodon" {
        let instance = st
            .instance
            .as_deref()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a Mastodon connection attempt without an instance")))?;
        mastodon::exchange(s, instance, code, &verifier).await?
    } else {
        let app = oauth_app(s, &st.platform)
            .ok_or_else(|| AppError::Conflict("this platform is no longer set up on this server".into()))?;
        exchange(s, &st.platform, &app, code, &redirect_uri(s, &st.platform), &verifier).await
    };
    let mut cred = match exchanged {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(platform = %st.platform, error = %e, "OAuth code exchange failed");
            return refused(Refusal::PlatformRefused, format!("{} refused the connection: {e}", st.platform));
        }
    };
    let account_id = match &st.reconnect_account_id {
        Some(account_id) => {
            let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::CredentialManage)).await?;
            let previous = credentials::load(s, account_id).await.ok();
            // A Company Page: any of its administrators may sign in for it; it stays the page.
            if let Some(page) = previous.as_ref().filter(|p| linkedin::organization_id(&p.identity.id).is_some()) {
                if !linkedin_pages::still_administers(s, &cred, &page.identity.id).await? {
                    return refused(
                        Refusal::NotPageAdmin,
                        "The LinkedIn member you signed in as does not administer this Company Page: sign in as one of its administrators and try again.",
                    );
                }
                cred.identity = page.identity.clone();
            }
            if previous.as_ref().is_some_and(|p| p.identity.id != cred.identity.id || p.instance != cred.instance) {
                return refused(
                    Refusal::OtherIdentity,
                    "You signed in to the platform as someone else than this account: sign in as the account's own member and try again.",
                );
            }
            audited(s, ctx, &who.actor(), async |tx| {
                credentials::store_in(s, tx, account_id, &cred).await?;
                // A locked-down account stays locked down: its owner lifts that separately.
                tx.activate_unless_locked_down(account_id, now).await?;
                let audit = Audit::on_account(account_id, Action::AccountReconnect)
                    .target(format!("account:{account_id}"))
                    .detail(json!({ "platform": access.account.platform.as_str() }));
                Ok((account_id.clone(), audit))
            })
            .await?
        }
        None if st.platform == "linkedin" && st.account_kind == "organization" => {
            return Ok(match linkedin_pages::offer(s, ctx, who, &cred).await? {
                linkedin_pages::Offer::Choose { choice_id, pages } => CallbackOutcome::ChoosePages { choice_id, pages },
                linkedin_pages::Offer::NoPages(message) => CallbackOutcome::Refused { why: Refusal::NoPages, message },
            });
        }
        None => {
            let id = AccountId::new(uuid::Uuid::now_v7().to_string());
            let kind = platform::kind_of(&st.platform, &st.account_kind);
            let (max_members, owner_approval) =
                kind.map(|k| (k.default_max_members, k.owner_approval_required)).unwrap_or((5, true));
            audited(s, ctx, &who.actor(), async |tx| {
                tx.insert_account(NewAccount {
                    id: &id,
                    platform: &st.platform,
                    account_kind: &st.account_kind,
                    handle: &cred.identity.handle,
                    display_name: &cred.identity.display_name,
                    owner_id: &who.user_id,
                    time_zone: "UTC",
                    max_members,
                    owner_approval_required: owner_approval,
                    credential_sealed: None,
                    now,
                })
                .await?;
                credentials::store_in(s, tx, &id, &cred).await?;
                let audit = Audit::on_account(&id, Action::AccountCreate).target(format!("account:{id}")).detail(
                    json!({ "platform": st.platform, "account_kind": st.account_kind, "handle": cred.identity.handle, "via": "oauth" }),
                );
                Ok((id.clone(), audit))
            })
            .await?
        }
    };
    let reconnected = st.reconnect_account_id.is_some();
    Ok(CallbackOutcome::Connected { account_id, display_name: cred.identity.display_name, reconnected })
}
