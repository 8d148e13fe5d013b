//! A Steward user as others may see it.
use serde::Serialize;
use steward_store::UserRow;
use utoipa::ToSchema;

use steward_domain::ids::UserId;

use crate::clock::rfc3339;

/// A Steward user as others may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String)]
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub totp_enabled: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            totp_enabled: u.totp_enabled,
            created_at: rfc3339(u.created_at),
        }
    }
}
