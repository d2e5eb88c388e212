ALTER TABLE runs
    DROP COLUMN backfill_id,
    DROP COLUMN scheduled_time,
    DROP COLUMN schedule_id;
DROP TABLE schedules;
