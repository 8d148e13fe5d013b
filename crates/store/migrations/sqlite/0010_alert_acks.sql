-- Alerts are acknowledged per person: an admin marking an alert read does not mark it read for
-- the owner. The alert's own `acknowledged_at` now records its primary recipient's (the
-- account's owner, or the person of a personal alert) first acknowledgement, which ends grouping.
CREATE TABLE alert_acks (
    alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    acknowledged_at BIGINT NOT NULL,
    PRIMARY KEY (alert_id, user_id)
);

-- Acknowledgements made before: kept as the primary recipient's.
INSERT INTO alert_acks (alert_id, user_id, acknowledged_at)
SELECT a.id, COALESCE(s.owner_id, a.user_id), a.acknowledged_at
FROM alerts a LEFT JOIN social_accounts s ON s.id = a.account_id
WHERE a.acknowledged_at IS NOT NULL AND COALESCE(s.owner_id, a.user_id) IS NOT NULL;
