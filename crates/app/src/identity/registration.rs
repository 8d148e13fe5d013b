//! Creating users: signing up (alone, or through an invitation that joins an account in the
//! same transaction) and the operator's command line (the demo, `steward admin create-user`).
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::identity::{normalize_email, validate_display_name, validate_new_password};
use steward_domain::ids::UserId;
use steward_store::{NewUser, StoreError, Tx, UserRow};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::actor::{AuditActor, Ctx};
use crate::config::SignupMode;
use crate::error::{AppError, AppResult, FieldError};
use crate::identity::view::UserView;
use crate::members::invitations::redeem_invitation;
use crate::services::Services;
use crate::usecase::{self, Audit, record};

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// An email address (at most 254 characters; the part before `@` at most 64).
    #[schema(max_length = 254, pattern = r"^[!-?A-~]{1,64}@[!-\-/-?A-~]+(\.[!-\-/-?A-~]+)+$")]
    pub email: String,
    /// 12 to 1024 characters, not a common password, not containing the email.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    /// 1 to 100 characters, no control characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[!-~][^\x00-\x1f\x7f-\x9f]*$")]
    pub display_name: String,
    /// An invitation token, required when sign-up is by invitation only.
    pub invitation: Option<String>,
}

/// Validates a new user's fields together, so the person sees every problem at once.
pub fn validate_new_user(email: &str, display_name: &str, password: &str) -> AppResult<(String, String)> {
    let mut errors = Vec::new();
    let email = normalize_email(email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
    let name = validate_display_name(display_name).map_err(|e| errors.push(FieldError::new("display_name", e))).ok();
    if let Err(e) = validate_new_password(password, email.as_deref().unwrap_or("")) {
        errors.push(FieldError::new("password", e.to_string()));
    }
    match (email, name) {
        (Some(e), Some(n)) if errors.is_empty() => Ok((e, n)),
        _ => Err(AppError::Validation(errors)),
    }
}

/// Creates a user inside `tx` (the caller records it): shared by sign-up and the operator's.
/// The caller hashes the password before it opens `tx`, so no transaction (on SQLite, the
/// database's one writer) waits on a hash, and the hashing budget, not the database, decides
/// how many run at once.
pub async fn create_user(s: &Services, tx: &mut Tx, email: &str, display_name: &str, hash: &str) -> AppResult<UserRow> {
    let id = UserId::new(uuid::Uuid::now_v7().to_string());
    tx.insert_user(NewUser { id: &id, email, display_name, password_hash: hash, now: s.clock.now_us() }).await.map_err(
        |e| match e {
            StoreError::Conflict(_) => AppError::Conflict("a user with this email address already exists".into()),
            other => other.into(),
        },
    )
}

/// Signs a person up. With an invitation, the new user redeems it inside the same transaction
/// (an invalid invitation creates no user either).
pub async fn register(s: &Services, ctx: &Ctx, input: RegisterRequest) -> AppResult<UserView> {
    ctx.slot.set_action(Action::Register, None);
    match s.settings.signup {
        SignupMode::Closed => {
            return Err(AppError::Forbidden(
                "sign-up is closed on this server; ask its operator for an account".into(),
            ));
        }
        SignupMode::Invite if input.invitation.is_none() => {
            return Err(AppError::Forbidden("sign-up on this server needs an invitation link".into()));
        }
        _ => {}
    }
    let (email, display_name) = validate_new_user(&input.email, &input.display_name, &input.password)?;
    let hash = s.passwords.hash(Zeroizing::new(input.password)).await?;
    let mut tx = s.store.begin().await?;
    let user = create_user(s, &mut tx, &email, &display_name, &hash).await?;
    let actor = AuditActor { user_id: Some(user.id.clone()), email: Some(user.email.clone()), session_id: None };
    let audit = Audit::personal(Action::Register)
        .target(format!("user:{}", user.id))
        .detail(json!({ "display_name": user.display_name, "with_invitation": input.invitation.is_some() }));
    record(s, ctx, &actor, &mut tx, audit).await?;
    if let Some(token) = input.invitation.as_deref() {
        redeem_invitation(s, ctx, &mut tx, token, &actor, &user.id, &user.email).await.map_err(|e| match e {
            AppError::NotFound | AppError::Conflict(_) => AppError::validation(
                "invitation",
                "is not a valid invitation (it may have expired, been withdrawn or used)",
            ),
            AppError::Forbidden(_) => AppError::validation("email", "must be the address the invitation was sent to"),
            other => other,
        })?;
    }
    tx.commit().await?;
    Ok(UserView::from(&user))
}

/// Creates a user from the command line (demo, `steward admin create-user`), recorded in the
/// activity log with the command as the actor.
pub async fn create_user_as_operator(
    s: &Services,
    email: &str,
    display_name: &str,
    password: String,
    via: &str,
) -> AppResult<UserView> {
    let password = Zeroizing::new(password);
    let (email, display_name) = validate_new_user(email, display_name, &password)?;
    let hash = s.passwords.hash(password).await?;
    let mut tx = s.store.begin().await?;
    let user = create_user(s, &mut tx, &email, &display_name, &hash).await?;
    let created = Audit::personal(Action::AdminCreateUser)
        .target(format!("user:{}", user.id))
        .detail(json!({ "email": user.email, "display_name": user.display_name, "via": via }));
    tx.append_audit(usecase::system_event(&format!("operator ({via})"), created, s.clock.now_us())).await?;
    tx.commit().await?;
    Ok(UserView::from(&user))
}
