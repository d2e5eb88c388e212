-- Connections and transfer jobs, owned by a team and shared with others.

CREATE TABLE connections (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- A team that owns connections cannot be deleted until they move or go.
    team_id         uuid NOT NULL REFERENCES teams(id) ON DELETE RESTRICT,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('postgresql', 'mysql', 's3', 'local_files')),
    -- Non-secret settings, as entered.
    settings        jsonb NOT NULL DEFAULT '{}',
    -- Secret settings, each value AES-256-GCM encrypted (`keyid:base64`).
    secrets         jsonb NOT NULL DEFAULT '{}',
    created_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX connections_name_per_org_idx ON connections (organization_id, lower(name));
CREATE INDEX connections_team_idx ON connections (team_id);

CREATE TABLE connection_shares (
    connection_id   uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    team_id         uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),
    PRIMARY KEY (connection_id, team_id)
);
CREATE INDEX connection_shares_team_idx ON connection_shares (team_id);

CREATE TABLE jobs (
    id                        uuid PRIMARY KEY,
    organization_id           uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id                   uuid NOT NULL REFERENCES teams(id) ON DELETE RESTRICT,
    name                      text NOT NULL,
    description               text NOT NULL DEFAULT '',
    labels                    text[] NOT NULL DEFAULT '{}',
    enabled                   boolean NOT NULL DEFAULT true,
    settings                  jsonb NOT NULL,
    -- Denormalized from settings so a connection in use cannot be deleted.
    source_connection_id      uuid NOT NULL REFERENCES connections(id) ON DELETE RESTRICT,
    destination_connection_id uuid NOT NULL REFERENCES connections(id) ON DELETE RESTRICT,
    revision                  integer NOT NULL DEFAULT 1,
    -- `last_record` / `last_path` of the last successful run; advanced only after commit.
    incremental_state         jsonb,
    created_by                uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_name_per_org_idx ON jobs (organization_id, lower(name));
CREATE INDEX jobs_team_idx ON jobs (team_id);
CREATE INDEX jobs_labels_idx ON jobs USING gin (labels);

-- Every saved version of a job, so a run can name the revision it ran and changes can
-- be compared.
CREATE TABLE job_revisions (
    job_id          uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    revision        integer NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            text NOT NULL,
    description     text NOT NULL,
    labels          text[] NOT NULL,
    settings        jsonb NOT NULL,
    created_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, revision)
);

CREATE TABLE job_shares (
    job_id          uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    team_id         uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),
    PRIMARY KEY (job_id, team_id)
);
CREATE INDEX job_shares_team_idx ON job_shares (team_id);
