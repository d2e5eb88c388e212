DROP INDEX runs_awaiting_task_times_idx;
ALTER TABLE runs DROP COLUMN task_started_at, DROP COLUMN task_stopped_at;
