DELETE FROM connections WHERE kind IN ('bigquery', 'snowflake');
ALTER TABLE connections DROP CONSTRAINT connections_kind_check;
ALTER TABLE connections ADD CONSTRAINT connections_kind_check
    CHECK (kind IN ('postgresql', 'mysql', 's3', 'local_files'));
