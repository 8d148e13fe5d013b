-- The burst detectors count one account's events of one action in a recent window, and stop
-- at their threshold: this index reaches exactly those events, however many others the
-- account has in the window.
CREATE INDEX audit_events_account_action_at ON audit_events(account_id, action, at);
