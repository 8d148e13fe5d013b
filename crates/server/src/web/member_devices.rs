//! A collaborator's devices on their member page: each live session in words (browser and
//! system, the address it came from, when it was opened and last seen) with a button that ends
//! it. The rules (who may see and end them; the owner's devices are the owner's own) are the
//! use cases' in `steward_app::members::devices`.
use axum::extract::State;
use axum::response::Response;
use steward_app::AppError;
use steward_app::members::devices::{end_member_session, list_member_sessions};
use steward_app::members::view::MemberView;
use steward_domain::ids::{AccountId, SessionId, UserId};

use crate::error::{ApiError, Path};
use crate::state::AppState;
use crate::web::html::Html;
use crate::web::time::when;
use crate::web::{OrPage, PageError, Viewer, see_other};

/// One device as the member page shows it.
pub struct DeviceLine {
    pub id: SessionId,
    pub device: String,
    pub place: String,
    pub created: Html,
    pub last_seen: Html,
}

/// The member's devices, or `None` where the page shows none: the owner's, and a member the
/// viewer may not manage (an admin seen by an admin without `admins.manage`).
pub async fn device_lines(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    member: &MemberView,
    zone: &jiff::tz::TimeZone,
) -> Result<Option<Vec<DeviceLine>>, ApiError> {
    if member.role == "owner" {
        return Ok(None);
    }
    let user_id = member.user_id.clone();
    match list_member_sessions(state, &viewer.ctx(), &viewer.principal, id, &user_id).await {
        Ok(list) => Ok(Some(
            list.into_iter()
                .map(|x| DeviceLine {
                    created: when(&x.created_at, zone, viewer.tz.as_ref()),
                    last_seen: when(&x.last_seen_at, zone, viewer.tz.as_ref()),
                    place: x.place.unwrap_or_else(|| "an unknown address".into()),
                    device: x.device,
                    id: x.id,
                })
                .collect(),
        )),
        Err(AppError::Forbidden(_)) => Ok(None),
        Err(e) => Err(ApiError(e)),
    }
}

/// Ends one of the member's sessions and comes back to their page.
pub async fn end_session(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, user_id, session_id)): Path<(AccountId, UserId, SessionId)>,
) -> Result<Response, PageError> {
    end_member_session(&state, &viewer.ctx(), &viewer.principal, &id, &user_id, &session_id)
        .await
        .map_err(ApiError)
        .or_page(&viewer)?;
    Ok(see_other(&format!("/accounts/{id}/members/{user_id}?notice=device_ended")))
}
