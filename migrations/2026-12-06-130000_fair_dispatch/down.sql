DROP INDEX runs_active_backfill_idx;
DROP INDEX runs_org_queue_idx;
