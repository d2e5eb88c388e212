-- When the platform says a run's task started and stopped (ECS: from the image pull to the
-- stop, what Fargate bills), recorded after the run ends; usage uses them when present
-- and the claim-to-end time otherwise.
ALTER TABLE runs ADD COLUMN task_started_at timestamptz, ADD COLUMN task_stopped_at timestamptz;
-- The watchdog's round over recently ended runs whose task times are not recorded yet.
CREATE INDEX runs_awaiting_task_times_idx ON runs (finished_at)
  WHERE task_stopped_at IS NULL AND task_id IS NOT NULL AND finished_at IS NOT NULL;
