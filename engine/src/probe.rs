//! The probe worker's protocol: one request in, one reply out.
//!
//! Connection tests, discovery (of databases, data warehouses and file sources), previews, data checks (a
//! preview's, a workflow task's), query-variable values and a workflow's HTTP requests
//! reach addresses a tenant chose, so the app never runs them itself: it starts
//! `hakobu-runner probe`, a fresh process that holds none of the service's secrets, writes
//! a [`ProbeRequest`] (the task and the egress policy) to its standard input and reads a
//! [`ProbeReply`] from its standard output. A crash, a runaway answer or a hang there
//! costs one probe, never the app.

use crate::check::{self, BucketAccess, CheckError, Connection, ErrorKind, FileStore};
use hakobu_core::egress::EgressPolicy;
use hakobu_core::job::checks::CheckOperator;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// The most a request may weigh: a task is settings and a query, never data.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

/// The most a reply may weigh. Previews stop reading at their own budget well below it;
/// this is the app's guard against a worker that answers without end.
pub const MAX_REPLY_BYTES: u64 = 8 * 1024 * 1024;

/// The address space a worker may use: enough for a TLS handshake and a preview, far
/// from what would hurt the machine.
pub const MEMORY_LIMIT_BYTES: u64 = 1024 * 1024 * 1024;

/// CPU seconds a worker may burn before the kernel stops it.
pub const CPU_LIMIT_SECONDS: u64 = 30;

/// What to do, and under which egress policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// Where the worker may connect.
    pub egress: EgressPolicy,
    /// The work.
    pub task: ProbeTask,
}

/// One probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum ProbeTask {
    /// Connect and ask the server's version ([`check::check`]).
    TestDatabase { connection: Connection },
    /// List the top of a bucket.
    TestBucket {
        bucket: BucketAccess,
        timeout: Duration,
    },
    /// Open a directory.
    TestDirectory { directory: String },
    /// Sign in to a data warehouse and run `SELECT 1`.
    TestWarehouse {
        warehouse: check::Warehouse,
        timeout: Duration,
    },
    /// Schemas the user may use.
    ListSchemas { connection: Connection },
    /// Tables of a schema.
    ListTables {
        connection: Connection,
        schema: String,
    },
    /// Columns of a table.
    ListColumns {
        connection: Connection,
        schema: String,
        table: String,
    },
    /// Primary key columns of a table.
    PrimaryKey {
        connection: Connection,
        schema: String,
        table: String,
    },
    /// The first rows of a table.
    PreviewTable {
        connection: Connection,
        schema: String,
        table: String,
        limit: usize,
    },
    /// The first rows of a read-only query.
    PreviewQuery {
        connection: Connection,
        query: String,
        limit: usize,
    },
    /// The first value of a query, at most `limit` characters of it.
    QueryValue {
        connection: Connection,
        sql: String,
        limit: usize,
    },
    /// Files of a file source (a bucket, or the organization's folder).
    ListFiles {
        store: FileStore,
        path_prefix: String,
        path_match_pattern: Option<String>,
        max: usize,
    },
    /// The format and columns of a file source's first file, and its first rows.
    GuessFiles {
        store: FileStore,
        path_prefix: String,
        path_match_pattern: Option<String>,
        file: Option<String>,
        limit: usize,
        timeout: Duration,
    },
    /// Datasets (BigQuery) or schemas (Snowflake) of a warehouse.
    WarehouseSchemas {
        warehouse: check::Warehouse,
        timeout: Duration,
    },
    /// Tables of a warehouse's dataset or schema (empty: the connection's own).
    WarehouseTables {
        warehouse: check::Warehouse,
        schema: String,
        timeout: Duration,
    },
    /// Columns of a warehouse's table.
    WarehouseColumns {
        warehouse: check::Warehouse,
        schema: String,
        table: String,
        timeout: Duration,
    },
    /// The first rows of a warehouse's table or of a query there.
    WarehousePreview {
        warehouse: check::Warehouse,
        read: check::WarehouseRead,
        limit: usize,
        timeout: Duration,
    },
    /// A data check's one value on a warehouse, compared with an expected one.
    WarehouseDataCheck {
        warehouse: check::Warehouse,
        sql: String,
        operator: CheckOperator,
        expected: String,
        null_passes: bool,
        timeout: Duration,
    },
    /// A query variable's value on a warehouse: the first value of a query, at most
    /// `limit` characters of it (as [`ProbeTask::QueryValue`] on a database).
    WarehouseValue {
        warehouse: check::Warehouse,
        sql: String,
        limit: usize,
        timeout: Duration,
    },
    /// One value compared with an expected one.
    DataCheck {
        connection: Connection,
        sql: String,
        operator: CheckOperator,
        expected: String,
        null_passes: bool,
    },
    /// A workflow's HTTP task: one request, its answer's status and first bytes.
    HttpRequest { call: check::HttpCall },
}

impl ProbeTask {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeTask::TestDatabase { .. } => "test_database",
            ProbeTask::TestBucket { .. } => "test_bucket",
            ProbeTask::TestDirectory { .. } => "test_directory",
            ProbeTask::TestWarehouse { .. } => "test_warehouse",
            ProbeTask::ListSchemas { .. } => "list_schemas",
            ProbeTask::ListTables { .. } => "list_tables",
            ProbeTask::ListColumns { .. } => "list_columns",
            ProbeTask::PrimaryKey { .. } => "primary_key",
            ProbeTask::PreviewTable { .. } => "preview_table",
            ProbeTask::PreviewQuery { .. } => "preview_query",
            ProbeTask::QueryValue { .. } => "query_value",
            ProbeTask::DataCheck { .. } => "data_check",
            ProbeTask::ListFiles { .. } => "list_files",
            ProbeTask::GuessFiles { .. } => "guess_files",
            ProbeTask::WarehouseSchemas { .. } => "warehouse_schemas",
            ProbeTask::WarehouseTables { .. } => "warehouse_tables",
            ProbeTask::WarehouseColumns { .. } => "warehouse_columns",
            ProbeTask::WarehousePreview { .. } => "warehouse_preview",
            ProbeTask::WarehouseDataCheck { .. } => "warehouse_data_check",
            ProbeTask::WarehouseValue { .. } => "warehouse_value",
            ProbeTask::HttpRequest { .. } => "http_request",
        }
    }
}

/// The answer: the task's value, or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeReply {
    /// The task's result; its shape depends on the task.
    Done(Value),
    /// The task failed in a way the analyst can act on.
    Failed(CheckError),
}

/// Runs one request in this process, after installing its egress policy.
pub async fn execute(request: ProbeRequest) -> ProbeReply {
    crate::egress::install(request.egress);
    let answer = match request.task {
        ProbeTask::TestDatabase { connection } => done(check::check(&connection).await),
        ProbeTask::TestBucket { bucket, timeout } => {
            done(check::test_bucket(&bucket, timeout).await)
        }
        ProbeTask::TestDirectory { directory } => done(check::test_directory(&directory).await),
        ProbeTask::TestWarehouse { warehouse, timeout } => {
            done(check::test_warehouse(&warehouse, timeout).await)
        }
        ProbeTask::ListSchemas { connection } => done(check::list_schemas(&connection).await),
        ProbeTask::ListTables { connection, schema } => {
            done(check::list_tables(&connection, &schema).await)
        }
        ProbeTask::ListColumns {
            connection,
            schema,
            table,
        } => done(check::list_columns(&connection, &schema, &table).await),
        ProbeTask::PrimaryKey {
            connection,
            schema,
            table,
        } => done(check::primary_key(&connection, &schema, &table).await),
        ProbeTask::PreviewTable {
            connection,
            schema,
            table,
            limit,
        } => done(check::preview_table(&connection, &schema, &table, limit).await),
        ProbeTask::PreviewQuery {
            connection,
            query,
            limit,
        } => done(check::preview_query(&connection, &query, limit).await),
        ProbeTask::QueryValue {
            connection,
            sql,
            limit,
        } => done(check::query_value(&connection, &sql, limit).await),
        ProbeTask::ListFiles {
            store,
            path_prefix,
            path_match_pattern,
            max,
        } => done(
            check::list_source_files(&store, &path_prefix, path_match_pattern.as_deref(), max)
                .await,
        ),
        ProbeTask::GuessFiles {
            store,
            path_prefix,
            path_match_pattern,
            file,
            limit,
            timeout,
        } => done(
            check::guess_source_file(
                &store,
                &path_prefix,
                path_match_pattern.as_deref(),
                file.as_deref(),
                limit,
                timeout,
            )
            .await,
        ),
        ProbeTask::DataCheck {
            connection,
            sql,
            operator,
            expected,
            null_passes,
        } => done(check::data_check(&connection, &sql, operator, &expected, null_passes).await),
        ProbeTask::WarehouseSchemas { warehouse, timeout } => {
            done(check::warehouse_schemas(&warehouse, timeout).await)
        }
        ProbeTask::WarehouseTables {
            warehouse,
            schema,
            timeout,
        } => done(check::warehouse_tables(&warehouse, &schema, timeout).await),
        ProbeTask::WarehouseColumns {
            warehouse,
            schema,
            table,
            timeout,
        } => done(check::warehouse_columns(&warehouse, &schema, &table, timeout).await),
        ProbeTask::WarehousePreview {
            warehouse,
            read,
            limit,
            timeout,
        } => done(check::warehouse_preview(&warehouse, &read, limit, timeout).await),
        ProbeTask::WarehouseDataCheck {
            warehouse,
            sql,
            operator,
            expected,
            null_passes,
            timeout,
        } => done(
            check::warehouse_data_check(
                &warehouse,
                &sql,
                operator,
                &expected,
                null_passes,
                timeout,
            )
            .await,
        ),
        ProbeTask::WarehouseValue {
            warehouse,
            sql,
            limit,
            timeout,
        } => done(check::warehouse_value(&warehouse, &sql, limit, timeout).await),
        ProbeTask::HttpRequest { call } => done(check::http_request(&call).await),
    };
    answer.unwrap_or_else(ProbeReply::Failed)
}

fn done<T: Serialize>(result: Result<T, CheckError>) -> Result<ProbeReply, CheckError> {
    let value = result?;
    serde_json::to_value(value)
        .map(ProbeReply::Done)
        .map_err(|e| CheckError {
            kind: ErrorKind::Other,
            ssh_host_key: None,
            message: format!("the answer could not be encoded: {e}"),
        })
}
