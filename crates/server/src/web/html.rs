//! HTML built in Rust: escaping every value interpolated into markup, and capabilities in the
//! words an account owner understands.
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
