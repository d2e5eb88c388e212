ALTER TABLE runs DROP COLUMN bytes_written;
