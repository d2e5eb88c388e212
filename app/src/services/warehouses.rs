//! A data warehouse connection (BigQuery, Snowflake) browsed and checked: its datasets or
//! schemas, tables, columns, previews and data checks, each in a probe worker (never in
//! this process, which holds the service's secrets) under the tenant's egress policy, like
//! a database's (`engine_bridge`).

use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::services::engine_bridge::{self, TIMEOUT, decrypt_secrets, probe, upstream_at};
use crate::state::AppState;
use hakobu_core::api::connections::PreviewResponse;
use hakobu_core::job::checks::CheckOperator;
use hakobu_core::job::{TableRef, check_select};
use hakobu_engine::Preview;
use hakobu_engine::check::{self, CheckError, Listing, WarehouseRead};
use hakobu_engine::probe::ProbeTask;
use serde_json::Map;

/// What a connection is browsed as: a database, or a data warehouse.
#[derive(Debug, Clone)]
pub enum Browse {
    Database(Box<check::Connection>),
    Warehouse(check::Warehouse),
}

/// The engine's view of a saved warehouse connection (secrets in clear, for the probe
/// worker only); `None` for other kinds.
pub fn saved(state: &AppState, c: &Connection) -> Result<Option<check::Warehouse>, ApiError> {
    if !c.kind.is_warehouse() {
        return Ok(None);
    }
    let secrets = decrypt_secrets(state, c)?;
    let plain = c.settings.as_object().cloned().unwrap_or_else(Map::new);
    engine_bridge::warehouse(c.kind, &plain, &secrets)
        .map(Some)
        .ok_or_else(|| {
            ApiError::Upstream(
                "The connection's settings are incomplete: enter its key or password again.".into(),
            )
        })
}

/// A saved connection as something to browse: a database or a warehouse; `None` for
/// storage kinds.
pub fn browse(state: &AppState, c: &Connection) -> Result<Option<Browse>, ApiError> {
    if let Some(w) = saved(state, c)? {
        return Ok(Some(Browse::Warehouse(w)));
    }
    Ok(engine_bridge::database(state, c)?.map(|d| Browse::Database(Box::new(d))))
}

/// Datasets (BigQuery) or schemas (Snowflake).
pub async fn list_schemas(
    state: &AppState,
    w: &check::Warehouse,
) -> Result<Listing<String>, CheckError> {
    let task = ProbeTask::WarehouseSchemas {
        warehouse: w.clone(),
        timeout: TIMEOUT,
    };
    probe(state, task).await
}

/// Tables of a dataset or schema (empty: the connection's own).
pub async fn list_tables(
    state: &AppState,
    w: &check::Warehouse,
    schema: &str,
) -> Result<Listing<String>, CheckError> {
    let task = ProbeTask::WarehouseTables {
        warehouse: w.clone(),
        schema: schema.to_owned(),
        timeout: TIMEOUT,
    };
    probe(state, task).await
}

/// Columns of a table; empty when it does not exist.
pub async fn list_columns(
    state: &AppState,
    w: &check::Warehouse,
    schema: &str,
    table: &str,
) -> Result<Listing<check::ColumnInfo>, CheckError> {
    let task = ProbeTask::WarehouseColumns {
        warehouse: w.clone(),
        schema: schema.to_owned(),
        table: table.to_owned(),
        timeout: TIMEOUT,
    };
    probe(state, task).await
}

/// The first rows of a table, or of one SELECT query (checked here; the engine wraps it
/// as `SELECT * FROM (...) LIMIT n`, so nothing else runs).
pub async fn preview(
    state: &AppState,
    w: &check::Warehouse,
    schema: String,
    table: Option<&TableRef>,
    query: Option<&str>,
    limit: usize,
) -> Result<PreviewResponse, ApiError> {
    let read = match (table, query) {
        (Some(t), None) => WarehouseRead::Table {
            schema,
            table: t.name.clone(),
        },
        (None, Some(q)) => {
            check_select(q).map_err(|m| ApiError::field("query", m))?;
            WarehouseRead::Query {
                query: q.to_owned(),
            }
        }
        _ => return Err(ApiError::field("table", "give either a table or a query")),
    };
    let task = ProbeTask::WarehousePreview {
        warehouse: w.clone(),
        read,
        limit,
        timeout: TIMEOUT,
    };
    let result: Preview = probe(state, task)
        .await
        .map_err(|e| upstream_at(e, "the warehouse"))?;
    Ok(engine_bridge::preview_response(result))
}

/// A data check's one value on a warehouse, compared with an expected one.
pub async fn data_check(
    state: &AppState,
    w: &check::Warehouse,
    sql: &str,
    operator: CheckOperator,
    expected: &str,
    null_passes: bool,
) -> Result<check::DataCheckResult, CheckError> {
    let task = ProbeTask::WarehouseDataCheck {
        warehouse: w.clone(),
        sql: sql.to_owned(),
        operator,
        expected: expected.to_owned(),
        null_passes,
        timeout: TIMEOUT,
    };
    probe(state, task).await
}

/// A query variable's value on a warehouse: the first value of `sql`'s first row, as text
/// (`None`: no row, or NULL), at most `limit` characters (longer is refused without being
/// read), within `timeout`, as [`engine_bridge::query_value`] on a database.
pub async fn query_value(
    state: &AppState,
    w: &check::Warehouse,
    sql: &str,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Option<String>, CheckError> {
    let task = ProbeTask::WarehouseValue {
        warehouse: w.clone(),
        sql: sql.to_owned(),
        limit,
        timeout,
    };
    state
        .probes
        .run(task, timeout)
        .await
        .map_err(|e| e.into_check_error())
}
