ALTER TABLE runs DROP COLUMN retry_backoff_seconds;
DROP INDEX workflow_task_runs_child_idx;
ALTER TABLE workflow_task_runs DROP COLUMN child_run_id, DROP COLUMN failed_attempts;
ALTER TABLE workflow_runs DROP COLUMN parent_run_id;
