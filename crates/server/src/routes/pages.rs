//! Server-rendered pages outside the JSON API. Today only the invitation landing page that
//! `invite_url` points to; the full web app builds on this.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_domain::capability::{Capability, MemberRights, Role};

use crate::authz::capability_set;
use crate::clock::rfc3339;
use crate::crypto::sha256;
use crate::error::Path;
use crate::state::AppState;

/// What a capability lets a person do, in words an account owner understands.
#[must_use]
pub fn describe_capability(c: Capability) -> &'static str {
    match c {
        Capability::AccountView => "see the account, its posts, calendar and comments",
        Capability::AnalyticsView => "read analytics",
        Capability::DraftsCreate => "write drafts and send them for review",
        Capability::DraftsEditAny => "edit anyone's drafts",
        Capability::ReviewComment => "comment in review threads",
        Capability::PostsApprove => "approve posts",
        Capability::PostsPublish => "schedule and publish approved posts",
        Capability::CommentsReply => "reply to and hide comments on the platform",
        Capability::AuditView => "read the activity log",
        Capability::MembersManage => "invite and manage editors, moderators, analysts and viewers",
        Capability::AdminsManage => "manage admins",
        Capability::SettingsManage => "change settings and house rules",
        Capability::Lockdown => "lock the account down",
        Capability::CredentialManage => "connect or disconnect the platform login",
        Capability::OwnershipTransfer => "transfer ownership or delete the account",
    }
}

/// Escapes text for HTML element content and attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete, self-contained HTML page (no external resources).
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{} · Steward</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1f2933}}\
         h1{{font-size:1.5rem}}code{{background:#f0f4f8;padding:.1rem .3rem;border-radius:3px}}li{{margin:.2rem 0}}</style>\
         </head><body><main>{}</main></body></html>",
        escape(title),
        body
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
        ],
        html,
    )
        .into_response()
}

/// `GET /invite/{token}`: who invited whom to do what, and how to accept.
pub async fn invitation_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let gone = || {
        page(
            StatusCode::NOT_FOUND,
            "Invitation not valid",
            "<h1>This invitation is not valid</h1><p>It may have expired, been withdrawn or already been used. \
             Ask the account owner for a new one.</p>",
        )
    };
    let now = state.clock.now_us();
    let Ok(Some(inv)) = state.store.invitation_by_token_hash(&sha256(token.as_bytes())).await else { return gone() };
    if !inv.is_pending(now) {
        return gone();
    }
    let (Ok(Some(account)), Ok(inviter)) =
        (state.store.account_by_id(&inv.account_id).await, state.store.user_by_id(&inv.invited_by).await)
    else {
        return gone();
    };
    let inviter = inviter.map(|u| u.display_name).unwrap_or_else(|| "The account's owner".into());
    let role = inv.role.parse::<Role>().unwrap_or(Role::Viewer);
    let rights = MemberRights::new(role, capability_set(&inv.grants), capability_set(&inv.revokes));
    let abilities: String =
        rights.capabilities.iter().map(|c| format!("<li>{}</li>", escape(describe_capability(c)))).collect();
    let until = inv
        .membership_expires_at
        .map(|t| format!("<p>Access ends on {}.</p>", escape(&rfc3339(t))))
        .unwrap_or_default();
    let body = format!(
        "<h1>{inviter} invited you to help with {account}</h1>\
         <p>The invitation is for <strong>{email}</strong>, as <strong>{role}</strong> on the {platform} account \
         <strong>{handle}</strong>. You will never see the account's password: Steward acts on the platform for you, \
         within what the owner allows.</p><p>You will be able to:</p><ul>{abilities}</ul>{until}\
         <p>To accept, sign in to Steward as {email} (or create your account with this invitation), then accept it:</p>\
         <p><code>POST /api/v1/invitations/&lt;this link's token&gt;/accept</code></p>\
         <p>This invitation expires on {expires}.</p>",
        inviter = escape(&inviter),
        account = escape(&account.display_name),
        email = escape(&inv.email),
        role = escape(role.as_str()),
        platform = escape(&account.platform),
        handle = escape(&account.handle),
        expires = escape(&rfc3339(inv.expires_at)),
    );
    page(StatusCode::OK, "Invitation", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn every_capability_has_words() {
        for c in Capability::ALL {
            assert!(!describe_capability(c).is_empty());
        }
    }
}
