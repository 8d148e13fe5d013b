//! What the activity log records: every audited action as one enum, with the words a person
//! reads for it, and the typed detail of the lockdown event, which its alert reads back. The
//! stored column stays text (`Action::as_str`), so old events and denials of unnamed requests
//! (`"GET /route"`) still read; [`Action::parse`] says which are known.
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

macro_rules! actions {
    ($($variant:ident => $code:literal, $words:literal;)*) => {
        /// An audited action. The code is what the log stores and the API shows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant),*
        }

        impl Action {
            /// Every action, in the order the activity page's filter lists them.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The stored code (`posts.approve`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $code),*
                }
            }

            /// What the actor did, as a person reads it after their name ("approved a post").
            #[must_use]
            pub const fn words(self) -> &'static str {
                match self {
                    $(Action::$variant => $words),*
                }
            }
        }
    };
}

actions! {
    Register => "auth.register", "registered";
    Login => "auth.login", "signed in";
    Logout => "auth.logout", "signed out";
    DeniedBurst => "auth.denied_burst", "was refused for unknown or expired credentials, counted per address and minute";
    AdminCreateUser => "admin.user.create", "created a user from the command line";
    SessionRevoke => "me.session.revoke", "ended a session";
    SessionsRevokeAll => "me.sessions.revoke_all", "logged out everywhere";
    TokenCreate => "me.token.create", "created an access token";
    TokenRevoke => "me.token.revoke", "revoked an access token";
    TotpBegin => "me.totp.begin", "started setting up two-factor sign-in";
    TotpEnable => "me.totp.enable", "turned on two-factor sign-in";
    TotpDisable => "me.totp.disable", "turned off two-factor sign-in";
    PasswordChange => "me.password.change", "changed their password";
    UserDelete => "me.delete", "deleted their own user (the events keep its id, the person is gone)";
    PasswordResetRequest => "auth.password_reset.request", "asked for a password reset link";
    PasswordReset => "auth.password_reset", "reset their password with a mailed link";
    AdminResetPassword => "admin.user.reset_password", "reset a password from the command line";
    AlertPreferencesUpdate => "me.alert_preferences.update", "changed their alert preferences";
    WebhookSecretRotate => "me.alert_preferences.rotate_secret", "rotated their webhook secret";
    AlertAck => "alerts.ack", "acknowledged an alert";
    AccountCreate => "accounts.create", "added the account";
    AccountConnect => "accounts.connect", "connected the account";
    AccountConnectStart => "accounts.connect.start", "started connecting an account";
    AccountConnectPages => "accounts.connect.pages", "was offered their LinkedIn Company Pages to choose from";
    AccountReconnect => "accounts.reconnect", "reconnected the account";
    AccountCheck => "accounts.check", "tested the connection";
    CredentialRefresh => "accounts.credential.refresh", "refreshed the platform credential";
    CredentialFailed => "accounts.credential_failed", "found the platform credential no longer works";
    CredentialUpdate => "accounts.credential.update", "replaced the platform credential";
    CredentialDisconnect => "accounts.credential.disconnect", "disconnected the platform credential";
    SettingsUpdate => "accounts.settings.update", "changed the settings";
    RulesAccept => "accounts.rules.accept", "accepted the house rules";
    AccountTransfer => "accounts.transfer", "transferred ownership";
    AccountDelete => "accounts.delete", "deleted the account";
    Lockdown => "accounts.lockdown", "locked the account down";
    LockdownLift => "accounts.lockdown.lift", "lifted the lockdown";
    ActivityRead => "accounts.activity.read", "read the activity log";
    MemberInvite => "members.invite", "invited a member";
    InvitationWithdraw => "members.invitation.withdraw", "withdrew an invitation";
    InvitationResend => "invitations.resend", "sent an invitation again";
    MemberJoin => "members.join", "joined";
    MemberUpdate => "members.update", "changed a member's access";
    MemberRoleChange => "members.role_change", "changed a member's role";
    MemberRemove => "members.remove", "removed a member";
    MemberLeave => "members.leave", "left";
    MemberExpire => "members.expire", "ended an expired membership";
    MemberSessionRevoke => "members.session.revoke", "ended a member's session";
    PostCreate => "posts.create", "drafted a post";
    PostEdit => "posts.edit", "edited a post";
    PostSubmit => "posts.submit", "submitted a post for review";
    PostApprove => "posts.approve", "approved a post";
    PostRequestChanges => "posts.request_changes", "asked for changes to a post";
    PostComment => "posts.comment", "commented on a post under review";
    PostSchedule => "posts.schedule", "scheduled a post";
    PostPublishNow => "posts.publish_now", "asked to publish a post now";
    PostCancel => "posts.cancel", "cancelled a post";
    PostHeld => "posts.held", "held a due post";
    PublishAttempt => "posts.publish_attempt", "sent a post to the platform";
    PublishStatusCheck => "posts.publish_status_check", "asked the platform how a post is doing";
    PublishProcessing => "posts.publish_processing", "heard the platform is still processing a post";
    PublishRetry => "posts.publish_retry", "will try a post again later";
    PublishDeferred => "posts.publish_deferred", "moved a due post to when the platform's limit allows";
    PublishAttemptRefused => "posts.publish_attempt_refused", "had a post refused for the account's credential";
    PublishFailed => "posts.publish_failed", "gave up publishing a post";
    Published => "posts.published", "published a post";
    MediaUpload => "media.upload", "uploaded media";
    CommentReply => "comments.reply", "replied to a comment";
    CommentDelete => "comments.delete", "deleted a comment";
    CommentHide => "comments.hide", "hid a reply";
    CommentAuthorMute => "comments.mute_author", "muted a comment's author";
    CommentAuthorBlock => "comments.block_author", "blocked a comment's author";
    NotificationRead => "notifications.read", "marked a notification read";
    NotificationPreferencesUpdate => "me.notification_preferences.update", "changed their notification preferences";
}

impl Action {
    /// The action a stored code names, if it is one of ours.
    #[must_use]
    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == code)
    }

    /// Whether this is a change to an account's members (the member-change-burst detector).
    #[must_use]
    pub fn is_member_change(self) -> bool {
        self.as_str().starts_with("members.")
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The words for a stored code: ours in words, anything else (an unnamed denied request) as is.
#[must_use]
pub fn words_for(code: &str) -> &str {
    match Action::parse(code) {
        Some(a) => a.words(),
        None => code,
    }
}

/// The detail of an `accounts.lockdown` event (read back by the lockdown alert).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockdownDetail {
    pub suspended_members: u64,
    pub suspended_user_ids: Vec<UserId>,
    pub revoked_tokens: u64,
    pub cancelled_posts: u64,
    pub credential_disconnected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "{a} listed twice");
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            assert!(!a.words().is_empty() && !a.words().contains('.'), "{a} needs words, not a code");
        }
        assert_eq!(Action::parse("GET /api/v1/me"), None);
        assert_eq!(words_for("GET /api/v1/me"), "GET /api/v1/me");
        assert_eq!(words_for("posts.approve"), "approved a post");
    }

    #[test]
    fn member_changes_are_the_members_actions() {
        assert!(Action::MemberRemove.is_member_change() && Action::MemberInvite.is_member_change());
        assert!(!Action::AccountCreate.is_member_change() && !Action::PostCreate.is_member_change());
    }

    #[test]
    fn lockdown_detail_reads_what_older_events_wrote() {
        let d: LockdownDetail = serde_json::from_str(r#"{"suspended_members":2,"revoked_tokens":1}"#).expect("json");
        assert_eq!(d.suspended_members, 2);
        assert!(!d.credential_disconnected && d.suspended_user_ids.is_empty());
    }
}
