ALTER TABLE organizations DROP COLUMN quotas;
