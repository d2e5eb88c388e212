//! Browsing a database for the app's forms: schemas, tables, columns and primary keys.
//!
//! A tenant's database may hold millions of tables: a listing answers at most
//! [`DISCOVERY_MAX_ENTRIES`] entries and [`DISCOVERY_MAX_BYTES`] of names, asks the server
//! for no more than that, and says when it stopped ([`Listing::truncated`]).

use super::connection::{Connection, DbKind, TextRows};
use super::error::CheckError;
use crate::limits::{DISCOVERY_MAX_BYTES, DISCOVERY_MAX_ENTRIES};
use serde::Serialize;

/// Entries of a listing, and whether there were more than it answers.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Listing<T> {
    /// The entries, at most [`DISCOVERY_MAX_ENTRIES`].
    pub items: Vec<T>,
    /// Whether the listing stopped at its bound before the database's answer ended.
    pub truncated: bool,
}

/// Runs a listing's `sql` (without a LIMIT of its own) within the listing bounds.
async fn listing(conn: &Connection, sql: &str, params: &[&str]) -> Result<TextRows, CheckError> {
    // One more than is answered, so a longer listing is told from one exactly as long.
    let limited = format!("{sql} LIMIT {}", DISCOVERY_MAX_ENTRIES + 1);
    conn.guarded(conn.query_text(&limited, params, DISCOVERY_MAX_ENTRIES, DISCOVERY_MAX_BYTES))
        .await
}

/// The first column of each row.
fn names(rows: TextRows) -> Listing<String> {
    Listing {
        items: rows
            .rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect(),
        truncated: rows.truncated,
    }
}

/// Schemas the user can see (MySQL: the connection's database).
pub async fn list_schemas(conn: &Connection) -> Result<Listing<String>, CheckError> {
    let sql = match conn.endpoint.kind {
        DbKind::Postgresql => {
            "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND has_schema_privilege(oid, 'USAGE') ORDER BY 1"
        }
        DbKind::Mysql => "SELECT DATABASE()",
    };
    Ok(names(listing(conn, sql, &[]).await?))
}

/// Tables and views of a schema.
pub async fn list_tables(conn: &Connection, schema: &str) -> Result<Listing<String>, CheckError> {
    let sql = match conn.endpoint.kind {
        DbKind::Postgresql => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1"
        }
        DbKind::Mysql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ? ORDER BY 1"
        }
    };
    Ok(names(listing(conn, sql, &[schema]).await?))
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
) -> Result<Listing<ColumnInfo>, CheckError> {
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
    let rows = listing(conn, sql, &[schema, table]).await?;
    Ok(Listing {
        items: rows
            .rows
            .into_iter()
            .map(|r| ColumnInfo {
                name: r[0].clone().unwrap_or_default(),
                data_type: r[1].clone().unwrap_or_default(),
                nullable: r[2].as_deref() == Some("true"),
            })
            .collect(),
        truncated: rows.truncated,
    })
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
    // A key has at most 32 columns (PostgreSQL) or 16 (MySQL): the listing bounds hold.
    Ok(names(listing(conn, sql, &[schema, table]).await?).items)
}
