-- Workflows: a graph of tasks (run a job, wait, notify) kept as a JSON document
-- (`hakobu_core::workflow::WorkflowSpec`), and the state machine of their runs: one row per
-- workflow run and one per task of it. Every state the engine needs is here, so a restart
-- of the app (or another replica) carries on where the last step left off.
CREATE TABLE workflows (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id         uuid NOT NULL REFERENCES teams(id) ON DELETE RESTRICT,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    spec            jsonb NOT NULL,
    created_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workflows_name_per_org_idx ON workflows (organization_id, lower(name));

CREATE TABLE workflow_runs (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workflow_id      uuid NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    -- The workflow's spec when the run started: editing the workflow changes no run.
    spec             jsonb NOT NULL,
    status           text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    -- 1, then one more per resume.
    attempt          integer NOT NULL DEFAULT 1,
    trigger          text NOT NULL,
    triggered_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    -- What every job run of the workflow starts with (`as_of`).
    resolved_inputs  jsonb NOT NULL DEFAULT '{}',
    -- When the engine should look at the run next (a job run ended, a wait is over, the
    -- periodic check); NULL once it has ended.
    wake_at          timestamptz,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz
);
CREATE INDEX workflow_runs_wake_idx ON workflow_runs (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX workflow_runs_workflow_idx ON workflow_runs (workflow_id, created_at DESC);

CREATE TABLE workflow_task_runs (
    workflow_run_id     uuid NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    organization_id     uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    task_name           text NOT NULL,
    state               text NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    -- A skip caused by a failure upstream (a resume runs the task again).
    skipped_for_failure boolean NOT NULL DEFAULT false,
    -- The first attempt of the job run the task started (its retries share it as
    -- `root_run_id`).
    run_id              uuid REFERENCES runs(id) ON DELETE SET NULL,
    -- How many times the task was started (resumes start it again).
    starts              integer NOT NULL DEFAULT 0,
    -- A wait task's end.
    wait_until          timestamptz,
    message             text,
    started_at          timestamptz,
    ended_at            timestamptz,
    PRIMARY KEY (workflow_run_id, task_name)
);
-- The hook at a run's end finds its task by the run.
CREATE UNIQUE INDEX workflow_task_runs_run_idx ON workflow_task_runs (run_id) WHERE run_id IS NOT NULL;

-- A job run a workflow task started.
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('manual', 'schedule', 'retry', 'rerun', 'backfill', 'workflow'));
