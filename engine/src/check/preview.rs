//! Previewing a table or a query: the first rows, read through the same reader a transfer
//! uses, so values show exactly as they would be loaded.

use super::connection::{Connection, DbKind};
use super::error::CheckError;
use crate::connectors::sql::Dialect;
use crate::pipeline::{Preview, preview_config};
use crate::shared::files_root::FileAccess;

/// The first `limit` rows of a table, through the same reader a transfer uses (so the
/// preview shows values exactly as they would be loaded).
pub async fn preview_table(
    conn: &Connection,
    schema: &str,
    table: &str,
    limit: usize,
) -> Result<Preview, CheckError> {
    let d = match conn.endpoint.kind {
        DbKind::Postgresql => Dialect::Postgres,
        DbKind::Mysql => Dialect::Mysql,
    };
    let qualified = match conn.endpoint.kind {
        DbKind::Postgresql => d.qualified(Some(schema), table),
        DbKind::Mysql => d.qualified(None, table),
    };
    preview_sql(
        conn,
        format!("SELECT * FROM {qualified} LIMIT {limit}"),
        None,
        limit,
    )
    .await
}

/// The first `limit` rows of a query, in a read-only session: a statement with side
/// effects fails instead of changing data. The caller checks it is one SELECT first.
pub async fn preview_query(
    conn: &Connection,
    query: &str,
    limit: usize,
) -> Result<Preview, CheckError> {
    let read_only = match conn.endpoint.kind {
        DbKind::Postgresql => "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        DbKind::Mysql => "SET SESSION TRANSACTION READ ONLY",
    };
    let sql = format!(
        "SELECT * FROM ({}) AS hakobu_preview LIMIT {limit}",
        query.trim().trim_end_matches(';')
    );
    preview_sql(conn, sql, Some(read_only.to_owned()), limit).await
}

/// Reads `sql` through the same reader a transfer uses, so previews show values exactly
/// as they would be loaded.
async fn preview_sql(
    conn: &Connection,
    sql: String,
    before_select: Option<String>,
    limit: usize,
) -> Result<Preview, CheckError> {
    let input = hakobu_core::config::JdbcInput {
        host: conn.endpoint.host.clone(),
        port: conn.endpoint.port,
        user: conn.endpoint.user.clone(),
        password: conn
            .endpoint
            .password
            .clone()
            .map(hakobu_core::config::Secret),
        database: conn.endpoint.database.clone(),
        schema: None,
        ssl: None,
        ssl_mode: Some(conn.endpoint.tls.mode),
        ssl_ca_certificate: conn.endpoint.tls.ca_certificate.clone(),
        ssh: conn.endpoint.ssh.clone(),
        table: None,
        select: None,
        where_: None,
        order_by: None,
        query: Some(sql),
        fetch_rows: None,
        connect_timeout: Some(conn.timeout.as_secs().max(1)),
        socket_timeout: None,
        column_options: Default::default(),
        incremental: None,
        incremental_columns: vec![],
        last_record: None,
        use_raw_query_with_incremental: None,
        before_setup: None,
        before_select,
        after_select: None,
        default_timezone: None,
        options: Default::default(),
    };
    let config = hakobu_core::config::Config {
        input: match conn.endpoint.kind {
            DbKind::Postgresql => hakobu_core::config::InputConfig::Postgresql(input),
            DbKind::Mysql => hakobu_core::config::InputConfig::Mysql(input),
        },
        filters: vec![],
        out: hakobu_core::config::OutputConfig::File(hakobu_core::config::FileOutput {
            path_prefix: String::new(),
            file_ext: String::new(),
            sequence_format: None,
            encoders: vec![],
            formatter: hakobu_core::config::FormatterConfig::Jsonl(
                hakobu_core::config::JsonlFormatter {
                    encoding: None,
                    newline: None,
                    date_format: None,
                    timezone: None,
                },
            ),
        }),
        exec: Default::default(),
    };
    // A database preview reads no file, and is given none.
    conn.guarded(preview_config(&config, &FileAccess::Off, limit))
        .await
}
