-- A schedule runs either a job or a workflow (one schedule model for both): exactly one of
-- `job_id` and `workflow_id` is set.
ALTER TABLE schedules ALTER COLUMN job_id DROP NOT NULL;
ALTER TABLE schedules ADD COLUMN workflow_id uuid REFERENCES workflows(id) ON DELETE CASCADE;
ALTER TABLE schedules ADD CONSTRAINT schedules_target_check
    CHECK ((job_id IS NULL) <> (workflow_id IS NULL));
CREATE INDEX schedules_workflow_idx ON schedules (workflow_id) WHERE workflow_id IS NOT NULL;

-- The schedule and fire time a workflow run was started for: one run per fire time, even
-- if two scheduler rounds both saw it due.
ALTER TABLE workflow_runs ADD COLUMN schedule_id uuid REFERENCES schedules(id) ON DELETE SET NULL;
ALTER TABLE workflow_runs ADD COLUMN scheduled_time timestamptz;
CREATE UNIQUE INDEX workflow_runs_schedule_time_idx ON workflow_runs (schedule_id, scheduled_time)
    WHERE schedule_id IS NOT NULL;
