-- An organization admin may run fewer transfers at once than the service's ceiling
-- (HAKOBU_MAX_RUNS_PER_ORG); NULL means the ceiling applies.
ALTER TABLE organizations
    ADD COLUMN max_concurrent_runs bigint CHECK (max_concurrent_runs IS NULL OR max_concurrent_runs > 0);
