//! Uploaded media: receiving an upload (its type checked by its first bytes, its size limited,
//! stored where `media_storage` says), finding a stored file to serve it, and resolving a URL
//! Steward gave out back to its upload.
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, MediaId};
use steward_store::{MediaUploadRow, NewMediaUpload};

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::posts::media_storage::{MediaSink, MediaStorage};
use crate::posts::view::{MediaView, media_view};
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// Uploads: images up to 8 MiB (PNG, JPEG, GIF, WebP), videos up to 256 MiB (MP4, QuickTime).
pub const MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: u64 = 256 * 1024 * 1024;

/// Whether a file's first bytes are those of its declared type.
type SignatureCheck = fn(&[u8]) -> bool;

/// What an upload's content type allows: its kind, size limit, and a check of its first bytes
/// (so a file is what it claims to be, and a browser cannot be made to sniff it as something else).
fn upload_kind(content_type: &str) -> Option<(&'static str, u64, SignatureCheck)> {
    Some(match canonical_content_type(content_type).as_str() {
        "image/png" => ("image", MAX_IMAGE_BYTES, |b| b.starts_with(b"\x89PNG\r\n\x1a\n")),
        "image/jpeg" => ("image", MAX_IMAGE_BYTES, |b| b.starts_with(&[0xFF, 0xD8, 0xFF])),
        "image/gif" => ("image", MAX_IMAGE_BYTES, |b| b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")),
        "image/webp" => ("image", MAX_IMAGE_BYTES, |b| b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP"),
        "video/mp4" | "video/quicktime" => ("video", MAX_VIDEO_BYTES, |b| {
            b.len() >= 12 && matches!(&b[4..8], b"ftyp" | b"moov" | b"mdat" | b"wide" | b"free")
        }),
        _ => return None,
    })
}

/// A content type without its parameters, lower case.
fn canonical_content_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// An upload as the edge hands it over: its declared type and length, and its bytes as they
/// arrive (an error item means the upload was interrupted).
pub struct Upload<S> {
    pub content_type: String,
    /// The length the client announced, if any: an upload announced too large is refused
    /// before a byte is read.
    pub declared_len: Option<u64>,
    pub body: S,
}

/// Stores an upload for the account's posts, after checking its type by its first bytes and
/// its size against the type's limit. The file and its row exist together or not at all.
pub async fn upload_media<S, B, E>(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    upload: Upload<S>,
) -> AppResult<MediaView>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    ctx.slot.set_action(Action::MediaUpload, Some(format!("account:{account_id}")));
    authorize(s, ctx, who, account_id, Need::Capability(Capability::DraftsCreate)).await?;
    let Some((kind, limit, looks_right)) = upload_kind(&upload.content_type) else {
        return Err(AppError::validation(
            "Content-Type",
            "must be image/png, image/jpeg, image/gif, image/webp, video/mp4 or video/quicktime",
        ));
    };
    let content_type = canonical_content_type(&upload.content_type);
    if upload.declared_len.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge);
    }
    let storage = MediaStorage::of(s);
    let media_id = MediaId::new(uuid::Uuid::now_v7().to_string());
    let sink = storage.create(&media_id, s.clock.now_us()).await?;
    let (size, digest, head) = match receive(upload.body, sink, limit).await {
        Ok(found) => found,
        Err(e) => {
            storage.discard(&media_id).await;
            return Err(e);
        }
    };
    if size == 0 || !looks_right(&head) {
        storage.discard(&media_id).await;
        return Err(AppError::validation("body", format!("is not a {content_type} file")));
    }
    let stored = audited(s, ctx, &who.actor(), async |tx| {
        tx.insert_media_upload(NewMediaUpload {
            id: &media_id,
            account_id,
            uploaded_by: &who.user_id,
            kind,
            content_type: &content_type,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: &digest,
            now: s.clock.now_us(),
        })
        .await?;
        let audit = Audit::on_account(account_id, Action::MediaUpload)
            .target(format!("media:{media_id}"))
            .detail(json!({ "media_id": media_id, "kind": kind, "content_type": content_type, "size_bytes": size }));
        Ok(((), audit))
    })
    .await;
    if let Err(e) = stored {
        storage.discard(&media_id).await;
        return Err(e);
    }
    let row = s.store.media_upload(&media_id).await?.ok_or(AppError::NotFound)?;
    Ok(media_view(s, row))
}

/// Writes the bytes to `sink`, refusing them once they pass `limit`. Returns the size, the
/// SHA-256 and the first bytes. The caller discards what was written if this fails.
async fn receive<S, B, E>(mut body: S, mut sink: MediaSink, limit: u64) -> AppResult<(u64, Vec<u8>, Vec<u8>)>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(16);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| AppError::validation("body", "the upload was interrupted"))?;
        let data = chunk.as_ref();
        size += data.len() as u64;
        if size > limit {
            return Err(AppError::PayloadTooLarge);
        }
        if head.len() < 16 {
            let take = (16 - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
        }
        hasher.update(data);
        sink.write(data).await?;
    }
    sink.finish().await?;
    Ok((size, hasher.finalize().to_vec(), head))
}

/// A stored upload, to serve: its bytes as they are read, its type and its length.
pub struct StoredFile {
    pub body: BoxStream<'static, AppResult<Vec<u8>>>,
    pub content_type: String,
    pub size_bytes: u64,
}

/// An upload of the account, for a member who may view the account.
pub async fn media_file(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    media_id: &MediaId,
) -> AppResult<StoredFile> {
    authorize(s, ctx, who, account_id, Need::Capability(Capability::AccountView)).await?;
    let row =
        s.store.media_upload(media_id).await?.filter(|m| m.account_id == *account_id).ok_or(AppError::NotFound)?;
    Ok(StoredFile {
        body: MediaStorage::of(s).read(&row.id),
        content_type: row.content_type,
        size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
    })
}

/// Resolves a post's media URL within the post's account: `Some` for a file uploaded to that
/// account, `None` for an external URL. A URL that names Steward's media but not an upload of
/// this account is refused, so a post never carries, and publishing never sends, another
/// account's file.
pub async fn stored_media(state: &Services, account_id: &AccountId, url: &str) -> AppResult<Option<MediaUploadRow>> {
    let prefix = format!("{}/api/v1/accounts/", state.settings.public_url.trim_end_matches('/'));
    let Some(rest) = url.strip_prefix(&prefix) else { return Ok(None) };
    let foreign = || AppError::validation("media", "names a file that was not uploaded to this account");
    let Some((url_account, media_id)) = rest.split_once("/media/") else { return Err(foreign()) };
    if *account_id != *url_account {
        return Err(foreign());
    }
    match state.store.media_upload(&MediaId::from(media_id)).await? {
        Some(row) if row.account_id == *account_id => Ok(Some(row)),
        _ => Err(foreign()),
    }
}

/// The whole of a stored upload, for a platform call that sends it in one request body.
pub async fn media_bytes(state: &Services, row: &MediaUploadRow) -> AppResult<Vec<u8>> {
    MediaStorage::of(state).read_all(&row.id, usize::try_from(row.size_bytes).unwrap_or(0)).await
}
