//! Embulk import and portable export of jobs.
//!
//! Export writes the job's compiled config as `.yml.liquid` with every secret as
//! `{{ env.SOURCE_PASSWORD }}`-style references. Import renders such a file with the given
//! values, maps `in:`/`filters:`/`out:` back to job settings, and creates the connections,
//! reusing an existing equal connection of the team, so import -> export -> import gives an
//! equal job.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::connection::{Connection, NewConnection};
use crate::services::engine_bridge;
use crate::services::jobs::{
    compile_with_references, insert_job, job_view, load_job, same_connection,
};
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::jobs::{
    CreateJobRequest, ImportJobRequest, ImportJobResponse, validate_job_text,
};
use hakobu_core::authz::{Action, TeamRole};
use hakobu_core::config::{
    Config, FilterConfig, FormatterConfig, InputConfig, JdbcInput, JdbcOutput, MaskType,
    OutputConfig, ParserConfig,
};
use hakobu_core::connection::{ConnectionKind, validate_settings};
use hakobu_core::ids::{ConnectionId, JobId};
use hakobu_core::job::{
    ColumnChange, DestinationSettings, FileColumn, FileDestination, FileFormat, FileSource,
    JobSettings, MaskMethod, MaskRule, SourceSettings, TableRef,
};
use hakobu_core::validation::FieldErrors;
use serde_json::{Map, Value, json};

/// A connection the import needs: kind, plain settings, secrets in clear.
struct WantedConnection {
    kind: ConnectionKind,
    settings: Map<String, Value>,
    secrets: Map<String, Value>,
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

const JDBC_CONNECTION_FIELDS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "database",
    "schema",
    "ssl",
    "ssl_mode",
    "ssl_ca_certificate",
    "connect_timeout",
    "socket_timeout",
    "fetch_rows",
    "options",
];

/// The connection part of a `postgresql` / `mysql` section.
struct JdbcEndpoint<'a> {
    host: &'a str,
    port: Option<u16>,
    user: &'a str,
    password: Option<&'a str>,
    database: &'a str,
    tls: hakobu_core::config::Tls,
    schema: Option<&'a str>,
}

macro_rules! endpoint_of {
    ($j:expr) => {
        JdbcEndpoint {
            host: &$j.host,
            port: $j.port,
            user: &$j.user,
            password: $j.password.as_ref().map(|p| p.expose()),
            database: &$j.database,
            // The config was validated when parsed, so its TLS settings resolve.
            tls: $j.tls().unwrap_or_default(),
            schema: $j.schema.as_deref(),
        }
    };
}

fn jdbc_connection(kind: ConnectionKind, e: JdbcEndpoint<'_>) -> WantedConnection {
    let JdbcEndpoint {
        host,
        port,
        user,
        password,
        database,
        tls,
        schema,
    } = e;
    let mut settings = Map::new();
    settings.insert("host".into(), json!(host));
    if let Some(port) = port {
        settings.insert("port".into(), json!(port));
    }
    settings.insert("database".into(), json!(database));
    settings.insert("user".into(), json!(user));
    settings.insert("tls_mode".into(), json!(tls.mode.as_str()));
    if let Some(ca) = tls.ca_certificate {
        settings.insert("ca_certificate".into(), json!(ca));
    }
    if let (ConnectionKind::Postgresql, Some(schema)) = (kind, schema) {
        settings.insert("schema".into(), json!(schema));
    }
    let mut secrets = Map::new();
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        secrets.insert("password".into(), json!(p));
    }
    WantedConnection {
        kind,
        settings,
        secrets,
    }
}

fn s3_connection(
    bucket: &str,
    region: Option<&str>,
    endpoint: Option<&str>,
    key_id: Option<&str>,
    secret: Option<&str>,
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
    match (key_id, secret) {
        (Some(id), Some(secret)) => {
            settings.insert("auth".into(), json!("access_key"));
            settings.insert("access_key_id".into(), json!(id));
            secrets.insert("secret_access_key".into(), json!(secret));
        }
        _ => {
            settings.insert("auth".into(), json!("instance_role"));
        }
    }
    WantedConnection {
        kind: ConnectionKind::S3,
        settings,
        secrets,
    }
}

/// `/data/in/orders_` -> (`/data/in`, `orders_`).
fn split_local_prefix(prefix: &str) -> (String, String) {
    match prefix.rsplit_once('/') {
        Some(("", rest)) => ("/".to_owned(), rest.to_owned()),
        Some((dir, rest)) => (dir.to_owned(), rest.to_owned()),
        None => ("/".to_owned(), prefix.to_owned()),
    }
}

fn map_input(input: &InputConfig, errors: &mut FieldErrors) -> (WantedConnection, SourceSettings) {
    let placeholder = ConnectionId(uuid::Uuid::nil());
    let mut source = SourceSettings {
        connection_id: placeholder,
        table: None,
        query: None,
        filter: None,
        files: None,
        incremental: false,
        incremental_columns: Vec::new(),
    };
    let wanted = match input {
        InputConfig::Postgresql(j) | InputConfig::Mysql(j) => {
            let kind = if matches!(input, InputConfig::Postgresql(_)) {
                ConnectionKind::Postgresql
            } else {
                ConnectionKind::Mysql
            };
            let mut allowed = JDBC_CONNECTION_FIELDS.to_vec();
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
            jdbc_connection(kind, endpoint_of!(j))
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
                !s.decoders.is_empty(),
                errors,
            ));
            source.incremental = s.incremental.unwrap_or(false);
            s3_connection(
                &s.bucket,
                s.region.as_deref(),
                s.endpoint.as_deref(),
                s.access_key_id.as_ref().map(|k| k.expose()),
                s.secret_access_key.as_ref().map(|k| k.expose()),
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
            let (dir, prefix) = split_local_prefix(&f.path_prefix);
            source.files = Some(map_parser(
                &f.parser,
                &prefix,
                f.path_match_pattern.clone(),
                !f.decoders.is_empty(),
                errors,
            ));
            source.incremental = f.incremental.unwrap_or(false);
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

fn map_parser(
    parser: &ParserConfig,
    prefix: &str,
    pattern: Option<String>,
    gzip: bool,
    errors: &mut FieldErrors,
) -> FileSource {
    let (format, columns, header_line, delimiter) = match parser {
        ParserConfig::Csv(c) => {
            only_fields(
                c,
                "in.parser",
                &["delimiter", "skip_header_lines", "columns"],
                errors,
            );
            (
                FileFormat::Csv,
                &c.columns,
                c.skip_header_lines.unwrap_or(0) > 0,
                c.delimiter.clone().unwrap_or_else(|| ",".to_owned()),
            )
        }
        ParserConfig::Jsonl(j) => {
            only_fields(j, "in.parser", &["columns"], errors);
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

fn map_output(
    out: &OutputConfig,
    errors: &mut FieldErrors,
) -> (WantedConnection, DestinationSettings) {
    let placeholder = ConnectionId(uuid::Uuid::nil());
    let mut destination = DestinationSettings {
        connection_id: placeholder,
        table: None,
        mode: hakobu_core::config::Mode::Insert,
        merge_keys: Vec::new(),
        files: None,
    };
    let wanted = match out {
        OutputConfig::Postgresql(j) | OutputConfig::Mysql(j) => {
            let kind = if matches!(out, OutputConfig::Postgresql(_)) {
                ConnectionKind::Postgresql
            } else {
                ConnectionKind::Mysql
            };
            let mut allowed = JDBC_CONNECTION_FIELDS.to_vec();
            allowed.extend(["table", "mode", "merge_keys", "batch_size"]);
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
            jdbc_connection(kind, endpoint_of!(j))
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
                    "encoders",
                    "formatter",
                ],
                errors,
            );
            destination.files = Some(map_formatter(
                &s.formatter,
                &s.path_prefix,
                !s.encoders.is_empty(),
                errors,
            ));
            s3_connection(
                &s.bucket,
                s.region.as_deref(),
                s.endpoint.as_deref(),
                s.access_key_id.as_ref().map(|k| k.expose()),
                s.secret_access_key.as_ref().map(|k| k.expose()),
            )
        }
        OutputConfig::File(f) => {
            only_fields(
                f,
                "out",
                &["path_prefix", "file_ext", "encoders", "formatter"],
                errors,
            );
            let (dir, prefix) = split_local_prefix(&f.path_prefix);
            destination.files = Some(map_formatter(
                &f.formatter,
                &prefix,
                !f.encoders.is_empty(),
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

/// An empty directory: import renders Liquid without partials.
fn no_partials_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("hakobu-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Finds an equal connection of the team (same settings and secrets) or creates one.
async fn connection_for(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    request: &ImportJobRequest,
    role: &str,
    wanted: WantedConnection,
    created: &mut Vec<ConnectionId>,
) -> Result<ConnectionId, ApiError> {
    let field = format!("config.{}", if role == "source" { "in" } else { "out" });
    let on_file: Vec<&str> = wanted.secrets.keys().map(String::as_str).collect();
    let errors = validate_settings(wanted.kind, &wanted.settings, &on_file, &field);
    errors.into_result()?;
    for existing in Connection::list(conn, auth.organization_id).await? {
        if same_connection(&existing, wanted.kind, request.team_id, &wanted.settings)
            && engine_bridge::decrypt_secrets(state, &existing)? == wanted.secrets
        {
            return Ok(existing.id);
        }
    }
    let secret_box = state.secrets.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "The operator has not set HAKOBU_SECRET_KEY; connections cannot be saved.".into(),
        )
    })?;
    let mut sealed = Map::new();
    for (name, value) in &wanted.secrets {
        sealed.insert(
            name.clone(),
            Value::String(secret_box.encrypt(value.as_str().unwrap_or_default())?),
        );
    }
    let existing_names: Vec<String> = Connection::list(conn, auth.organization_id)
        .await?
        .into_iter()
        .map(|c| c.name.to_lowercase())
        .collect();
    let base = format!("{} {role}", request.name.trim());
    let name = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base} {n}")
            }
        })
        .find(|n| !existing_names.contains(&n.to_lowercase()))
        .unwrap_or(base);
    let c = Connection::insert(
        conn,
        NewConnection {
            id: ConnectionId::new(),
            organization_id: auth.organization_id,
            team_id: request.team_id,
            name: &name,
            kind: wanted.kind,
            settings: Value::Object(wanted.settings.clone()),
            secrets: Value::Object(sealed),
            created_by: Some(auth.user_id),
        },
    )
    .await?;
    audit::record(conn, &Actor::from(auth), "connection.create", "connection", c.id, json!({
        "name": c.name, "kind": c.kind, "team_id": c.team_id, "settings": wanted.settings, "secrets_set": c.secret_names(), "via": "import",
    }))
    .await?;
    created.push(c.id);
    Ok(c.id)
}

/// The job's save-time checks name job settings (`settings.destination.merge_keys`); an
/// import names the place in the pasted config instead (`config.out.merge_keys`), which is
/// what the person importing can fix.
fn in_config_terms(error: ApiError) -> ApiError {
    let ApiError::Validation(errors) = error else {
        return error;
    };
    let mut located = FieldErrors::default();
    for e in errors.0 {
        let field = match e.field.strip_prefix("settings.") {
            Some(rest) => {
                let rest = rest.replacen("table.name", "table", 1);
                if let Some(out) = rest.strip_prefix("destination.") {
                    format!("config.out.{out}")
                } else if let Some(input) = rest.strip_prefix("source.") {
                    format!("config.in.{input}")
                } else {
                    "config".to_owned()
                }
            }
            None => e.field,
        };
        located.push(&field, e.message);
    }
    ApiError::Validation(located)
}

/// Creates a job (and its connections) from an Embulk `config.yml` or `.yml.liquid`.
#[utoipa::path(tag = "jobs", request_body = ImportJobRequest, responses(
    (status = 201, body = ImportJobResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "the config is invalid or uses a feature jobs do not have")))]
#[post("/api/jobs/import")]
pub async fn import_job(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<ImportJobRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let mut errors = FieldErrors::default();
    validate_job_text(&mut errors, Some(&request.name), None, None);
    errors.into_result()?;
    crate::services::access::require_team_editor(
        &mut *state.pool.get().await?,
        &auth,
        request.team_id,
        "team_id",
    )
    .await?;
    let text = if request.config.contains("{{") || request.config.contains("{%") {
        hakobu_engine::template::render(
            &request.config,
            &no_partials_dir()?,
            request.env.clone().into_iter(),
        )
        .map_err(|e| {
            ApiError::field(
                "config",
                format!("the Liquid template does not render: {e:#}"),
            )
        })?
    } else {
        request.config.clone()
    };
    let config = Config::from_yaml(&text).map_err(|e| {
        let field = if e.path.is_empty() {
            "config".to_owned()
        } else {
            format!("config.{}", e.path)
        };
        ApiError::field(&field, e.message)
    })?;
    let mut errors = FieldErrors::default();
    let (wanted_source, mut source) = map_input(&config.input, &mut errors);
    let (wanted_destination, mut destination) = map_output(&config.out, &mut errors);
    let (columns, masks) = map_filters(&config.filters, &mut errors);
    errors.into_result()?;
    let mut conn = state.pool.get().await?;
    let (job, created) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let mut created = Vec::new();
            source.connection_id = connection_for(
                conn,
                &state,
                &auth,
                &request,
                "source",
                wanted_source,
                &mut created,
            )
            .await?;
            destination.connection_id = connection_for(
                conn,
                &state,
                &auth,
                &request,
                "destination",
                wanted_destination,
                &mut created,
            )
            .await?;
            let settings = JobSettings {
                source,
                destination,
                columns,
                masks,
                resources: Default::default(),
                timeout_minutes: 360,
                retry: Default::default(),
                overlap: Default::default(),
                checks: Vec::new(),
                variables: Vec::new(),
            };
            let create = CreateJobRequest {
                name: request.name.clone(),
                description: String::new(),
                labels: Vec::new(),
                team_id: request.team_id,
                enabled: true,
                settings,
            };
            let job = insert_job(
                conn,
                &state,
                &auth,
                &create,
                "job.import",
                json!({"created_connections": created}),
            )
            .await
            .map_err(in_config_terms)?;
            Ok((job, created))
        })
        .await?;
    Ok(HttpResponse::Created().json(ImportJobResponse {
        job: job_view(
            &job,
            &Vec::new(),
            TeamRole::Admin.min(
                auth.principal
                    .resource_role(job.team_id, &[])
                    .unwrap_or(TeamRole::Viewer),
            ),
        )?,
        created_connections: created,
    }))
}

/// A portable `.yml.liquid` of the job: its config with secrets as `{{ env.* }}`.
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), responses(
    (status = 200, description = "YAML (Liquid)", content_type = "application/yaml"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/export")]
pub async fn export_job(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let (job, _) = load_job(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResourceDetails,
        "export this job",
    )
    .await?;
    let (yaml, env) = compile_with_references(&mut conn, &auth, &job, false).await?;
    let mut out = format!(
        "# Hakobu job {:?} (revision {}), exported {}.\n",
        job.name,
        job.revision,
        chrono::Utc::now().to_rfc3339()
    );
    if !env.is_empty() {
        out.push_str(&format!(
            "# Secrets are read from the environment: {}.\n",
            env.join(", ")
        ));
    }
    out.push_str(
        "# Run it with `hakobu-runner run <file>`, or import it with POST /api/jobs/import.\n",
    );
    out.push_str(&yaml);
    let slug: String = job
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}.yml.liquid\"",
                slug.trim_matches('-')
            ),
        ))
        .body(out))
}
