-- The operator's per-organization quota overrides (jobs, schedules, queued_runs,
-- revisions_kept); a missing key means the service's default (HAKOBU_QUOTA_*).
ALTER TABLE organizations ADD COLUMN quotas jsonb NOT NULL DEFAULT '{}'::jsonb;
