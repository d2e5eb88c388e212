-- What a run's source expected to read (a table's statistics, its files' sizes), as its
-- runner reported: the run page shows a percentage and the time left from it.
ALTER TABLE runs ADD COLUMN rows_expected bigint, ADD COLUMN bytes_expected bigint;
