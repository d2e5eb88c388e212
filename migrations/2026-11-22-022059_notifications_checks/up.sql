-- After the load: data check results per run, notification destinations and rules, the
-- delivery outbox with its attempts, and password reset links.

-- One row per data check of a run, written by the runner after the load.
CREATE TABLE run_checks (
    run_id    uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position  integer NOT NULL,
    name      text NOT NULL,
    -- passed; failed (the check says `fail`); warned (the check says `warn`).
    outcome   text NOT NULL CHECK (outcome IN ('passed', 'failed', 'warned')),
    -- The value the query returned; NULL for SQL NULL or when the query itself failed.
    actual    text,
    expected  text NOT NULL,
    operator  text NOT NULL,
    -- Why a check did not pass (the query failed, or the comparison did not hold).
    message   text,
    checked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, position)
);

-- Where notifications go. Secret parts (a Slack webhook URL, secret header values) are
-- encrypted like connection secrets and never returned by the API.
CREATE TABLE notification_destinations (
    id                 uuid PRIMARY KEY,
    organization_id    uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name               text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('slack', 'email', 'webhook')),
    settings           jsonb NOT NULL DEFAULT '{}',
    secrets            jsonb NOT NULL DEFAULT '{}',
    -- Email addresses receive nothing until someone follows the confirmation link.
    confirmed_at       timestamptz,
    confirm_token_hash bytea UNIQUE,
    confirm_expires_at timestamptz,
    created_by         uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);

-- When to notify whom. A rule without a job is an organization-wide default: it applies
-- to every job that has no rule of its own for the same event.
CREATE TABLE notification_rules (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    job_id          uuid REFERENCES jobs(id) ON DELETE CASCADE,
    destination_id  uuid NOT NULL REFERENCES notification_destinations(id) ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('success', 'failure', 'rows_below', 'rows_above',
                        'duration_over', 'check_failed', 'check_warned', 'schedule_disabled')),
    -- Rows for rows_below/rows_above, seconds for duration_over.
    threshold       bigint,
    subject         text,
    template        text,
    mentions        jsonb NOT NULL DEFAULT '[]',
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_rules_job_idx ON notification_rules (organization_id, job_id, event);

-- One row per (rule, occurrence): written in the transaction of the state change that
-- caused it, delivered by the notifier. The id travels as the idempotency key.
CREATE TABLE notification_outbox (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    rule_id         uuid REFERENCES notification_rules(id) ON DELETE SET NULL,
    destination_id  uuid NOT NULL REFERENCES notification_destinations(id) ON DELETE CASCADE,
    job_id          uuid REFERENCES jobs(id) ON DELETE CASCADE,
    run_id          uuid REFERENCES runs(id) ON DELETE CASCADE,
    event           text NOT NULL,
    -- e.g. rule:run:event: a second write of the same occurrence is a no-op.
    dedupe_key      text NOT NULL UNIQUE,
    -- The values the message is rendered from (job name, status, rows, ...).
    context         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A worker owns the row until then; after a crash another one takes it over.
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_outbox_run_idx ON notification_outbox (run_id);

CREATE TABLE notification_attempts (
    outbox_id   uuid NOT NULL REFERENCES notification_outbox(id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    succeeded   boolean NOT NULL,
    -- The HTTP status of a webhook answer; NULL for email or no answer.
    http_status integer,
    error       text,
    PRIMARY KEY (outbox_id, attempt)
);

-- Password reset links: single use, expiring, stored as SHA-256 of the token.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
