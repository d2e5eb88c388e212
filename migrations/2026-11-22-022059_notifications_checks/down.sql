DROP TABLE password_resets;
DROP TABLE notification_attempts;
DROP TABLE notification_outbox;
DROP TABLE notification_rules;
DROP TABLE notification_destinations;
DROP TABLE run_checks;
