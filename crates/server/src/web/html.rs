//! HTML built in Rust: [`Html`], markup whose every interpolated value was escaped, the one
//! kind of value templates print as it is; and capabilities in the words an account owner
//! understands.
use std::fmt;

use steward_domain::capability::Capability;

pub use crate::escape::escape;

/// Markup built in Rust (a form's widgets, a time, the activity chart), every value in it
/// escaped on the way in. Templates print it as it is (askama's `HtmlSafe`) and everything else
/// escaped, so no template marks anything `|safe`: text a person wrote can only reach a page
/// through [`Html::text`] or a template's own escaping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// Text shown as text.
    #[must_use]
    pub fn text(text: &str) -> Self {
        Html(escape(text))
    }

    /// Markup written by this crate, each value in it already passed through [`escape`].
    #[must_use]
    pub(crate) fn escaped(markup: String) -> Self {
        Html(markup)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Html {}

impl FromIterator<Html> for Html {
    fn from_iter<I: IntoIterator<Item = Html>>(iter: I) -> Self {
        Html(iter.into_iter().map(|h| h.0).collect())
    }
}

/// A phrase as a label: its first letter capitalized.
#[must_use]
pub fn capitalize(phrase: &str) -> String {
    let mut chars = phrase.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_markup_only_escaped() {
        assert_eq!(Html::text("\"><img src=x>").as_str(), "&quot;&gt;&lt;img src=x&gt;");
        let list: Html = [Html::text("<a>"), Html::escaped("<br>".into())].into_iter().collect();
        assert_eq!(list.to_string(), "&lt;a&gt;<br>");
    }

    /// Templates mark nothing `safe`: markup reaches them only as [`Html`].
    #[test]
    fn no_template_marks_anything_safe() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for entry in std::fs::read_dir(dir).expect("templates") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("template");
            assert!(!text.contains("|safe") && !text.contains("| safe"), "{} marks something safe", path.display());
        }
    }

    #[test]
    fn every_capability_has_words() {
        for c in Capability::ALL {
            assert!(!describe_capability(c).is_empty());
        }
    }
}
