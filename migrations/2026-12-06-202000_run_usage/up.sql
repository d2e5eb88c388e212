-- The size of the task a run's runner was given (the job's resources at its claim), so
-- what it used (vCPU-seconds, GB-seconds) and an estimated price can be told per run,
-- per job and per month; and an index for the insights, which read runs by end time.
ALTER TABLE runs ADD COLUMN task_vcpu real, ADD COLUMN task_memory_mb integer;
CREATE INDEX runs_org_finished_idx ON runs (organization_id, finished_at) WHERE finished_at IS NOT NULL;
