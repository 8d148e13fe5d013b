//! Small HTML helpers shared by the OAuth callback and the web app (`crate::web`), which
//! renders the pages themselves.
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_domain::capability::Capability;

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
