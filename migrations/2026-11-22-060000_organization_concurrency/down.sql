ALTER TABLE organizations DROP COLUMN max_concurrent_runs;
