//! Uploaded media where each backend keeps it: files in the data directory on SQLite, chunked
//! rows of the database on PostgreSQL (so replicas need no shared disk). Uploads stream in
//! (chunked, no length announced), come back byte for byte, keep their limits without leaving
//! anything behind, and a post carrying one publishes it through the Mastodon double.
use std::time::Duration;

use serde_json::json;
use steward_domain::ids::PostId;
use steward_doubles::mastodon::{Config as MastodonConfig, MastodonDouble};

use crate::helpers::seed::{insert_due_post, publish_outcome, seal_mastodon_account};
use crate::helpers::{Backend, Session, TestApp, both_backends};

/// Bytes that are not all alike (so a chunk written twice, or out of order, shows), after a
/// PNG signature.
fn png_of(len: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x: u32 = 0x9E37_79B9;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x.to_le_bytes()[0]);
    }
    out
}

/// Posts `bytes` to the media route with `Transfer-Encoding: chunked` (no length announced, so
/// only the streaming limit can stop it), 64 KiB a chunk; stops writing when the server has
/// answered early. Returns the status line and the answer's body.
async fn upload_chunked(
    app: &TestApp,
    who: &Session,
    account: &str,
    content_type: &str,
    bytes: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/v1/accounts/{account}/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        who.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut sent_all = true;
    for piece in bytes.chunks(64 * 1024) {
        let frame = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            sent_all = false;
            break;
        }
    }
    if sent_all {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Where the bytes of `media_id` are: `(file on disk, chunk rows)`.
async fn kept_as(app: &TestApp, media_id: &str) -> (bool, usize) {
    let file = app.state.settings.data_dir.join("media").join(media_id).exists();
    let mut rows = 0;
    while app.state.store.media_chunk(&media_id.into(), i32::try_from(rows).unwrap()).await.unwrap().is_some() {
        rows += 1;
    }
    (file, rows)
}

/// Nothing is left of refused uploads: no partial file, and no chunk rows without an upload.
async fn nothing_left_over(app: &TestApp) {
    let dir = app.state.settings.data_dir.join("media");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let partial: Vec<_> =
            entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".partial")).collect();
        assert!(partial.is_empty(), "{partial:?}");
    }
    assert_eq!(app.state.store.prune_orphan_media_chunks(i64::MAX).await.unwrap(), 0, "orphan chunks");
}

both_backends! {
    async fn uploads_are_kept_by_the_backend_and_served_byte_for_byte(app: TestApp) {
        let owner = app.user("media@example.com").await;
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, app.clock.now_us()).await;
        // Three full chunks of 256 KiB and a short fourth one.
        let png = png_of(3 * 256 * 1024 + 12_345);
        let (status, body) = upload_chunked(&app, &owner, &account, "image/png", &png).await;
        assert_eq!(status, 201, "{body}");
        let view: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(view["size_bytes"].as_u64(), Some(png.len() as u64));
        let media_id = view["id"].as_str().unwrap().to_string();
        let url = view["url"].as_str().unwrap().to_string();
        match app.backend {
            Backend::Sqlite => assert_eq!(kept_as(&app, &media_id).await, (true, 0)),
            Backend::Postgres => assert_eq!(kept_as(&app, &media_id).await, (false, 4)),
        }

        let path = url.strip_prefix(&app.state.settings.public_url).unwrap();
        let served = app.client.get(format!("{}{path}", app.base)).bearer_auth(&owner.token).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "image/png");
        assert_eq!(served.headers()["content-length"], png.len().to_string().as_str());
        let got = served.bytes().await.unwrap();
        assert_eq!(got.len(), png.len());
        assert!(got.as_ref() == png.as_slice(), "the served bytes differ from the upload");

        // A post carrying it publishes the same bytes to the instance.
        let media = json!([{"url": url, "kind": "image"}]).to_string();
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "With a picture", &media, app.clock.now_us()).await;
        let post_id = PostId::new(id.clone());
        assert_eq!(publish_outcome(&app, &post_id).await, "published");
        let statuses = d.statuses();
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].media_ids.len(), 1);
        let sent = d.media_bytes(&statuses[0].media_ids[0]).unwrap();
        assert!(sent == png, "the instance received other bytes ({} of {})", sent.len(), png.len());
    }

    async fn streamed_uploads_keep_their_limits_and_leave_nothing_behind(app: TestApp) {
        let owner = app.user("limits@example.com").await;
        let r = app
            .post("/api/v1/accounts")
            .auth(&owner)
            .header("x-csrf-token", &owner.csrf)
            .json(json!({"platform": "sandbox", "handle": "@sandbox", "credentials": {}}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let account = r.body["id"].as_str().unwrap().to_string();
        // An image one byte over 8 MiB, its length not announced: refused while it streams.
        let (status, body) = upload_chunked(&app, &owner, &account, "image/png", &png_of(8 * 1024 * 1024 + 1)).await;
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("payload-too-large"), "{body}");
        nothing_left_over(&app).await;
        // Exactly 8 MiB is allowed.
        let (status, body) = upload_chunked(&app, &owner, &account, "image/png", &png_of(8 * 1024 * 1024)).await;
        assert_eq!(status, 201, "{body}");
        // Bytes that are not what the type says, past the first chunk: refused, nothing kept.
        let mut fake = png_of(600 * 1024);
        fake[0] = b'G';
        let (status, body) = upload_chunked(&app, &owner, &account, "image/png", &fake).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("\"field\":\"body\""), "{body}");
        nothing_left_over(&app).await;
        let uploads = app.state.store.audit_events_after(0, 10_000).await.unwrap().into_iter()
            .filter(|e| e.action == "media.upload" && e.outcome == "allowed").count();
        assert_eq!(uploads, 1);
    }
}
