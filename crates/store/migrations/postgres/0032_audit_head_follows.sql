-- The chain's head follows the events as they are inserted, inside the insert (the SQLite twin
-- says why). Here once per statement, from the statement's newest row, so a sealing round that
-- inserts many events at once updates the head row once per statement, not once per event.
-- The head only moves forward.
CREATE FUNCTION steward_audit_head_follows() RETURNS trigger AS $$
BEGIN
    UPDATE audit_head h SET seq = n.seq, hash = n.hash
        FROM (SELECT seq, hash FROM new_events ORDER BY seq DESC LIMIT 1) n
        WHERE h.singleton = 1 AND n.seq > h.seq;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_head AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION steward_audit_head_follows();
