ALTER TABLE workflows DROP COLUMN secrets;
DROP INDEX workflow_task_runs_due_idx;
ALTER TABLE workflow_task_runs
    DROP COLUMN execution_failures,
    DROP COLUMN claimed_until,
    DROP COLUMN execute_at;
