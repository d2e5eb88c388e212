//! Browsing a database for the app's forms: schemas, tables, columns and primary keys.

use super::connection::{Connection, DbKind};
use super::error::CheckError;
use serde::Serialize;

/// Schemas the user can see (MySQL: the connection's database).
pub async fn list_schemas(conn: &Connection) -> Result<Vec<String>, CheckError> {
    let sql = match conn.endpoint.kind {
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
    let sql = match conn.endpoint.kind {
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
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
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
    let sql = match conn.endpoint.kind {
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

/// The primary key columns of a table, in key order; empty when it has none (or does not
/// exist). The app uses it to refuse a merge that has no key to merge on.
pub async fn primary_key(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, CheckError> {
    let sql = match conn.endpoint.kind {
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
