//! Connection kinds and their field schemas.
//!
//! One schema per kind says, for each field: its label and help text, its input type,
//! whether it is required, whether it is a secret (write-only, encrypted at rest), its
//! default and allowed values. The API validates with it and the web form is generated
//! from it, so both always agree.

use crate::config::{DbEndpoint, DbKind, Secret, SshTunnel, Tls, TlsMode};
use crate::messages::{MessageCode, Text};
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// What a connection connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Postgresql,
    Mysql,
    S3,
    LocalFiles,
    /// Google BigQuery: a destination only (load jobs into a dataset's tables).
    Bigquery,
    /// Snowflake: a destination only (stage and `COPY INTO`).
    Snowflake,
}

impl ConnectionKind {
    /// The database server this kind connects to; `None` for storage kinds.
    pub fn db_kind(self) -> Option<DbKind> {
        match self {
            ConnectionKind::Postgresql => Some(DbKind::Postgresql),
            ConnectionKind::Mysql => Some(DbKind::Mysql),
            _ => None,
        }
    }

    pub const ALL: [ConnectionKind; 6] = [
        ConnectionKind::Postgresql,
        ConnectionKind::Mysql,
        ConnectionKind::S3,
        ConnectionKind::LocalFiles,
        ConnectionKind::Bigquery,
        ConnectionKind::Snowflake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Postgresql => "postgresql",
            ConnectionKind::Mysql => "mysql",
            ConnectionKind::S3 => "s3",
            ConnectionKind::LocalFiles => "local_files",
            ConnectionKind::Bigquery => "bigquery",
            ConnectionKind::Snowflake => "snowflake",
        }
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionKind::Postgresql => "PostgreSQL",
            ConnectionKind::Mysql => "MySQL / MariaDB",
            ConnectionKind::S3 => "Amazon S3 or S3-compatible storage",
            ConnectionKind::LocalFiles => "Files on the Hakobu server",
            ConnectionKind::Bigquery => "Google BigQuery",
            ConnectionKind::Snowflake => "Snowflake",
        }
    }

    /// Whether it holds tables (a database) rather than files.
    pub fn is_database(self) -> bool {
        matches!(self, ConnectionKind::Postgresql | ConnectionKind::Mysql)
    }

    /// A data warehouse Hakobu loads tables into but does not read from in a transfer
    /// (yet): a job may name it as its destination only. It can be browsed and previewed,
    /// and data checks can run on it.
    pub fn is_warehouse(self) -> bool {
        matches!(self, ConnectionKind::Bigquery | ConnectionKind::Snowflake)
    }

    /// Whether a transfer may read from it, as its source: databases and storage, not the
    /// warehouses. The job form lists only these as sources, and validation refuses others.
    pub fn is_source(self) -> bool {
        !self.is_warehouse()
    }

    /// Whether a data check's SQL can run on it: a database or a data warehouse.
    pub fn runs_data_checks(self) -> bool {
        self.is_database() || self.is_warehouse()
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            ConnectionKind::Postgresql => POSTGRESQL_FIELDS,
            ConnectionKind::Mysql => MYSQL_FIELDS,
            ConnectionKind::S3 => S3_FIELDS,
            ConnectionKind::LocalFiles => LOCAL_FILES_FIELDS,
            ConnectionKind::Bigquery => BIGQUERY_FIELDS,
            ConnectionKind::Snowflake => SNOWFLAKE_FIELDS,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|f| f.name == name)
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ConnectionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown connection kind {s:?}; expected one of postgresql, mysql, s3, local_files, bigquery, snowflake"
                )
            })
    }
}

crate::text_sql_enum!(ConnectionKind);

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldInput {
    /// One line of text.
    Text,
    /// Several lines (certificates).
    Multiline,
    /// A whole number within bounds.
    Integer { min: i64, max: i64 },
    /// One of fixed values.
    Choice { options: &'static [&'static str] },
    /// On or off.
    Toggle,
}

/// One field of a connection kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub input: FieldInput,
    pub required: bool,
    /// Write-only: encrypted at rest, never returned, kept when an update leaves it out.
    pub secret: bool,
    /// Used when the field is left empty (as text; `true`/`false` for toggles).
    pub default: Option<&'static str>,
}

const TEXT: FieldInput = FieldInput::Text;
const PORT: FieldInput = FieldInput::Integer { min: 1, max: 65535 };
pub const TLS_MODES: &[&str] = &["disable", "prefer", "require", "verify-ca", "verify-full"];

const fn field(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    input: FieldInput,
    required: bool,
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        help,
        input,
        required,
        secret: false,
        default: None,
    }
}

const fn with_default(mut f: FieldSpec, default: &'static str) -> FieldSpec {
    f.default = Some(default);
    f
}

const fn secret(mut f: FieldSpec) -> FieldSpec {
    f.secret = true;
    f
}

const HOST_HELP: &str =
    "The server's host name or IP address, without a scheme, e.g. db.example.com.";
const TLS_HELP: &str = "How the connection is encrypted. prefer: encrypt when the server offers it, otherwise connect unencrypted. require: always encrypt, without checking the server's certificate. verify-ca: encrypt and check that the certificate is signed by the CA below (or a public authority). verify-full: also check that the certificate names this host; use it over the internet. disable: never encrypt (only on a private network).";
const CA_HELP: &str = "PEM text of the authority that signed the server's certificate (used by verify-ca and verify-full), e.g. your cloud provider's RDS or Cloud SQL CA bundle. Leave empty to trust the public web authorities.";

// The SSH bastion fields both database kinds end with (see `SshTunnel`). Leaving
// `ssh_host` empty connects directly.
const SSH_HOST: FieldSpec = field(
    "ssh_host",
    "SSH bastion host",
    "To reach a database in a private network, the host name or IP address of an SSH server (bastion) in that network that Hakobu signs in to; the database host above is then looked up and reached by the bastion. Leave empty to connect directly.",
    TEXT,
    false,
);
const SSH_PORT: FieldSpec = with_default(
    field(
        "ssh_port",
        "SSH port",
        "The bastion's SSH port.",
        PORT,
        false,
    ),
    "22",
);
const SSH_USER: FieldSpec = field(
    "ssh_user",
    "SSH user",
    "The user Hakobu signs in to the bastion as. It needs only to forward TCP connections (no shell).",
    TEXT,
    false,
);
const SSH_PRIVATE_KEY: FieldSpec = secret(field(
    "ssh_private_key",
    "SSH private key",
    "The private key Hakobu signs in with: ed25519 or RSA, the whole text of the key file from -----BEGIN OPENSSH PRIVATE KEY----- to its END line. Put its public key in the user's authorized_keys on the bastion. Stored encrypted; nobody can read it back.",
    FieldInput::Multiline,
    false,
));
const SSH_PRIVATE_KEY_PASSPHRASE: FieldSpec = secret(field(
    "ssh_private_key_passphrase",
    "SSH key passphrase",
    "Only when the private key is encrypted with a passphrase.",
    TEXT,
    false,
));
const SSH_HOST_KEY_FINGERPRINT: FieldSpec = field(
    "ssh_host_key_fingerprint",
    "SSH host key fingerprint",
    "The bastion's host key as ssh-keygen -l prints it (SHA256:...). Filled in by the first successful connection test; a bastion presenting another key is refused until an editor accepts the new key. You may also paste it from the bastion (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).",
    TEXT,
    false,
);

const POSTGRESQL_FIELDS: &[FieldSpec] = &[
    field("host", "Host", HOST_HELP, TEXT, true),
    with_default(
        field("port", "Port", "The server's port.", PORT, false),
        "5432",
    ),
    field(
        "database",
        "Database",
        "Name of the database to connect to.",
        TEXT,
        true,
    ),
    field(
        "user",
        "User",
        "The database user Hakobu signs in as. A read-only user is enough for a source.",
        TEXT,
        true,
    ),
    secret(field(
        "password",
        "Password",
        "Stored encrypted; nobody can read it back, not even admins.",
        TEXT,
        false,
    )),
    with_default(
        field(
            "schema",
            "Default schema",
            "Schema used when a table name has none.",
            TEXT,
            false,
        ),
        "public",
    ),
    with_default(
        field(
            "tls_mode",
            "TLS",
            TLS_HELP,
            FieldInput::Choice { options: TLS_MODES },
            false,
        ),
        "prefer",
    ),
    field(
        "ca_certificate",
        "CA certificate",
        CA_HELP,
        FieldInput::Multiline,
        false,
    ),
    SSH_HOST,
    SSH_PORT,
    SSH_USER,
    SSH_PRIVATE_KEY,
    SSH_PRIVATE_KEY_PASSPHRASE,
    SSH_HOST_KEY_FINGERPRINT,
];

const MYSQL_FIELDS: &[FieldSpec] = &[
    field("host", "Host", HOST_HELP, TEXT, true),
    with_default(
        field("port", "Port", "The server's port.", PORT, false),
        "3306",
    ),
    field(
        "database",
        "Database",
        "Name of the database to connect to.",
        TEXT,
        true,
    ),
    field(
        "user",
        "User",
        "The database user Hakobu signs in as. A read-only user is enough for a source.",
        TEXT,
        true,
    ),
    secret(field(
        "password",
        "Password",
        "Stored encrypted; nobody can read it back, not even admins.",
        TEXT,
        false,
    )),
    with_default(
        field(
            "tls_mode",
            "TLS",
            TLS_HELP,
            FieldInput::Choice { options: TLS_MODES },
            false,
        ),
        "prefer",
    ),
    field(
        "ca_certificate",
        "CA certificate",
        CA_HELP,
        FieldInput::Multiline,
        false,
    ),
    SSH_HOST,
    SSH_PORT,
    SSH_USER,
    SSH_PRIVATE_KEY,
    SSH_PRIVATE_KEY_PASSPHRASE,
    SSH_HOST_KEY_FINGERPRINT,
];

/// How an S3 connection authenticates, as the `auth` setting names it.
pub const S3_AUTH: &[&str] = &["access_key", "assume_role", "instance_role"];

/// How an S3 connection gets its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Auth {
    /// `access_key`: a long-term key pair the tenant gave.
    AccessKey,
    /// `assume_role`: a role in the tenant's own AWS account (`role_arn`) that Hakobu
    /// assumes with the organization's id as the external id; the engine gets only the
    /// temporary credentials.
    AssumeRole,
    /// `instance_role`: the service's own AWS identity, which reaches every bucket the
    /// service may reach, other tenants' included. Single-tenant installs only: the
    /// operator turns it on (`HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE`).
    Ambient,
}

impl S3Auth {
    /// The authentication of S3 settings (`access_key` when `auth` is left out). An
    /// unknown value reads as `access_key`, which needs keys and so reaches nothing by
    /// itself; saved settings were validated anyway.
    pub fn of(settings: &Map<String, Value>) -> S3Auth {
        match settings.get("auth").and_then(Value::as_str).map(str::trim) {
            Some("assume_role") => S3Auth::AssumeRole,
            Some("instance_role") => S3Auth::Ambient,
            _ => S3Auth::AccessKey,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            S3Auth::AccessKey => "access_key",
            S3Auth::AssumeRole => "assume_role",
            S3Auth::Ambient => "instance_role",
        }
    }
}

/// The temporary credentials Hakobu puts into an `assume_role` connection's config for a
/// run, beside the role: they exist only from the moment the role is assumed.
pub const TEMPORARY_CREDENTIAL_FIELDS: [&str; 3] =
    ["access_key_id", "secret_access_key", "session_token"];

/// Whether setting `name` means anything with the other `settings` of a `kind`
/// connection: an S3 key pair only with `access_key`, a role only with `assume_role`.
/// The form shows only these, and the server keeps only these.
pub fn field_applies(kind: ConnectionKind, settings: &Map<String, Value>, name: &str) -> bool {
    if kind != ConnectionKind::S3 {
        return true;
    }
    match name {
        "access_key_id" | "secret_access_key" => S3Auth::of(settings) == S3Auth::AccessKey,
        "role_arn" => S3Auth::of(settings) == S3Auth::AssumeRole,
        _ => true,
    }
}

/// The settings a kind's saved secrets are bound to: where they are sent (host and port,
/// an S3 endpoint), as whom (the database user, the S3 key id the secret key belongs to)
/// and how the server is recognised (TLS mode and CA, which keep an impostor from
/// receiving the password). A saved secret is only ever sent with these unchanged; an
/// update that changes one without giving the secret again clears it, and a test that
/// changes one must give the secret again. The bucket, database and region are not in
/// the list: the secret goes to the same server as whom it was saved for.
pub fn secret_binding_fields(kind: ConnectionKind) -> &'static [&'static str] {
    match kind {
        ConnectionKind::Postgresql | ConnectionKind::Mysql => &[
            "host",
            "port",
            "user",
            "tls_mode",
            "ca_certificate",
            "ssh_host",
            "ssh_port",
            "ssh_user",
        ],
        ConnectionKind::S3 => &["endpoint", "access_key_id"],
        ConnectionKind::LocalFiles => &[],
        // The key's own `token_uri` travels inside the secret, so it cannot change alone.
        ConnectionKind::Bigquery => &["project", "endpoint"],
        ConnectionKind::Snowflake => &["account", "endpoint", "user"],
    }
}

/// The binding settings (see [`secret_binding_fields`]) whose effective value differs
/// between `before` and `after`, in the kind's field order. A field left out counts as
/// its default (an empty port is port 5432), and `5432` equals `"5432"`, so only a real
/// change counts.
pub fn changed_binding_fields(
    kind: ConnectionKind,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<&'static str> {
    let effective = |settings: &Map<String, Value>, name: &str| -> Option<String> {
        let text = match settings.get(name) {
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        text.filter(|t| !t.is_empty())
            .or_else(|| kind.field(name).and_then(|f| f.default).map(str::to_owned))
    };
    secret_binding_fields(kind)
        .iter()
        .copied()
        .filter(|name| effective(before, name) != effective(after, name))
        .collect()
}

/// Checks an IAM role ARN: `arn:aws:iam::<12-digit account>:role/<path/name>`. The name
/// and each path part are 1 to 64 of IAM's name characters (letters, digits, `+=,.@_-`).
pub fn check_role_arn(arn: &str) -> Result<(), Text> {
    let wrong = || Text::from(MessageCode::RoleArn);
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(wrong)?;
    let (account, resource) = rest.split_once(':').ok_or_else(wrong)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(wrong());
    }
    let path_and_name = resource.strip_prefix("role/").ok_or_else(wrong)?;
    let iam_name = |part: &str| {
        (1..=64).contains(&part.len())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    if path_and_name.len() > 512 || !path_and_name.split('/').all(iam_name) {
        return Err(wrong());
    }
    Ok(())
}

const S3_FIELDS: &[FieldSpec] = &[
    field(
        "bucket",
        "Bucket",
        "Name of the bucket, without s3://.",
        TEXT,
        true,
    ),
    with_default(
        field(
            "region",
            "Region",
            "The bucket's region, e.g. ap-northeast-1.",
            TEXT,
            false,
        ),
        "us-east-1",
    ),
    field(
        "endpoint",
        "Endpoint URL",
        "Only for S3-compatible services (MinIO, Cloud Storage interoperability, ...): their URL, e.g. https://storage.example.com. Leave empty for AWS.",
        TEXT,
        false,
    ),
    with_default(
        field(
            "auth",
            "Authentication",
            "access_key: a key pair below. assume_role: Hakobu assumes a role of your AWS account (below), proving with your organization's id as the external id that it acts for you. instance_role: Hakobu's own role, on single-tenant installs only.",
            FieldInput::Choice { options: S3_AUTH },
            false,
        ),
        "access_key",
    ),
    field(
        "role_arn",
        "Role ARN",
        "The role Hakobu assumes to reach the bucket, e.g. arn:aws:iam::123456789012:role/hakobu-reader. Its trust policy must let Hakobu assume it with your organization's id as the external id.",
        TEXT,
        false,
    ),
    field(
        "access_key_id",
        "Access key ID",
        "The key ID, e.g. AKIA...",
        TEXT,
        false,
    ),
    secret(field(
        "secret_access_key",
        "Secret access key",
        "Stored encrypted; nobody can read it back.",
        TEXT,
        false,
    )),
    with_default(
        field(
            "path_style",
            "Path-style addressing",
            "Turn on for services that need bucket names in the path (most S3-compatible servers).",
            FieldInput::Toggle,
            false,
        ),
        "false",
    ),
];

const LOCAL_FILES_FIELDS: &[FieldSpec] = &[field(
    "directory",
    "Directory",
    "A folder inside your organization's files folder on the Hakobu server, e.g. exports; . is the files folder itself. Paths starting with / or containing .. are refused.",
    TEXT,
    true,
)];

const BIGQUERY_FIELDS: &[FieldSpec] = &[
    field(
        "project",
        "Project ID",
        "The Google Cloud project that runs the load jobs and holds the dataset, e.g. my-analytics-123.",
        TEXT,
        true,
    ),
    field(
        "dataset",
        "Default dataset",
        "The dataset tables are loaded into when a job names none, e.g. raw. A job may name another dataset of the same project.",
        TEXT,
        true,
    ),
    field(
        "location",
        "Location",
        "Where the load jobs run, e.g. US, EU or asia-northeast1. Leave empty to use the dataset's.",
        TEXT,
        false,
    ),
    secret(field(
        "json_keyfile",
        "Service account key",
        "The whole JSON key file of a service account, as downloaded. The account needs the roles BigQuery Data Editor on the dataset and BigQuery Job User on the project. Stored encrypted; nobody can read it back.",
        FieldInput::Multiline,
        true,
    )),
    field(
        "endpoint",
        "API endpoint URL",
        "Only for a private endpoint (Private Service Connect): its URL, e.g. https://bigquery-p.example.com. Leave empty for Google's.",
        TEXT,
        false,
    ),
];

const SNOWFLAKE_FIELDS: &[FieldSpec] = &[
    field(
        "account",
        "Account identifier",
        "Your Snowflake account as it appears in its URL before .snowflakecomputing.com, e.g. myorg-myaccount or xy12345.ap-northeast-1.aws.",
        TEXT,
        true,
    ),
    field(
        "user",
        "User",
        "The Snowflake user Hakobu signs in as. It needs to create and write the destination tables.",
        TEXT,
        true,
    ),
    secret(field(
        "password",
        "Password",
        "The user's password; leave empty when signing in with a private key below. Stored encrypted; nobody can read it back.",
        TEXT,
        false,
    )),
    secret(field(
        "private_key",
        "Private key",
        "For key-pair sign-in instead of a password: the whole text of the user's unencrypted RSA private key, from -----BEGIN PRIVATE KEY----- to its END line. Set its public key on the user (ALTER USER ... SET RSA_PUBLIC_KEY). Stored encrypted; nobody can read it back.",
        FieldInput::Multiline,
        false,
    )),
    field(
        "warehouse",
        "Warehouse",
        "The virtual warehouse that runs the loads. Leave empty to use the user's default warehouse.",
        TEXT,
        false,
    ),
    field(
        "role",
        "Role",
        "The role Hakobu loads as. Leave empty to use the user's default role.",
        TEXT,
        false,
    ),
    field(
        "database",
        "Database",
        "The database the tables are in.",
        TEXT,
        true,
    ),
    with_default(
        field(
            "schema",
            "Default schema",
            "Schema used when a table name has none.",
            TEXT,
            false,
        ),
        "PUBLIC",
    ),
    field(
        "endpoint",
        "Endpoint URL",
        "Only for a private link address: its full URL, e.g. https://myorg-myaccount.privatelink.snowflakecomputing.com. Leave empty to use the account's public address.",
        TEXT,
        false,
    ),
];

/// Longest value of a one-line field.
pub const TEXT_MAX_CHARS: usize = 1000;
/// Longest value of a multi-line field (a certificate chain).
pub const MULTILINE_MAX_CHARS: usize = 20_000;

/// Checks a settings object against the kind's schema.
///
/// `secrets_on_file` names the secrets already stored (an update may leave them out).
/// Field paths are prefixed with `prefix` (e.g. `settings`).
pub fn validate_settings(
    kind: ConnectionKind,
    settings: &Map<String, Value>,
    secrets_on_file: &[&str],
    prefix: &str,
) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let path = |name: &str| format!("{prefix}.{name}");
    for key in settings.keys() {
        if kind.field(key).is_none() {
            let known: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
            errors.push(
                path(key),
                format!(
                    "is not a setting of a {} connection; expected one of {}",
                    kind.as_str(),
                    known.join(", ")
                ),
            );
        }
    }
    for spec in kind.fields() {
        let value = settings.get(spec.name).filter(|v| !is_blank(v));
        let Some(value) = value else {
            let on_file = spec.secret && secrets_on_file.contains(&spec.name);
            if spec.required && !on_file {
                errors.push_message(path(spec.name), MessageCode::Required);
            }
            continue;
        };
        if let Err(message) = check_value(spec, value) {
            errors.push_message(path(spec.name), message);
        }
    }
    cross_field_rules(kind, settings, secrets_on_file, prefix, &mut errors);
    errors
}

fn is_blank(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

fn check_value(spec: &FieldSpec, value: &Value) -> Result<(), Text> {
    match spec.input {
        FieldInput::Text | FieldInput::Multiline => {
            let Some(s) = value.as_str() else {
                return Err("must be text".into());
            };
            let multiline = matches!(spec.input, FieldInput::Multiline);
            let max = if multiline {
                MULTILINE_MAX_CHARS
            } else {
                TEXT_MAX_CHARS
            };
            if s.chars().count() > max {
                return Err(MessageCode::TooLong.with("n", max).into());
            }
            if !multiline && s.chars().any(char::is_control) {
                return Err("must be on one line, without control characters".into());
            }
            match spec.name {
                "host" => check_host(s),
                "endpoint" => check_endpoint(s),
                // Relative to the organization's files folder (`crate::files`); the
                // server resolves it on the disk too, where symbolic links show.
                "directory" => {
                    return crate::files::check_relative(s.trim()).map_err(|r| r.message().into());
                }
                "bucket" => check_bucket(s),
                "ca_certificate" => check_pem_certificate(s),
                "ssh_host" => check_host(s),
                "ssh_private_key" => check_private_key(s),
                "ssh_host_key_fingerprint" => crate::config::check_fingerprint(s.trim()),
                "role_arn" => return check_role_arn(s),
                "json_keyfile" => check_service_account_key(s),
                "private_key" => check_private_key(s),
                "project" => check_warehouse_name(s, "-"),
                "dataset" => check_warehouse_name(s, ""),
                "account" => check_warehouse_name(s, "-."),
                _ => Ok(()),
            }
            .map_err(Text::from)
        }
        FieldInput::Integer { min, max } => {
            let n = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n {
                Some(n) if (min..=max).contains(&n) => Ok(()),
                _ => Err(format!("must be a whole number from {min} to {max}").into()),
            }
        }
        FieldInput::Choice { options } => match value.as_str() {
            Some(s) if options.contains(&s) => Ok(()),
            _ => Err(format!("must be one of {}", options.join(", ")).into()),
        },
        FieldInput::Toggle => match value {
            Value::Bool(_) => Ok(()),
            _ => Err("must be true or false".into()),
        },
    }
}

fn check_host(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.contains("://") || s.contains('/') {
        return Err(
            "must be only a host name or IP address, without a scheme or path, e.g. db.example.com"
                .to_owned(),
        );
    }
    if s.contains(char::is_whitespace) {
        return Err("must not contain spaces".to_owned());
    }
    if s.contains(':') && !s.starts_with('[') && s.matches(':').count() == 1 {
        return Err("must not include the port; put the port in its own field".to_owned());
    }
    Ok(())
}

fn check_endpoint(s: &str) -> Result<(), String> {
    if !(s.starts_with("http://") || s.starts_with("https://")) || s.contains(char::is_whitespace) {
        return Err(
            "must be a URL starting with https:// (or http:// on a private network)".to_owned(),
        );
    }
    Ok(())
}

fn check_bucket(s: &str) -> Result<(), String> {
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if s.starts_with("s3://") {
        return Err("must be only the bucket name, without s3://".to_owned());
    }
    if !(3..=63).contains(&s.len()) || !ok_chars {
        return Err(
            "must be 3 to 63 characters: lower-case letters, digits, dots and hyphens".to_owned(),
        );
    }
    Ok(())
}

/// The shape of PEM certificates; the engine parses them when it connects.
fn check_pem_certificate(s: &str) -> Result<(), String> {
    let begins = s.matches("-----BEGIN CERTIFICATE-----").count();
    if begins == 0 || begins != s.matches("-----END CERTIFICATE-----").count() {
        return Err("must be PEM text: one or more blocks from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----".to_owned());
    }
    Ok(())
}

/// A BigQuery project or dataset, a Snowflake account: letters, digits, `_` and the
/// `extra` characters (what the API paths and generated SQL carry unquoted).
fn check_warehouse_name(s: &str, extra: &str) -> Result<(), String> {
    let s = s.trim();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
    {
        return Ok(());
    }
    let also = match extra {
        "-" => ", underscores and hyphens",
        "-." => ", underscores, hyphens and dots",
        _ => " and underscores",
    };
    Err(format!("must be only letters, digits{also}"))
}

/// The shape of a service account's JSON key: the fields the token exchange signs with.
fn check_service_account_key(s: &str) -> Result<(), String> {
    let wrong = || {
        "must be the whole JSON key file of a service account, from { to }, with its client_email and private_key".to_owned()
    };
    let key: Value = serde_json::from_str(s.trim()).map_err(|_| wrong())?;
    let has = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if !(has("client_email") && has("private_key")) {
        return Err(wrong());
    }
    if let Some(uri) = key.get("token_uri").and_then(Value::as_str)
        && !(uri.starts_with("https://") || uri.starts_with("http://"))
    {
        return Err("has a token_uri that is not an http(s) URL".to_owned());
    }
    Ok(())
}

/// The shape of a private key file; the engine parses it when it connects.
fn check_private_key(s: &str) -> Result<(), String> {
    let s = s.trim();
    if !(s.starts_with("-----BEGIN ") && s.contains("PRIVATE KEY-----") && s.ends_with("-----")) {
        return Err("must be the whole text of a private key file, from -----BEGIN OPENSSH PRIVATE KEY----- (or -----BEGIN RSA PRIVATE KEY-----) to its END line; not the public key".to_owned());
    }
    Ok(())
}

fn cross_field_rules(
    kind: ConnectionKind,
    settings: &Map<String, Value>,
    secrets_on_file: &[&str],
    prefix: &str,
    errors: &mut FieldErrors,
) {
    if kind.is_database() && settings.get("ssh_host").is_some_and(|v| !is_blank(v)) {
        let present = |name: &str| {
            settings.get(name).is_some_and(|v| !is_blank(v)) || secrets_on_file.contains(&name)
        };
        for name in ["ssh_user", "ssh_private_key"] {
            if !present(name) {
                errors.push(
                    format!("{prefix}.{name}"),
                    "is required when an SSH bastion host is given",
                );
            }
        }
    }
    if kind == ConnectionKind::Snowflake {
        let present = |name: &str| {
            settings.get(name).is_some_and(|v| !is_blank(v)) || secrets_on_file.contains(&name)
        };
        if !present("password") && !present("private_key") {
            errors.push(
                format!("{prefix}.password"),
                "is required, or a private key for key-pair sign-in",
            );
        }
    }
    if kind == ConnectionKind::S3 {
        let auth = settings
            .get("auth")
            .and_then(Value::as_str)
            .unwrap_or("access_key");
        let present = |name: &str| {
            settings.get(name).is_some_and(|v| !is_blank(v)) || secrets_on_file.contains(&name)
        };
        if auth == "access_key" {
            for name in ["access_key_id", "secret_access_key"] {
                if !present(name) {
                    errors.push(
                        format!("{prefix}.{name}"),
                        "is required when authentication is access_key",
                    );
                }
            }
        }
        if auth == "assume_role" && !present("role_arn") {
            errors.push(
                format!("{prefix}.role_arn"),
                "is required when authentication is assume_role",
            );
        }
    }
}

/// The database a saved connection of `kind` names, with its password from `secrets`;
/// `None` for storage kinds. The inverse of [`database_settings`].
pub fn database_endpoint(
    kind: ConnectionKind,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Option<DbEndpoint> {
    let db_kind = kind.db_kind()?;
    let get = |name: &str| {
        setting_str(kind, plain, name)
            .map(|s| s.into_owned())
            .unwrap_or_default()
    };
    Some(DbEndpoint {
        kind: db_kind,
        host: get("host"),
        port: get("port").parse().ok(),
        user: get("user"),
        password: secrets
            .get("password")
            .and_then(Value::as_str)
            .map(str::to_owned),
        database: get("database"),
        // Saved settings were validated; an unknown mode fails closed (strictest check).
        tls: Tls::from_form(&get("tls_mode"), Some(get("ca_certificate"))).unwrap_or(Tls {
            mode: TlsMode::VerifyFull,
            ca_certificate: None,
        }),
        ssh: ssh_tunnel(kind, plain, secrets),
    })
}

/// The SSH bastion of a saved database connection, with its key from `secrets`; `None`
/// when `ssh_host` is empty.
pub fn ssh_tunnel(
    kind: ConnectionKind,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Option<SshTunnel> {
    let host = setting_str(kind, plain, "ssh_host")?.into_owned();
    let secret = |name: &str| {
        secrets
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(Secret::from)
    };
    Some(SshTunnel {
        host,
        port: setting_str(kind, plain, "ssh_port").and_then(|p| p.parse().ok()),
        user: setting_str(kind, plain, "ssh_user")
            .map(|s| s.into_owned())
            .unwrap_or_default(),
        private_key: secret("ssh_private_key").unwrap_or_default(),
        private_key_passphrase: secret("ssh_private_key_passphrase"),
        host_key_fingerprint: setting_str(kind, plain, "ssh_host_key_fingerprint")
            .map(|s| s.into_owned()),
    })
}

/// The saved settings and secrets of a connection to `endpoint` (and, for PostgreSQL, a
/// default `schema`). The inverse of [`database_endpoint`].
pub fn database_settings(
    endpoint: DbEndpoint,
    schema: Option<&str>,
) -> (Map<String, Value>, Map<String, Value>) {
    let DbEndpoint {
        kind,
        host,
        port,
        user,
        password,
        database,
        tls,
        ssh,
    } = endpoint;
    let mut settings = Map::new();
    settings.insert("host".into(), Value::from(host));
    if let Some(port) = port {
        settings.insert("port".into(), Value::from(port));
    }
    settings.insert("database".into(), Value::from(database));
    settings.insert("user".into(), Value::from(user));
    settings.insert("tls_mode".into(), Value::from(tls.mode.as_str()));
    if let Some(ca) = tls.ca_certificate {
        settings.insert("ca_certificate".into(), Value::from(ca));
    }
    if let (DbKind::Postgresql, Some(schema)) = (kind, schema) {
        settings.insert("schema".into(), Value::from(schema));
    }
    let mut secrets = Map::new();
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        secrets.insert("password".into(), Value::from(p));
    }
    if let Some(ssh) = ssh {
        settings.insert("ssh_host".into(), Value::from(ssh.host));
        if let Some(port) = ssh.port {
            settings.insert("ssh_port".into(), Value::from(port));
        }
        settings.insert("ssh_user".into(), Value::from(ssh.user));
        if let Some(f) = ssh.host_key_fingerprint {
            settings.insert("ssh_host_key_fingerprint".into(), Value::from(f));
        }
        secrets.insert("ssh_private_key".into(), Value::from(ssh.private_key.0));
        if let Some(p) = ssh.private_key_passphrase {
            secrets.insert("ssh_private_key_passphrase".into(), Value::from(p.0));
        }
    }
    (settings, secrets)
}

/// A setting as text, or the kind's default.
pub fn setting_str<'a>(
    kind: ConnectionKind,
    settings: &'a Map<String, Value>,
    name: &str,
) -> Option<std::borrow::Cow<'a, str>> {
    match settings.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            Some(std::borrow::Cow::Borrowed(s.trim()))
        }
        Some(Value::Number(n)) => Some(std::borrow::Cow::Owned(n.to_string())),
        Some(Value::Bool(b)) => Some(std::borrow::Cow::Owned(b.to_string())),
        _ => kind
            .field(name)
            .and_then(|f| f.default)
            .map(std::borrow::Cow::Borrowed),
    }
}

/// Whether two settings objects mean the same connection, defaults applied.
pub fn same_settings(kind: ConnectionKind, a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    kind.fields()
        .iter()
        .filter(|f| !f.secret)
        .all(|f| setting_str(kind, a, f.name) == setting_str(kind, b, f.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warehouses_are_no_transfer_source_but_run_data_checks() {
        let sources: Vec<_> = ConnectionKind::ALL
            .into_iter()
            .filter(|k| k.is_source())
            .collect();
        assert_eq!(
            sources,
            vec![
                ConnectionKind::Postgresql,
                ConnectionKind::Mysql,
                ConnectionKind::S3,
                ConnectionKind::LocalFiles
            ]
        );
        let checked: Vec<_> = ConnectionKind::ALL
            .into_iter()
            .filter(|k| k.runs_data_checks())
            .collect();
        assert_eq!(
            checked,
            vec![
                ConnectionKind::Postgresql,
                ConnectionKind::Mysql,
                ConnectionKind::Bigquery,
                ConnectionKind::Snowflake
            ]
        );
    }
    use serde_json::json;

    #[test]
    fn only_a_real_change_of_where_or_as_whom_counts_as_a_binding_change() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let pg = ConnectionKind::Postgresql;
        let before = obj(json!({"host": "db.example.com", "database": "a", "user": "u"}));
        // Port left out is the default port; a new database on the same server is fine.
        let same =
            obj(json!({"host": " db.example.com ", "port": 5432, "database": "b", "user": "u"}));
        assert!(changed_binding_fields(pg, &before, &same).is_empty());
        let moved =
            obj(json!({"host": "evil.example", "port": "6543", "database": "a", "user": "u"}));
        assert_eq!(
            changed_binding_fields(pg, &before, &moved),
            ["host", "port"]
        );
        let s3 = ConnectionKind::S3;
        let before = obj(
            json!({"bucket": "b", "endpoint": "https://s3.example.com", "access_key_id": "AK"}),
        );
        let after = obj(
            json!({"bucket": "c", "endpoint": "https://s3.evil.example", "access_key_id": "AK"}),
        );
        assert_eq!(changed_binding_fields(s3, &before, &after), ["endpoint"]);
    }

    #[test]
    fn saved_settings_and_the_endpoint_they_name_round_trip() {
        let plain = json!({"host": "db.example.com", "port": 6432, "database": "sales",
            "user": "loader", "tls_mode": "verify-full", "ca_certificate": "PEM", "schema": "raw"});
        let plain = plain.as_object().unwrap().clone();
        let secrets = json!({"password": "s3cret"}).as_object().unwrap().clone();
        let endpoint = database_endpoint(ConnectionKind::Postgresql, &plain, &secrets).unwrap();
        assert_eq!(endpoint.port(), 6432);
        assert_eq!(endpoint.tls.mode, TlsMode::VerifyFull);
        assert!(
            !format!("{endpoint:?}").contains("s3cret"),
            "Debug hides the password"
        );
        let (again, again_secrets) = database_settings(endpoint, Some("raw"));
        assert_eq!(again, plain);
        assert_eq!(again_secrets, secrets);
        assert!(database_endpoint(ConnectionKind::S3, &plain, &secrets).is_none());
    }

    #[test]
    fn a_bastion_round_trips_and_needs_a_user_and_a_private_key() {
        let plain = json!({"host": "10.0.0.7", "port": 5432, "database": "sales", "user": "loader",
            "tls_mode": "prefer", "ssh_host": "bastion.example.com", "ssh_port": 2222,
            "ssh_user": "tunnel", "ssh_host_key_fingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"});
        let plain = plain.as_object().unwrap().clone();
        let secrets = json!({"ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"});
        let secrets = secrets.as_object().unwrap().clone();
        let endpoint = database_endpoint(ConnectionKind::Postgresql, &plain, &secrets).unwrap();
        let ssh = endpoint.ssh.clone().unwrap();
        assert_eq!(
            (ssh.host.as_str(), ssh.port()),
            ("bastion.example.com", 2222)
        );
        assert!(
            !format!("{endpoint:?}").contains("AAAA"),
            "Debug hides the key"
        );
        let (again, again_secrets) = database_settings(endpoint, None);
        assert_eq!(again, plain);
        assert_eq!(again_secrets, secrets);
        // Without the bastion's user and key; a public key where the private one belongs;
        // a fingerprint in another format.
        let e = errors(
            ConnectionKind::Mysql,
            json!({"host": "db", "database": "d", "user": "u", "ssh_host": "b.example.com"}),
            &[],
        );
        let named: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            named,
            ["settings.ssh_user", "settings.ssh_private_key"],
            "{e:?}"
        );
        let e = errors(
            ConnectionKind::Mysql,
            json!({"host": "db", "database": "d", "user": "u", "ssh_host": "b.example.com",
                "ssh_user": "t", "ssh_private_key": "ssh-ed25519 AAAAC3 me",
                "ssh_host_key_fingerprint": "MD5:aa:bb"}),
            &[],
        );
        let named: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            named,
            [
                "settings.ssh_private_key",
                "settings.ssh_host_key_fingerprint"
            ],
            "{e:?}"
        );
        // Moving the bastion is a binding change: saved secrets do not follow it.
        let moved = json!({"ssh_host": "evil.example"})
            .as_object()
            .unwrap()
            .clone();
        let before = json!({"ssh_host": "bastion.example.com"})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            changed_binding_fields(ConnectionKind::Postgresql, &before, &moved),
            ["ssh_host"]
        );
    }

    fn errors(kind: ConnectionKind, settings: Value, on_file: &[&str]) -> Vec<(String, String)> {
        validate_settings(kind, settings.as_object().unwrap(), on_file, "settings")
            .0
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn a_complete_postgresql_connection_is_valid() {
        let e = errors(
            ConnectionKind::Postgresql,
            json!({"host": "db.example.com", "port": 5432, "database": "shop", "user": "etl", "password": "x", "tls_mode": "verify-full"}),
            &[],
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn each_bad_field_is_named() {
        let e = errors(
            ConnectionKind::Postgresql,
            json!({"host": "postgres://db:5432", "port": 70000, "user": "etl", "tls_mode": "maybe", "colour": "red"}),
            &[],
        );
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.colour",
                "settings.host",
                "settings.port",
                "settings.database",
                "settings.tls_mode"
            ]
        );
        assert_eq!(e[2].1, "must be a whole number from 1 to 65535");
        assert!(
            e[0].1
                .starts_with("is not a setting of a postgresql connection")
        );
        assert!(e[1].1.contains("without a scheme"));
    }

    #[test]
    fn the_ca_certificate_must_be_pem() {
        let e = errors(
            ConnectionKind::Mysql,
            json!({"host": "db", "database": "d", "user": "u", "tls_mode": "verify-ca", "ca_certificate": "MIIB..."}),
            &[],
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "settings.ca_certificate");
        assert!(e[0].1.starts_with("must be PEM text"), "{e:?}");
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let e = errors(
            ConnectionKind::Postgresql,
            json!({"host": "db", "database": "d", "user": "u", "tls_mode": "verify-full", "ca_certificate": pem}),
            &[],
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn host_with_port_is_refused_with_a_hint() {
        let e = errors(
            ConnectionKind::Mysql,
            json!({"host": "db:3306", "database": "d", "user": "u"}),
            &[],
        );
        assert_eq!(
            e,
            [(
                "settings.host".to_owned(),
                "must not include the port; put the port in its own field".to_owned()
            )]
        );
    }

    #[test]
    fn secrets_on_file_satisfy_requirements() {
        let settings = json!({"bucket": "my-bucket", "access_key_id": "AKIA1"});
        assert_eq!(errors(ConnectionKind::S3, settings.clone(), &[]).len(), 1);
        assert!(errors(ConnectionKind::S3, settings, &["secret_access_key"]).is_empty());
        assert!(
            errors(
                ConnectionKind::S3,
                json!({"bucket": "b-1", "auth": "instance_role"}),
                &[]
            )
            .is_empty()
        );
        let e = errors(
            ConnectionKind::S3,
            json!({"bucket": "s3://Bad", "auth": "instance_role"}),
            &[],
        );
        assert_eq!(e[0].0, "settings.bucket");
    }

    #[test]
    fn role_arns_are_checked_and_the_field_named() {
        for good in [
            "arn:aws:iam::123456789012:role/hakobu-reader",
            "arn:aws:iam::000000000001:role/data/etl/Loader+1=a,b.c@d_e",
        ] {
            assert!(check_role_arn(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "hakobu-reader",
            "arn:aws:iam::12345678901:role/short-account",
            "arn:aws:iam::1234567890123:role/long-account",
            "arn:aws:iam::12345678901a:role/letters",
            "arn:aws:iam::123456789012:user/not-a-role",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/path//name",
            "arn:aws:iam::123456789012:role/has space",
            "arn:aws:iam::123456789012:role/tab\tname",
            "arn:aws:sts::123456789012:assumed-role/r/s",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:role/a-name-of-sixty-five-characters-is-one-more-than-iam-allows-xxxxx",
            " arn:aws:iam::123456789012:role/leading-space",
        ] {
            let refused = check_role_arn(bad).expect_err(bad);
            assert_eq!(refused.code().as_deref(), Some("role_arn"), "{bad}");
        }
        let e = errors(
            ConnectionKind::S3,
            json!({"bucket": "b-1", "auth": "assume_role", "role_arn": "arn:aws:iam::1:role/x"}),
            &[],
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "settings.role_arn");
        assert!(
            e[0].1
                .contains("arn:aws:iam::<12-digit account id>:role/<name>")
        );
        let e = errors(
            ConnectionKind::S3,
            json!({"bucket": "b-1", "auth": "assume_role"}),
            &[],
        );
        assert_eq!(
            e,
            [(
                "settings.role_arn".to_owned(),
                "is required when authentication is assume_role".to_owned()
            )]
        );
        assert!(
            errors(
                ConnectionKind::S3,
                json!({"bucket": "b-1", "auth": "assume_role", "role_arn": "arn:aws:iam::123456789012:role/r"}),
                &[],
            )
            .is_empty()
        );
    }

    #[test]
    fn only_the_fields_of_the_chosen_authentication_apply() {
        let role = json!({"auth": "assume_role"}).as_object().unwrap().clone();
        let keys = json!({}).as_object().unwrap().clone();
        let s3 = ConnectionKind::S3;
        assert!(field_applies(s3, &role, "role_arn"));
        assert!(!field_applies(s3, &role, "secret_access_key"));
        assert!(!field_applies(s3, &keys, "role_arn"));
        assert!(field_applies(s3, &keys, "access_key_id"));
        assert!(field_applies(s3, &role, "bucket"));
        assert_eq!(S3Auth::of(&keys), S3Auth::AccessKey);
    }

    #[test]
    fn kinds_parse_with_the_list_of_choices() {
        assert_eq!("s3".parse::<ConnectionKind>(), Ok(ConnectionKind::S3));
        assert!(
            "oracle"
                .parse::<ConnectionKind>()
                .unwrap_err()
                .contains("expected one of postgresql")
        );
        for kind in ConnectionKind::ALL {
            assert!(kind.fields().iter().any(|f| f.required), "{kind}");
        }
    }

    #[test]
    fn settings_equal_up_to_defaults() {
        let a = json!({"host": "h", "database": "d", "user": "u"});
        let b =
            json!({"host": "h", "port": 5432, "database": "d", "user": "u", "schema": "public"});
        let c = json!({"host": "h", "port": 5433, "database": "d", "user": "u"});
        let k = ConnectionKind::Postgresql;
        assert!(same_settings(
            k,
            a.as_object().unwrap(),
            b.as_object().unwrap()
        ));
        assert!(!same_settings(
            k,
            a.as_object().unwrap(),
            c.as_object().unwrap()
        ));
    }

    #[test]
    fn defaults_fill_missing_settings() {
        let s = json!({"port": 6543});
        let s = s.as_object().unwrap();
        assert_eq!(
            setting_str(ConnectionKind::Postgresql, s, "port").unwrap(),
            "6543"
        );
        assert_eq!(
            setting_str(ConnectionKind::Postgresql, s, "schema").unwrap(),
            "public"
        );
        assert_eq!(setting_str(ConnectionKind::Postgresql, s, "host"), None);
    }
}
