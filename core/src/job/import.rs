//! Embulk import: an `in:`/`filters:`/`out:` config mapped back to job settings and the
//! connections they need, the inverse of [`super::compile`]. Any field a job cannot
//! express is refused by name (`config.in.fetch_rows`) rather than silently dropped.
//!
//! Pure: the app finds or creates the connections and saves the job.

use crate::config::{
    BigqueryOutput, Config, ConfigError, DbEndpoint, DbKind, FilterConfig, FormatterConfig,
    InputConfig, JdbcInput, JdbcOutput, MaskType, OutputConfig, ParserConfig, Secret,
    SnowflakeOutput,
};
use crate::connection::{ConnectionKind, S3Auth, database_settings};
use crate::ids::ConnectionId;
use crate::job::{
    ColumnChange, DestinationSettings, FileColumn, FileDestination, FileFormat, FileSource,
    MaskMethod, MaskRule, SourceSettings, TableRef,
};
use crate::validation::FieldErrors;
use serde_json::{Map, Value, json};

/// What an Embulk config becomes: the connections it needs and the job's settings, whose
/// connection ids are placeholders until the connections are found or created.
pub struct ImportedJob {
    pub source_connection: WantedConnection,
    pub destination_connection: WantedConnection,
    pub source: SourceSettings,
    pub destination: DestinationSettings,
    pub columns: Vec<ColumnChange>,
    pub masks: Vec<MaskRule>,
    /// Where Embulk stopped (`in.last_record` of an incremental table read, `in.last_path`
    /// of files), as the job's incremental state (`{"last_record": [...]}` /
    /// `{"last_path": "..."}`): its first managed run continues from there.
    pub incremental_state: Option<Value>,
}

/// Maps `config` to job settings; every field jobs cannot express is an error at its
/// place in the config (`config.out.mode`).
pub fn settings_from_config(config: &Config) -> Result<ImportedJob, FieldErrors> {
    let mut errors = FieldErrors::default();
    let (source_connection, source) = map_input(&config.input, &mut errors);
    let (destination_connection, destination) = map_output(&config.out, &mut errors);
    let (columns, masks) = map_filters(&config.filters, &mut errors);
    refuse_exec(&config.exec, &mut errors);
    let incremental_state = incremental_state(&config.input, &mut errors);
    errors.into_result()?;
    Ok(ImportedJob {
        source_connection,
        destination_connection,
        source,
        destination,
        columns,
        masks,
        incremental_state,
    })
}

/// `exec:` tunes how one run executes (`max_threads`, `min_output_tasks`); a job has no
/// place for it, so each key given is refused by name.
fn refuse_exec(exec: &crate::config::ExecConfig, errors: &mut FieldErrors) {
    if let Ok(Value::Object(map)) = serde_json::to_value(exec) {
        for key in map.keys() {
            errors.push(
                format!("config.exec.{key}"),
                "jobs choose their own parallelism (the job's resources); remove exec from the config",
            );
        }
    }
}

/// The job's incremental state from where Embulk stopped. `last_record` counts only in an
/// incremental read (Embulk ignores it otherwise); `last_path` makes Embulk skip files
/// up to it, which a job does only when incremental, so it is refused with
/// `incremental: false`.
fn incremental_state(input: &InputConfig, errors: &mut FieldErrors) -> Option<Value> {
    match input {
        InputConfig::Postgresql(j) | InputConfig::Mysql(j) => {
            // (Its length against incremental_columns is checked when the config is read.)
            let last = j
                .last_record
                .as_ref()
                .filter(|_| j.incremental == Some(true))?;
            Some(json!({"last_record": last}))
        }
        InputConfig::S3(s) => path_state(s.last_path.as_deref(), s.incremental, errors),
        InputConfig::File(f) => path_state(f.last_path.as_deref(), f.incremental, errors),
    }
}

fn path_state(
    last_path: Option<&str>,
    incremental: Option<bool>,
    errors: &mut FieldErrors,
) -> Option<Value> {
    let last = last_path?;
    if incremental == Some(false) {
        errors.push(
            "config.in.last_path",
            "a job starts after last_path only when it is incremental; set incremental: true, or remove last_path to read every file",
        );
        return None;
    }
    Some(json!({"last_path": last}))
}

/// A connection the import needs: kind, plain settings, secrets in clear (so no `Debug`).
pub struct WantedConnection {
    pub kind: ConnectionKind,
    pub settings: Map<String, Value>,
    pub secrets: Map<String, Value>,
}

/// Fields of a section Hakobu jobs express; any other field present is refused by name
/// rather than silently dropped.
fn only_fields<T: serde::Serialize>(
    section: &T,
    path: &str,
    allowed: &[&str],
    errors: &mut FieldErrors,
) {
    if let Ok(Value::Object(map)) = serde_json::to_value(section) {
        for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            errors.push(
                format!("config.{path}.{key}"),
                "is not supported by Hakobu jobs yet; remove it or set it up in the job form",
            );
        }
    }
}

/// What a saved database connection holds. `connect_timeout`, `socket_timeout`,
/// `fetch_rows` and the driver `options` have no place in a job or a connection, so they
/// are refused by name (a job's own limit is its timeout); `schema` is PostgreSQL's only
/// (MySQL reads the connection's database).
const JDBC_CONNECTION_FIELDS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "database",
    "ssl",
    "ssl_mode",
    "ssl_ca_certificate",
];

/// The connection a `postgresql` / `mysql` section (at `path`) names; a section whose
/// encryption settings do not resolve is an error there (and wants no connection).
fn jdbc_wanted(
    kind: ConnectionKind,
    endpoint: Result<DbEndpoint, ConfigError>,
    schema: Option<&str>,
    path: &str,
    errors: &mut FieldErrors,
) -> WantedConnection {
    match endpoint {
        Ok(e) => {
            let (settings, secrets) = database_settings(e, schema);
            WantedConnection {
                kind,
                settings,
                secrets,
            }
        }
        Err(e) => {
            errors.push(format!("config.{path}.{}", e.path), e.message);
            WantedConnection {
                kind,
                settings: Map::new(),
                secrets: Map::new(),
            }
        }
    }
}

/// What an `s3` section says about credentials.
struct S3Credentials<'a> {
    auth_method: Option<&'a str>,
    access_key_id: Option<&'a str>,
    secret_access_key: Option<&'a str>,
    session_token: Option<&'a str>,
    role_arn: Option<&'a str>,
}

/// The connection an `s3` section (at `path`) names. A `role_arn` (Hakobu's own export
/// writes one) becomes `assume_role`, whatever temporary credentials stand beside it, since
/// the app assumes the role anew for each run; a long-term key pair becomes `access_key`;
/// temporary credentials without their role are refused, since they expire within hours.
/// No credentials are refused, never turned into a role silently: only `auth_method:
/// instance` / `default` ask for the machine's own role (`instance_role`), which the app
/// accepts only where the operator turned it on.
fn s3_connection(
    bucket: &str,
    region: Option<&str>,
    endpoint: Option<&str>,
    credentials: S3Credentials<'_>,
    path: &str,
    errors: &mut FieldErrors,
) -> WantedConnection {
    let mut settings = Map::new();
    settings.insert("bucket".into(), json!(bucket));
    if let Some(r) = region {
        settings.insert("region".into(), json!(r));
    }
    if let Some(e) = endpoint {
        settings.insert("endpoint".into(), json!(e));
    }
    let mut secrets = Map::new();
    let S3Credentials {
        auth_method,
        access_key_id,
        secret_access_key,
        session_token,
        role_arn,
    } = credentials;
    match (role_arn, access_key_id, secret_access_key) {
        (Some(role), _, _) => {
            settings.insert("auth".into(), json!(S3Auth::AssumeRole.as_str()));
            settings.insert("role_arn".into(), json!(role));
        }
        (None, Some(_), Some(_)) if session_token.is_some() => {
            errors.push(
                format!("config.{path}.session_token"),
                "temporary credentials expire within hours; give role_arn, the role for Hakobu to assume before each run, or a long-term access key pair",
            );
        }
        (None, Some(id), Some(secret)) => {
            settings.insert("auth".into(), json!(S3Auth::AccessKey.as_str()));
            settings.insert("access_key_id".into(), json!(id));
            secrets.insert("secret_access_key".into(), json!(secret));
        }
        // Asked for by name: the role of the machine Hakobu runs on.
        _ if matches!(auth_method, Some("instance" | "default")) => {
            settings.insert("auth".into(), json!(S3Auth::Ambient.as_str()));
        }
        _ => {
            errors.push(
                format!("config.{path}.access_key_id"),
                "no credentials given: add access_key_id and secret_access_key, or role_arn (a role of your AWS account for Hakobu to assume); Hakobu does not fall back to a role of its own",
            );
        }
    }
    WantedConnection {
        kind: ConnectionKind::S3,
        settings,
        secrets,
    }
}

/// `/data/in/orders_` -> (`/data/in`, `orders_`).
fn map_input(input: &InputConfig, errors: &mut FieldErrors) -> (WantedConnection, SourceSettings) {
    let placeholder = ConnectionId(uuid::Uuid::nil());
    let mut source = SourceSettings {
        connection_id: placeholder,
        table: None,
        query: None,
        statements: None,
        filter: None,
        files: None,
        incremental: false,
        incremental_columns: Vec::new(),
    };
    let wanted = match input {
        InputConfig::Postgresql(j) | InputConfig::Mysql(j) => {
            let (kind, db) = if matches!(input, InputConfig::Postgresql(_)) {
                (ConnectionKind::Postgresql, DbKind::Postgresql)
            } else {
                (ConnectionKind::Mysql, DbKind::Mysql)
            };
            let mut allowed = JDBC_CONNECTION_FIELDS.to_vec();
            if db == DbKind::Postgresql {
                allowed.push("schema");
            }
            allowed.extend([
                "table",
                "query",
                "where",
                "incremental",
                "incremental_columns",
                "last_record",
            ]);
            only_fields(j, "in", &allowed, errors);
            let JdbcInput {
                table,
                query,
                where_,
                incremental,
                incremental_columns,
                ..
            } = j;
            source.table = table.as_ref().map(|name| TableRef {
                schema: None,
                name: name.clone(),
            });
            source.query = query.clone();
            source.filter = where_.clone();
            source.incremental = incremental.unwrap_or(false);
            source.incremental_columns = incremental_columns.clone();
            jdbc_wanted(kind, j.endpoint(db), j.schema.as_deref(), "in", errors)
        }
        InputConfig::S3(s) => {
            only_fields(
                s,
                "in",
                &[
                    "bucket",
                    "path_prefix",
                    "endpoint",
                    "region",
                    "access_key_id",
                    "secret_access_key",
                    "session_token",
                    "role_arn",
                    "auth_method",
                    "path_match_pattern",
                    "last_path",
                    "incremental",
                    "decoders",
                    "parser",
                ],
                errors,
            );
            source.files = Some(map_parser(
                &s.parser,
                &s.path_prefix,
                s.path_match_pattern.clone(),
                gzip_only(&s.decoders, "in.decoders", errors),
                errors,
            ));
            // Embulk's file inputs are incremental by default; a `last_path` only means
            // something to a job that is.
            source.incremental = s.incremental.unwrap_or(s.last_path.is_some());
            s3_connection(
                &s.bucket,
                s.region.as_deref(),
                s.endpoint.as_deref(),
                S3Credentials {
                    auth_method: s.auth_method.as_deref(),
                    access_key_id: s.access_key_id.as_ref().map(Secret::expose),
                    secret_access_key: s.secret_access_key.as_ref().map(Secret::expose),
                    session_token: s.session_token.as_ref().map(Secret::expose),
                    role_arn: s.role_arn.as_deref(),
                },
                "in",
                errors,
            )
        }
        InputConfig::File(f) => {
            only_fields(
                f,
                "in",
                &[
                    "path_prefix",
                    "path_match_pattern",
                    "last_path",
                    "incremental",
                    "decoders",
                    "parser",
                ],
                errors,
            );
            let (dir, prefix) = crate::files::split(&f.path_prefix);
            source.files = Some(map_parser(
                &f.parser,
                &prefix,
                f.path_match_pattern.clone(),
                gzip_only(&f.decoders, "in.decoders", errors),
                errors,
            ));
            source.incremental = f.incremental.unwrap_or(f.last_path.is_some());
            WantedConnection {
                kind: ConnectionKind::LocalFiles,
                settings: json!({"directory": dir})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                secrets: Map::new(),
            }
        }
    };
    (wanted, source)
}

/// Whether a job's files are gzip-compressed: jobs hold plain or gzip files; another codec
/// (bzip2), or two, is refused by name rather than read as gzip.
fn gzip_only(codecs: &[crate::config::CodecConfig], field: &str, errors: &mut FieldErrors) -> bool {
    match codecs {
        [] => false,
        [only] if only.type_ == crate::config::Codec::Gzip => true,
        _ => {
            errors.push(
                field,
                "jobs read and write plain or gzip files; a config with bzip2 (or several codecs) runs with the runner's command line, not as a job",
            );
            false
        }
    }
}

fn map_parser(
    parser: &ParserConfig,
    prefix: &str,
    pattern: Option<String>,
    gzip: bool,
    errors: &mut FieldErrors,
) -> FileSource {
    let (mut quote, mut skip_header_lines) = (None, 0);
    let (format, columns, header_line, delimiter) = match parser {
        ParserConfig::Csv(c) => {
            only_fields(
                c,
                "in.parser",
                &["delimiter", "quote", "skip_header_lines", "columns"],
                errors,
            );
            // The first skipped line is the header; any before it are the job's own skip.
            let skipped = c.skip_header_lines.unwrap_or(0);
            skip_header_lines = skipped.saturating_sub(1);
            quote = c.quote.clone().filter(|q| q != "\"");
            (
                FileFormat::Csv,
                &c.columns,
                skipped > 0,
                c.delimiter.clone().unwrap_or_else(|| ",".to_owned()),
            )
        }
        ParserConfig::Jsonl(j) => {
            only_fields(j, "in.parser", &["columns"], errors);
            (FileFormat::Jsonl, &j.columns, false, ",".to_owned())
        }
        ParserConfig::Json(j) => {
            errors.push(
                "config.in.parser.type",
                "json (a stream of JSON values) is not supported by Hakobu jobs yet; jobs read JSON Lines (jsonl), one object per line",
            );
            (FileFormat::Jsonl, &j.columns, false, ",".to_owned())
        }
        ParserConfig::Parquet(p) => (FileFormat::Parquet, &p.columns, false, ",".to_owned()),
    };
    FileSource {
        path_prefix: prefix.to_owned(),
        path_match_pattern: pattern,
        format,
        gzip,
        header_line,
        delimiter,
        quote,
        skip_header_lines,
        columns: columns
            .iter()
            .map(|c| FileColumn {
                name: c.name.clone(),
                type_: c.type_,
                format: c.format.clone(),
            })
            .collect(),
    }
}

/// The BigQuery connection an `out: {type: bigquery}` section names. Only a service
/// account key given as its JSON content is kept: a saved connection has no file to read
/// a key path from, and an access token (`auth_method: access_token`) expires.
fn bigquery_connection(b: &BigqueryOutput, errors: &mut FieldErrors) -> WantedConnection {
    let mut settings = Map::new();
    settings.insert("project".into(), json!(b.project));
    settings.insert("dataset".into(), json!(b.dataset));
    for (name, value) in [("location", &b.location), ("endpoint", &b.endpoint)] {
        if let Some(v) = value {
            settings.insert(name.into(), json!(v));
        }
    }
    let mut secrets = Map::new();
    match b.auth_method.as_deref() {
        None | Some("service_account" | "json_key") => match &b.json_keyfile {
            Some(key) if key.expose().trim_start().starts_with('{') => {
                secrets.insert("json_keyfile".into(), json!(key.expose()));
            }
            _ => errors.push(
                "config.out.json_keyfile",
                "must be the service account key's JSON content (a saved connection cannot read a file path); paste the key into the config or add it to the connection after importing",
            ),
        },
        Some(other) => errors.push(
            "config.out.auth_method",
            format!(
                "{other} cannot be saved in a connection; use a service account key (auth_method: service_account with json_keyfile)"
            ),
        ),
    }
    WantedConnection {
        kind: ConnectionKind::Bigquery,
        settings,
        secrets,
    }
}

/// The Snowflake connection an `out: {type: snowflake}` section names: the account from
/// `account` or the first label of `host`; a host that is not the account's own
/// `<account>.snowflakecomputing.com` (a private link name) becomes the endpoint.
fn snowflake_connection(f: &SnowflakeOutput) -> WantedConnection {
    let account = f.account_name();
    let mut settings = Map::new();
    settings.insert("account".into(), json!(account));
    for (name, value) in [
        ("user", Some(&f.user)),
        ("database", Some(&f.database)),
        ("schema", f.schema.as_ref()),
        ("warehouse", f.warehouse.as_ref()),
        ("role", f.role.as_ref()),
        ("endpoint", f.endpoint.as_ref()),
    ] {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            settings.insert(name.into(), json!(v));
        }
    }
    if let Some(host) = f.host.as_deref().map(str::trim).filter(|h| !h.is_empty())
        && f.endpoint.is_none()
        && !host.eq_ignore_ascii_case(&format!("{account}.snowflakecomputing.com"))
    {
        settings.insert("endpoint".into(), json!(format!("https://{host}")));
    }
    let mut secrets = Map::new();
    for (name, value) in [("password", &f.password), ("private_key", &f.private_key)] {
        if let Some(v) = value.as_ref().filter(|v| !v.expose().is_empty()) {
            secrets.insert(name.into(), json!(v.expose()));
        }
    }
    WantedConnection {
        kind: ConnectionKind::Snowflake,
        settings,
        secrets,
    }
}

fn map_output(
    out: &OutputConfig,
    errors: &mut FieldErrors,
) -> (WantedConnection, DestinationSettings) {
    let placeholder = ConnectionId(uuid::Uuid::nil());
    let mut destination = DestinationSettings {
        connection_id: placeholder,
        table: None,
        mode: crate::config::Mode::Insert,
        merge_keys: Vec::new(),
        delete_where: None,
        files: None,
    };
    let wanted = match out {
        OutputConfig::Postgresql(j) | OutputConfig::Mysql(j) => {
            let (kind, db) = if matches!(out, OutputConfig::Postgresql(_)) {
                (ConnectionKind::Postgresql, DbKind::Postgresql)
            } else {
                (ConnectionKind::Mysql, DbKind::Mysql)
            };
            let mut allowed = JDBC_CONNECTION_FIELDS.to_vec();
            if db == DbKind::Postgresql {
                allowed.push("schema");
            }
            allowed.extend(["table", "mode", "merge_keys", "delete_where"]);
            only_fields(j, "out", &allowed, errors);
            let JdbcOutput {
                table, merge_keys, ..
            } = j;
            destination.table = Some(TableRef {
                schema: None,
                name: table.clone(),
            });
            destination.mode = j.mode();
            destination.merge_keys = merge_keys.clone();
            destination.delete_where = j.delete_where.clone();
            jdbc_wanted(kind, j.endpoint(db), j.schema.as_deref(), "out", errors)
        }
        OutputConfig::S3(s) => {
            only_fields(
                s,
                "out",
                &[
                    "bucket",
                    "path_prefix",
                    "file_ext",
                    "endpoint",
                    "region",
                    "access_key_id",
                    "secret_access_key",
                    "session_token",
                    "role_arn",
                    "auth_method",
                    "encoders",
                    "formatter",
                ],
                errors,
            );
            destination.files = Some(map_formatter(
                &s.formatter,
                &s.path_prefix,
                gzip_only(&s.encoders, "out.encoders", errors),
                errors,
            ));
            s3_connection(
                &s.bucket,
                s.region.as_deref(),
                s.endpoint.as_deref(),
                S3Credentials {
                    auth_method: s.auth_method.as_deref(),
                    access_key_id: s.access_key_id.as_ref().map(Secret::expose),
                    secret_access_key: s.secret_access_key.as_ref().map(Secret::expose),
                    session_token: s.session_token.as_ref().map(Secret::expose),
                    role_arn: s.role_arn.as_deref(),
                },
                "out",
                errors,
            )
        }
        OutputConfig::Snowflake(f) => {
            only_fields(
                f,
                "out",
                &[
                    "account",
                    "host",
                    "endpoint",
                    "user",
                    "password",
                    "private_key",
                    "warehouse",
                    "role",
                    "database",
                    "schema",
                    "table",
                    "mode",
                    "merge_keys",
                ],
                errors,
            );
            destination.table = Some(TableRef {
                schema: None,
                name: f.table.clone(),
            });
            destination.mode = f.mode();
            destination.merge_keys = f.merge_keys.clone();
            snowflake_connection(f)
        }
        OutputConfig::Stdout(_) => {
            errors.push(
                "config.out.type",
                "stdout prints to the runner's terminal, which a managed job does not have; choose a destination (a database, files or S3) and import again",
            );
            WantedConnection {
                kind: ConnectionKind::LocalFiles,
                settings: Map::new(),
                secrets: Map::new(),
            }
        }
        OutputConfig::Bigquery(b) => {
            only_fields(
                b,
                "out",
                &[
                    "project",
                    "dataset",
                    "table",
                    "mode",
                    "merge_keys",
                    "auth_method",
                    "json_keyfile",
                    "location",
                    "endpoint",
                    // What a job does anyway, so commonly written in real configs.
                    "auto_create_table",
                    "source_format",
                ],
                errors,
            );
            if b.auto_create_table == Some(false) {
                errors.push(
                    "config.out.auto_create_table",
                    "a job creates a missing table from the source's columns; remove auto_create_table: false",
                );
            }
            destination.table = Some(TableRef {
                schema: None,
                name: b.table.clone(),
            });
            destination.mode = super::mode_of_bigquery(b.mode());
            destination.merge_keys = b.merge_keys.clone();
            bigquery_connection(b, errors)
        }
        OutputConfig::File(f) => {
            only_fields(
                f,
                "out",
                &["path_prefix", "file_ext", "encoders", "formatter"],
                errors,
            );
            let (dir, prefix) = crate::files::split(&f.path_prefix);
            destination.files = Some(map_formatter(
                &f.formatter,
                &prefix,
                gzip_only(&f.encoders, "out.encoders", errors),
                errors,
            ));
            WantedConnection {
                kind: ConnectionKind::LocalFiles,
                settings: json!({"directory": dir})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                secrets: Map::new(),
            }
        }
    };
    (wanted, destination)
}

fn map_formatter(
    formatter: &FormatterConfig,
    prefix: &str,
    gzip: bool,
    errors: &mut FieldErrors,
) -> FileDestination {
    match formatter {
        FormatterConfig::Csv(c) => {
            only_fields(c, "out.formatter", &["header_line", "delimiter"], errors);
            FileDestination {
                path_prefix: prefix.to_owned(),
                format: FileFormat::Csv,
                gzip,
                header_line: c.header_line.unwrap_or(true),
                delimiter: c.delimiter.clone().unwrap_or_else(|| ",".to_owned()),
            }
        }
        FormatterConfig::Jsonl(j) => {
            only_fields(j, "out.formatter", &[], errors);
            FileDestination {
                path_prefix: prefix.to_owned(),
                format: FileFormat::Jsonl,
                gzip,
                header_line: true,
                delimiter: ",".to_owned(),
            }
        }
        FormatterConfig::Parquet(p) => {
            only_fields(p, "out.formatter", &[], errors);
            FileDestination {
                path_prefix: prefix.to_owned(),
                format: FileFormat::Parquet,
                gzip,
                header_line: true,
                delimiter: ",".to_owned(),
            }
        }
    }
}

fn map_filters(
    filters: &[FilterConfig],
    errors: &mut FieldErrors,
) -> (Vec<ColumnChange>, Vec<MaskRule>) {
    let mut columns = Vec::new();
    let mut masks = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let path = format!("filters[{i}]");
        match f {
            FilterConfig::Rename(r) => {
                columns.extend(r.columns.iter().map(|(from, to)| ColumnChange::Rename {
                    column: from.clone(),
                    to: to.clone(),
                }));
            }
            FilterConfig::RemoveColumns(r) => {
                only_fields(r, &path, &["type", "remove"], errors);
                columns.extend(
                    r.remove
                        .iter()
                        .map(|c| ColumnChange::Drop { column: c.clone() }),
                );
            }
            FilterConfig::Cast(c) => {
                only_fields(c, &path, &["type", "columns"], errors);
                columns.extend(c.columns.iter().map(|col| ColumnChange::Cast {
                    column: col.name.clone(),
                    to: col.type_,
                    format: col.format.clone(),
                }));
            }
            FilterConfig::Column(c) => {
                only_fields(c, &path, &["type", "add_columns", "drop_columns"], errors);
                for add in &c.add_columns {
                    match (&add.type_, &add.default) {
                        (Some(t), Some(v)) => columns.push(ColumnChange::Add {
                            column: add.name.clone(),
                            type_: *t,
                            value: v.clone(),
                        }),
                        _ => errors.push(
                            format!("config.{path}.add_columns"),
                            "each added column needs a type and a default value",
                        ),
                    }
                }
                columns.extend(c.drop_columns.iter().map(|d| ColumnChange::Drop {
                    column: d.name.clone(),
                }));
            }
            FilterConfig::Mask(m) => {
                for (j, col) in m.columns.iter().enumerate() {
                    let method = match col.type_.unwrap_or(MaskType::Sha256) {
                        MaskType::Sha256 => MaskMethod::Sha256,
                        MaskType::Partial => MaskMethod::Partial,
                        MaskType::All => {
                            errors.push(format!("config.{path}.columns[{j}].type"), "mask type all is not supported by jobs yet; use partial with keep_head: 0");
                            continue;
                        }
                    };
                    masks.push(MaskRule {
                        column: col.name.clone(),
                        method,
                        keep_head: col.keep_head.unwrap_or(0),
                        keep_tail: col.keep_tail.unwrap_or(0),
                    });
                }
            }
        }
    }
    (columns, masks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_to_postgres(credentials: &str) -> Config {
        Config::from_yaml(&format!(
            "in:\n  type: s3\n  bucket: exports\n  path_prefix: orders/\n{credentials}  parser:\n    type: csv\n    columns: [{{name: id, type: long}}]\nout: {{type: postgresql, host: h, user: u, database: d, table: t}}\n"
        ))
        .unwrap()
    }

    fn wanted_source(config: &Config) -> Result<WantedConnection, Vec<(String, String)>> {
        settings_from_config(config)
            .map(|job| job.source_connection)
            .map_err(|e| e.0.into_iter().map(|e| (e.field, e.message)).collect())
    }

    /// An S3 input without keys is refused by name (Embulk's default `basic` needs keys);
    /// only `auth_method: instance` / `default` ask for the machine's own role, which the
    /// app accepts only where the operator allows the service's own role.
    #[test]
    fn a_keyless_s3_input_is_refused_unless_it_asks_for_the_instance_role() {
        let errors = wanted_source(&s3_to_postgres("")).err().unwrap();
        assert_eq!(errors[0].0, "config.in.access_key_id", "{errors:?}");
        assert!(errors[0].1.contains("role_arn"), "{errors:?}");
        for credentials in ["  auth_method: instance\n", "  auth_method: default\n"] {
            let wanted =
                wanted_source(&s3_to_postgres(credentials)).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(wanted.kind, ConnectionKind::S3);
            assert_eq!(wanted.settings["auth"], "instance_role");
            assert!(wanted.secrets.is_empty());
        }
    }

    #[test]
    fn a_role_arn_becomes_assume_role_and_its_temporary_credentials_are_dropped() {
        let wanted = wanted_source(&s3_to_postgres(
            "  role_arn: arn:aws:iam::123456789012:role/hakobu-reader\n  auth_method: session\n  access_key_id: ASIAEXAMPLE\n  secret_access_key: temporary\n  session_token: token\n",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(wanted.settings["auth"], "assume_role");
        assert_eq!(
            wanted.settings["role_arn"],
            "arn:aws:iam::123456789012:role/hakobu-reader"
        );
        assert!(!wanted.settings.contains_key("access_key_id"));
        assert!(
            wanted.secrets.is_empty(),
            "temporary credentials are not kept"
        );
    }

    #[test]
    fn temporary_credentials_without_their_role_are_refused_by_name() {
        let errors = wanted_source(&s3_to_postgres(
            "  access_key_id: ASIAEXAMPLE\n  secret_access_key: temporary\n  session_token: token\n",
        ))
        .err()
        .unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "config.in.session_token");
        assert!(errors[0].1.contains("role_arn"), "{errors:?}");
    }

    #[test]
    fn a_long_term_key_pair_stays_an_access_key() {
        let wanted = wanted_source(&s3_to_postgres(
            "  access_key_id: AKIAEXAMPLE\n  secret_access_key: long-term\n",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(wanted.settings["auth"], "access_key");
        assert_eq!(wanted.settings["access_key_id"], "AKIAEXAMPLE");
        assert_eq!(wanted.secrets["secret_access_key"], "long-term");
    }

    #[test]
    fn a_bzip2_source_is_refused_by_name_not_read_as_gzip() {
        let keys = "  access_key_id: AKIAEXAMPLE\n  secret_access_key: s\n";
        let gzip = s3_to_postgres(&format!("{keys}  decoders: [{{type: gzip}}]\n"));
        assert!(wanted_source(&gzip).is_ok());
        let bzip2 = s3_to_postgres(&format!("{keys}  decoders: [{{type: bzip2}}]\n"));
        let errors = wanted_source(&bzip2).err().unwrap();
        assert_eq!(errors[0].0, "in.decoders", "{errors:?}");
        assert!(errors[0].1.contains("bzip2"), "{errors:?}");
    }

    fn import(yaml: &str) -> Result<ImportedJob, Vec<(String, String)>> {
        let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
        settings_from_config(&config)
            .map_err(|e| e.0.into_iter().map(|e| (e.field, e.message)).collect())
    }

    fn refused_fields(yaml: &str) -> Vec<String> {
        import(yaml)
            .err()
            .unwrap_or_else(|| panic!("imported: {yaml}"))
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    const OUT: &str = "out: {type: postgresql, host: h, user: u, database: d, table: t}\n";

    #[test]
    fn where_embulk_stopped_becomes_the_jobs_incremental_state() {
        let job = import(&format!(
            "in: {{type: postgresql, host: h, user: u, database: d, table: src, incremental: true, incremental_columns: [id], last_record: [42]}}\n{OUT}"
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(job.source.incremental);
        assert_eq!(job.incremental_state, Some(json!({"last_record": [42]})));
        // Not incremental: Embulk ignores last_record, and so does the job.
        let job = import(&format!(
            "in: {{type: mysql, host: h, user: u, database: d, table: src, last_record: [42]}}\n{OUT}"
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(job.incremental_state, None);
        // Files: last_path, and the job is incremental as Embulk's file inputs are.
        let job = import(&format!(
            "in: {{type: s3, bucket: b, path_prefix: logs/, access_key_id: AKIA, secret_access_key: s, last_path: logs/2024-01-02.csv, parser: {{type: csv, columns: [{{name: id, type: long}}]}}}}\n{OUT}"
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(job.source.incremental);
        assert_eq!(
            job.incremental_state,
            Some(json!({"last_path": "logs/2024-01-02.csv"}))
        );
        assert_eq!(
            refused_fields(&format!(
                "in: {{type: file, path_prefix: /d/x_, incremental: false, last_path: /d/x_1.csv, parser: {{type: csv, columns: [{{name: id, type: long}}]}}}}\n{OUT}"
            )),
            ["config.in.last_path"]
        );
    }

    #[test]
    fn keys_a_job_cannot_hold_are_refused_by_name() {
        let input = "in: {type: postgresql, host: h, user: u, database: d, table: src";
        for (extra, field) in [
            ("connect_timeout: 30", "config.in.connect_timeout"),
            ("socket_timeout: 600", "config.in.socket_timeout"),
            ("fetch_rows: 5000", "config.in.fetch_rows"),
            ("options: {useSSL: false}", "config.in.options"),
        ] {
            assert_eq!(
                refused_fields(&format!("{input}, {extra}}}\n{OUT}")),
                [field],
                "{extra}"
            );
        }
        assert_eq!(
            refused_fields(&format!(
                "{input}}}\nout: {{type: mysql, host: h, user: u, database: d, table: t, batch_size: 1000}}\n"
            )),
            ["config.out.batch_size"]
        );
        assert_eq!(
            refused_fields(&format!(
                "in: {{type: mysql, host: h, user: u, database: d, schema: other, table: src}}\n{OUT}"
            )),
            ["config.in.schema"]
        );
        assert_eq!(
            refused_fields(&format!("exec: {{max_threads: 4}}\n{input}}}\n{OUT}")),
            ["config.exec.max_threads"]
        );
        // PostgreSQL's schema is the job's.
        assert!(import(&format!("{input}, schema: sales}}\n{OUT}")).is_ok());
    }

    /// A managed job has no terminal: a stdout config is refused by name.
    #[test]
    fn a_stdout_config_is_refused_by_name() {
        let config = Config::from_yaml(
            "in:\n  type: file\n  path_prefix: /x/a_\n  parser: {type: csv, columns: [{name: id, type: long}]}\nout: {type: stdout}\n",
        )
        .unwrap();
        let Err(e) = settings_from_config(&config) else {
            panic!("a stdout config imported")
        };
        let e = e.to_string();
        assert!(
            e.contains("config.out.type: stdout prints to the runner's terminal"),
            "{e}"
        );
    }
}
