DELETE FROM runs WHERE trigger = 'workflow';
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('manual', 'schedule', 'retry', 'rerun', 'backfill'));
DROP TABLE workflow_task_runs;
DROP TABLE workflow_runs;
DROP TABLE workflows;
