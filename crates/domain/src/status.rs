//! The closed lists of stored names: an account's and a membership's status, and one error for
//! a stored name that is none of them (the store refuses such a row instead of guessing).
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::post::{HoldReason, PostState};

/// A stored name that is not one of its closed list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// Where a social account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    /// The owner locked it down: only the owner acts on it.
    LockedDown,
    /// The platform refused its credential for good: the owner must reconnect it.
    NeedsReconnect,
    /// Its credential was destroyed.
    Disconnected,
}

/// Where a membership stands (an expired one is `active` with `expires_at` in the past).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipStatus {
    Active,
    Suspended,
}

/// `as_str`, `Display` and `FromStr` over the stored names of a closed list.
macro_rules! stored_names {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == name)
                    .ok_or_else(|| UnknownName { what: $what, value: name.to_owned() })
            }
        }
    };
}

stored_names!(AccountStatus, "account status", {
    Active => "active",
    LockedDown => "locked_down",
    NeedsReconnect => "needs_reconnect",
    Disconnected => "disconnected",
});

/// What a notification tells its person about a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A post waits for the reviewer's approval.
    ReviewRequested,
    /// The author's post was approved.
    Approved,
    /// The author's post was sent back with changes requested.
    ChangesRequested,
    /// The author's post was scheduled (or is going out now).
    Scheduled,
    /// The author's post is live.
    Published,
    /// The author's due post was held instead of published.
    Held,
    /// The author's post could not be published.
    Failed,
}

stored_names!(NotificationKind, "notification kind", {
    ReviewRequested => "review_requested",
    Approved => "approved",
    ChangesRequested => "changes_requested",
    Scheduled => "scheduled",
    Published => "published",
    Held => "held",
    Failed => "failed",
});

stored_names!(MembershipStatus, "membership status", {
    Active => "active",
    Suspended => "suspended",
});

impl FromStr for PostState {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        PostState::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| UnknownName { what: "post state", value: name.to_owned() })
    }
}

impl FromStr for HoldReason {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        HoldReason::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| UnknownName { what: "hold reason", value: name.to_owned() })
    }
}

impl FromStr for Platform {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Platform::parse(name).ok_or_else(|| UnknownName { what: "platform", value: name.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_name_reads_back() {
        for s in AccountStatus::ALL {
            assert_eq!(s.as_str().parse::<AccountStatus>(), Ok(*s));
        }
        for s in MembershipStatus::ALL {
            assert_eq!(s.as_str().parse::<MembershipStatus>(), Ok(*s));
        }
        for k in NotificationKind::ALL {
            assert_eq!(k.as_str().parse::<NotificationKind>(), Ok(*k));
        }
        for s in PostState::ALL {
            assert_eq!(s.as_str().parse::<PostState>(), Ok(s));
        }
        for r in HoldReason::ALL {
            assert_eq!(r.as_str().parse::<HoldReason>(), Ok(r));
        }
    }

    #[test]
    fn an_unknown_name_is_an_error_not_a_default() {
        assert_eq!(
            "paused".parse::<AccountStatus>(),
            Err(UnknownName { what: "account status", value: "paused".into() })
        );
        assert!("".parse::<MembershipStatus>().is_err());
        assert!("Draft".parse::<PostState>().is_err());
        assert!("later".parse::<HoldReason>().is_err());
        assert!("myspace".parse::<Platform>().is_err());
    }
}
