ALTER TABLE runs DROP COLUMN rows_expected, DROP COLUMN bytes_expected;
