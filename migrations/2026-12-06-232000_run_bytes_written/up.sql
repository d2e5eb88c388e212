-- Bytes a run sent to its destination, beside the bytes it read (the run page, the API).
ALTER TABLE runs ADD COLUMN bytes_written bigint NOT NULL DEFAULT 0;
