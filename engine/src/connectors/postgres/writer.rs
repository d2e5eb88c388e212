//! `out: {type: postgresql}`: binary `COPY FROM STDIN` with Embulk's load modes.
//!
//! Hakobu writes through one connection, so the transactional modes need no shared
//! intermediate table: the whole load runs in one transaction that a failure, a kill or a
//! lost connection rolls back, leaving the target exactly as it was (and nothing behind).
//! - `insert`: COPY into the target inside the transaction.
//! - `truncate_insert`: `TRUNCATE`, then COPY into the target, inside the transaction
//!   (through a temporary table only when a column must be cast).
//! - `merge`: COPY into a temporary table, then at commit `UPDATE .. FROM` the matching
//!   rows and `INSERT .. WHERE NOT EXISTS` the others (a unique index on the merge keys),
//!   or `INSERT ... ON CONFLICT DO UPDATE`; the target is locked only for that last step.
//! - `delete_insert`: COPY into a temporary table, then at commit delete the target rows
//!   whose keys match a staged row (or that match `delete_where`) and insert the staged rows.
//! - `replace`: COPY into a new table, then at commit drop the target and rename.
//! - `insert_direct`: no wrapping transaction; each 64 MiB COPY statement commits.
//! - `merge_direct`: no wrapping transaction; each batch is upserted and committed.

use super::copy::{HEADER, PgWrite, encode_rows};
use super::{connect, primary_key, table_columns, unique_on};
use crate::connectors::sql::Dialect;
use crate::connectors::sql::objects::{Side, pg_error};
use crate::shared::stats::ByteCounter;
use crate::types::{ColumnView, column_type};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use hakobu_core::config::{ColumnType, DbKind, JdbcOutput, Mode};
use hakobu_core::zone::Zone;
use std::pin::Pin;
use tokio_postgres::{Client, CopyInSink};

const D: Dialect = Dialect::Postgres;
/// Bytes buffered before they are sent to the server.
const FLUSH_BYTES: usize = 1 << 20;
/// PostgreSQL reports a COPY error (a duplicate key, a NOT NULL violation) only when the
/// COPY ends, so the load is cut into COPY statements of this size within its transaction:
/// a bad row fails the run after at most this much more data instead of at the very end.
const COPY_SEGMENT_BYTES: usize = 64 << 20;
const STAGE: &str = "hakobu_stage";

/// The SQL type a pipeline column gets when Hakobu creates the table.
pub fn sql_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Boolean => "boolean",
        ColumnType::Long => "bigint",
        ColumnType::Double => "double precision",
        ColumnType::String => "text",
        ColumnType::Timestamp => "timestamp with time zone",
        ColumnType::Json => "jsonb",
        ColumnType::Decimal => "numeric",
        ColumnType::Date => "date",
        ColumnType::Bytes => "bytea",
    }
}

/// An open PostgreSQL load.
pub struct PgWriter {
    client: Client,
    mode: Mode,
    target: String,
    target_name: String,
    /// The table rows are copied into (target, temporary stage, or replacement).
    copy_table: String,
    /// `CREATE TABLE` for the target when it does not exist yet.
    create_target: Option<String>,
    columns: Vec<String>,
    writers: Vec<PgWrite>,
    merge_keys: Vec<String>,
    /// The config's `merge_rule`: SQL assignments instead of "take the incoming value".
    merge_rule: Vec<String>,
    /// `delete_insert` by a condition on the target.
    delete_where: Option<String>,
    /// `(column, SQL type)` staged as text and cast when moved into the target.
    cast_columns: Vec<(String, String)>,
    /// Rows are copied straight into the target inside the run's transaction (insert and
    /// truncate_insert without `cast_columns`): nothing to move at commit.
    direct: bool,
    before_load: Option<String>,
    after_load: Option<String>,
    sink: Option<Pin<Box<CopyInSink<Bytes>>>>,
    buf: BytesMut,
    /// Bytes sent by the current COPY statement.
    segment_bytes: usize,
    /// Every COPY byte sent, for the run's bytes written.
    written: ByteCounter,
    /// Rows the server took in by the COPY statements finished so far.
    copied: u64,
}

impl PgWriter {
    /// Connects, inspects the target and starts the COPY.
    /// Connects to the destination (done while the source is being opened).
    pub async fn connect(c: &JdbcOutput) -> Result<Client> {
        let endpoint = c
            .endpoint(DbKind::Postgresql)
            .map_err(|e| anyhow!("out.{e}"))?;
        connect(&endpoint, None).await
    }

    /// Inspects the target and starts the COPY.
    pub async fn open(
        c: &JdbcOutput,
        schema: SchemaRef,
        client: Client,
        written: ByteCounter,
    ) -> Result<Self> {
        let mode = c.mode();
        let schema_name = c.schema.as_deref().unwrap_or("public");
        let target = D.qualified(Some(schema_name), &c.table);
        let existing = table_columns(&client, &target).await?;
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();

        let mapped = |with_constraint: bool| -> String {
            let mut defs: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| {
                    let ty = c
                        .column_options
                        .get(f.name())
                        .and_then(|o| o.type_.clone())
                        .unwrap_or_else(|| sql_type(column_type(f)).to_owned());
                    format!("{} {ty}", D.ident(f.name()))
                })
                .collect();
            if with_constraint {
                if let Some(con) = &c.create_table_constraint {
                    defs.push(con.clone());
                } else if matches!(mode, Mode::Merge | Mode::MergeDirect)
                    && !c.merge_keys.is_empty()
                {
                    // ON CONFLICT needs a unique index on the merge keys.
                    defs.push(format!("PRIMARY KEY ({})", D.column_list(&c.merge_keys)));
                }
            }
            defs.join(", ")
        };
        let create_sql = |table: &str| {
            format!(
                "CREATE TABLE {table} ({}) {}",
                mapped(true),
                c.create_table_option.as_deref().unwrap_or("")
            )
        };

        if !existing.is_empty() && mode != Mode::Replace {
            let missing: Vec<&String> = columns
                .iter()
                .filter(|n| !existing.iter().any(|e| &e.name == *n))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "table {target} has no column {}; its columns are {}",
                    missing
                        .iter()
                        .map(|m| format!("{m:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    existing
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let mut merge_keys = c.merge_keys.clone();
        if matches!(mode, Mode::Merge | Mode::MergeDirect) && merge_keys.is_empty() {
            merge_keys = primary_key(&client, &target).await?;
            if merge_keys.is_empty() && existing.is_empty() {
                bail!(
                    "merge_keys: required because table {schema_name}.{} does not exist (destination), so it has no primary key to merge on",
                    c.table
                );
            }
            if merge_keys.is_empty() {
                bail!("merge_keys: required because table {target} has no primary key");
            }
        }

        // Target columns of types without a binary encoder are staged as text and cast by
        // the server when the rows move into the target.
        let cast_columns: Vec<(String, String)> = if mode == Mode::Replace {
            Vec::new()
        } else {
            existing
                .iter()
                .filter(|e| {
                    columns.contains(&e.name) && PgWrite::for_type(&e.typname, Zone::UTC).is_none()
                })
                .map(|e| (e.name.clone(), e.sql_type.clone()))
                .collect()
        };
        let staged_insert =
            !cast_columns.is_empty() && matches!(mode, Mode::Insert | Mode::InsertDirect);
        if staged_insert && mode == Mode::InsertDirect {
            bail!(
                "column {:?} has type {}, which insert_direct cannot write; use mode insert",
                cast_columns[0].0,
                cast_columns[0].1
            );
        }
        // Inside the run's transaction, insert and truncate_insert COPY straight into the
        // target (PostgreSQL's TRUNCATE is transactional, and rolls back with the rows);
        // only columns that must be cast go through a stage.
        let direct = cast_columns.is_empty() && matches!(mode, Mode::Insert | Mode::TruncateInsert);
        let mut create_target =
            (existing.is_empty() && mode != Mode::Replace).then(|| create_sql(&target));
        let mut before_load = c.before_load.clone();
        if !mode.is_transactional() {
            if let Some(sql) = create_target.take() {
                client.batch_execute(&sql).await.map_err(|e| {
                    pg_error(e, Side::Destination, &target, || {
                        format!("creating {target} failed")
                    })
                })?;
            }
            if let Some(sql) = before_load.take() {
                client.batch_execute(&sql).await.context("before_load")?;
            }
        } else {
            client.batch_execute("BEGIN").await?;
        }

        let copy_table = match mode {
            Mode::InsertDirect if !staged_insert => target.clone(),
            Mode::Insert | Mode::TruncateInsert if direct => {
                if let Some(sql) = create_target.take() {
                    // Inside the transaction: a failed run does not leave an empty table.
                    client.batch_execute(&sql).await.map_err(|e| {
                        pg_error(e, Side::Destination, &target, || {
                            format!("creating {target} failed")
                        })
                    })?;
                } else if mode == Mode::TruncateInsert {
                    // Its ACCESS EXCLUSIVE lock is held until the commit: readers of the
                    // target wait for the load (docs/data-plane.md, "What each mode locks").
                    client
                        .batch_execute(&format!("TRUNCATE {target}"))
                        .await
                        .map_err(|e| {
                            pg_error(e, Side::Destination, &target, || {
                                format!("truncating {target} failed")
                            })
                        })?;
                }
                // Before the rows, as Embulk runs it (after the truncate, in truncate_insert).
                if let Some(sql) = before_load.take() {
                    client.batch_execute(&sql).await.context("before_load")?;
                }
                target.clone()
            }
            Mode::Insert
            | Mode::InsertDirect
            | Mode::TruncateInsert
            | Mode::DeleteInsert
            | Mode::Merge
            | Mode::MergeDirect => {
                let like = if existing.is_empty() && create_target.is_none() {
                    // merge_direct created the target above
                    format!("(LIKE {target})")
                } else if existing.is_empty() {
                    format!("({})", mapped(false))
                } else {
                    format!("(LIKE {target})")
                };
                let on_commit = if mode == Mode::MergeDirect {
                    ""
                } else {
                    " ON COMMIT DROP"
                };
                client
                    .batch_execute(&format!(
                        "CREATE TEMPORARY TABLE {} {like}{on_commit}",
                        D.ident(STAGE)
                    ))
                    .await
                    .map_err(|e| {
                        pg_error(e, Side::Destination, &target, || {
                            "creating the staging table failed".to_owned()
                        })
                    })?;
                for (name, _) in &cast_columns {
                    client
                        .batch_execute(&format!(
                            "ALTER TABLE {} ALTER {} TYPE text",
                            D.ident(STAGE),
                            D.ident(name)
                        ))
                        .await?;
                }
                format!("pg_temp.{}", D.ident(STAGE))
            }
            Mode::Replace => {
                let name = format!(
                    "{}_hakobu_{:08x}",
                    c.table.chars().take(40).collect::<String>(),
                    std::process::id()
                );
                let table = D.qualified(Some(schema_name), &name);
                client
                    .batch_execute(&create_sql(&table))
                    .await
                    .map_err(|e| {
                        pg_error(e, Side::Destination, &table, || {
                            format!("creating {table} failed")
                        })
                    })?;
                table
            }
        };

        let default_tz: Zone = c
            .default_timezone
            .as_deref()
            .unwrap_or("UTC")
            .parse()
            .map_err(|_| anyhow!("default_timezone: unknown zone"))?;
        let types = if copy_table == target && !existing.is_empty() {
            existing.clone()
        } else {
            table_columns(&client, &copy_table).await?
        };
        let writers = columns
            .iter()
            .map(|name| {
                let typname = &types
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| anyhow!("column {name:?} missing in {copy_table}"))?
                    .typname;
                let tz = match c
                    .column_options
                    .get(name)
                    .and_then(|o| o.timezone.as_deref())
                {
                    Some(z) => z
                        .parse()
                        .map_err(|_| anyhow!("column_options.{name}.timezone: unknown zone"))?,
                    None => default_tz,
                };
                PgWrite::for_type(typname, tz).ok_or_else(|| {
                    anyhow!("column {name:?} has type {typname}, which Hakobu cannot write yet")
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let mut w = PgWriter {
            client,
            mode,
            target,
            target_name: c.table.clone(),
            copy_table,
            create_target,
            columns,
            writers,
            merge_keys,
            merge_rule: c.merge_rule.clone(),
            delete_where: c.delete_where.clone().filter(|w| !w.trim().is_empty()),
            cast_columns,
            direct,
            before_load,
            after_load: c.after_load.clone(),
            sink: None,
            buf: BytesMut::with_capacity(FLUSH_BYTES * 2),
            segment_bytes: 0,
            written,
            copied: 0,
        };
        if mode != Mode::MergeDirect {
            w.start_copy().await?;
        }
        Ok(w)
    }

    async fn start_copy(&mut self) -> Result<()> {
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.copy_table,
            D.column_list(&self.columns)
        );
        let sink = self.client.copy_in(sql.as_str()).await.map_err(|e| {
            pg_error(e, Side::Destination, &self.target, || {
                "starting COPY failed".to_owned()
            })
        })?;
        self.sink = Some(Box::pin(sink));
        self.buf.extend_from_slice(HEADER);
        Ok(())
    }

    async fn finish_copy(&mut self) -> Result<u64> {
        let Some(mut sink) = self.sink.take() else {
            return Ok(0);
        };
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.written.add(self.buf.len());
        sink.send(self.buf.split().freeze())
            .await
            .context("COPY failed")?;
        let rows = sink.as_mut().finish().await.context("COPY failed")?;
        self.copied += rows;
        Ok(rows)
    }

    /// Encodes and sends one batch.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if self.mode == Mode::MergeDirect {
            self.start_copy().await?;
        }
        let views = (0..batch.num_columns())
            .map(|i| ColumnView::of(&batch, i))
            .collect::<Result<Vec<_>>>()?;
        encode_rows(
            &views,
            &self.writers,
            &self.columns,
            batch.num_rows(),
            &mut self.buf,
        )?;
        if self.mode == Mode::MergeDirect {
            self.finish_copy().await?;
            let sql = self.merge_sql();
            self.client
                .batch_execute(&format!("{sql}; TRUNCATE {}", self.copy_table))
                .await
                .map_err(|e| {
                    pg_error(e, Side::Destination, &self.target, || {
                        "merge failed".to_owned()
                    })
                })?;
        } else if self.buf.len() >= FLUSH_BYTES {
            self.segment_bytes += self.buf.len();
            self.written.add(self.buf.len());
            let sink = self.sink.as_mut().expect("copy started");
            sink.send(self.buf.split().freeze())
                .await
                .context("COPY failed")?;
            if self.segment_bytes >= COPY_SEGMENT_BYTES {
                self.segment_bytes = 0;
                self.finish_copy().await?;
                self.start_copy().await?;
            }
        }
        Ok(())
    }

    /// The staged columns as the target's types.
    fn select_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| match self.cast_columns.iter().find(|(n, _)| n == c) {
                Some((_, ty)) => format!("{}::{ty}", D.ident(c)),
                None => D.ident(c),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn merge_sql(&self) -> String {
        let cols = D.column_list(&self.columns);
        let select = self.select_list();
        let keys = D.column_list(&self.merge_keys);
        // embulk-output-postgresql's rules name the incoming row `S` and the target by its
        // table (its `WITH updated AS (UPDATE ... FROM S) INSERT ... WHERE NOT EXISTS`),
        // newer versions `EXCLUDED` (`ON CONFLICT DO UPDATE`): each form runs as written for.
        if !self.merge_rule.is_empty()
            && !self
                .merge_rule
                .iter()
                .any(|r| r.to_ascii_lowercase().contains("excluded."))
        {
            let matched = |left: &str| {
                self.merge_keys
                    .iter()
                    .map(|k| format!("{left}.{0} = S.{0}", D.ident(k)))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            };
            let returned = self
                .merge_keys
                .iter()
                .map(|k| format!("S.{}", D.ident(k)))
                .collect::<Vec<_>>()
                .join(", ");
            return format!(
                "WITH S AS (SELECT {select} FROM {stage}), \
                 updated AS (UPDATE {target} SET {rules} FROM S WHERE {on_target} RETURNING {returned}) \
                 INSERT INTO {target} ({cols}) SELECT DISTINCT ON ({keys}) {cols} FROM S \
                 WHERE NOT EXISTS (SELECT 1 FROM updated WHERE {on_updated})",
                stage = self.copy_table,
                target = self.target,
                rules = self.merge_rule.join(", "),
                on_target = matched(&self.target),
                on_updated = matched("updated"),
            );
        }
        let updates: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !self.merge_keys.contains(c))
            .map(|c| format!("{0} = EXCLUDED.{0}", D.ident(c)))
            .collect();
        let action = if !self.merge_rule.is_empty() {
            format!("UPDATE SET {}", self.merge_rule.join(", "))
        } else if updates.is_empty() {
            "NOTHING".to_owned()
        } else {
            format!("UPDATE SET {}", updates.join(", "))
        };
        format!(
            "INSERT INTO {} ({cols}) SELECT {select} FROM {} ON CONFLICT ({}) DO {action}",
            self.target, self.copy_table, keys
        )
    }

    /// The incoming columns a merge updates: all but the keys.
    fn updated_columns(&self) -> impl Iterator<Item = &String> {
        self.columns.iter().filter(|c| !self.merge_keys.contains(c))
    }

    /// A staged column as the target's type, read through the alias `s`.
    fn staged(&self, column: &str) -> String {
        match self.cast_columns.iter().find(|(n, _)| n == column) {
            Some((_, ty)) => format!("s.{}::{ty}", D.ident(column)),
            None => format!("s.{}", D.ident(column)),
        }
    }

    /// `merge` into a target with a unique index on exactly the merge keys: the staged
    /// rows update the rows they match, then the others are inserted. Same result as
    /// `INSERT .. ON CONFLICT DO UPDATE`, at about half its cost: a plain insert instead
    /// of a speculative insertion per row (issue #16, docs/data-plane.md "Load modes").
    ///
    /// `SHARE ROW EXCLUSIVE` (until the commit, which follows at once) keeps other writers
    /// out between the two statements, so no key can appear in between; readers never
    /// wait. An incoming key that comes twice fails the run as ON CONFLICT would: the
    /// rows updated and inserted then fall short of the rows staged.
    async fn merge_in_two_statements(&mut self) -> Result<()> {
        let (target, stage) = (&self.target, &self.copy_table);
        let on_keys = self
            .merge_keys
            .iter()
            .map(|k| format!("t.{0} = s.{0}", D.ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let set = self
            .updated_columns()
            .map(|c| format!("{} = {}", D.ident(c), self.staged(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let values = self
            .columns
            .iter()
            .map(|c| self.staged(c))
            .collect::<Vec<_>>()
            .join(", ");
        let failed = |e| pg_error(e, Side::Destination, target, || "merge failed".to_owned());
        self.client
            .batch_execute(&format!("LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"))
            .await
            .map_err(failed)?;
        let updated = self
            .client
            .execute(
                format!("UPDATE {target} AS t SET {set} FROM {stage} AS s WHERE {on_keys}")
                    .as_str(),
                &[],
            )
            .await
            .map_err(failed)?;
        let inserted = self
            .client
            .execute(
                format!(
                    "INSERT INTO {target} ({cols}) SELECT {values} FROM {stage} AS s \
                     WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {on_keys})",
                    cols = D.column_list(&self.columns)
                )
                .as_str(),
                &[],
            )
            .await
            .map_err(failed)?;
        if updated + inserted != self.copied {
            bail!(
                "merge failed: a value of merge_keys ({}) comes more than once in the incoming rows; each key may come only once",
                self.merge_keys.join(", ")
            );
        }
        Ok(())
    }

    /// Finishes the COPY and makes the rows visible in one transaction.
    pub async fn commit(mut self) -> Result<()> {
        self.finish_copy().await?;
        let result = self.commit_inner().await;
        if result.is_err() && self.mode.is_transactional() {
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
        result
    }

    async fn commit_inner(&mut self) -> Result<()> {
        if !self.mode.is_transactional() {
            if let Some(sql) = &self.after_load {
                self.client.batch_execute(sql).await.context("after_load")?;
            }
            return Ok(());
        }
        if let Some(sql) = &self.create_target {
            self.client.batch_execute(sql).await.map_err(|e| {
                pg_error(e, Side::Destination, &self.target, || {
                    format!("creating {} failed", self.target)
                })
            })?;
        }
        if let Some(sql) = &self.before_load {
            self.client
                .batch_execute(sql)
                .await
                .context("before_load")?;
        }
        let cols = D.column_list(&self.columns);
        let select = self.select_list();
        // (merge_rule keeps its own forms; with only key columns there is nothing to update.)
        let merge_in_two = self.mode == Mode::Merge
            && self.merge_rule.is_empty()
            && self.updated_columns().next().is_some()
            && unique_on(&self.client, &self.target, &self.merge_keys).await?;
        match self.mode {
            Mode::Insert | Mode::TruncateInsert if self.direct => {}
            Mode::Insert | Mode::TruncateInsert => {
                let truncate = if self.mode == Mode::TruncateInsert {
                    format!("TRUNCATE {}; ", self.target)
                } else {
                    String::new()
                };
                self.client
                    .batch_execute(&format!(
                        "{truncate}INSERT INTO {t} ({cols}) SELECT {select} FROM {s}",
                        t = self.target,
                        s = self.copy_table
                    ))
                    .await
                    .map_err(|e| {
                        pg_error(e, Side::Destination, &self.target, || {
                            "moving rows into the target failed".to_owned()
                        })
                    })?;
            }
            Mode::DeleteInsert => {
                let delete = match &self.delete_where {
                    // In parentheses, so that an `OR` in the condition stays inside it.
                    Some(condition) => format!("DELETE FROM {} WHERE ({condition})", self.target),
                    None => {
                        let matches: Vec<String> = self
                            .merge_keys
                            .iter()
                            .map(|k| format!("t.{0} = s.{0}", D.ident(k)))
                            .collect();
                        format!(
                            "DELETE FROM {} AS t USING {} AS s WHERE {}",
                            self.target,
                            self.copy_table,
                            matches.join(" AND ")
                        )
                    }
                };
                self.client
                    .execute(delete.as_str(), &[])
                    .await
                    .context("deleting the target rows to replace failed")?;
                self.client
                    .execute(
                        format!(
                            "INSERT INTO {t} ({cols}) SELECT {select} FROM {s}",
                            t = self.target,
                            s = self.copy_table
                        )
                        .as_str(),
                        &[],
                    )
                    .await
                    .context("moving rows into the target failed")?;
            }
            Mode::Merge if merge_in_two => self.merge_in_two_statements().await?,
            Mode::Merge => {
                let sql = self.merge_sql();
                self.client.batch_execute(&sql).await.map_err(|e| {
                    pg_error(e, Side::Destination, &self.target, || {
                        "merge failed".to_owned()
                    })
                })?;
            }
            Mode::Replace => {
                self.client
                    .batch_execute(&format!(
                        "DROP TABLE IF EXISTS {}; ALTER TABLE {} RENAME TO {}",
                        self.target,
                        self.copy_table,
                        D.ident(&self.target_name)
                    ))
                    .await
                    .map_err(|e| {
                        pg_error(e, Side::Destination, &self.target, || {
                            "replacing the target failed".to_owned()
                        })
                    })?;
            }
            Mode::InsertDirect | Mode::MergeDirect => unreachable!("not transactional"),
        }
        if let Some(sql) = &self.after_load {
            self.client.batch_execute(sql).await.context("after_load")?;
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .context("COMMIT failed")?;
        Ok(())
    }

    /// Rolls back: the server discards the staged rows and any table created by the run.
    pub async fn abort(mut self) {
        // Dropping the sink before `finish` makes the server abort the COPY.
        self.sink.take();
        if self.mode.is_transactional() {
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
    }
}
