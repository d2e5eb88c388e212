-- Sub-workflow tasks: a task may start a run of another workflow (its child run), and a
-- child run names the run whose task started it, so the engine can refuse a nesting
-- that loops or goes too deep at run time, whatever the saved workflows became since.
ALTER TABLE workflow_runs
    ADD COLUMN parent_run_id uuid REFERENCES workflow_runs(id) ON DELETE SET NULL;
ALTER TABLE workflow_task_runs
    ADD COLUMN child_run_id uuid REFERENCES workflow_runs(id) ON DELETE SET NULL,
    -- Failed attempts since the task last became pending at a run's start or resume:
    -- the engine's own retries (tasks other than jobs) count them for the backoff.
    ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0;
-- A child run's end wakes the run whose task waits for it.
CREATE INDEX workflow_task_runs_child_idx ON workflow_task_runs (child_run_id)
    WHERE child_run_id IS NOT NULL;
-- A workflow job task's `retry_delay_seconds`: the backoff of its job run's retries
-- instead of the job's own (`retry.backoff_seconds`).
ALTER TABLE runs ADD COLUMN retry_backoff_seconds integer;
