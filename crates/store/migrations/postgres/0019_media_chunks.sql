-- Uploaded media kept in the database, so replicas on one PostgreSQL need no shared disk: an
-- upload is written as it arrives, 256 KiB a row, and read back one row at a time. The rows
-- are written before the upload's media_uploads row (which commits with its audit event), so
-- there is no foreign key; housekeeping removes chunks whose upload never committed.
-- SQLite keeps the files in the data directory and leaves this table empty.
CREATE TABLE media_chunks (
    media_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (media_id, seq)
);
CREATE INDEX media_chunks_created ON media_chunks(created_at);
