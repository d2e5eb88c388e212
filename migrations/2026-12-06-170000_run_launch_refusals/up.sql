-- Launches of a run the platform refused for a passing reason (throttling, server
-- errors, no capacity), each followed by the run queued again; the dispatcher fails the
-- run once they reach its bound (runs::dispatch::LAUNCH_RETRY). A row of its own, not a
-- column of runs: a retry of the run starts with none.
CREATE TABLE run_launch_refusals (
    run_id          uuid PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    refusals        integer NOT NULL,
    first_at        timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL
);
