DROP INDEX runs_org_finished_idx;
ALTER TABLE runs DROP COLUMN task_vcpu, DROP COLUMN task_memory_mb;
