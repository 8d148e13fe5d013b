//! Where uploaded media's bytes live: files under the data directory on SQLite (one server owns
//! the data), numbered rows of the database on PostgreSQL (so replicas share no disk). Both are
//! written and read in pieces as the bytes pass, never as a whole file in memory.
use std::path::PathBuf;
use steward_domain::ids::MediaId;

use futures_util::stream::{self, BoxStream, StreamExt};
use steward_store::{Backend, Store};

use crate::error::{AppError, AppResult};
use crate::services::Services;

/// The size of one stored chunk in the database (and of a read from a file).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The one place that knows where an upload's bytes are.
#[derive(Clone)]
pub enum MediaStorage {
    /// `<dir>/<media id>`, written as `<media id>.partial` and renamed when complete.
    Files(PathBuf),
    /// `media_chunks` rows of `CHUNK_BYTES` each, numbered from 0.
    Database(Store),
}

/// Bytes being written: `write` as they arrive, then `finish` or `discard`.
pub enum MediaSink {
    File { file: tokio::fs::File, partial: PathBuf, path: PathBuf },
    Rows { store: Store, media_id: MediaId, seq: i32, pending: Vec<u8>, now: i64 },
}

impl MediaStorage {
    /// The storage of this server: the database on PostgreSQL, the data directory on SQLite.
    pub fn of(s: &Services) -> Self {
        match s.store.backend() {
            Backend::Postgres => Self::Database(s.store.clone()),
            Backend::Sqlite => Self::Files(s.settings.data_dir.join("media")),
        }
    }

    /// Starts writing the bytes of `media_id`.
    pub async fn create(&self, media_id: &MediaId, now: i64) -> AppResult<MediaSink> {
        Ok(match self {
            Self::Files(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(AppError::internal)?;
                let partial = dir.join(format!("{media_id}.partial"));
                let file = tokio::fs::File::create(&partial).await.map_err(AppError::internal)?;
                MediaSink::File { file, partial, path: dir.join(media_id.as_str()) }
            }
            Self::Database(store) => MediaSink::Rows {
                store: store.clone(),
                media_id: media_id.clone(),
                seq: 0,
                pending: Vec::with_capacity(CHUNK_BYTES),
                now,
            },
        })
    }

    /// Forgets the bytes of `media_id`, complete or not (best effort: what remains of a
    /// database upload is pruned by housekeeping).
    pub async fn discard(&self, media_id: &MediaId) {
        match self {
            Self::Files(dir) => {
                let _ = tokio::fs::remove_file(dir.join(format!("{media_id}.partial"))).await;
                let _ = tokio::fs::remove_file(dir.join(media_id.as_str())).await;
            }
            Self::Database(store) => {
                if let Err(e) = store.delete_media_chunks(media_id).await {
                    tracing::warn!(error = %e, media_id = %media_id, "forgetting an unfinished upload's chunks failed");
                }
            }
        }
    }

    /// The bytes of `media_id`, a chunk at a time.
    pub fn read(&self, media_id: &MediaId) -> BoxStream<'static, AppResult<Vec<u8>>> {
        match self {
            Self::Files(dir) => {
                let path = dir.join(media_id.as_str());
                stream::unfold(Some((path, None::<tokio::fs::File>)), async |state| {
                    use tokio::io::AsyncReadExt;
                    let (path, file) = state?;
                    let mut file = match file {
                        Some(f) => f,
                        None => match tokio::fs::File::open(&path).await {
                            Ok(f) => f,
                            Err(e) => return Some((Err(AppError::internal(e)), None)),
                        },
                    };
                    let mut buf = vec![0; CHUNK_BYTES];
                    match file.read(&mut buf).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok(buf), Some((path, Some(file)))))
                        }
                        Err(e) => Some((Err(AppError::internal(e)), None)),
                    }
                })
                .boxed()
            }
            Self::Database(store) => {
                let first = Some((store.clone(), media_id.clone(), 0_i32));
                stream::unfold(first, async |state| {
                    let (store, media_id, seq) = state?;
                    match store.media_chunk(&media_id, seq).await {
                        Ok(Some(chunk)) => Some((Ok(chunk), Some((store, media_id, seq + 1)))),
                        Ok(None) => None,
                        Err(e) => Some((Err(e.into()), None)),
                    }
                })
                .boxed()
            }
        }
    }

    /// The whole file, for a platform call that sends it in one request body.
    pub async fn read_all(&self, media_id: &MediaId, size_hint: usize) -> AppResult<Vec<u8>> {
        let mut out = Vec::with_capacity(size_hint);
        let mut chunks = self.read(media_id);
        while let Some(chunk) = chunks.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

impl MediaSink {
    pub async fn write(&mut self, data: &[u8]) -> AppResult<()> {
        match self {
            Self::File { file, .. } => {
                use tokio::io::AsyncWriteExt;
                file.write_all(data).await.map_err(AppError::internal)
            }
            Self::Rows { store, media_id, seq, pending, now } => {
                let mut data = data;
                while !data.is_empty() {
                    let take = (CHUNK_BYTES - pending.len()).min(data.len());
                    pending.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if pending.len() == CHUNK_BYTES {
                        store.put_media_chunk(media_id, *seq, pending, *now).await?;
                        *seq += 1;
                        pending.clear();
                    }
                }
                Ok(())
            }
        }
    }

    /// Makes the bytes durable and complete under the media's id (the last, short chunk
    /// written; the file synced and given its name).
    pub async fn finish(self) -> AppResult<()> {
        match self {
            Self::File { file, partial, path } => {
                file.sync_all().await.map_err(AppError::internal)?;
                drop(file);
                tokio::fs::rename(&partial, &path).await.map_err(AppError::internal)?;
            }
            Self::Rows { store, media_id, seq, pending, now } => {
                if !pending.is_empty() {
                    store.put_media_chunk(&media_id, seq, &pending, now).await?;
                }
            }
        }
        Ok(())
    }
}
