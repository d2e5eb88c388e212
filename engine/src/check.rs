//! What the app needs before a transfer runs: test a connection, browse schemas, tables
//! and columns, preview rows, and run data checks. Failures come back as a plain-language
//! [`ErrorKind`] an analyst can act on, mapped from the driver's error codes.

use crate::connectors::mysql::MyConn;
use crate::connectors::postgres::PgConn;
use crate::connectors::sql::Dialect;
use crate::tls::{TlsFailure, TlsProblem};
use hakobu_core::config::{Tls, TlsMode};
use mysql_async::prelude::Queryable;
use serde::Serialize;
use std::time::{Duration, Instant};

/// A database connection to check or browse.
#[derive(Clone)]
pub struct Connection {
    /// Which server.
    pub kind: DbKind,
    /// Host name or address.
    pub host: String,
    /// Port; the server's default when `None`.
    pub port: Option<u16>,
    /// User.
    pub user: String,
    /// Password.
    pub password: Option<String>,
    /// Database.
    pub database: String,
    /// Encryption.
    pub tls: hakobu_core::config::Tls,
    /// How long a check may take in total.
    pub timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Database servers Hakobu connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    /// PostgreSQL
    Postgresql,
    /// MySQL or MariaDB
    Mysql,
}

/// Why a connection failed, in words for the person who filled the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing answers at host:port (wrong host, port, firewall, server down).
    HostUnreachable,
    /// The server rejected the user name or password.
    WrongPassword,
    /// The database does not exist on the server.
    DatabaseMissing,
    /// The user may connect but not read/write what was asked.
    PermissionDenied,
    /// The server only accepts encrypted connections.
    TlsRequired,
    /// TLS was asked for but the server accepts only unencrypted connections.
    TlsNotOffered,
    /// The server's certificate is not signed by a trusted authority (or has expired).
    CertificateNotTrusted,
    /// The server's certificate is trusted but names another host.
    HostNameMismatch,
    /// The server did not answer in time.
    Timeout,
    /// Anything else (the message has the details).
    Other,
}

/// A failed check: the kind and the driver's message (which never contains the password).
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{}: {message}", kind.describe())]
pub struct CheckError {
    /// The plain-language category.
    pub kind: ErrorKind,
    /// The underlying detail.
    pub message: String,
}

impl ErrorKind {
    /// A sentence for the UI.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::HostUnreachable => {
                "cannot reach the server: check the host and port, and that the server allows connections from Hakobu"
            }
            ErrorKind::WrongPassword => "the server rejected the user name or password",
            ErrorKind::DatabaseMissing => "the database does not exist on this server",
            ErrorKind::PermissionDenied => "the user does not have permission for this",
            ErrorKind::TlsRequired => "the server requires an encrypted (SSL/TLS) connection",
            ErrorKind::TlsNotOffered => "the server does not offer TLS",
            ErrorKind::CertificateNotTrusted => "the server's certificate is not trusted",
            ErrorKind::HostNameMismatch => "the server's certificate is for another host name",
            ErrorKind::Timeout => "the server did not answer in time",
            ErrorKind::Other => "the server returned an error",
        }
    }
}

fn classify_tls(e: &anyhow::Error) -> Option<ErrorKind> {
    let failure = e.chain().find_map(|c| c.downcast_ref::<TlsFailure>())?;
    Some(match failure.problem {
        TlsProblem::NotOffered => ErrorKind::TlsNotOffered,
        TlsProblem::NotTrusted | TlsProblem::Expired => ErrorKind::CertificateNotTrusted,
        TlsProblem::HostMismatch { .. } => ErrorKind::HostNameMismatch,
    })
}

fn classify_pg(e: &anyhow::Error) -> ErrorKind {
    use tokio_postgres::error::SqlState;
    if let Some(kind) = classify_tls(e) {
        return kind;
    }
    for cause in e.chain() {
        if let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>()
            && let Some(code) = pg.code()
        {
            // The server's own words: `Display` of the error says only "db error".
            let msg = pg
                .as_db_error()
                .map_or_else(|| pg.to_string(), |db| db.message().to_owned());
            return match *code {
                SqlState::INVALID_PASSWORD => ErrorKind::WrongPassword,
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                    if msg.contains("SSL off") || msg.contains("no encryption") =>
                {
                    ErrorKind::TlsRequired
                }
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION => ErrorKind::WrongPassword,
                SqlState::INVALID_CATALOG_NAME => ErrorKind::DatabaseMissing,
                SqlState::INSUFFICIENT_PRIVILEGE => ErrorKind::PermissionDenied,
                SqlState::QUERY_CANCELED => ErrorKind::Timeout,
                _ => ErrorKind::Other,
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io_kind(io);
        }
    }
    let text = format!("{e:#}");
    if text.contains("error connecting to server") || text.contains("failed to lookup address") {
        ErrorKind::HostUnreachable
    } else if text.contains("timeout") || text.contains("timed out") {
        ErrorKind::Timeout
    } else {
        ErrorKind::Other
    }
}

fn io_kind(io: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::HostUnreachable,
    }
}

fn classify_my(e: &anyhow::Error) -> ErrorKind {
    if let Some(kind) = classify_tls(e) {
        return kind;
    }
    for cause in e.chain() {
        if let Some(my) = cause.downcast_ref::<mysql_async::Error>() {
            return match my {
                mysql_async::Error::Server(s) => match s.code {
                    1045 | 1698 => ErrorKind::WrongPassword,
                    1049 => ErrorKind::DatabaseMissing,
                    1044 | 1142 | 1143 | 1227 => ErrorKind::PermissionDenied,
                    3159 => ErrorKind::TlsRequired,
                    1317 | 3024 => ErrorKind::Timeout,
                    _ if s.message.contains("secure transport") => ErrorKind::TlsRequired,
                    _ => ErrorKind::Other,
                },
                mysql_async::Error::Io(_) => ErrorKind::HostUnreachable,
                _ => ErrorKind::Other,
            };
        }
    }
    if format!("{e:#}").contains("timed out") {
        ErrorKind::Timeout
    } else {
        ErrorKind::Other
    }
}

impl Connection {
    fn pg(&self) -> PgConn<'_> {
        PgConn {
            host: &self.host,
            port: self.port,
            user: &self.user,
            password: self.password.as_deref(),
            database: &self.database,
            tls: self.tls.clone(),
            connect_timeout: Some(self.timeout.as_secs().max(1)),
        }
    }

    fn my(&self) -> MyConn<'_> {
        MyConn {
            host: &self.host,
            port: self.port,
            user: &self.user,
            password: self.password.as_deref(),
            database: &self.database,
            tls: self.tls.clone(),
            connect_timeout: Some(self.timeout.as_secs().max(1)),
        }
    }

    /// Runs `f` under the connection's timeout and classifies its error.
    async fn guarded<T>(
        &self,
        f: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Result<T, CheckError> {
        match tokio::time::timeout(self.timeout, f).await {
            Err(_) => Err(CheckError {
                kind: ErrorKind::Timeout,
                message: format!("no answer within {:?}", self.timeout),
            }),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let kind = match self.kind {
                    DbKind::Postgresql => classify_pg(&e),
                    DbKind::Mysql => classify_my(&e),
                };
                Err(CheckError {
                    kind,
                    message: format!("{e:#}")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                })
            }
        }
    }

    /// A single-row, all-text query (the shape every browsing call needs).
    async fn query_text(
        &self,
        sql: &str,
        params: &[&str],
    ) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        match self.kind {
            DbKind::Postgresql => {
                let client = crate::connectors::postgres::connect(&self.pg()).await?;
                let p: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                let rows = client.query(sql, &p).await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<_, Option<String>>(i))
                            .collect()
                    })
                    .collect())
            }
            DbKind::Mysql => {
                let mut conn = crate::connectors::mysql::connect(&self.my()).await?;
                let params: Vec<mysql_async::Value> = params
                    .iter()
                    .map(|s| mysql_async::Value::from(*s))
                    .collect();
                let rows: Vec<mysql_async::Row> = if params.is_empty() {
                    conn.query(sql).await?
                } else {
                    conn.exec(sql, params).await?
                };
                let _ = conn.disconnect().await;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        r.unwrap()
                            .into_iter()
                            .map(|v| match v {
                                mysql_async::Value::NULL => None,
                                mysql_async::Value::Bytes(b) => {
                                    Some(String::from_utf8_lossy(&b).into_owned())
                                }
                                other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }
}

/// The result of a successful connection test.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOk {
    /// What the server reports as its version.
    pub server_version: String,
    /// Time to connect and run one query.
    pub latency_ms: u64,
}

/// Connects, asks the server's version, and measures the round trip.
pub async fn check(conn: &Connection) -> Result<CheckOk, CheckError> {
    let started = Instant::now();
    let sql = match conn.kind {
        DbKind::Postgresql => "SELECT current_setting('server_version')",
        DbKind::Mysql => "SELECT VERSION()",
    };
    let rows = match conn.guarded(conn.query_text(sql, &[])).await {
        Err(e)
            if e.kind == ErrorKind::WrongPassword
                && conn.kind == DbKind::Mysql
                && conn.tls.mode == TlsMode::Disable =>
        {
            return Err(tls_required_or(conn, e).await);
        }
        rows => rows?,
    };
    let server_version = rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    Ok(CheckOk {
        server_version,
        latency_ms: started.elapsed().as_millis() as u64,
    })
}

/// MySQL answers a plain login of a `REQUIRE SSL` user with "access denied", as for a
/// wrong password. If the same login succeeds encrypted, TLS is what was missing.
async fn tls_required_or(conn: &Connection, denied: CheckError) -> CheckError {
    let mut encrypted = conn.clone();
    encrypted.tls = Tls {
        mode: TlsMode::Require,
        ca_certificate: None,
    };
    match encrypted
        .guarded(encrypted.query_text("SELECT 1", &[]))
        .await
    {
        Ok(_) => CheckError {
            kind: ErrorKind::TlsRequired,
            message: format!(
                "the server accepts {} only over TLS; set the TLS mode to require or stricter",
                conn.user
            ),
        },
        Err(_) => denied,
    }
}

/// Schemas the user can see (MySQL: the connection's database).
pub async fn list_schemas(conn: &Connection) -> Result<Vec<String>, CheckError> {
    let sql = match conn.kind {
        DbKind::Postgresql => {
            "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND has_schema_privilege(oid, 'USAGE') ORDER BY 1"
        }
        DbKind::Mysql => "SELECT DATABASE()",
    };
    let rows = conn.guarded(conn.query_text(sql, &[])).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// Tables and views of a schema.
pub async fn list_tables(conn: &Connection, schema: &str) -> Result<Vec<String>, CheckError> {
    let sql = match conn.kind {
        DbKind::Postgresql => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1"
        }
        DbKind::Mysql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ? ORDER BY 1"
        }
    };
    let rows = conn.guarded(conn.query_text(sql, &[schema])).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// A column as the database describes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// The database's type name, e.g. `numeric(12,2)`.
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// Columns of a table, in table order.
pub async fn list_columns(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> Result<Vec<ColumnInfo>, CheckError> {
    let sql = match conn.kind {
        DbKind::Postgresql => {
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), (NOT a.attnotnull)::text FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        }
        DbKind::Mysql => {
            "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), IF(is_nullable = 'YES', 'true', 'false') FROM information_schema.columns \
             WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
        }
    };
    let rows = conn.guarded(conn.query_text(sql, &[schema, table])).await?;
    Ok(rows
        .into_iter()
        .map(|r| ColumnInfo {
            name: r[0].clone().unwrap_or_default(),
            data_type: r[1].clone().unwrap_or_default(),
            nullable: r[2].as_deref() == Some("true"),
        })
        .collect())
}

/// The first `limit` rows of a table, through the same reader a transfer uses (so the
/// preview shows values exactly as they would be loaded).
pub async fn preview_table(
    conn: &Connection,
    schema: &str,
    table: &str,
    limit: usize,
) -> Result<crate::Preview, CheckError> {
    let d = match conn.kind {
        DbKind::Postgresql => Dialect::Postgres,
        DbKind::Mysql => Dialect::Mysql,
    };
    let qualified = match conn.kind {
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
) -> Result<crate::Preview, CheckError> {
    let read_only = match conn.kind {
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
) -> Result<crate::Preview, CheckError> {
    let input = hakobu_core::config::JdbcInput {
        host: conn.host.clone(),
        port: conn.port,
        user: conn.user.clone(),
        password: conn.password.clone().map(hakobu_core::config::Secret),
        database: conn.database.clone(),
        schema: None,
        ssl: None,
        ssl_mode: Some(conn.tls.mode),
        ssl_ca_certificate: conn.tls.ca_certificate.clone(),
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
        input: match conn.kind {
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
    conn.guarded(crate::preview_config(&config, limit)).await
}

/// How a data check compares the query's value with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum CompareOp {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

/// The outcome of a data check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataCheckResult {
    /// Whether the check holds.
    pub passed: bool,
    /// The value the query returned (`None` for NULL).
    pub actual: Option<String>,
}

/// Compares `actual` with `expected`: as numbers when both are numbers, else as text.
pub fn evaluate(actual: Option<&str>, op: CompareOp, expected: &str, null_passes: bool) -> bool {
    let Some(actual) = actual else {
        return null_passes;
    };
    // Plain decimals compare exactly (a sum of numeric(38,2) does not fit a double); other
    // numbers (1e3, NaN) as doubles; anything else as text.
    let ord = match (actual.trim().parse::<f64>(), expected.trim().parse::<f64>()) {
        (Ok(a), Ok(e)) => compare_decimals(actual.trim(), expected.trim()).or(a.partial_cmp(&e)),
        _ => Some(actual.cmp(expected)),
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Eq => ord == Equal,
        CompareOp::Ne => ord != Equal,
        CompareOp::Lt => ord == Less,
        CompareOp::Le => ord != Greater,
        CompareOp::Gt => ord == Greater,
        CompareOp::Ge => ord != Less,
    }
}

/// Compares two plain decimals (`-12.50`, `+3`, `.5`) exactly; `None` for other forms.
fn compare_decimals(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    /// Sign, integer digits without leading zeros, fraction digits without trailing zeros.
    fn parts(s: &str) -> Option<(bool, &str, &str)> {
        let (negative, digits) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
        // -0 is 0.
        Some((negative && !(int.is_empty() && frac.is_empty()), int, frac))
    }
    let ((a_neg, a_int, a_frac), (b_neg, b_int, b_frac)) = (parts(a)?, parts(b)?);
    let magnitude = a_int
        .len()
        .cmp(&b_int.len())
        .then_with(|| a_int.cmp(b_int))
        .then_with(|| a_frac.cmp(b_frac));
    Some(match (a_neg, b_neg) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
    })
}

/// Runs a query that returns one value and compares it with `expected`. A query that
/// returns no row counts as NULL.
pub async fn data_check(
    conn: &Connection,
    sql: &str,
    op: CompareOp,
    expected: &str,
    null_passes: bool,
) -> Result<DataCheckResult, CheckError> {
    let rows = conn
        .guarded(async {
            let rows = conn
                .query_text(
                    &format!(
                        "SELECT CAST(v AS {}) FROM ({sql}) AS hakobu_check(v)",
                        text_type(conn.kind)
                    ),
                    &[],
                )
                .await;
            match (conn.kind, rows) {
                // MySQL has no column-alias list on derived tables: ask for the value as-is.
                (DbKind::Mysql, Err(_)) => conn.query_text(sql, &[]).await,
                (_, r) => r,
            }
        })
        .await?;
    if rows.len() > 1 || rows.first().is_some_and(|r| r.len() != 1) {
        return Err(CheckError {
            kind: ErrorKind::Other,
            message: "a data check query must return exactly one value (one row, one column)"
                .into(),
        });
    }
    let actual = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten());
    Ok(DataCheckResult {
        passed: evaluate(actual.as_deref(), op, expected, null_passes),
        actual,
    })
}

fn text_type(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Postgresql => "text",
        DbKind::Mysql => "CHAR",
    }
}

/// The primary key columns of a table, in key order; empty when it has none (or does not
/// exist). The app uses it to refuse a merge that has no key to merge on.
pub async fn primary_key(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, CheckError> {
    let sql = match conn.kind {
        DbKind::Postgresql => {
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
             WHERE i.indisprimary AND n.nspname = $1 AND c.relname = $2 ORDER BY k.ord"
        }
        DbKind::Mysql => {
            "SELECT CAST(column_name AS CHAR) FROM information_schema.key_column_usage \
             WHERE constraint_name = 'PRIMARY' AND table_schema = ? AND table_name = ? ORDER BY ordinal_position"
        }
    };
    let rows = conn.guarded(conn.query_text(sql, &[schema, table])).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_and_nulls() {
        let cases = [
            (CompareOp::Eq, [false, true, false]),
            (CompareOp::Ne, [true, false, true]),
            (CompareOp::Lt, [true, false, false]),
            (CompareOp::Le, [true, true, false]),
            (CompareOp::Gt, [false, false, true]),
            (CompareOp::Ge, [false, true, true]),
        ];
        for (op, expected) in cases {
            let got = ["4", "5.0", "6"].map(|actual| evaluate(Some(actual), op, "5", false));
            assert_eq!(got, expected, "{op:?}");
            assert!(evaluate(None, op, "5", true), "{op:?}: NULL passes");
            assert!(!evaluate(None, op, "5", false), "{op:?}: NULL fails");
        }
    }

    #[test]
    fn decimals_compare_exactly() {
        // Equal as doubles, different as numbers.
        let (a, b) = ("12345678901234567890.01", "12345678901234567890.02");
        assert_eq!(a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap());
        assert!(evaluate(Some(a), CompareOp::Lt, b, false));
        assert!(!evaluate(Some(a), CompareOp::Eq, b, false));
        assert!(evaluate(Some("1.50"), CompareOp::Eq, "1.5", false));
        assert!(evaluate(Some("007"), CompareOp::Eq, "7", false));
        assert!(evaluate(Some("-0"), CompareOp::Eq, "0.00", false));
        assert!(evaluate(Some("-10.5"), CompareOp::Lt, "-2", false));
        assert!(evaluate(Some("-1"), CompareOp::Lt, "0.1", false));
        assert!(evaluate(Some(".5"), CompareOp::Eq, "0.5", false));
        assert!(
            evaluate(Some("1e3"), CompareOp::Eq, "1000", false),
            "exponents as doubles"
        );
        assert!(evaluate(Some("9"), CompareOp::Lt, "10", false));
        assert!(evaluate(Some("abc"), CompareOp::Lt, "abd", false));
    }
}
