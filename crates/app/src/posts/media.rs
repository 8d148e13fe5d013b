//! Uploaded media as the rest of the application finds it: by the URL Steward gave out.
use std::path::PathBuf;

use steward_store::MediaUploadRow;

use crate::error::AppResult;
use crate::services::Services;

/// Resolves a URL Steward gave out for an upload to its row and file (for the scheduler,
/// which hands the bytes to a platform). `None` for any other URL.
pub async fn stored_media(state: &Services, url: &str) -> AppResult<Option<(MediaUploadRow, PathBuf)>> {
    let prefix = format!("{}/api/v1/accounts/", state.settings.public_url.trim_end_matches('/'));
    let Some(rest) = url.strip_prefix(&prefix) else { return Ok(None) };
    let Some((account_id, media_id)) = rest.split_once("/media/") else { return Ok(None) };
    let Some(row) = state.store.media_upload(media_id).await? else { return Ok(None) };
    if row.account_id != account_id {
        return Ok(None);
    }
    let path = media_dir(state).join(&row.id);
    Ok(Some((row, path)))
}

pub fn media_dir(state: &Services) -> PathBuf {
    state.settings.data_dir.join("media")
}
