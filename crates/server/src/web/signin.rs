//! Signing in (with the two-factor step), signing up, signing out, and the invitation page.
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use steward_app::AppError;
use steward_domain::capability::MemberRights;
use zeroize::Zeroizing;

use crate::auth::{clear_session_cookie, device_set_cookie, session_set_cookie};
use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::html::{Html, describe_capability};
use crate::web::{
    Form, FormData, Layout, OrPage, PageError, Viewer, Visitor, local_next, presession, presession_ok, render,
    render_failed, see_other,
};
use steward_app::authz::capability_set;
use steward_app::config::SignupMode;
use steward_app::crypto::sha256;
use steward_app::identity::registration::{self, RegisterRequest};
use steward_app::identity::sign_in::{self, LoginRequest, SignedIn};
use steward_app::members::invitations;

/// A two-factor sign-in waits at most this long between the password and the code.
const PENDING_SIGNIN_US: i64 = 5 * 60 * 1_000_000;

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    layout: Layout,
    form: Form,
    next: String,
    /// The sealed email and password while the second factor is asked for.
    pending: Option<String>,
}

/// What waits, sealed under the master key and bound to this browser's pre-session cookie,
/// between the password step and the code step (the password never appears in the page).
#[derive(Serialize, Deserialize)]
struct PendingSignin {
    email: String,
    password: String,
    until: i64,
}

fn pending_aad(binding: &str) -> String {
    format!("web:pending-signin:{binding}")
}

pub(crate) fn with_cookie(mut resp: Response, set_cookie: Option<&str>) -> Response {
    if let Some(c) = set_cookie
        && let Ok(v) = c.parse()
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn notice_text(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "signed_out" => "You are signed out.",
        "everywhere" => "You are signed out on every device.",
        "password_reset" => "Your password is set. Sign in with it; every earlier session was signed out.",
        "deleted" => "Your user is deleted: your sessions, tokens, memberships and settings are gone.",
        _ => return None,
    };
    Some(text.into())
}

pub async fn signin_page(
    State(state): State<AppState>,
    viewer: Result<Viewer, Response>,
    visitor: Visitor,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = local_next(q.next.as_deref());
    if viewer.is_ok() {
        return see_other(&next);
    }
    let pre = presession(&state, &visitor.headers);
    let mut layout = Layout::anonymous("Sign in");
    layout.notice = notice_text(q.notice.as_deref());
    let page = SigninPage { layout, form: Form::new("signin", &pre.token), next, pending: None };
    with_cookie(render(StatusCode::OK, &page), pre.set_cookie.as_deref())
}

pub async fn signin_submit(State(state): State<AppState>, visitor: Visitor, data: FormData) -> Response {
    let pre = presession(&state, &visitor.headers);
    let next = local_next(data.get("next"));
    let form = Form::new("signin", &pre.token).with_values(data.clone());
    if !presession_ok(&state, &visitor.headers, &data) {
        let form = form.failed(&ApiError(AppError::Forbidden(
            "this page had expired; your browser must accept cookies from this site. Try again".into(),
        )));
        let page = SigninPage { layout: Layout::anonymous("Sign in"), form, next, pending: None };
        return with_cookie(render(StatusCode::FORBIDDEN, &page), pre.set_cookie.as_deref());
    }
    let now = state.clock.now_us();
    let aad = pending_aad(&pre.binding);
    // Step two carries the sealed first step; step one carries the password itself.
    let (email, password, pending) = match data.opt("pending") {
        Some(sealed) => {
            let opened = URL_SAFE_NO_PAD
                .decode(&sealed)
                .ok()
                .and_then(|b| state.vault().open(&aad, &b).ok())
                .and_then(|plain| serde_json::from_slice::<PendingSignin>(&plain).ok())
                .filter(|p| p.until > now);
            match opened {
                Some(p) => (p.email, Zeroizing::new(p.password), Some(sealed)),
                None => {
                    let form = form.failed(&ApiError(AppError::Conflict(
                        "this sign-in took too long; enter your email address and password again".into(),
                    )));
                    let page = SigninPage { layout: Layout::anonymous("Sign in"), form, next, pending: None };
                    return render(StatusCode::CONFLICT, &page);
                }
            }
        }
        None => (data.text("email"), Zeroizing::new(data.get("password").unwrap_or("").to_string()), None),
    };
    let body = LoginRequest { email: email.clone(), password: password.to_string(), totp: data.opt("code") };
    match sign_in::login(&state, &visitor.ctx(), body).await.map_err(ApiError) {
        Ok(signed_in) => signed_in_to(&state, &signed_in, &next),
        Err(ApiError(AppError::TotpRequired)) if pending.is_none() => {
            let sealed = serde_json::to_vec(&PendingSignin {
                email,
                password: password.to_string(),
                until: now + PENDING_SIGNIN_US,
            })
            .map(|plain| URL_SAFE_NO_PAD.encode(state.vault().seal(&aad, &Zeroizing::new(plain))))
            .ok();
            let page = SigninPage {
                layout: Layout::anonymous("Two-factor code"),
                form: Form::new("signin", &pre.token),
                next,
                pending: sealed,
            };
            with_cookie(render(StatusCode::OK, &page), pre.set_cookie.as_deref())
        }
        Err(e) => {
            let title = if pending.is_some() { "Two-factor code" } else { "Sign in" };
            let page = SigninPage { layout: Layout::anonymous(title), form: form.failed(&e), next, pending };
            with_cookie(render_failed(&page, &e), pre.set_cookie.as_deref())
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    form: Form,
    /// Why sign-up is not possible here, if it is not.
    closed: Option<&'static str>,
}

fn signup_closed(state: &AppState) -> Option<&'static str> {
    match state.settings.signup {
        SignupMode::Open => None,
        SignupMode::Invite => {
            Some("On this server you create your account from an invitation link: ask the account owner to invite you.")
        }
        SignupMode::Closed => Some("Sign-up is closed on this server; ask its operator for an account."),
    }
}

pub async fn signup_page(
    State(state): State<AppState>,
    viewer: Result<Viewer, Response>,
    visitor: Visitor,
) -> Response {
    if viewer.is_ok() {
        return see_other("/");
    }
    let pre = presession(&state, &visitor.headers);
    let page = SignupPage {
        layout: Layout::anonymous("Create your account"),
        form: Form::new("signup", &pre.token),
        closed: signup_closed(&state),
    };
    with_cookie(render(StatusCode::OK, &page), pre.set_cookie.as_deref())
}

/// Registers, then signs the new user in (two use cases, as a client would call them).
async fn register_and_sign_in(
    state: &AppState,
    visitor: &Visitor,
    data: &FormData,
    email: String,
    invitation: Option<String>,
) -> Result<SignedIn, ApiError> {
    let password = Zeroizing::new(data.get("password").unwrap_or("").to_string());
    let body = RegisterRequest {
        email: email.clone(),
        password: password.to_string(),
        display_name: data.text("display_name"),
        invitation,
    };
    registration::register(state, &visitor.ctx(), body).await?;
    let login = LoginRequest { email, password: password.to_string(), totp: None };
    Ok(sign_in::login(state, &visitor.ctx(), login).await?)
}

/// Sends the browser on to `to` with the new session's cookie and the device cookie.
fn signed_in_to(state: &AppState, signed_in: &SignedIn, to: &str) -> Response {
    let resp = with_cookie(see_other(to), Some(&session_set_cookie(state, &signed_in.token)));
    with_cookie(resp, Some(&device_set_cookie(state, &signed_in.device_cookie)))
}

pub async fn signup_submit(State(state): State<AppState>, visitor: Visitor, data: FormData) -> Response {
    let pre = presession(&state, &visitor.headers);
    let form = Form::new("signup", &pre.token).with_values(data.clone());
    let closed = signup_closed(&state);
    let failed = |form: Form, e: &ApiError| {
        let page = SignupPage { layout: Layout::anonymous("Create your account"), form: form.failed(e), closed };
        with_cookie(render_failed(&page, e), pre.set_cookie.as_deref())
    };
    if !presession_ok(&state, &visitor.headers, &data) {
        return failed(form, &ApiError(AppError::Forbidden("this page had expired; try again".into())));
    }
    match register_and_sign_in(&state, &visitor, &data, data.text("email"), None).await {
        Ok(login) => signed_in_to(&state, &login, "/"),
        Err(e) => failed(form, &e),
    }
}

/// Sends the browser on to `to` without its session cookie (the session has ended).
pub fn signed_out_to(state: &AppState, to: &str) -> Response {
    with_cookie(see_other(to), Some(&clear_session_cookie(state)))
}

pub async fn signout(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    sign_in::logout(&state, &viewer.ctx(), &viewer.principal).await.or_page(&viewer)?;
    Ok(signed_out_to(&state, "/signin?notice=signed_out"))
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    token: String,
    inviter: String,
    account: String,
    platform: String,
    handle: String,
    email: String,
    role: String,
    abilities: Vec<&'static str>,
    until: Option<Html>,
    expires: Html,
    /// Signed in as: (display name, email), if signed in.
    signed_in_as: Option<(String, String)>,
    accept: Form,
    register: Form,
    signin: Form,
}

struct Invitation {
    row: steward_store::InvitationRow,
    account: steward_store::AccountRow,
    inviter: String,
}

async fn pending_invitation(state: &AppState, token: &str) -> Option<Invitation> {
    let row = state.store.invitation_by_token_hash(&sha256(token.as_bytes())).await.ok()??;
    if !row.is_pending(state.clock.now_us()) {
        return None;
    }
    let account = state.store.account_by_id(&row.account_id).await.ok()??;
    let inviter = state
        .store
        .user_by_id(&row.invited_by)
        .await
        .ok()
        .flatten()
        .map(|u| u.display_name)
        .unwrap_or_else(|| "The account's owner".into());
    Some(Invitation { row, account, inviter })
}

#[derive(Template)]
#[template(path = "error.html")]
struct GonePage {
    layout: Layout,
    heading: String,
    message: String,
}

fn gone() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &GonePage {
            layout: Layout::anonymous("Invitation not valid"),
            heading: "This invitation is not valid".into(),
            message: "It may have expired, been withdrawn or already been used. Ask the account owner for a new one."
                .into(),
        },
    )
}

fn invite_page(token: &str, inv: Invitation, viewer: Option<&Viewer>, pre_token: &str) -> InvitePage {
    let role = inv.row.role;
    let rights = MemberRights::new(role, capability_set(&inv.row.grants), capability_set(&inv.row.revokes));
    let zone = steward_domain::windows::parse_time_zone(&inv.account.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let tz = viewer.and_then(|v| v.tz.as_ref());
    let when = |us: i64| crate::web::time::when(&steward_app::clock::rfc3339(us), &zone, tz);
    let mut layout = match viewer {
        Some(v) => v.layout("Invitation"),
        None => Layout::anonymous("Invitation"),
    };
    layout.title = format!("Invitation to {}", inv.account.display_name);
    let csrf = viewer.map(|v| v.csrf.clone()).unwrap_or_default();
    InvitePage {
        layout,
        token: token.to_string(),
        inviter: inv.inviter,
        account: inv.account.display_name.clone(),
        platform: inv.account.platform.info().name.to_string(),
        handle: inv.account.handle.clone(),
        email: inv.row.email.clone(),
        role: role.as_str().into(),
        abilities: rights.capabilities.iter().map(describe_capability).collect(),
        until: inv.row.membership_expires_at.map(when),
        expires: when(inv.row.expires_at),
        signed_in_as: viewer.map(|v| (v.principal.display_name.clone(), v.principal.email.clone())),
        accept: Form::new("accept", &csrf),
        register: Form::new("register", pre_token).value("email", inv.row.email.clone()),
        signin: Form::new("signin", pre_token).value("email", inv.row.email),
    }
}

/// `GET /invite/{token}`: who invited whom to do what; sign in or register, then accept.
pub async fn invitation_page(
    State(state): State<AppState>,
    viewer: Result<Viewer, Response>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Response {
    let Some(inv) = pending_invitation(&state, &token).await else { return gone() };
    let pre = presession(&state, &visitor.headers);
    let page = invite_page(&token, inv, viewer.as_ref().ok(), &pre.token);
    with_cookie(render(StatusCode::OK, &page), pre.set_cookie.as_deref())
}

/// `POST /invite/{token}`: accept while signed in, or create an account with the invitation.
pub async fn invitation_submit(
    State(state): State<AppState>,
    viewer: Result<Viewer, Response>,
    visitor: Visitor,
    Path(token): Path<String>,
    data: FormData,
) -> Response {
    let Some(inv) = pending_invitation(&state, &token).await else { return gone() };
    let account_id = inv.account.id.clone();
    let pre = presession(&state, &visitor.headers);
    if data.get("action") == Some("register") {
        let email = inv.row.email.clone();
        let result = if presession_ok(&state, &visitor.headers, &data) {
            register_and_sign_in(&state, &visitor, &data, email, Some(token.clone())).await
        } else {
            Err(ApiError(AppError::Forbidden("this page had expired; try again".into())))
        };
        return match result {
            Ok(login) => signed_in_to(&state, &login, &format!("/accounts/{account_id}?notice=joined")),
            Err(e) => {
                let mut page = invite_page(&token, inv, None, &pre.token);
                page.register = Form::new("register", &pre.token).with_values(data).failed(&e);
                with_cookie(render_failed(&page, &e), pre.set_cookie.as_deref())
            }
        };
    }
    let viewer = match viewer {
        Ok(v) => v,
        Err(redirect) => return redirect,
    };
    match invitations::accept_invitation(&state, &viewer.ctx(), &viewer.principal, &token).await.map_err(ApiError) {
        Ok(_) => see_other(&format!("/accounts/{account_id}?notice=joined")),
        Err(e) => {
            let mut page = invite_page(&token, inv, Some(&viewer), &pre.token);
            page.accept = Form::new("accept", &viewer.csrf).failed(&e);
            render_failed(&page, &e)
        }
    }
}
