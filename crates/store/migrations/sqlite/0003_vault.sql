-- The credential vault (issue #4): each social account's own data key, wrapped by the master
-- key (which is never stored here). credential_sealed is sealed under that data key; a row
-- without a wrapped key holds a credential sealed directly under the master key, from before
-- this migration (`steward admin rotate-master-key` moves those to data keys).
ALTER TABLE social_accounts ADD COLUMN wrapped_data_key BLOB;
