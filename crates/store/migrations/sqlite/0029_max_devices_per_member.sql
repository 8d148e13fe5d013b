-- How many devices (live sessions and access tokens) each collaborator may use on the account at
-- once; NULL is no limit. The owner is never limited.
ALTER TABLE social_accounts ADD COLUMN max_devices_per_member BIGINT;
