//! Signing in (password, throttling of repeated failures, the second factor, the new session
//! and its device) and signing out. The edges turn the new session into a cookie or a token.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::identity::normalize_email;
use steward_store::NewSession;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::actor::{AuditActor, Ctx, Principal};
use crate::crypto::{hmac_sha256, new_token, sha256};
use crate::error::{AppError, AppResult};
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
    pub session_id: String,
    pub user: UserView,
}

fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Refuses a sign-in attempt while the account or the address has too many recent failures.
pub async fn throttle(s: &Services, email: &str, ip: &str, now: i64) -> AppResult<()> {
    let window = micros(s.settings.login_window);
    let since = now - window;
    let checks = [
        (s.store.failed_logins_for_email(email, since).await?, s.settings.login_max_failures_per_account),
        (s.store.failed_logins_for_ip(ip, since).await?, s.settings.login_max_failures_per_ip),
    ];
    for ((failures, oldest), limit) in checks {
        if failures >= limit {
            let free_at = oldest.unwrap_or(now) + window;
            let retry_after_secs = u64::try_from((free_at - now).max(1_000_000) / 1_000_000).unwrap_or(1);
            return Err(AppError::RateLimited { retry_after_secs });
        }
    }
    Ok(())
}

/// Signs a person in: the password (and the second factor when 2FA is on) checked, a session
/// opened and its device remembered, the sign-in recorded. Failures count towards throttling.
pub async fn login(s: &Services, ctx: &Ctx, input: LoginRequest) -> AppResult<SignedIn> {
    ctx.slot.set_action(Action::Login, None);
    let email = normalize_email(&input.email).map_err(|e| AppError::validation("email", e.to_string()))?;
    ctx.slot.set_actor(AuditActor { user_id: None, email: Some(email.clone()), session_id: None });
    let ip = ctx.meta.ip.clone();
    let now = s.clock.now_us();
    throttle(s, &email, &ip, now).await?;

    let user = s.store.user_by_email(&email).await?;
    if let Some(u) = &user {
        ctx.slot.set_actor(AuditActor { user_id: Some(u.id.clone()), email: Some(u.email.clone()), session_id: None });
    }
    let password_ok =
        s.passwords.verify(Zeroizing::new(input.password), user.as_ref().map(|u| u.password_hash.clone())).await;
    let (true, Some(user)) = (password_ok, user) else {
        s.store.record_login_attempt(&email, &ip, now, false).await?;
        return Err(AppError::InvalidCredentials { detail: "The email address or password is wrong." });
    };

    let mut tx = s.store.begin().await?;
    let mut second_factor = None;
    if user.totp_enabled {
        let Some(code) = input.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(AppError::TotpRequired);
        };
        second_factor = verify_second_factor(s, &mut tx, &user, code).await?;
        if second_factor.is_none() {
            drop(tx);
            s.store.record_login_attempt(&email, &ip, now, false).await?;
            return Err(AppError::InvalidCredentials {
                detail: "The two-factor code is wrong, expired or was already used.",
            });
        }
    }

    let token = Zeroizing::new(new_token(SESSION_TOKEN_PREFIX));
    let session_id = uuid::Uuid::now_v7().to_string();
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
    let device = hmac_sha256(&s.device_key, ctx.meta.user_agent.as_deref().unwrap_or("").as_bytes());
    let new_device = tx.remember_device(&user.id, &device, now).await?;
    // The first device a person ever signs in from is no news (no alert).
    let first_device = new_device && tx.known_device_count(&user.id).await? == 1;
    let actor = AuditActor {
        user_id: Some(user.id.clone()),
        email: Some(user.email.clone()),
        session_id: Some(session_id.clone()),
    };
    let audit = Audit::personal(Action::Login).target(format!("session:{session_id}")).detail(json!({
        "second_factor": second_factor, "new_device": new_device, "first_device": first_device,
    }));
    record(s, ctx, &actor, &mut tx, audit).await?;
    tx.commit().await?;
    s.store.record_login_attempt(&email, &ip, now, true).await?;
    s.store.clear_failed_logins(&email).await?;
    Ok(SignedIn { token, session_id, user: UserView::from(&user) })
}

/// Ends the session the person acts through. A personal access token has no session to end.
pub async fn logout(s: &Services, ctx: &Ctx, who: &Principal) -> AppResult<()> {
    ctx.slot.set_action(Action::Logout, None);
    let Some(session_id) = who.session_id.as_deref() else {
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
