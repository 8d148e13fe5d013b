-- In-app notifications that move the work: a post waiting for its reviewers, and what became
-- of an author's post. Written by the use case (or the scheduler) in the transaction of the
-- change, so none is lost or written twice. Who may still read one is decided when it is
-- read (the recipient must still be a live member of its account).
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    post_id TEXT REFERENCES posts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    -- `pending` (to be mailed), `sending` (claimed by one server), `sent`, or `none`.
    mail_state TEXT NOT NULL
);
CREATE INDEX notifications_user ON notifications(user_id, created_at, id);
CREATE INDEX notifications_mail ON notifications(mail_state, created_at);

-- Each person's choice: mail for each notification (default on), and the owner's daily digest
-- of their accounts (default off). No row means the defaults.
CREATE TABLE notification_preferences (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email BOOLEAN NOT NULL,
    daily_digest BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per person and UTC day whose digest a server claimed: the primary key lets exactly
-- one replica send it.
CREATE TABLE notification_digests (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);
