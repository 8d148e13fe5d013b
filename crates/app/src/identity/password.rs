//! A person's password: changing it (with the current one), resetting a forgotten one through a
//! mailed single-use link, and the operator's reset from the command line. Each ends sessions
//! and is recorded; the person is told by mail when mail is on.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::identity::{normalize_email, validate_new_password};
use steward_domain::ids::UserId;
use steward_store::{ResetLimits, ResetReservation, UserRow};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::actor::{AuditActor, Ctx, Principal};
use crate::crypto::{new_token, sha256};
use crate::error::{AppError, AppResult};
use crate::identity::sessions::require_session;
use crate::identity::sign_in::{AttemptKind, reserve_attempt};
use crate::identity::step_up;
use crate::identity::view::UserView;
use crate::mail::{self, html_escape};
use crate::services::Services;
use crate::twofactor::verify_second_factor;
use crate::usecase::{self, Audit, audited, record};

/// Reset links start with this.
pub const RESET_TOKEN_PREFIX: &str = "str_";
/// How long a reset link works.
pub const RESET_VALID_US: i64 = 30 * 60 * 1_000_000;
/// Reset requests are counted over this window…
const RESET_WINDOW_US: i64 = 15 * 60 * 1_000_000;
/// …at most this many for one email address…
const RESET_MAX_PER_EMAIL: i64 = 3;
/// …and this many from one network address.
const RESET_MAX_PER_IP: i64 = 10;

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 12 to 1024 characters, not a common password.
    #[schema(min_length = 12, max_length = 1024)]
    pub new_password: String,
    /// A code from the authenticator app, or a recovery code, when 2FA is on.
    pub totp: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(max_length = 254, pattern = r"^[!-?A-~]{1,64}@[!-\-/-?A-~]+(\.[!-\-/-?A-~]+)+$")]
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirmRequest {
    /// The token from the mailed link (`/reset/{token}`).
    pub token: String,
    /// 12 to 1024 characters, not a common password.
    #[schema(min_length = 12, max_length = 1024)]
    pub new_password: String,
    /// Required when 2FA is on: a reset never bypasses the second factor.
    pub totp: Option<String>,
}

fn check_new_password(password: &str, email: &str) -> AppResult<()> {
    validate_new_password(password, email).map_err(|e| AppError::validation("new_password", e.to_string()))
}

/// The notice that a person's password changed (a change they did not make is their cue to
/// act): subject, text and HTML.
fn password_changed_mail(s: &Services, user: &UserRow, how: &str) -> (String, String, String) {
    let link = format!("{}/forgot", s.settings.public_url.trim_end_matches('/'));
    let text = format!(
        "The password of your Steward account {email} was changed ({how}).\n\nIf this was not you, reset it now: \
         {link}\nand tell the server's operator.\n",
        email = user.email,
    );
    let html = format!(
        "<!doctype html><html><body><h1>Your password was changed</h1><p>The password of your Steward account \
         {email} was changed ({how}).</p><p>If this was not you, <a href=\"{link}\">reset it now</a> and tell the \
         server's operator.</p></body></html>",
        email = html_escape(&user.email),
        how = html_escape(how),
        link = html_escape(&link),
    );
    ("[Steward] Your password was changed".into(), text, html)
}

/// Tells the person in the background, when mail is on.
fn tell_password_changed(s: &Services, user: &UserRow, how: &str) {
    if s.settings.mail_enabled() {
        let (subject, text, html) = password_changed_mail(s, user, how);
        mail::send_later(s, user.email.clone(), subject, text, html, "password_changed");
    }
}

/// Changes the signed-in person's password: the current one (and a code with 2FA on) again,
/// then every other session ends.
pub async fn change_password(s: &Services, ctx: &Ctx, who: &Principal, input: ChangePasswordRequest) -> AppResult<()> {
    ctx.slot.set_action(Action::PasswordChange, Some(format!("user:{}", who.user_id)));
    require_session(who)?;
    let user = s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })?;
    check_new_password(&input.new_password, &user.email)?;
    if input.new_password == input.current_password {
        return Err(AppError::validation("new_password", "must differ from the current password"));
    }
    step_up::confirm(s, ctx, &user, Some(&input.current_password), input.totp.as_deref()).await?;
    let hash = s.passwords.hash(Zeroizing::new(input.new_password)).await?;
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        tx.set_password_hash(&user.id, &hash, now).await?;
        let ended = tx.revoke_all_sessions(&user.id, who.session_id.as_ref(), now).await?;
        tx.end_password_resets(&user.id, now).await?;
        let audit = Audit::personal(Action::PasswordChange)
            .target(format!("user:{}", user.id))
            .detail(json!({ "sessions_ended": ended }));
        Ok(((), audit))
    })
    .await?;
    tell_password_changed(s, &user, "from the security page or the API");
    Ok(())
}

/// Counts a reset request against the limits per email and per address, or refuses it (with
/// when to try again) while either has asked too often.
async fn throttle_reset(s: &Services, email: &str, ip: &str, now: i64) -> AppResult<()> {
    let limits = ResetLimits { per_email: RESET_MAX_PER_EMAIL, per_ip: RESET_MAX_PER_IP, since: now - RESET_WINDOW_US };
    match s.store.reserve_password_reset_request(email, ip, &limits, now).await? {
        ResetReservation::Counted => Ok(()),
        ResetReservation::Refused { oldest } => {
            let free_at = oldest + RESET_WINDOW_US;
            let retry_after_secs = u64::try_from((free_at - now).max(1_000_000) / 1_000_000).unwrap_or(1);
            Err(AppError::RateLimited { retry_after_secs })
        }
    }
}

/// Asks for a reset link. Answers the same for every address, known or not: a known address
/// gets a mail (sent in the background) with a link valid 30 minutes; an unknown one does the
/// same database work (a write transaction) so the answer takes as long. Without mail nothing
/// is sent (the operator resets passwords with `steward admin reset-password`).
pub async fn request_reset(s: &Services, ctx: &Ctx, input: ResetRequest) -> AppResult<()> {
    ctx.slot.set_action(Action::PasswordResetRequest, None);
    let email = normalize_email(&input.email).map_err(|e| AppError::validation("email", e.to_string()))?;
    ctx.slot.set_actor(AuditActor { user_id: None, email: Some(email.clone()), session_id: None });
    let now = s.clock.now_us();
    throttle_reset(s, &email, &ctx.meta.ip, now).await?;
    let user = s.store.user_by_email(&email).await?;
    let token = Zeroizing::new(new_token(RESET_TOKEN_PREFIX));
    let token_hash = sha256(token.as_bytes());
    match user {
        Some(user) if s.settings.mail_enabled() => {
            let mut tx = s.store.begin().await?;
            tx.insert_password_reset(&user.id, &token_hash, now, now + RESET_VALID_US).await?;
            tx.commit().await?;
            let link = format!("{}/reset/{}", s.settings.public_url.trim_end_matches('/'), token.as_str());
            let text = format!(
                "Someone (we hope you) asked to reset the password of your Steward account {email}.\n\n\
                 Choose a new password here within 30 minutes (the link works once):\n{link}\n\n\
                 If it was not you, ignore this email: your password stays as it is.\n",
                email = user.email,
            );
            let html = format!(
                "<!doctype html><html><body><h1>Reset your Steward password</h1><p>Someone (we hope you) asked to \
                 reset the password of your Steward account {email}.</p><p><a href=\"{link}\">Choose a new \
                 password</a> within 30 minutes (the link works once).</p><p>If it was not you, ignore this email: \
                 your password stays as it is.</p></body></html>",
                email = html_escape(&user.email),
                link = html_escape(&link),
            );
            mail::send_later(s, user.email, "[Steward] Reset your password".into(), text, html, "password_reset");
        }
        _ => {
            // The same shape of work as storing a link: one write transaction.
            let mut tx = s.store.begin().await?;
            tx.end_password_resets(&UserId::default(), now).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Whether a reset link still works (for the page that asks for the new password).
pub async fn reset_link_works(s: &Services, token: &str) -> AppResult<Option<bool>> {
    let Some(user_id) = s.store.password_reset_user(&sha256(token.as_bytes()), s.clock.now_us()).await? else {
        return Ok(None);
    };
    // Some(totp_enabled): the page asks for a code too.
    Ok(s.store.user_by_id(&user_id).await?.map(|u| u.totp_enabled))
}

/// Sets a new password with a mailed link (and a code when 2FA is on); every session ends.
pub async fn confirm_reset(s: &Services, ctx: &Ctx, input: ResetConfirmRequest) -> AppResult<()> {
    ctx.slot.set_action(Action::PasswordReset, None);
    let bad_link = || AppError::validation("token", "is not a valid reset link (it may have expired or been used)");
    let token_hash = sha256(input.token.trim().as_bytes());
    let now = s.clock.now_us();
    let user_id = s.store.password_reset_user(&token_hash, now).await?.ok_or_else(bad_link)?;
    let user = s.store.user_by_id(&user_id).await?.ok_or_else(bad_link)?;
    let actor = AuditActor { user_id: Some(user.id.clone()), email: Some(user.email.clone()), session_id: None };
    ctx.slot.set_actor(actor.clone());
    check_new_password(&input.new_password, &user.email)?;
    let code = input.totp.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if user.totp_enabled && code.is_none() {
        return Err(AppError::TotpRequired);
    }
    // Whoever holds the link (a taken-over mailbox) must not be able to guess the code: each
    // guess counts against the person's step-up limit, as a signed-in step-up's does.
    let attempt = if user.totp_enabled {
        Some(reserve_attempt(s, ctx, AttemptKind::StepUp, &user.email, None).await?)
    } else {
        None
    };
    let hash = s.passwords.hash(Zeroizing::new(input.new_password)).await?;
    let mut tx = s.store.begin().await?;
    let mut second_factor = None;
    if let Some(attempt) = &attempt {
        second_factor = verify_second_factor(s, &mut tx, &user, code.unwrap_or_default()).await?;
        if second_factor.is_none() {
            drop(tx);
            s.store.settle_attempt(attempt, false).await?;
            return Err(AppError::Forbidden("the two-factor code is wrong, expired or was already used".into()));
        }
    }
    let written = async {
        if tx.use_password_reset(&token_hash, now).await?.as_deref() != Some(user.id.as_str()) {
            return Err(bad_link());
        }
        tx.set_password_hash(&user.id, &hash, now).await?;
        let ended = tx.revoke_all_sessions(&user.id, None, now).await?;
        tx.end_password_resets(&user.id, now).await?;
        let audit = Audit::personal(Action::PasswordReset)
            .target(format!("user:{}", user.id))
            .detail(json!({ "sessions_ended": ended, "second_factor": second_factor }));
        record(s, ctx, &actor, &mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    // The code was right, whether or not the link still worked (used or ended meanwhile): the
    // attempt succeeded and must not stay pending, which would count as a wrong guess. After
    // the transaction: a write of its own while it held SQLite's writer would wait for it.
    if let Some(attempt) = &attempt {
        s.store.settle_attempt(attempt, true).await?;
    }
    written?;
    tell_password_changed(s, &user, "with a reset link");
    Ok(())
}

/// The operator sets a person's password (`steward admin reset-password`): every session of the
/// person ends, and the change is recorded with the command as the actor.
pub async fn reset_password_as_operator(s: &Services, email: &str, password: String, via: &str) -> AppResult<UserView> {
    let password = Zeroizing::new(password);
    let email = normalize_email(email).map_err(|e| AppError::validation("email", e.to_string()))?;
    let user = s.store.user_by_email(&email).await?.ok_or(AppError::NotFound)?;
    validate_new_password(&password, &user.email).map_err(|e| AppError::validation("password", e.to_string()))?;
    let hash = s.passwords.hash(password).await?;
    let now = s.clock.now_us();
    let mut tx = s.store.begin().await?;
    tx.set_password_hash(&user.id, &hash, now).await?;
    let ended = tx.revoke_all_sessions(&user.id, None, now).await?;
    tx.end_password_resets(&user.id, now).await?;
    let audit = Audit::personal(Action::AdminResetPassword)
        .target(format!("user:{}", user.id))
        .detail(json!({ "email": user.email, "sessions_ended": ended, "via": via }));
    tx.append_audit(usecase::system_event(&format!("operator ({via})"), audit, now)).await?;
    tx.commit().await?;
    // The command exits right after: send now rather than in the background.
    if s.settings.mail_enabled() {
        let (subject, text, html) = password_changed_mail(s, &user, "by the server's operator");
        if let Err(e) = mail::send(s, &user.email, &subject, text, html).await {
            tracing::warn!(error = %e, "the password notice could not be sent");
        }
    }
    Ok(UserView::from(&user))
}
