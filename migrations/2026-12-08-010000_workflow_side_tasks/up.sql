-- Check and HTTP tasks of workflows (docs/workflows.md): the engine's step marks such a
-- task running and due (`execute_at`); the side-task worker of one replica claims it
-- (`claimed_until`, a lease: a crashed replica's claim expires and another executes the
-- task again), runs it in a probe worker, and records its end. `execution_failures`
-- counts the failed executions of the task's current start, against its `retries`.
ALTER TABLE workflow_task_runs
    ADD COLUMN execute_at timestamptz,
    ADD COLUMN claimed_until timestamptz,
    ADD COLUMN execution_failures integer NOT NULL DEFAULT 0;
CREATE INDEX workflow_task_runs_due_idx ON workflow_task_runs (execute_at)
    WHERE execute_at IS NOT NULL;
-- Write-only values of an HTTP task's secret headers, sealed like connection secrets
-- (`hakobu/workflows/<org>/<workflow>/<key>`); never part of `spec`, so never answered.
ALTER TABLE workflows ADD COLUMN secrets jsonb NOT NULL DEFAULT '{}';
