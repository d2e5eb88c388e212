//! PostgreSQL source and destination, both through binary `COPY`.
//!
//! Binary COPY is the fastest path PostgreSQL offers in and out (no text parsing of
//! numbers and timestamps on either side); `copy.rs` is the wire codec.

pub mod copy;
pub mod reader;
pub mod statements;
pub mod writer;

use crate::connectors::sql::Dialect;
use crate::connectors::sql::objects::{ObjectError, Problem, Side, from_pg};
use crate::tls::{PgTls, TlsFailure, problem_of};
use anyhow::{Context, Result};
use hakobu_core::config::{DbEndpoint, TlsMode};
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

/// Opens a connection; the driver task runs in the background until the client drops.
pub async fn connect(c: &DbEndpoint, connect_timeout: Option<u64>) -> Result<Client> {
    let mut cfg = tokio_postgres::Config::new();
    let timeout = Duration::from_secs(connect_timeout.unwrap_or(300));
    let mut port = c.port();
    if let Some(ssh) = &c.ssh {
        // The bastion reaches the database; the driver reaches the tunnel's loopback end,
        // under the database's name so TLS still verifies it.
        let local = crate::ssh::forward(ssh, &c.host, c.port(), timeout)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}:{}", c.host, c.port()))?;
        cfg.host(&c.host).hostaddr(local.ip());
        port = local.port();
    } else {
        // The checked addresses, each paired with the name so TLS still verifies the name.
        match crate::egress::pinned_addresses(&c.host, c.port())
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}:{}", c.host, c.port()))?
        {
            Some(addresses) => {
                for address in addresses {
                    cfg.host(&c.host).hostaddr(address);
                }
            }
            None => {
                cfg.host(&c.host);
            }
        }
    }
    cfg.port(port)
        .user(&c.user)
        .dbname(&c.database)
        .application_name("hakobu")
        .connect_timeout(timeout)
        .ssl_mode(match c.tls.mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
    if let Some(p) = &c.password {
        cfg.password(p);
    }
    let failed = |e: tokio_postgres::Error| {
        let at = format!(
            "cannot connect to PostgreSQL at {}:{} as {} (database {})",
            c.host,
            c.port(),
            c.user,
            c.database
        );
        match problem_of(&e) {
            Some(problem) => anyhow::Error::new(TlsFailure::new(problem, &c.host)).context(at),
            None => anyhow::Error::new(e).context(at),
        }
    };
    // The two arms have different stream types, so each spawns its own driver task.
    if c.tls.mode == TlsMode::Disable {
        let (client, connection) = cfg.connect(NoTls).await.map_err(failed)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection closed: {e}");
            }
        });
        Ok(client)
    } else {
        let tls = PgTls::new(&c.tls)?;
        let (client, connection) = cfg.connect(tls).await.map_err(failed)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection closed: {e}");
            }
        });
        Ok(client)
    }
}

/// A column of an existing table.
#[derive(Debug, Clone)]
pub struct TableColumn {
    /// Column name.
    pub name: String,
    /// `pg_type.typname`, e.g. `int4`.
    pub typname: String,
    /// The SQL type with modifiers, e.g. `numeric(12,2)`.
    pub sql_type: String,
}

/// Columns of a table; empty when the table does not exist.
pub async fn table_columns(client: &Client, qualified: &str) -> Result<Vec<TableColumn>> {
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&qualified],
        )
        .await
        .with_context(|| format!("cannot read the columns of {qualified}"))?;
    Ok(rows
        .iter()
        .map(|r| TableColumn {
            name: r.get(0),
            typname: r.get(1),
            sql_type: r.get(2),
        })
        .collect())
}

/// Primary key columns of a table, in key order.
pub async fn primary_key(client: &Client, qualified: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n",
            &[&qualified],
        )
        .await
        .with_context(|| format!("cannot read the primary key of {qualified}"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether a unique index of the table (not partial, not on expressions, not deferrable)
/// has exactly `columns` as its key, so that a key matches at most one row.
pub async fn unique_on(client: &Client, qualified: &str, columns: &[String]) -> Result<bool> {
    let mut wanted = columns.to_vec();
    wanted.sort();
    wanted.dedup();
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index i \
             WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indimmediate \
             AND i.indpred IS NULL AND i.indexprs IS NULL \
             AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE \"C\") \
                  FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                  WHERE k.n <= i.indnkeyatts) = $2::text[])",
            &[&qualified, &wanted],
        )
        .await
        .with_context(|| format!("cannot read the unique indexes of {qualified}"))?;
    Ok(row.get(0))
}

/// Fails with what is missing or closed (the table, its schema, the right to read it)
/// when `table` of `schema` cannot be read by this session. PostgreSQL reports a missing
/// schema as a missing relation, so the schema is looked up when the table is missing.
pub async fn ensure_readable(client: &Client, schema: &str, table: &str, side: Side) -> Result<()> {
    let quoted = Dialect::Postgres.qualified(Some(schema), table);
    let Err(e) = client
        .query(&format!("SELECT 1 FROM {quoted} LIMIT 0"), &[])
        .await
    else {
        return Ok(());
    };
    let object = from_pg(&e, side, &quoted);
    if object
        .as_ref()
        .is_some_and(|o| o.problem == Problem::Missing)
    {
        let schema_exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                &[&schema],
            )
            .await
            .with_context(|| format!("cannot look up schema {schema}"))?
            .get(0);
        if !schema_exists {
            return Err(ObjectError::missing("schema", schema, side).into());
        }
    }
    Err(match object {
        Some(o) => o.into(),
        None => anyhow::Error::new(e).context(format!("cannot read {quoted}")),
    })
}
