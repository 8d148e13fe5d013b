//! An alert as API.md shows it, in the app and in a webhook's body.
use serde::Serialize;
use steward_domain::ids::{AccountId, AlertId, UserId};
use steward_store::AlertRow;
use utoipa::ToSchema;

use crate::clock::rfc3339;

/// An alert as API.md shows it (and as a webhook receives it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertView {
    #[schema(value_type = String)]
    pub id: AlertId,
    pub kind: String,
    #[schema(value_type = Option<String>)]
    pub account_id: Option<AccountId>,
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    pub summary: String,
    pub detail: String,
    pub count: i64,
    pub created_at: String,
    pub last_seen_at: String,
    /// When the reader acknowledged it (each person acknowledges for themselves).
    pub acknowledged_at: Option<String>,
    /// Who acknowledged it and when: shown to the account's owner (or the person of a personal
    /// alert) only, so nobody can quietly read an alert about themselves away.
    pub acknowledged_by: Vec<AlertAck>,
}

/// One person's acknowledgement of an alert.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertAck {
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub email: String,
    pub acknowledged_at: String,
}

impl From<AlertRow> for AlertView {
    fn from(a: AlertRow) -> Self {
        Self {
            id: a.id,
            kind: a.kind,
            account_id: a.account_id,
            user_id: a.user_id,
            severity: a.severity,
            summary: a.summary,
            detail: a.detail,
            count: a.count,
            created_at: rfc3339(a.created_at),
            last_seen_at: rfc3339(a.last_seen_at),
            acknowledged_at: a.acknowledged_at.map(rfc3339),
            acknowledged_by: Vec::new(),
        }
    }
}
