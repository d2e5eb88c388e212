-- What an API token may do: read_only tokens only read (GET), full tokens act as their
-- user. Existing tokens keep working as before, hence full.
ALTER TABLE api_tokens
    ADD COLUMN scope text NOT NULL DEFAULT 'full' CHECK (scope IN ('read_only', 'full'));
