//! Uploaded media kept in the database (migration 0019): an upload's bytes as numbered chunks,
//! written as they arrive and read back one chunk at a time, so neither side holds a whole file.
use steward_domain::ids::MediaId;

use crate::{Micros, Result, Store, on_pool};

impl Store {
    /// Writes chunk `seq` of an upload in progress (its own short commit: an upload may take
    /// minutes and must not hold a transaction open that long).
    pub async fn put_media_chunk(&self, media_id: &MediaId, seq: i32, data: &[u8], now: Micros) -> Result<()> {
        let q = "INSERT INTO media_chunks (media_id, seq, data, created_at) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |c| sqlx::query(q)
            .bind(media_id.as_str())
            .bind(seq)
            .bind(data)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Chunk `seq` of an upload, `None` past its last chunk.
    pub async fn media_chunk(&self, media_id: &MediaId, seq: i32) -> Result<Option<Vec<u8>>> {
        let q = "SELECT data FROM media_chunks WHERE media_id = $1 AND seq = $2";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, Vec<u8>>(q)
            .bind(media_id.as_str())
            .bind(seq)
            .fetch_optional(c)
            .await)?)
    }

    /// Forgets an upload's chunks (an upload refused or interrupted).
    pub async fn delete_media_chunks(&self, media_id: &MediaId) -> Result<u64> {
        let q = "DELETE FROM media_chunks WHERE media_id = $1";
        Ok(on_pool!(self, |c| sqlx::query(q).bind(media_id.as_str()).execute(c).await.map(|r| r.rows_affected()))?)
    }

    /// Forgets chunks written before `before` whose upload never committed (a server stopped
    /// mid-upload), and those of uploads that are gone (their account was deleted).
    pub async fn prune_orphan_media_chunks(&self, before: Micros) -> Result<u64> {
        let q = "DELETE FROM media_chunks WHERE created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM media_uploads m WHERE m.id = media_chunks.media_id)";
        Ok(on_pool!(self, |c| sqlx::query(q).bind(before).execute(c).await.map(|r| r.rows_affected()))?)
    }
}
