-- The chain's head follows the events as they are inserted, inside the insert: a write
-- transaction appends its event in one statement instead of two (on SQLite every write holds
-- the one write lock meanwhile). The head only moves forward.
CREATE TRIGGER audit_events_head AFTER INSERT ON audit_events
    WHEN NEW.seq > (SELECT seq FROM audit_head WHERE singleton = 1)
    BEGIN UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE singleton = 1; END;
