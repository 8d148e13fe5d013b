-- When a post not yet scheduled is meant to go out (chosen on the calendar, or in the editor):
-- a plan only, never a schedule, so the scheduler never reads it. The calendar reads it by range.
ALTER TABLE posts ADD COLUMN planned_for BIGINT;
CREATE INDEX posts_account_planned ON posts(account_id, planned_for);
