//! Suspicious-activity alerts: the kinds of API.md, their severity, the per-account thresholds
//! (`alert_thresholds`) with DESIGN.md's defaults, and which recorded action suggests which
//! check. No I/O: the store counts, this module decides what the counts mean.
use crate::audit::Action;
use serde::{Deserialize, Serialize};

/// Repeats of a kind within this long of an unacknowledged alert of that kind are grouped.
pub const GROUPING_WINDOW_US: i64 = 15 * 60 * 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    CredentialFailed,
    NewDeviceSignIn,
    FailedSignIns,
    DeniedActions,
    OutsideWindow,
    PostBurst,
    MemberChangeBurst,
    MemberChanged,
    RoleChanged,
    CredentialChanged,
    SettingsChanged,
    Lockdown,
    /// A due post was not published: the rules at the moment of publishing did not allow it.
    PostHeld,
    /// A post failed for good (the platform refused it, or every retry was used up).
    PostFailed,
}

impl AlertKind {
    pub const ALL: [AlertKind; 14] = [
        AlertKind::CredentialFailed,
        AlertKind::NewDeviceSignIn,
        AlertKind::FailedSignIns,
        AlertKind::DeniedActions,
        AlertKind::OutsideWindow,
        AlertKind::PostBurst,
        AlertKind::MemberChangeBurst,
        AlertKind::MemberChanged,
        AlertKind::RoleChanged,
        AlertKind::CredentialChanged,
        AlertKind::SettingsChanged,
        AlertKind::Lockdown,
        AlertKind::PostHeld,
        AlertKind::PostFailed,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CredentialFailed => "credential_failed",
            AlertKind::NewDeviceSignIn => "new_device_sign_in",
            AlertKind::FailedSignIns => "failed_sign_ins",
            AlertKind::DeniedActions => "denied_actions",
            AlertKind::OutsideWindow => "outside_window",
            AlertKind::PostBurst => "post_burst",
            AlertKind::MemberChangeBurst => "member_change_burst",
            AlertKind::MemberChanged => "member_changed",
            AlertKind::RoleChanged => "role_changed",
            AlertKind::CredentialChanged => "credential_changed",
            AlertKind::SettingsChanged => "settings_changed",
            AlertKind::Lockdown => "lockdown",
            AlertKind::PostHeld => "post_held",
            AlertKind::PostFailed => "post_failed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// `critical`: someone may be attacking or the owner pulled the brake; `warning`: worth a
    /// look soon; `info`: a change the owner should know about.
    #[must_use]
    pub fn severity(self) -> &'static str {
        match self {
            AlertKind::Lockdown | AlertKind::FailedSignIns | AlertKind::CredentialFailed => "critical",
            AlertKind::DeniedActions
            | AlertKind::NewDeviceSignIn
            | AlertKind::OutsideWindow
            | AlertKind::PostBurst
            | AlertKind::MemberChangeBurst
            | AlertKind::CredentialChanged
            | AlertKind::PostHeld
            | AlertKind::PostFailed => "warning",
            AlertKind::MemberChanged | AlertKind::RoleChanged | AlertKind::SettingsChanged => "info",
        }
    }
}

/// A count threshold over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub count: i64,
    pub minutes: i64,
}

impl Threshold {
    #[must_use]
    pub fn window_us(self) -> i64 {
        self.minutes * 60 * 1_000_000
    }
}

/// The account setting `alert_thresholds`. Absent keys take DESIGN.md's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertThresholds {
    /// Failed sign-ins of one member of the account (DESIGN.md: ≥ 5 in 15 minutes).
    pub failed_sign_ins: Threshold,
    /// Denied actions by one member (≥ 10 in 15 minutes).
    pub denied_actions: Threshold,
    /// Posts created on the account (≥ 10 an hour).
    pub post_burst: Threshold,
    /// Member changes on the account (≥ 10 in 15 minutes).
    pub member_change_burst: Threshold,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self {
            failed_sign_ins: Threshold { count: 5, minutes: 15 },
            denied_actions: Threshold { count: 10, minutes: 15 },
            post_burst: Threshold { count: 10, minutes: 60 },
            member_change_burst: Threshold { count: 10, minutes: 15 },
        }
    }
}

impl AlertThresholds {
    /// Reads the stored JSON; anything unreadable falls back to the defaults (alerting more,
    /// never less).
    #[must_use]
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// Problems with each threshold as `(field, message)`: counts 1–1000, windows 1–1440 minutes.
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, t) in [
            ("failed_sign_ins", self.failed_sign_ins),
            ("denied_actions", self.denied_actions),
            ("post_burst", self.post_burst),
            ("member_change_burst", self.member_change_burst),
        ] {
            if !(1..=1000).contains(&t.count) {
                out.push((format!("alert_thresholds.{name}.count"), "must be between 1 and 1000".into()));
            }
            if !(1..=1440).contains(&t.minutes) {
                out.push((format!("alert_thresholds.{name}.minutes"), "must be between 1 and 1440".into()));
            }
        }
        out
    }
}

/// Actions that count as a post being made (the post-burst check): the `posts.create` event
/// recorded when a post is created.
pub const POST_CREATED_ACTIONS: [Action; 1] = [Action::PostCreate];

/// What a change recorded on an account means for the owner when someone else made it.
#[must_use]
pub fn change_kind(action: Action) -> Option<AlertKind> {
    match action {
        Action::MemberRoleChange => Some(AlertKind::RoleChanged),
        Action::MemberInvite | Action::MemberUpdate | Action::MemberRemove | Action::InvitationWithdraw => {
            Some(AlertKind::MemberChanged)
        }
        Action::SettingsUpdate => Some(AlertKind::SettingsChanged),
        Action::AccountReconnect | Action::CredentialDisconnect | Action::CredentialUpdate => {
            Some(AlertKind::CredentialChanged)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_match_api_md() {
        let names: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "credential_failed",
                "new_device_sign_in",
                "failed_sign_ins",
                "denied_actions",
                "outside_window",
                "post_burst",
                "member_change_burst",
                "member_changed",
                "role_changed",
                "credential_changed",
                "settings_changed",
                "lockdown",
                "post_held",
                "post_failed"
            ]
        );
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AlertKind::parse("nope"), None);
    }

    #[test]
    fn thresholds_default_to_design_md_and_validate() {
        let t = AlertThresholds::from_stored("{}");
        assert_eq!(t.failed_sign_ins, Threshold { count: 5, minutes: 15 });
        assert_eq!(t.denied_actions, Threshold { count: 10, minutes: 15 });
        assert_eq!(t.post_burst, Threshold { count: 10, minutes: 60 });
        assert_eq!(t.member_change_burst, Threshold { count: 10, minutes: 15 });
        let t: AlertThresholds =
            serde_json::from_str(r#"{"denied_actions":{"count":3,"minutes":5}}"#).expect("valid thresholds");
        assert_eq!(t.denied_actions.count, 3);
        assert_eq!(t.post_burst.count, 10, "others keep their defaults");
        assert!(t.problems().is_empty());
        let bad = AlertThresholds { post_burst: Threshold { count: 0, minutes: 2000 }, ..t };
        assert_eq!(bad.problems().len(), 2);
        assert!(serde_json::from_str::<AlertThresholds>(r#"{"nonsense":{"count":1,"minutes":1}}"#).is_err());
        assert_eq!(AlertThresholds::from_stored("garbage"), AlertThresholds::default());
    }

    #[test]
    fn changes_map_to_kinds() {
        assert_eq!(change_kind(Action::MemberRoleChange), Some(AlertKind::RoleChanged));
        assert_eq!(change_kind(Action::MemberInvite), Some(AlertKind::MemberChanged));
        assert_eq!(change_kind(Action::SettingsUpdate), Some(AlertKind::SettingsChanged));
        assert_eq!(change_kind(Action::AccountReconnect), Some(AlertKind::CredentialChanged));
        assert_eq!(change_kind(Action::PostCreate), None);
    }
}
