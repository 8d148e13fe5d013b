//! Which moderation actions each platform's API really offers an app, for which kind of
//! account, and in words why not where it does not (docs/platforms.md has the same table).
use crate::platform::Platform;

/// A moderation action on a comment left on one of the account's posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModerationAction {
    /// Remove the comment (LinkedIn pages: `DELETE /rest/socialActions/{post}/comments/{id}`).
    Delete,
    /// Hide the reply under the post (Bluesky: the post's threadgate `hiddenReplies`; the sandbox).
    Hide,
    /// Mute the comment's author for the account (Mastodon: `POST /api/v1/accounts/:id/mute`).
    MuteAuthor,
    /// Block the comment's author (Mastodon: `POST /api/v1/accounts/:id/block`).
    BlockAuthor,
}

impl ModerationAction {
    pub const ALL: [ModerationAction; 4] =
        [ModerationAction::Delete, ModerationAction::Hide, ModerationAction::MuteAuthor, ModerationAction::BlockAuthor];

    /// The last path segment of its API route (`/comments/{comment_id}/mute-author`).
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            ModerationAction::Delete => "delete",
            ModerationAction::Hide => "hide",
            ModerationAction::MuteAuthor => "mute-author",
            ModerationAction::BlockAuthor => "block-author",
        }
    }

    /// What it does, as a sentence names it ("hiding a comment").
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            ModerationAction::Delete => "deleting a comment",
            ModerationAction::Hide => "hiding a reply",
            ModerationAction::MuteAuthor => "muting a comment's author",
            ModerationAction::BlockAuthor => "blocking a comment's author",
        }
    }
}

/// `Ok` when the platform's API offers `action` to an app acting for an account of this kind;
/// otherwise why not, in one sentence.
pub fn offered(platform: Platform, account_kind: &str, action: ModerationAction) -> Result<(), &'static str> {
    use ModerationAction::{BlockAuthor, Delete, Hide, MuteAuthor};
    match (platform, action) {
        (Platform::LinkedIn, Delete) if account_kind == "organization" => Ok(()),
        (Platform::LinkedIn, Delete) => {
            Err("LinkedIn lets an app delete a member's own comments only, not other people's comments on their posts")
        }
        (Platform::LinkedIn, _) => {
            Err("LinkedIn's Community Management API can delete comments on a Page's posts, nothing else")
        }
        (Platform::Bluesky, Hide) => Ok(()),
        (Platform::Bluesky, _) => {
            Err("Bluesky lets a thread's author hide replies (a threadgate), not delete them or act on their authors")
        }
        (Platform::Mastodon, MuteAuthor | BlockAuthor) => Ok(()),
        (Platform::Mastodon, _) => {
            Err("Mastodon's API lets an account mute or block others, not delete or hide their replies to its posts")
        }
        (Platform::TikTok, _) => Err("TikTok's APIs for apps offer no access to comments"),
        (Platform::Sandbox, Hide) => Ok(()),
        (Platform::Sandbox, _) => Err("the sandbox only hides comments"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_platform_offers_what_its_api_documents_and_nothing_else() {
        let on =
            |p, kind| ModerationAction::ALL.into_iter().filter(|a| offered(p, kind, *a).is_ok()).collect::<Vec<_>>();
        assert_eq!(on(Platform::LinkedIn, "organization"), [ModerationAction::Delete]);
        assert!(on(Platform::LinkedIn, "member").is_empty());
        assert_eq!(on(Platform::Bluesky, "account"), [ModerationAction::Hide]);
        assert_eq!(on(Platform::Mastodon, "account"), [ModerationAction::MuteAuthor, ModerationAction::BlockAuthor]);
        assert!(on(Platform::TikTok, "creator").is_empty());
        assert_eq!(on(Platform::Sandbox, "creator"), [ModerationAction::Hide]);
    }
}
