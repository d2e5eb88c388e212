//! `out: {type: snowflake}`: bulk loads through a stage and `COPY INTO`, never row inserts.
//!
//! Rows are written as Parquet parts of up to [`PART_BYTES`]; each part is uploaded to a
//! temporary stage and copied (`COPY INTO ... MATCH_BY_COLUMN_NAME`) into a transient
//! staging table of the pipeline's columns. What happens next depends on the mode:
//! - `insert`, `truncate_insert`, `merge`: at commit, in one transaction (`BEGIN` ...
//!   `COMMIT`), `INSERT INTO target SELECT` from the staging table, after `DELETE FROM
//!   target` for `truncate_insert`; `merge` is one `MERGE` on `merge_keys`, atomic by
//!   itself. A failure rolls back: the target is left exactly as it was.
//! - `replace`: at commit, one `CREATE OR REPLACE TABLE target AS SELECT` from the staging
//!   table: one statement, so readers see the old table or the new one.
//! - `insert_direct`: each part is moved into the target as soon as it is staged (each
//!   move commits); a failure leaves the parts moved so far.
//!
//! The target is created when missing (except by `replace`, which always makes it anew),
//! with the mapped types of [`sql_type`]; an existing table keeps its own types and the
//! staged values are cast into them by the move. The staging table and stage are dropped
//! at the end, whatever happened.

use super::{Login, Session};
use crate::shared::stats::ByteCounter;
use crate::types::column_type;
use anyhow::{Context, Result, anyhow};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::{ColumnType, Mode, SnowflakeOutput};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// A Parquet part is uploaded once it holds about this many bytes: memory holds at most
/// one part, and each `COPY INTO` loads a file of a size Snowflake recommends.
pub const PART_BYTES: usize = 32 << 20;

/// The Snowflake type a pipeline column gets when Hakobu creates the table.
pub fn sql_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Long => "NUMBER(19,0)",
        ColumnType::Double => "FLOAT",
        ColumnType::String => "VARCHAR",
        ColumnType::Timestamp => "TIMESTAMP_TZ",
        ColumnType::Json => "VARIANT",
        // Snowflake's NUMBER holds at most 38 digits; 9 of them after the point.
        ColumnType::Decimal => "NUMBER(38,9)",
        ColumnType::Date => "DATE",
        ColumnType::Bytes => "BINARY",
    }
}

/// The staging table's type: JSON stays text there and is parsed by the move.
fn stage_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Json => "VARCHAR",
        other => sql_type(other),
    }
}

/// An identifier as SQL: a plain name (letters, digits, `_`, `$`, not starting with a
/// digit) is quoted in upper case, which is what Snowflake makes of it unquoted (and a
/// reserved word such as `order` stays usable); any other name is quoted as written.
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    let name = if plain {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    };
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An open Snowflake load.
pub struct SnowflakeWriter {
    session: Session,
    mode: Mode,
    target: String,
    /// `CREATE TABLE IF NOT EXISTS` of the target.
    create_target: String,
    staging: String,
    stage: String,
    /// `(identifier, pipeline type)` of each column.
    columns: Vec<(String, ColumnType)>,
    merge_keys: Vec<String>,
    schema: SchemaRef,
    part: Option<ArrowWriter<Vec<u8>>>,
    parts: u32,
    written: ByteCounter,
}

impl SnowflakeWriter {
    /// Signs in (done while the source is being opened).
    pub async fn connect(c: &SnowflakeOutput) -> Result<Session> {
        let account = c.account_name();
        let base = c.base_url();
        Session::connect(&Login::of(c, &account, &base))
            .await
            .context("out")
    }

    /// Creates the stage and the staging table (and, for `insert_direct`, the target).
    pub async fn open(
        c: &SnowflakeOutput,
        schema: SchemaRef,
        session: Session,
        written: ByteCounter,
    ) -> Result<Self> {
        let qualify = |table: &str| {
            format!(
                "{}.{}.{}",
                ident(&c.database),
                ident(c.schema_name()),
                ident(table)
            )
        };
        let columns: Vec<(String, ColumnType)> = schema
            .fields()
            .iter()
            .map(|f| (ident(f.name()), column_type(f)))
            .collect();
        let defs = |ty: fn(ColumnType) -> &'static str| {
            columns
                .iter()
                .map(|(n, t)| format!("{n} {}", ty(*t)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let create_defs = defs(sql_type);
        let staging_defs = defs(stage_type);
        let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        let target = qualify(&c.table);
        let staging = qualify(&format!("HAKOBU_STAGE_{id}"));
        let stage = format!("@{}", qualify(&format!("HAKOBU_FILES_{id}")));
        let w = SnowflakeWriter {
            mode: c.mode(),
            create_target: format!("CREATE TABLE IF NOT EXISTS {target} ({create_defs})"),
            merge_keys: c.merge_keys.iter().map(|k| ident(k)).collect(),
            target,
            staging,
            stage,
            columns,
            schema,
            part: None,
            parts: 0,
            written,
            session,
        };
        let setup = async {
            w.session
                .execute(&format!("CREATE TEMPORARY STAGE {}", &w.stage[1..]))
                .await
                .context("creating the upload stage")?;
            // Transient: no fail-safe copies of rows that live for one run.
            w.session
                .execute(&format!(
                    "CREATE TRANSIENT TABLE {} ({})",
                    w.staging, staging_defs
                ))
                .await
                .context("creating the staging table")?;
            if w.mode == Mode::InsertDirect {
                w.session
                    .execute(&w.create_target)
                    .await
                    .with_context(|| format!("creating {}", w.target))?;
            }
            anyhow::Ok(())
        }
        .await;
        match setup {
            Ok(()) => Ok(w),
            Err(e) => {
                w.abort().await;
                Err(e.context("out"))
            }
        }
    }

    /// Adds a batch to the current part, uploading the part when it is full.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if self.part.is_none() {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            self.part = Some(ArrowWriter::try_new(
                Vec::new(),
                self.schema.clone(),
                Some(props),
            )?);
        }
        let part = self.part.as_mut().expect("opened above");
        part.write(&batch)?;
        if part.bytes_written() + part.in_progress_size() >= PART_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Uploads the current part and copies it into the staging table (and, for
    /// `insert_direct`, on into the target). The COPY names no file: `PURGE` removed the
    /// parts loaded before, and Snowflake's load history would skip them anyway (the
    /// emulator cannot select files of an internal stage with `FILES =`).
    async fn flush(&mut self) -> Result<()> {
        let Some(part) = self.part.take() else {
            return Ok(());
        };
        let bytes = part.into_inner()?;
        self.parts += 1;
        let name = format!("part-{:05}.parquet", self.parts);
        self.written.add(bytes.len());
        self.session
            .upload(&self.stage, &name, bytes)
            .await
            .context("out")?;
        self.session
            .execute(&format!(
                "COPY INTO {} FROM {} FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE PURGE = TRUE",
                self.staging, self.stage
            ))
            .await
            .with_context(|| format!("out: loading {name} into the staging table"))?;
        if self.mode == Mode::InsertDirect {
            self.session
                .execute(&self.insert_from_staging())
                .await
                .with_context(|| format!("out: inserting into {}", self.target))?;
            self.session
                .execute(&format!("DELETE FROM {}", self.staging))
                .await
                .context("out: emptying the staging table")?;
        }
        Ok(())
    }

    /// The staged columns as a select list, JSON parsed.
    fn select_list(&self) -> String {
        self.columns
            .iter()
            .map(|(n, t)| match t {
                ColumnType::Json => format!("PARSE_JSON({n}) AS {n}"),
                _ => n.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn insert_from_staging(&self) -> String {
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            self.target,
            self.column_list(),
            self.select_list(),
            self.staging
        )
    }

    fn merge(&self) -> String {
        let on = self
            .merge_keys
            .iter()
            .map(|k| format!("t.{k} = s.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let updates: Vec<String> = self
            .columns
            .iter()
            .filter(|(n, _)| !self.merge_keys.contains(n))
            .map(|(n, _)| format!("{n} = s.{n}"))
            .collect();
        let matched = if updates.is_empty() {
            String::new()
        } else {
            format!(" WHEN MATCHED THEN UPDATE SET {}", updates.join(", "))
        };
        let values = self
            .columns
            .iter()
            .map(|(n, _)| format!("s.{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "MERGE INTO {} t USING (SELECT {} FROM {}) s ON {on}{matched} WHEN NOT MATCHED THEN INSERT ({}) VALUES ({values})",
            self.target,
            self.select_list(),
            self.staging,
            self.column_list()
        )
    }

    /// Loads the last part and makes everything visible at once.
    pub async fn commit(mut self) -> Result<()> {
        let result = self.finish().await;
        self.abort().await;
        result.context("out")
    }

    async fn finish(&mut self) -> Result<()> {
        self.flush().await?;
        let s = &self.session;
        // DDL commits any open transaction in Snowflake, so the target is made before it.
        if self.mode != Mode::Replace {
            s.execute(&self.create_target)
                .await
                .with_context(|| format!("creating {}", self.target))?;
        }
        let statements: Vec<String> = match self.mode {
            Mode::InsertDirect => return Ok(()),
            Mode::Replace => {
                s.execute(&format!(
                    "CREATE OR REPLACE TABLE {} COPY GRANTS AS SELECT {} FROM {}",
                    self.target,
                    self.select_list(),
                    self.staging
                ))
                .await
                .with_context(|| format!("replacing {}", self.target))?;
                return Ok(());
            }
            Mode::Insert => vec![self.insert_from_staging()],
            Mode::TruncateInsert => vec![
                format!("DELETE FROM {}", self.target),
                self.insert_from_staging(),
            ],
            // One MERGE statement is atomic by itself (and the emulator cannot run a MERGE
            // inside BEGIN .. COMMIT).
            Mode::Merge => {
                s.execute(&self.merge())
                    .await
                    .with_context(|| format!("loading {}", self.target))?;
                return Ok(());
            }
            other => return Err(anyhow!("mode {other} is not offered for Snowflake")),
        };
        s.execute("BEGIN").await?;
        for sql in &statements {
            if let Err(e) = s.execute(sql).await {
                let _ = s.execute("ROLLBACK").await;
                return Err(e).with_context(|| format!("loading {}", self.target));
            }
        }
        if let Err(e) = s.execute("COMMIT").await {
            let _ = s.execute("ROLLBACK").await;
            return Err(e).with_context(|| format!("committing {}", self.target));
        }
        Ok(())
    }

    /// Drops the staging table and the stage and ends the session.
    pub async fn abort(self) {
        let s = &self.session;
        let _ = s.execute("ROLLBACK").await;
        let _ = s
            .execute(&format!("DROP TABLE IF EXISTS {}", self.staging))
            .await;
        let _ = s
            .execute(&format!("DROP STAGE IF EXISTS {}", &self.stage[1..]))
            .await;
        self.session.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(ident("orders"), "\"ORDERS\"");
        assert_eq!(ident("order"), "\"ORDER\"");
        assert_eq!(ident("Order Lines"), "\"Order Lines\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("1st"), "\"1st\"");
    }
}
