-- Runs: one row per attempt of a job, the queue the dispatcher claims from, and logs.

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    job_id           uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    job_revision     integer NOT NULL,
    status           text NOT NULL CHECK (status IN ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    -- 1 for the first try; a retry is a new row with the next attempt number.
    attempt          integer NOT NULL DEFAULT 1,
    max_attempts     integer NOT NULL DEFAULT 1,
    -- The first attempt's id, shared by its retries.
    root_run_id      uuid NOT NULL,
    trigger          text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'retry', 'rerun', 'backfill')),
    triggered_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    -- (schedule id, fire time) and the like: two replicas can never create the same run.
    idempotency_key  text UNIQUE,
    -- The compiled config with secrets as references, as it was when the run started.
    config_snapshot  text,
    resolved_inputs  jsonb NOT NULL DEFAULT '{}',
    launcher         text,
    task_id          text,
    runner_image     text,
    rows_read        bigint NOT NULL DEFAULT 0,
    rows_written     bigint NOT NULL DEFAULT 0,
    rows_skipped     bigint NOT NULL DEFAULT 0,
    bytes_read       bigint NOT NULL DEFAULT 0,
    error_summary    text,
    -- The incremental state the run produced; copied to the job only on success.
    next_state       jsonb,
    cancel_requested boolean NOT NULL DEFAULT false,
    timeout_seconds  integer NOT NULL,
    queued_at        timestamptz NOT NULL DEFAULT now(),
    -- Retries wait for their backoff.
    not_before       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    heartbeat_at     timestamptz,
    finished_at      timestamptz
);
CREATE INDEX runs_queue_idx ON runs (not_before, queued_at) WHERE status = 'queued';
CREATE INDEX runs_active_idx ON runs (organization_id, job_id) WHERE status IN ('starting', 'running');
CREATE INDEX runs_job_idx ON runs (job_id, queued_at DESC);
CREATE INDEX runs_org_idx ON runs (organization_id, queued_at DESC);

CREATE TABLE run_logs (
    run_id   uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq      bigint GENERATED ALWAYS AS IDENTITY,
    at       timestamptz NOT NULL DEFAULT now(),
    level    text NOT NULL,
    message  text NOT NULL,
    PRIMARY KEY (run_id, seq)
);
