-- Fair dispatch: the dispatcher walks each organization's queue in its own order (oldest
-- first) and stops at its room; it counts a backfill's runs in flight for every queued
-- run of that backfill it passes.
CREATE INDEX runs_org_queue_idx ON runs (organization_id, not_before, queued_at, scheduled_time)
    WHERE status = 'queued';
CREATE INDEX runs_active_backfill_idx ON runs (backfill_id)
    WHERE status IN ('starting', 'running') AND backfill_id IS NOT NULL;

