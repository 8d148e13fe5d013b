//! Internal names in plain words: a post's label and state, why a post was held, and the
//! account and membership statuses, roles and time zones as a person reads them.

/// How much of a text stands for its post in lists (the calendar reads one character more).
const LABEL_CHARS: usize = steward_store::CALENDAR_TEXT_CHARS - 1;

/// A post in a list: its title, or the start of its text.
pub fn label_of(title: Option<&str>, text: &str) -> String {
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    let text = text.trim();
    if text.is_empty() {
        return "(media only)".into();
    }
    let mut short: String = text.chars().take(LABEL_CHARS).collect();
    if text.chars().nth(LABEL_CHARS).is_some() {
        short.push('…');
    }
    short
}

pub fn state_label(state: &str) -> &'static str {
    match state {
        "draft" => "Draft",
        "in_review" => "In review",
        "approved" => "Approved",
        "scheduled" => "Scheduled",
        "publishing" => "Publishing",
        "published" => "Published",
        "failed" => "Failed",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// Why the scheduler held a post, for its owner and members.
pub fn hold_sentence(reason: &str) -> &'static str {
    match reason {
        "approvals_no_longer_valid" => {
            "It was held when it was due: some of its approvals no longer count (an approver lost the right to approve). It is back in review."
        }
        "outside_window" => {
            "It was held when it was due: the time fell outside the posting hours of the member who scheduled it. Schedule it again."
        }
        "daily_quota_exceeded" => {
            "It was held when it was due: the member who scheduled it had reached their daily quota. Schedule it again."
        }
        "pace_exceeded" => {
            "It was held when it was due: the account's pace limits did not allow it. Schedule it again."
        }
        "locked_down" => "It was held when it was due: the account is locked down.",
        "needs_reconnect" => {
            "It was held when it was due: the platform no longer accepts the account's connection. The owner must reconnect it, then schedule it again."
        }
        "scheduler_lost_rights" => {
            "It was held when it was due: the member who scheduled it no longer may publish on this account. Someone who may, schedule it again."
        }
        _ => "It was held when it was due. Schedule it again.",
    }
}

/// An account's status as its members read it.
#[must_use]
pub fn account_status(status: &str) -> &'static str {
    match status {
        "active" => "Connected",
        "locked_down" => "Locked down: nothing is published",
        "needs_reconnect" => "Needs reconnecting: nothing is sent to the platform",
        "disconnected" => "Disconnected",
        _ => "Unknown",
    }
}

/// A membership's status (a person's access to an account).
#[must_use]
pub fn membership_status(status: &str) -> &'static str {
    match status {
        "active" => "Active",
        "suspended" => "Suspended",
        _ => "Unknown",
    }
}

/// Where a reply written through Steward stands (a reply draft on a person's own profile).
#[must_use]
pub fn reply_state(state: &str) -> &'static str {
    match state {
        "in_review" => "Waiting for the owner's approval",
        "draft" => "Sent back: changes were asked for",
        "approved" | "scheduled" | "publishing" => "Approved: being sent",
        "published" => "Sent",
        "failed" => "Could not be sent",
        "cancelled" => "Not sent: cancelled",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_domain::status::{AccountStatus, MembershipStatus};

    #[test]
    fn every_stored_status_has_words() {
        for s in AccountStatus::ALL {
            assert_ne!(account_status(s.as_str()), "Unknown", "{}", s.as_str());
        }
        for s in MembershipStatus::ALL {
            assert_ne!(membership_status(s.as_str()), "Unknown", "{}", s.as_str());
        }
        for s in steward_domain::post::PostState::ALL {
            assert_ne!(state_label(s.as_str()), "Unknown", "{}", s.as_str());
            assert_ne!(reply_state(s.as_str()), "Unknown", "{}", s.as_str());
        }
    }
}
