DROP INDEX workflow_runs_schedule_time_idx;
ALTER TABLE workflow_runs DROP COLUMN scheduled_time;
ALTER TABLE workflow_runs DROP COLUMN schedule_id;
DELETE FROM schedules WHERE workflow_id IS NOT NULL;
DROP INDEX schedules_workflow_idx;
ALTER TABLE schedules DROP CONSTRAINT schedules_target_check;
ALTER TABLE schedules DROP COLUMN workflow_id;
ALTER TABLE schedules ALTER COLUMN job_id SET NOT NULL;
