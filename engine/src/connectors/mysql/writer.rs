//! `out: {type: mysql}`: `LOAD DATA LOCAL INFILE` (or multi-row `INSERT`s) with Embulk's load modes.
//!
//! MySQL commits DDL implicitly, so the transactional modes stage rows in a session
//! `TEMPORARY` table (gone with the session if the run dies) and move them into the target
//! inside one InnoDB transaction at commit:
//! - `insert`: `INSERT INTO target SELECT ... FROM stage`
//! - `truncate_insert`: `DELETE FROM target` + insert (TRUNCATE would commit implicitly)
//! - `merge`: `INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`
//! - `delete_insert`: `DELETE` of the target rows whose keys match a staged row (or that
//!   match `delete_where`), then insert
//! - `replace`: rows go into a new table `<table>_hakobu_<session id>`, swapped in with
//!   one atomic `RENAME TABLE`. DDL cannot be rolled back, so a run killed mid-load leaves
//!   that table behind; the next replace of the same table drops such leftovers. Each run
//!   holds the named lock `hakobu_replace_<session id>` while it loads, so a leftover is
//!   dropped only when the session that made it is gone (never a concurrent run's table).
//! - `insert_direct`, `merge_direct`: straight into the target, batch by batch.
//!
//! Rows reach the stage (or the target of `insert_direct`) through `LOAD DATA LOCAL
//! INFILE` (see [`load_data`]): the batches become MySQL's escaped tab-separated text,
//! sent in chunks of [`MAX_CHUNK`] bytes. `merge_direct` keeps multi-row INSERTs (it needs
//! `ON DUPLICATE KEY UPDATE`, which LOAD DATA does not have), and so does every mode when
//! the server refuses local infile (`local_infile=OFF`) or the config says
//! `options: {allowLoadLocalInfile: false}` (Connector/J's name for the switch).

use super::{connect, datetime_text, table_columns};
use crate::connectors::sql::Dialect;
use crate::connectors::sql::objects::{Side, my_error};
use crate::shared::stats::ByteCounter;
use crate::types::{ColumnView, Value, column_type, days_to_date};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::{ColumnType, DbKind, JdbcOutput, Mode};
use hakobu_core::zone::Zone;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use std::fmt::Write;
use tokio::task::JoinHandle;

mod load_data;
use load_data::LoadData;

const D: Dialect = Dialect::Mysql;
const STAGE: &str = "hakobu_stage";
/// Statement size that stays well under MariaDB's default 16 MiB max_allowed_packet.
const MAX_STATEMENT: usize = 4 << 20;

/// The SQL type a pipeline column gets when Hakobu creates the table.
pub fn sql_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Long => "BIGINT",
        ColumnType::Double => "DOUBLE",
        ColumnType::String => "LONGTEXT",
        ColumnType::Timestamp => "DATETIME(6)",
        ColumnType::Json => "JSON",
        ColumnType::Decimal => "DECIMAL(65,30)",
        ColumnType::Date => "DATE",
        ColumnType::Bytes => "LONGBLOB",
    }
}

/// An open MySQL load.
pub struct MysqlWriter {
    conn: Option<Conn>,
    mode: Mode,
    target: String,
    target_raw: String,
    /// Where INSERTs go (target, temporary stage, or replacement table).
    insert_into: String,
    /// Replacement table name (replace mode).
    replacement: Option<String>,
    create_target: Option<String>,
    columns: Vec<String>,
    zones: Vec<Zone>,
    /// Key columns of `delete_insert` by key.
    merge_keys: Vec<String>,
    /// The config's `merge_rule`: the `ON DUPLICATE KEY UPDATE` assignments of `merge`.
    merge_rule: Vec<String>,
    /// `delete_insert` by a condition on the target.
    delete_where: Option<String>,
    before_load: Option<String>,
    after_load: Option<String>,
    sql: String,
    prefix: String,
    rows_in_statement: usize,
    /// `Some` when rows go through `LOAD DATA LOCAL INFILE` instead of INSERTs.
    load: Option<LoadData>,
    /// The LOAD DATA in flight, holding the connection, while the next chunk is encoded.
    pending: Option<JoinHandle<(Conn, Result<()>)>>,
    /// Every byte of LOAD DATA text and INSERT statements sent, for the run's bytes written.
    written: ByteCounter,
    /// Rows go straight into the target inside a transaction opened with the writer
    /// (insert and truncate_insert into an existing table): nothing to move at commit.
    direct: bool,
}

/// The lock a replace run holds for its whole session (named locks die with the session).
fn replace_lock(session: u32) -> String {
    format!("hakobu_replace_{session:08x}")
}

/// `<table>_hakobu_[old_]<session id>`, within MySQL's 64-character names.
fn replacement_name(table: &str, kind: &str, session: u32) -> String {
    format!(
        "{}_hakobu_{kind}{session:08x}",
        table.chars().take(40).collect::<String>()
    )
}

/// Drops the replacement tables of earlier replace runs of `table` whose session is gone
/// (killed runs; DDL is not transactional, so nothing else removes them).
async fn drop_leftovers(conn: &mut Conn, table: &str) -> Result<()> {
    let prefix = format!("{}_hakobu_", table.chars().take(40).collect::<String>());
    let names: Vec<String> = conn
        .exec(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND LEFT(table_name, CHAR_LENGTH(?)) = ?",
            (prefix.as_str(), prefix.as_str()),
        )
        .await
        .context("listing earlier replacement tables failed")?;
    for name in names {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let hex = rest.strip_prefix("old_").unwrap_or(rest);
        let Ok(session) = u32::from_str_radix(hex, 16) else {
            continue;
        };
        if hex.len() != 8 || name != replacement_name(table, &rest[..rest.len() - 8], session) {
            continue;
        }
        let free: Option<i64> = conn
            .query_first(format!("SELECT IS_FREE_LOCK('{}')", replace_lock(session)))
            .await?;
        if free == Some(1) {
            tracing::info!("dropping {name}, left behind by an interrupted replace");
            conn.query_drop(format!("DROP TABLE IF EXISTS {}", D.ident(&name)))
                .await
                .with_context(|| format!("dropping the leftover table {name} failed"))?;
        }
    }
    Ok(())
}

impl MysqlWriter {
    /// Connects, inspects the target and prepares the staging table.
    /// Connects to the destination (done while the source is being opened).
    pub async fn connect(c: &JdbcOutput) -> Result<Conn> {
        let endpoint = c.endpoint(DbKind::Mysql).map_err(|e| anyhow!("out.{e}"))?;
        connect(&endpoint, None).await
    }

    /// Inspects the target and prepares the staging table.
    pub async fn open(
        c: &JdbcOutput,
        schema: SchemaRef,
        mut conn: Conn,
        written: ByteCounter,
    ) -> Result<Self> {
        let mode = c.mode();
        let target = D.ident(&c.table);
        let existing = table_columns(&mut conn, &c.table).await?;
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if !existing.is_empty()
            && mode != Mode::Replace
            && let Some(m) = columns
                .iter()
                .find(|n| !existing.iter().any(|(e, _)| e.eq_ignore_ascii_case(n)))
        {
            bail!(
                "table {target} has no column {m:?}; its columns are {}",
                existing
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let defs = || {
            let mut d: Vec<String> = schema
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
            if let Some(con) = &c.create_table_constraint {
                d.push(con.clone());
            } else if matches!(mode, Mode::Merge | Mode::MergeDirect) && !c.merge_keys.is_empty() {
                d.push(format!("PRIMARY KEY ({})", D.column_list(&c.merge_keys)));
            }
            d.join(", ")
        };
        let create = |table: &str| {
            format!(
                "CREATE TABLE {table} ({}) {}",
                defs(),
                c.create_table_option.as_deref().unwrap_or("")
            )
        };
        let mut create_target =
            (existing.is_empty() && mode != Mode::Replace).then(|| create(&target));
        // Into an existing target, insert and truncate_insert load straight into it inside
        // one transaction (InnoDB rolls the rows and the DELETE back with it); a missing
        // target is created at commit (MySQL's DDL commits at once), so those stage.
        let direct = !existing.is_empty() && matches!(mode, Mode::Insert | Mode::TruncateInsert);
        let mut replacement = None;
        let insert_into = match mode {
            Mode::Insert | Mode::TruncateInsert if direct => {
                conn.query_drop("START TRANSACTION").await?;
                if mode == Mode::TruncateInsert {
                    // Row locks on every old row until the commit: other writers of the
                    // target wait, consistent reads see the old rows (docs/data-plane.md).
                    conn.query_drop(format!("DELETE FROM {target}"))
                        .await
                        .map_err(|e| {
                            my_error(e, Side::Destination, &c.table, || {
                                "emptying the target failed".to_owned()
                            })
                        })?;
                }
                // Before the rows, as Embulk runs it (after the delete, in truncate_insert).
                if let Some(sql) = &c.before_load {
                    conn.query_drop(sql).await.context("before_load")?;
                }
                target.clone()
            }
            Mode::InsertDirect | Mode::MergeDirect => {
                if let Some(sql) = create_target.take() {
                    conn.query_drop(&sql).await.map_err(|e| {
                        my_error(e, Side::Destination, &c.table, || {
                            format!("creating {target} failed")
                        })
                    })?;
                }
                if let Some(sql) = &c.before_load {
                    conn.query_drop(sql).await.context("before_load")?;
                }
                target.clone()
            }
            Mode::Insert | Mode::TruncateInsert | Mode::DeleteInsert | Mode::Merge => {
                let body = if existing.is_empty() {
                    format!("({})", defs())
                } else {
                    format!("LIKE {target}")
                };
                conn.query_drop(format!("CREATE TEMPORARY TABLE {} {body}", D.ident(STAGE)))
                    .await
                    .map_err(|e| {
                        my_error(e, Side::Destination, &c.table, || {
                            "creating the staging table failed".to_owned()
                        })
                    })?;
                D.ident(STAGE)
            }
            Mode::Replace => {
                let id = conn.id();
                let held: Option<i64> = conn
                    .query_first(format!("SELECT GET_LOCK('{}', 0)", replace_lock(id)))
                    .await
                    .context("taking the replace lock failed")?;
                if held != Some(1) {
                    bail!(
                        "another session holds the replace lock {}",
                        replace_lock(id)
                    );
                }
                drop_leftovers(&mut conn, &c.table).await?;
                let name = D.ident(&replacement_name(&c.table, "", id));
                conn.query_drop(create(&name)).await.map_err(|e| {
                    my_error(e, Side::Destination, &c.table, || {
                        format!("creating {name} failed")
                    })
                })?;
                // One transaction for the whole load (the commit's first statement ends
                // it): chunk after chunk into the new, empty table without a commit each,
                // as one LOAD DATA would (issue #16). The table is this run's alone.
                conn.query_drop("START TRANSACTION").await?;
                replacement = Some(name.clone());
                name
            }
        };
        let default_tz: Zone = c
            .default_timezone
            .as_deref()
            .unwrap_or("UTC")
            .parse()
            .map_err(|_| anyhow!("default_timezone: unknown zone"))?;
        let zones = columns
            .iter()
            .map(
                |n| match c.column_options.get(n).and_then(|o| o.timezone.as_deref()) {
                    Some(z) => z
                        .parse()
                        .map_err(|_| anyhow!("column_options.{n}.timezone: unknown zone")),
                    None => Ok(default_tz),
                },
            )
            .collect::<Result<Vec<_>>>()?;
        let cols = D.column_list(&columns);
        let load = if mode == Mode::MergeDirect {
            None
        } else {
            let wanted = load_data::allowed(&c.options)?;
            LoadData::open(&mut conn, wanted, &insert_into, &schema, mode).await?
        };
        Ok(MysqlWriter {
            conn: Some(conn),
            mode,
            prefix: format!("INSERT INTO {insert_into} ({cols}) VALUES "),
            target,
            target_raw: c.table.clone(),
            insert_into,
            replacement,
            create_target,
            columns,
            zones,
            merge_keys: c.merge_keys.clone(),
            merge_rule: c.merge_rule.clone(),
            delete_where: c.delete_where.clone().filter(|w| !w.trim().is_empty()),
            before_load: if mode.is_transactional() && !direct {
                c.before_load.clone()
            } else {
                None
            },
            direct,
            after_load: c.after_load.clone(),
            sql: String::new(),
            rows_in_statement: 0,
            load,
            pending: None,
            written,
        })
    }

    fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("open")
    }

    fn on_duplicate(&self) -> String {
        if !self.merge_rule.is_empty() {
            return format!(" ON DUPLICATE KEY UPDATE {}", self.merge_rule.join(", "));
        }
        let updates: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{0} = VALUES({0})", D.ident(c)))
            .collect();
        format!(" ON DUPLICATE KEY UPDATE {}", updates.join(", "))
    }

    /// Waits for the LOAD DATA in flight and takes its connection back.
    async fn settle(&mut self) -> Result<()> {
        let Some(task) = self.pending.take() else {
            return Ok(());
        };
        let (conn, result) = task
            .await
            .map_err(|e| anyhow!("the LOAD DATA task ended abnormally: {e}"))?;
        self.conn = Some(conn);
        result
    }

    /// Starts loading the rows encoded so far in the background (after the previous
    /// chunk is in), so the next chunk is encoded while the server stores this one.
    async fn send_chunk(&mut self) -> Result<()> {
        let Some(load) = &mut self.load else {
            return Ok(());
        };
        let Some(chunk) = load.take_chunk() else {
            return Ok(());
        };
        let (sql, transaction) = (load.sql(), load.transaction);
        self.written.add(chunk.size());
        self.settle().await?;
        let mut conn = self.conn.take().expect("open");
        self.pending = Some(tokio::spawn(async move {
            let result = load_data::load(&mut conn, &sql, transaction, chunk).await;
            (conn, result)
        }));
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.load.is_some() {
            self.send_chunk().await?;
            return self.settle().await;
        }
        if self.rows_in_statement == 0 {
            return Ok(());
        }
        if self.mode == Mode::MergeDirect {
            let dup = self.on_duplicate();
            self.sql.push_str(&dup);
        }
        let sql = std::mem::take(&mut self.sql);
        self.written.add(sql.len());
        self.rows_in_statement = 0;
        let table = self.target_raw.clone();
        self.conn()
            .query_drop(sql)
            .await
            .map_err(|e| my_error(e, Side::Destination, &table, || "INSERT failed".to_owned()))
    }

    /// Appends one batch as `VALUES` rows, sending a statement whenever it is large.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let views = (0..batch.num_columns())
            .map(|i| ColumnView::of(&batch, i))
            .collect::<Result<Vec<_>>>()?;
        if self.load.is_some() {
            for row in 0..batch.num_rows() {
                let load = self.load.as_mut().expect("LOAD DATA");
                load.push_row(&views, row, &self.zones, &self.columns)?;
                if load.is_full() {
                    self.send_chunk().await?;
                }
            }
            return Ok(());
        }
        for row in 0..batch.num_rows() {
            if self.rows_in_statement == 0 {
                self.sql.push_str(&self.prefix);
            } else {
                self.sql.push(',');
            }
            self.sql.push('(');
            for (i, v) in views.iter().enumerate() {
                if i > 0 {
                    self.sql.push(',');
                }
                literal(v.get(row), self.zones[i], &mut self.sql)
                    .with_context(|| format!("column {:?}", self.columns[i]))?;
            }
            self.sql.push(')');
            self.rows_in_statement += 1;
            if self.sql.len() >= MAX_STATEMENT {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Moves the staged rows into the target in one transaction.
    pub async fn commit(mut self) -> Result<()> {
        self.flush().await?;
        let result = self.commit_inner().await;
        if result.is_err() {
            let created = self.create_target.is_some();
            let target = self.target.clone();
            let conn = self.conn();
            let _ = conn.query_drop("ROLLBACK").await;
            if created {
                // The target was created by this run: leave the database as it was.
                let _ = conn
                    .query_drop(format!("DROP TABLE IF EXISTS {target}"))
                    .await;
            }
            if let Some(r) = self.replacement.take() {
                let _ = self
                    .conn()
                    .query_drop(format!("DROP TABLE IF EXISTS {r}"))
                    .await;
            }
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.disconnect().await;
        }
        result
    }

    async fn commit_inner(&mut self) -> Result<()> {
        let cols = D.column_list(&self.columns);
        if !self.mode.is_transactional() {
            if let Some(sql) = self.after_load.clone() {
                self.conn().query_drop(sql).await.context("after_load")?;
            }
            return Ok(());
        }
        if let Some(sql) = self.create_target.clone() {
            let table = self.target_raw.clone();
            self.conn().query_drop(sql).await.map_err(|e| {
                my_error(e, Side::Destination, &table, || {
                    "creating the target failed".to_owned()
                })
            })?;
        }
        let (target, stage) = (self.target.clone(), self.insert_into.clone());
        let raw = self.target_raw.clone();
        let dest = |what: &'static str| {
            let raw = raw.clone();
            move |e| my_error(e, Side::Destination, &raw, || what.to_owned())
        };
        if !self.direct {
            // (A direct load's transaction is open since the start: another START
            // TRANSACTION would commit it.)
            self.conn().query_drop("START TRANSACTION").await?;
            if let Some(sql) = self.before_load.clone() {
                self.conn().query_drop(sql).await.context("before_load")?;
            }
        }
        match self.mode {
            Mode::Insert | Mode::TruncateInsert if self.direct => {}
            Mode::Insert => self
                .conn()
                .query_drop(format!(
                    "INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}"
                ))
                .await
                .map_err(dest("moving rows into the target failed"))?,
            Mode::TruncateInsert => {
                self.conn()
                    .query_drop(format!("DELETE FROM {target}"))
                    .await
                    .map_err(dest("emptying the target failed"))?;
                self.conn()
                    .query_drop(format!(
                        "INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}"
                    ))
                    .await
                    .map_err(dest("moving rows into the target failed"))?;
            }
            Mode::DeleteInsert => {
                // Prepared, so that the condition can never carry a second statement.
                let delete = match &self.delete_where {
                    Some(condition) => format!("DELETE FROM {target} WHERE ({condition})"),
                    None => {
                        let matches: Vec<String> = self
                            .merge_keys
                            .iter()
                            .map(|k| format!("t.{0} = s.{0}", D.ident(k)))
                            .collect();
                        format!(
                            "DELETE t FROM {target} AS t JOIN {stage} AS s ON {}",
                            matches.join(" AND ")
                        )
                    }
                };
                self.conn()
                    .exec_drop(delete, ())
                    .await
                    .context("deleting the target rows to replace failed")?;
                self.conn()
                    .query_drop(format!(
                        "INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}"
                    ))
                    .await?;
            }
            Mode::Merge => {
                let dup = self.on_duplicate();
                self.conn()
                    .query_drop(format!(
                        "INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}{dup}"
                    ))
                    .await
                    .map_err(dest("merge failed"))?
            }
            Mode::Replace => {}
            Mode::InsertDirect | Mode::MergeDirect => unreachable!("not transactional"),
        }
        if let Some(sql) = self.after_load.clone() {
            self.conn().query_drop(sql).await.context("after_load")?;
        }
        if self.mode == Mode::Replace {
            // RENAME TABLE commits implicitly; it is atomic on its own.
            let new = self.replacement.clone().expect("replace table");
            let id = self.conn().id();
            let old = D.ident(&replacement_name(&self.target_raw, "old_", id));
            let raw = self.target_raw.clone();
            if !table_columns(self.conn(), &raw).await?.is_empty() {
                self.conn()
                    .query_drop(format!("RENAME TABLE {target} TO {old}, {new} TO {target}"))
                    .await
                    .map_err(dest("replacing the target failed"))?;
                self.conn().query_drop(format!("DROP TABLE {old}")).await?;
            } else {
                self.conn()
                    .query_drop(format!("RENAME TABLE {new} TO {target}"))
                    .await
                    .map_err(dest("replacing the target failed"))?;
            }
            self.replacement = None;
        } else {
            self.conn()
                .query_drop("COMMIT")
                .await
                .context("COMMIT failed")?;
        }
        Ok(())
    }

    /// Drops staged rows; the temporary stage disappears with the session.
    pub async fn abort(mut self) {
        let _ = self.settle().await;
        if self.direct
            && let Some(conn) = self.conn.as_mut()
        {
            let _ = conn.query_drop("ROLLBACK").await;
        }
        if let Some(r) = self.replacement.take()
            && let Some(conn) = self.conn.as_mut()
        {
            let _ = conn.query_drop(format!("DROP TABLE IF EXISTS {r}")).await;
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.disconnect().await;
        }
    }
}

fn literal(v: Value<'_>, tz: Zone, out: &mut String) -> Result<()> {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Bool(b) => out.push_str(if b { "1" } else { "0" }),
        Value::Long(n) => write!(out, "{n}")?,
        Value::Double(f) if f.is_finite() => write!(out, "{f:?}")?,
        Value::Double(f) => bail!("{f} cannot be stored in MySQL"),
        Value::Str(s) => push_quoted(s, out),
        Value::Micros(m) => write!(out, "'{}'", datetime_text(m, tz)?)?,
        Value::Days(d) => write!(
            out,
            "'{}'",
            days_to_date(d).ok_or_else(|| anyhow!("date out of range"))?
        )?,
        Value::Bytes(b) => {
            out.push_str("X'");
            out.push_str(&hex::encode(b));
            out.push('\'');
        }
    }
    Ok(())
}

/// A MySQL string literal (default sql_mode: backslash escapes are active).
fn push_quoted(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
}
