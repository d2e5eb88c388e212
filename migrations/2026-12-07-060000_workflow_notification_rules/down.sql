DROP INDEX notification_rules_workflow_idx;
ALTER TABLE notification_rules
    DROP CONSTRAINT notification_rules_workflow_events,
    DROP CONSTRAINT notification_rules_one_target,
    DROP COLUMN workflow_id;
