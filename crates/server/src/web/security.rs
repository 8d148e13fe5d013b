//! Security: the password, sessions and devices with "log out everywhere", two-factor
//! enrolment with a QR code and recovery codes, personal access tokens.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::AppError;
use steward_app::accounts::view::list_accounts;
use steward_app::identity::password::{self, ChangePasswordRequest};
use steward_app::identity::sessions::{self, RevokeAllRequest};
use steward_app::identity::sign_in;
use steward_app::identity::tokens::{self, CreateTokenRequest};
use steward_app::identity::two_factor::{self, CodeRequest};
use steward_domain::capability::Capability;
use steward_domain::ids::{SessionId, TokenId};

use crate::error::{ApiError, FieldError, Path};
use crate::state::AppState;
use crate::web::account::notice_text;
use crate::web::confirm::{Confirm, ask, confirmed};
use crate::web::html::{Html, capitalize, describe_capability};
use crate::web::signin::signed_out_to;
use crate::web::time::{local_input_to_rfc3339, when_mine};
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};
use std::str::FromStr;

pub struct SessionRow {
    pub id: SessionId,
    pub device: String,
    pub ip: String,
    pub last_seen: Html,
    pub created: Html,
    pub current: bool,
}

pub struct TokenRow {
    pub id: TokenId,
    pub name: String,
    pub scopes: String,
    pub narrowed: String,
    pub expires: Html,
    pub last_used: Html,
}

/// An enrolment waiting for its first code: the same secret until it is confirmed.
pub struct Enrolment {
    pub secret: String,
    pub qr_svg: Html,
}

/// Recovery codes, shown once after enrolment, with a text file of them to download.
pub struct Codes {
    pub codes: Vec<String>,
    /// The codes as a `data:` URL of a text file (no script, no second request).
    pub download: String,
    /// The codes one a line, for the box they can be copied from.
    pub text: String,
}

impl Codes {
    fn new(codes: Vec<String>) -> Self {
        let text = format!(
            "Steward recovery codes\nEach code signs you in once in place of a code from your authenticator app.\n\n{}\n",
            codes.join("\n")
        );
        let encoded: String = text
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b == b'-' { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        Self { download: format!("data:text/plain;charset=utf-8,{encoded}"), text: codes.join("\n"), codes }
    }
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    layout: Layout,
    email: String,
    totp_enabled: bool,
    recovery_codes_left: Option<i64>,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    enrolment: Option<Enrolment>,
    recovery_codes: Option<Codes>,
    /// A token just created (name, secret): shown once.
    new_token: Option<(String, String)>,
    password: Form,
    totp: Form,
    token: Form,
    sessions_form: Form,
    accounts: Vec<(String, String)>,
    capabilities: Vec<(String, String)>,
    scope_options: Vec<(String, String)>,
}

/// A browser's user agent in a few words ("Chrome on Linux").
pub fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else { return "Unknown device".into() };
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| ua.contains(*b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        })
        .unwrap_or("A program");
    let os = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"]
        .iter()
        .find(|o| ua.contains(*o))
        .map(|o| if *o == "Mac OS" { "macOS" } else { o })
        .unwrap_or("an unknown system");
    format!("{browser} on {os}")
}

async fn security_view(state: &AppState, viewer: &Viewer) -> Result<SecurityPage, ApiError> {
    let who = &viewer.principal;
    let me = steward_app::identity::me::me(state, who).await?;
    let sessions = sessions::list_sessions(state, who).await?;
    let tokens = tokens::list_tokens(state, who).await?;
    let my_accounts = list_accounts(state, who).await?;
    // An enrolment begun and not confirmed is shown again, with the same secret.
    let enrolment = match two_factor::pending_enrolment(state, who).await? {
        Some(e) => Some(Enrolment { qr_svg: qr_svg(&e.otpauth_uri)?, secret: e.secret }),
        None => None,
    };
    let tz = viewer.tz.as_ref();
    let sessions = sessions
        .into_iter()
        .map(|s| SessionRow {
            device: device(s.user_agent.as_deref()),
            ip: s.ip.unwrap_or_default(),
            last_seen: when_mine(&s.last_seen_at, tz),
            created: when_mine(&s.created_at, tz),
            current: s.current,
            id: s.id,
        })
        .collect();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            scopes: t.scopes.join(", "),
            narrowed: match (&t.accounts, &t.capabilities) {
                (None, None) => "all your accounts and rights".into(),
                (a, c) => format!(
                    "{}{}",
                    a.as_ref().map(|a| format!("{} account(s) ", a.len())).unwrap_or_default(),
                    c.as_ref()
                        .map(|c| c
                            .iter()
                            .map(|id| Capability::from_str(id)
                                .map_or("a right this server no longer knows", describe_capability))
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                ),
            },
            expires: t.expires_at.as_deref().map_or_else(|| Html::text("never"), |e| when_mine(e, tz)),
            last_used: t.last_used_at.as_deref().map_or_else(|| Html::text("never"), |e| when_mine(e, tz)),
            id: t.id,
            name: t.name,
        })
        .collect();
    Ok(SecurityPage {
        layout: viewer.layout("Security"),
        email: me.user.email,
        totp_enabled: me.user.totp_enabled,
        recovery_codes_left: me.recovery_codes_left,
        sessions,
        tokens,
        enrolment,
        recovery_codes: None,
        new_token: None,
        password: Form::new("password", &viewer.csrf),
        totp: Form::new("totp", &viewer.csrf),
        token: Form::new("token", &viewer.csrf).value("scopes", "read"),
        sessions_form: Form::new("sessions", &viewer.csrf),
        accounts: my_accounts
            .into_iter()
            .map(|a| (a.id.into_string(), format!("{} ({})", a.display_name, a.handle)))
            .collect(),
        scope_options: vec![("read".into(), "read".into()), ("write".into(), "write (includes read)".into())],
        capabilities: Capability::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), capitalize(describe_capability(*c))))
            .collect(),
    })
}

/// Renders the security page after an action: `adjust` places the result or the error.
async fn show(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    adjust: impl FnOnce(&mut SecurityPage),
) -> Result<Response, PageError> {
    let mut page = security_view(state, viewer).await.or_page(viewer)?;
    adjust(&mut page);
    Ok(render(status, &page))
}

async fn show_failed(
    state: &AppState,
    viewer: &Viewer,
    e: &ApiError,
    adjust: impl FnOnce(&mut SecurityPage),
) -> Result<Response, PageError> {
    let mut page = security_view(state, viewer).await.or_page(viewer)?;
    adjust(&mut page);
    Ok(render_failed(&page, e))
}

pub async fn security_page(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let notice = notice_text(q.get("notice").map(String::as_str));
    show(&state, &viewer, StatusCode::OK, |p| p.layout.notice = notice).await
}

/// An `otpauth://` URI as an inline SVG QR code (no image libraries, no external requests).
fn qr_svg(uri: &str) -> Result<Html, ApiError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| ApiError::internal(anyhow::anyhow!("qr code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build();
    // Inline in HTML: drop the XML declaration, and give the image a name for screen readers.
    let start = svg.find("<svg").unwrap_or(0);
    // The image is the QR code's own squares: no value of ours is written into it.
    Ok(Html::escaped(svg[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"QR code for your authenticator app\"",
        1,
    )))
}

pub async fn totp_begin(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let result = two_factor::begin_totp(&state, &viewer.ctx(), &viewer.principal).await.map_err(ApiError);
    match result.and_then(|e| Ok((qr_svg(&e.otpauth_uri)?, e.secret))) {
        Ok((qr_svg, secret)) => {
            show(&state, &viewer, StatusCode::OK, |p| p.enrolment = Some(Enrolment { secret, qr_svg })).await
        }
        Err(e) => {
            let form = Form::new("totp", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.totp = form).await
        }
    }
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let body = CodeRequest { code: data.text("code") };
    match two_factor::confirm_totp(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(codes) => {
            // The viewer was read before this request turned 2FA on: the page says what is true now.
            show(&state, &viewer, StatusCode::OK, |p| {
                p.totp_enabled = true;
                p.recovery_codes_left = i64::try_from(codes.recovery_codes.len()).ok();
                p.recovery_codes = Some(Codes::new(codes.recovery_codes));
            })
            .await
        }
        Err(e) => {
            // The enrolment stays pending with the same secret (the page shows it again), so
            // the app already scanned still matches the next code.
            let form = Form::new("totp", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.totp = form).await
        }
    }
}

pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let body = ChangePasswordRequest {
        current_password: data.text("current_password"),
        new_password: data.text("new_password"),
        totp: data.opt("totp"),
    };
    match password::change_password(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(()) => Ok(see_other("/security?notice=password_changed")),
        Err(e) => {
            let form = Form::new("password", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.password = form).await
        }
    }
}

pub async fn totp_disable(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let body = CodeRequest { code: data.text("code") };
    match two_factor::disable_totp(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(_) => Ok(see_other("/security?notice=totp_off")),
        Err(e) => {
            let form = Form::new("totp", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.totp = form).await
        }
    }
}

pub async fn revoke_all(State(state): State<AppState>, viewer: Viewer, data: FormData) -> Result<Response, PageError> {
    let keep_current = data.get("keep_current") == Some("true");
    if !keep_current && !confirmed(&data) {
        let tokens_too = data.checked("include_tokens");
        let mut details = vec![
            "Every browser and app signed in as you is signed out, this one too: you sign in again here.".to_string(),
        ];
        if tokens_too {
            details.push("Your access tokens stop working too.".into());
        }
        let mut keep = vec![("keep_current".to_string(), "false".to_string())];
        if tokens_too {
            keep.push(("include_tokens".into(), "true".into()));
        }
        return Ok(ask(
            &viewer,
            Confirm {
                heading: "Log out everywhere?".into(),
                question: "Log out everywhere?".into(),
                details,
                action: "/security/sessions/revoke-all".into(),
                keep,
                yes: "Yes, log out everywhere".into(),
                back: "/security".into(),
                password: None,
            },
        ));
    }
    let input = RevokeAllRequest { keep_current, include_tokens: data.checked("include_tokens") };
    match sessions::revoke_all_sessions(&state, &viewer.ctx(), &viewer.principal, input).await.map_err(ApiError) {
        Ok(()) if keep_current => Ok(see_other("/security?notice=others_out")),
        // This browser's session ended too: clear its cookie as signing out does.
        Ok(()) => Ok(signed_out_to(&state, "/signin?notice=everywhere")),
        Err(e) => {
            let form = Form::new("sessions", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.sessions_form = form).await
        }
    }
}

pub async fn revoke_session(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<SessionId>,
) -> Result<Response, PageError> {
    if viewer.principal.session_id.as_ref() == Some(&id) {
        // Ending the session in use is signing out.
        let ctx = viewer.ctx();
        sign_in::logout(&state, &ctx, &viewer.principal).await.or_page(&viewer)?;
        return Ok(signed_out_to(&state, "/signin?notice=signed_out"));
    }
    match sessions::revoke_session(&state, &viewer.ctx(), &viewer.principal, &id).await.map_err(ApiError) {
        Ok(_) => Ok(see_other("/security?notice=revoked")),
        Err(e) => {
            let form = Form::new("sessions", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.sessions_form = form).await
        }
    }
}

pub async fn create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let expires_at = match data
        .opt("expires_at")
        .map(|raw| local_input_to_rfc3339(&raw, viewer.tz.as_ref().unwrap_or(&jiff::tz::TimeZone::UTC)))
    {
        None => Ok(None),
        Some(Ok(t)) => Ok(Some(t)),
        Some(Err(m)) => Err(ApiError(AppError::Validation(vec![FieldError::new("expires_at", m)]))),
    };
    let name = data.text("name");
    let result = match expires_at {
        Ok(expires_at) => {
            let accounts = Some(data.all("accounts")).filter(|a| !a.is_empty());
            let capabilities = Some(data.all("capabilities")).filter(|c| !c.is_empty());
            let body = CreateTokenRequest {
                name: name.clone(),
                scopes: data.all("scopes"),
                expires_at,
                accounts,
                capabilities,
                password: data.opt("password"),
                totp: data.opt("totp"),
            };
            tokens::create_token(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            show(&state, &viewer, StatusCode::CREATED, |p| {
                p.new_token = Some((created.view.name, created.token));
            })
            .await
        }
        Err(e) => {
            let form = Form::new("token", &viewer.csrf).with_values(data).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.token = form).await
        }
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<TokenId>,
) -> Result<Response, PageError> {
    match tokens::revoke_token(&state, &viewer.ctx(), &viewer.principal, &id).await.map_err(ApiError) {
        Ok(_) => Ok(see_other("/security?notice=revoked")),
        Err(e) => {
            let form = Form::new("token", &viewer.csrf).failed(&e);
            show_failed(&state, &viewer, &e, |p| p.token = form).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_are_inline_svg() {
        let svg = qr_svg("otpauth://totp/Steward:a%40b.c?secret=JBSWY3DPEHPK3PXP&issuer=Steward").expect("qr");
        let svg = svg.to_string();
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..40]);
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn recovery_codes_download_as_a_text_file() {
        let c = Codes::new(vec!["AAAA-BBBB-CCCC".into(), "DDDD-EEEE-FFFF".into()]);
        assert!(
            c.download.starts_with("data:text/plain;charset=utf-8,Steward%20recovery%20codes%0A"),
            "{}",
            c.download
        );
        assert!(c.download.contains("%0AAAAA-BBBB-CCCC%0ADDDD-EEEE-FFFF%0A"), "{}", c.download);
        assert!(!c.download.contains(' ') && !c.download.contains('"'));
        assert_eq!(c.text, "AAAA-BBBB-CCCC\nDDDD-EEEE-FFFF");
    }

    #[test]
    fn devices_in_words() {
        assert_eq!(
            device(Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
            )),
            "Chrome on Linux"
        );
        assert_eq!(device(None), "Unknown device");
    }
}
