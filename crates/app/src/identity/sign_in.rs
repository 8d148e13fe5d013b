//! Signing in (password, throttling of repeated failures, the second factor, the new session
//! and its device) and signing out. The edges turn the new session into a cookie or a token.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::identity::normalize_email;
use steward_domain::ids::SessionId;
use steward_domain::throttle::{address_block, retry_after_secs};
use steward_store::{AttemptLimits, AttemptScope, NewSession, Reservation};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::actor::{AuditActor, Ctx, Principal};
use crate::crypto::{hmac_sha256, new_token, sha256};
use crate::error::{AppError, AppResult};
use crate::identity::device;
use crate::identity::sessions::SESSION_TOKEN_PREFIX;
use crate::identity::view::UserView;
use crate::services::Services;
use crate::twofactor::verify_second_factor;
use crate::usecase::{Audit, audited, record};

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(max_length = 254, pattern = r"^[!-?A-~]{1,64}@[!-\-/-?A-~]+(\.[!-\-/-?A-~]+)+$")]
    pub email: String,
    pub password: String,
    /// The current code from the authenticator app, or a recovery code, when 2FA is on.
    pub totp: Option<String>,
}

/// A new session: its secret token (for a cookie or `Authorization: Bearer`), its id, and who.
pub struct SignedIn {
    pub token: Zeroizing<String>,
    pub session_id: SessionId,
    pub user: UserView,
    /// The device cookie's value for this client (the edge sets it): it signed in here.
    pub device_cookie: String,
}

fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// What an attempt re-checks: signing in, or a signed-in person's step-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    SignIn,
    StepUp,
}

impl AttemptKind {
    const fn as_str(self) -> &'static str {
        match self {
            AttemptKind::SignIn => "sign_in",
            AttemptKind::StepUp => "step_up",
        }
    }
}

/// Reserves one attempt for `email` from this client before any secret is checked, or
/// refuses it (429 with `Retry-After`) when the per-account limit (per device for a client
/// with a device cookie for the account) or, for sign-in, the per-address limit is reached.
/// The answer is the attempt to settle once the secret has been checked.
pub(crate) async fn reserve_attempt(
    s: &Services,
    ctx: &Ctx,
    kind: AttemptKind,
    email: &str,
    device: Option<&str>,
) -> AppResult<String> {
    let now = s.clock.now_us();
    let window = micros(s.settings.login_window);
    let ip = address_block(&ctx.meta.ip);
    let scope = AttemptScope { kind: kind.as_str(), email, ip: &ip, device };
    let limits = AttemptLimits {
        per_account: s.settings.login_max_failures_per_account,
        per_ip: (kind == AttemptKind::SignIn).then_some(s.settings.login_max_failures_per_ip),
        since: now - window,
    };
    match s.store.reserve_attempt(&scope, &limits, now).await? {
        Reservation::Granted { id } => Ok(id),
        Reservation::Refused { oldest } => {
            Err(AppError::RateLimited { retry_after_secs: retry_after_secs(oldest, window, now) })
        }
    }
}

/// Signs a person in: the password (and the second factor when 2FA is on) checked, a session
/// opened and its device remembered, the sign-in recorded. Each check is reserved against the
/// limits first, so concurrent guesses cannot outrun them; a client with a device cookie for
/// the account is counted on its own, so strangers' failures never lock its person out.
pub async fn login(s: &Services, ctx: &Ctx, input: LoginRequest) -> AppResult<SignedIn> {
    ctx.slot.set_action(Action::Login, None);
    let email = normalize_email(&input.email).map_err(|e| AppError::validation("email", e.to_string()))?;
    ctx.slot.set_actor(AuditActor { user_id: None, email: Some(email.clone()), session_id: None });
    let ip = ctx.meta.ip.clone();
    let now = s.clock.now_us();

    let user = s.store.user_by_email(&email).await?;
    let device = ctx
        .meta
        .device
        .as_ref()
        .and_then(|c| device::open(s, &c.0))
        .filter(|d| user.as_ref().is_some_and(|u| u.id == d.user_id));
    let attempt =
        reserve_attempt(s, ctx, AttemptKind::SignIn, &email, device.as_ref().map(|d| d.device_id.as_str())).await?;
    if let Some(u) = &user {
        ctx.slot.set_actor(AuditActor { user_id: Some(u.id.clone()), email: Some(u.email.clone()), session_id: None });
    }
    let password_ok =
        s.passwords.verify(Zeroizing::new(input.password), user.as_ref().map(|u| u.password_hash.clone())).await?;
    let (true, Some(user)) = (password_ok, user) else {
        s.store.settle_attempt(&attempt, false).await?;
        return Err(AppError::InvalidCredentials { detail: "The email address or password is wrong." });
    };

    let mut tx = s.store.begin().await?;
    let mut second_factor = None;
    if user.totp_enabled {
        let Some(code) = input.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
            drop(tx);
            // The password was right: asking for the code is no failure.
            s.store.settle_attempt(&attempt, true).await?;
            return Err(AppError::TotpRequired);
        };
        second_factor = verify_second_factor(s, &mut tx, &user, code).await?;
        if second_factor.is_none() {
            drop(tx);
            s.store.settle_attempt(&attempt, false).await?;
            return Err(AppError::InvalidCredentials {
                detail: "The two-factor code is wrong, expired or was already used.",
            });
        }
    }

    let token = Zeroizing::new(new_token(SESSION_TOKEN_PREFIX));
    let session_id = SessionId::new(uuid::Uuid::now_v7().to_string());
    let expires_at = now + micros(s.settings.session_absolute);
    tx.insert_session(NewSession {
        id: &session_id,
        user_id: &user.id,
        token_hash: &sha256(token.as_bytes()),
        user_agent: ctx.meta.user_agent.as_deref(),
        ip: Some(&ip),
        now,
        expires_at,
    })
    .await?;
    let fingerprint = hmac_sha256(&s.device_key, ctx.meta.user_agent.as_deref().unwrap_or("").as_bytes());
    let new_device = tx.remember_device(&user.id, &fingerprint, now).await?;
    // The first device a person ever signs in from is no news (no alert).
    let first_device = new_device && tx.known_device_count(&user.id).await? == 1;
    let actor = AuditActor {
        user_id: Some(user.id.clone()),
        email: Some(user.email.clone()),
        session_id: Some(session_id.clone()),
    };
    let audit = Audit::personal(Action::Login).target(format!("session:{session_id}")).detail(json!({
        "second_factor": second_factor, "new_device": new_device, "first_device": first_device,
        "device_cookie": device.is_some(),
    }));
    record(s, ctx, &actor, &mut tx, audit).await?;
    tx.commit().await?;
    s.store.settle_attempt(&attempt, true).await?;
    // Failures stay counted until their window passes: forgiving them on a success would give
    // a guesser a fresh allowance each time the person signs in.
    let device_id = device.map_or_else(device::new_device_id, |d| d.device_id);
    let device_cookie = device::issue(s, &user.id, &device_id);
    Ok(SignedIn { token, session_id, user: UserView::from(&user), device_cookie })
}

/// Ends the session the person acts through. A personal access token has no session to end.
pub async fn logout(s: &Services, ctx: &Ctx, who: &Principal) -> AppResult<()> {
    ctx.slot.set_action(Action::Logout, None);
    let Some(session_id) = who.session_id.as_ref() else {
        return Err(AppError::validation(
            "authorization",
            "a personal access token has no session to end; revoke it with DELETE /api/v1/me/tokens/{id}",
        ));
    };
    audited(s, ctx, &who.actor(), async |tx| {
        tx.revoke_session(&who.user_id, session_id, s.clock.now_us()).await?;
        Ok(((), Audit::personal(Action::Logout).target(format!("session:{session_id}"))))
    })
    .await
}
