-- Schedules of jobs, and what a run knows about why and as of when it runs.

CREATE TABLE schedules (
    id                   uuid PRIMARY KEY,
    organization_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    job_id               uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    -- hakobu_core::schedule::ScheduleSettings: recurrence, time zone, catch-up, failure limit.
    settings             jsonb NOT NULL,
    enabled              boolean NOT NULL DEFAULT true,
    -- The next time the scheduler creates a run; recomputed on every change.
    next_fire_at         timestamptz,
    last_fired_at        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    -- Why the schedule turned itself off (too many failures in a row).
    disabled_reason      text,
    created_by           uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE enabled;
CREATE INDEX schedules_job_idx ON schedules (job_id);
CREATE INDEX schedules_org_idx ON schedules (organization_id);

ALTER TABLE runs
    ADD COLUMN schedule_id uuid REFERENCES schedules(id) ON DELETE SET NULL,
    -- When the run was due: the fire time, a manual run's "as of", a backfill's period.
    ADD COLUMN scheduled_time timestamptz,
    -- Runs of one backfill share this id; at most `backfill_parallelism` (in
    -- resolved_inputs) of them run at once.
    ADD COLUMN backfill_id uuid;
CREATE INDEX runs_backfill_idx ON runs (backfill_id) WHERE backfill_id IS NOT NULL;
