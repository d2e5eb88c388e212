-- A notification rule may target a workflow (its runs' success and failure) instead of a
-- job: one rule model for both. A rule with neither is an organization-wide default for
-- jobs.
ALTER TABLE notification_rules
    ADD COLUMN workflow_id uuid REFERENCES workflows(id) ON DELETE CASCADE,
    ADD CONSTRAINT notification_rules_one_target CHECK (job_id IS NULL OR workflow_id IS NULL),
    -- A workflow run ends succeeded or failed: the other events do not apply to it.
    ADD CONSTRAINT notification_rules_workflow_events
        CHECK (workflow_id IS NULL OR event IN ('success', 'failure'));
CREATE INDEX notification_rules_workflow_idx ON notification_rules (organization_id, workflow_id, event)
    WHERE workflow_id IS NOT NULL;
