//! `out: {type: bigquery}`: rows become newline-delimited JSON, streamed in chunks into
//! one resumable upload whose load job runs at commit; never row-by-row streaming inserts.
//!
//! The transactional modes (`append`, `replace`, `merge`) load into a temporary table
//! and then change the target with one copy or `MERGE` job, so a failed run leaves the
//! target as it was. `append_direct` loads into the target itself (a failed load job adds
//! nothing); `delete_in_advance` empties the target, then loads into it.

use super::{BqField, Client};
use crate::shared::stats::ByteCounter;
use crate::types::{ColumnView, Value, column_type, days_to_date, micros_to_datetime};
use anyhow::{Result, bail};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use base64::Engine as _;
use hakobu_core::config::{BigqueryMode, BigqueryOutput, ColumnType};
use serde_json::{Value as Json, json};

/// Bytes sent per upload chunk: a multiple of 256 KiB as resumable uploads require, and
/// what bounds the writer's memory whatever the table's size.
const CHUNK: usize = 8 * 1024 * 1024;

/// How long a temporary table lives if a run dies before dropping it (real BigQuery
/// deletes it then by itself).
const TEMP_TABLE_TTL_MS: i64 = 24 * 3600 * 1000;

/// The BigQuery type a created table gives a pipeline column.
pub fn bigquery_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Boolean => "BOOL",
        ColumnType::Long => "INT64",
        ColumnType::Double => "FLOAT64",
        ColumnType::String => "STRING",
        // Hakobu's timestamps are instants: TIMESTAMP, not the zoneless DATETIME.
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::Json => "JSON",
        // NUMERIC keeps 38 digits with 9 after the point; wider decimals need
        // `column_options: [{name: c, type: BIGNUMERIC}]`.
        ColumnType::Decimal => "NUMERIC",
        ColumnType::Date => "DATE",
        ColumnType::Bytes => "BYTES",
    }
}

/// Column names BigQuery accepts, which are also safe in the generated SQL.
pub(super) fn check_column(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 300
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        bail!(
            "column {name:?} is not a valid BigQuery column name (letters, digits and underscores, not starting with a digit); rename it with a rename filter"
        );
    }
    Ok(())
}

/// An open BigQuery output.
pub struct BigqueryWriter {
    client: Client,
    config: BigqueryOutput,
    /// Each source column's type in the load table, in source order.
    columns: Vec<(String, ColumnType, String)>,
    /// Whether the target existed when the run began.
    target_exists: bool,
    /// The table the load job fills: a temporary one, or the target in the direct modes.
    load_table: String,
    /// Whether `load_table` is a temporary table of this run.
    temporary: bool,
    buffer: Vec<u8>,
    session: Option<String>,
    sent: u64,
    written: ByteCounter,
}

impl BigqueryWriter {
    /// Connects, reads the target's schema and prepares the table the load job fills.
    pub async fn open(c: &BigqueryOutput, schema: SchemaRef, written: ByteCounter) -> Result<Self> {
        let client = Client::connect(c).await?;
        let mode = c.mode();
        let existing = client.table_schema(&c.dataset, &c.table).await?;
        if existing.is_none() && !c.auto_create_table() {
            bail!(
                "table {}.{} does not exist and auto_create_table is false",
                c.dataset,
                c.table
            );
        }
        let mut columns = Vec::new();
        for f in schema.fields() {
            check_column(f.name())?;
            let t = column_type(f);
            let explicit = c
                .column_options
                .iter()
                .find(|o| o.name == *f.name())
                .and_then(|o| o.type_.clone());
            let target = existing
                .as_ref()
                .and_then(|e| e.iter().find(|x| x.name.eq_ignore_ascii_case(f.name())))
                .map(|x| x.type_.clone());
            let bq = target
                .or(explicit)
                .unwrap_or_else(|| bigquery_type(t).to_owned());
            columns.push((f.name().clone(), t, bq));
        }
        for k in &c.merge_keys {
            if !columns.iter().any(|(n, _, _)| n == k) {
                bail!("merge_keys: the source has no column {k:?}");
            }
        }
        let fields: Vec<BqField> = columns
            .iter()
            .map(|(n, _, t)| BqField {
                name: n.clone(),
                type_: t.clone(),
            })
            .collect();
        let layout = layout(c);
        let transactional = mode.is_transactional() && mode != BigqueryMode::AppendDirect;
        let (load_table, temporary) = if transactional {
            let name = format!("{}_hakobu_tmp_{:016x}", c.table, rand_suffix());
            let mut extra = layout.clone();
            extra["expirationTime"] =
                json!((chrono::Utc::now().timestamp_millis() + TEMP_TABLE_TTL_MS).to_string());
            client
                .create_table(&c.dataset, &name, &fields, extra)
                .await?;
            (name, true)
        } else {
            if existing.is_none() {
                client
                    .create_table(&c.dataset, &c.table, &fields, layout)
                    .await?;
            }
            (c.table.clone(), false)
        };
        Ok(BigqueryWriter {
            client,
            config: c.clone(),
            columns,
            target_exists: existing.is_some(),
            load_table,
            temporary,
            buffer: Vec::with_capacity(CHUNK + 64 * 1024),
            session: None,
            sent: 0,
            written,
        })
    }

    /// Encodes one batch; full chunks are sent as they fill.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let views = (0..batch.num_columns())
            .map(|i| ColumnView::of(&batch, i))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            let mut object = serde_json::Map::with_capacity(views.len());
            for (view, (name, t, bq)) in views.iter().zip(&self.columns) {
                let v = view.get(row);
                if !matches!(v, Value::Null) {
                    object.insert(name.clone(), to_json(v, *t, bq));
                }
            }
            serde_json::to_writer(&mut self.buffer, &Json::Object(object))?;
            self.buffer.push(b'\n');
        }
        while self.buffer.len() >= CHUNK {
            let rest = self.buffer.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.buffer, rest);
            self.send(chunk, None).await?;
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Vec<u8>, total: Option<u64>) -> Result<Option<Json>> {
        let session = match &self.session {
            Some(s) => s.clone(),
            None => {
                let s = self.client.start_upload(self.load_config()).await?;
                self.session = Some(s.clone());
                s
            }
        };
        let len = chunk.len() as u64;
        let answer = self
            .client
            .upload_chunk(&session, chunk, self.sent, total)
            .await?;
        self.sent += len;
        self.written.add(len as usize);
        Ok(answer)
    }

    fn load_config(&self) -> Json {
        json!({
            "destinationTable": {"projectId": self.client.project, "datasetId": self.config.dataset, "tableId": self.load_table},
            "sourceFormat": "NEWLINE_DELIMITED_JSON",
            "writeDisposition": "WRITE_APPEND",
            "createDisposition": "CREATE_NEVER",
        })
    }

    /// Runs the load job, then the mode's one copy or `MERGE` job.
    pub async fn commit(self) -> Result<()> {
        self.finish().await
    }

    async fn finish(mut self) -> Result<()> {
        let outcome = self.load_and_apply().await;
        // The temporary table goes whether the run succeeded or not (commit consumes the
        // writer: no abort follows a failed commit).
        if self.temporary {
            let dropped = self
                .client
                .delete_table(&self.config.dataset, &self.load_table)
                .await;
            if let Err(e) = dropped {
                tracing::warn!(
                    "the temporary table {} was not dropped: {e:#}",
                    self.load_table
                );
            }
        }
        outcome
    }

    async fn load_and_apply(&mut self) -> Result<()> {
        let mode = self.config.mode();
        if mode == BigqueryMode::DeleteInAdvance && self.target_exists {
            self.client
                .query(&format!("DELETE FROM {} WHERE TRUE", self.target()))
                .await?;
        }
        if self.sent > 0 || !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            let total = self.sent + last.len() as u64;
            match self.send(last, Some(total)).await? {
                Some(job) => {
                    self.client.wait(job).await?;
                }
                None => bail!("BigQuery did not start the load job after the last chunk"),
            }
        }
        if self.temporary {
            self.apply(mode).await?;
        }
        Ok(())
    }

    /// The temporary table's rows into the target, in one job.
    async fn apply(&self, mode: BigqueryMode) -> Result<()> {
        let c = &self.config;
        let copy = |write: &str| {
            json!({"copy": {
                "sourceTable": {"projectId": self.client.project, "datasetId": c.dataset, "tableId": self.load_table},
                "destinationTable": {"projectId": self.client.project, "datasetId": c.dataset, "tableId": c.table},
                "writeDisposition": write,
                "createDisposition": "CREATE_IF_NEEDED",
            }})
        };
        match mode {
            BigqueryMode::Append => {
                self.client.run_job(copy("WRITE_APPEND")).await?;
            }
            BigqueryMode::Replace => {
                self.client.run_job(copy("WRITE_TRUNCATE")).await?;
            }
            // A new target has nothing to merge with: the copy creates it.
            BigqueryMode::Merge if !self.target_exists => {
                self.client.run_job(copy("WRITE_APPEND")).await?;
            }
            BigqueryMode::Merge => {
                self.client.query(&self.merge_sql()).await?;
            }
            BigqueryMode::AppendDirect | BigqueryMode::DeleteInAdvance => {}
        }
        Ok(())
    }

    fn target(&self) -> String {
        format!(
            "`{}.{}.{}`",
            self.client.project, self.config.dataset, self.config.table
        )
    }

    /// One `MERGE` of the temporary table into the target on `merge_keys`.
    fn merge_sql(&self) -> String {
        let c = &self.config;
        let on = c
            .merge_keys
            .iter()
            .map(|k| format!("T.`{k}` = S.`{k}`"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let names: Vec<&str> = self.columns.iter().map(|(n, _, _)| n.as_str()).collect();
        let set = names
            .iter()
            .filter(|n| !c.merge_keys.iter().any(|k| k == *n))
            .map(|n| format!("`{n}` = S.`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let cols = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let vals = names
            .iter()
            .map(|n| format!("S.`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let matched = if set.is_empty() {
            String::new()
        } else {
            format!(" WHEN MATCHED THEN UPDATE SET {set}")
        };
        format!(
            "MERGE {} T USING `{}.{}.{}` S ON {on}{matched} WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})",
            self.target(),
            self.client.project,
            c.dataset,
            self.load_table
        )
    }

    /// Drops the temporary table; an unfinished upload never starts its load job.
    pub async fn abort(self) {
        if self.temporary {
            let _ = self
                .client
                .delete_table(&self.config.dataset, &self.load_table)
                .await;
        }
    }
}

/// Partitioning and clustering of a created table, as the API takes them.
fn layout(c: &BigqueryOutput) -> Json {
    let mut extra = json!({});
    if let Some(p) = &c.time_partitioning {
        let mut tp = json!({"type": p.kind});
        if let Some(f) = &p.field {
            tp["field"] = json!(f);
        }
        if let Some(ms) = p.expiration_ms {
            tp["expirationMs"] = json!(ms.to_string());
        }
        extra["timePartitioning"] = tp;
    }
    if let Some(cl) = &c.clustering {
        extra["clustering"] = json!({"fields": cl.fields});
    }
    extra
}

pub(super) fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// One value in the JSON a load job reads for a column of BigQuery type `bq`.
fn to_json(v: Value<'_>, t: ColumnType, bq: &str) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Long(n) => Json::from(n),
        Value::Double(f) => serde_json::Number::from_f64(f)
            .map(Json::Number)
            // NaN and infinities have no JSON number; BigQuery reads these words.
            .unwrap_or_else(|| {
                Json::String(if f.is_nan() {
                    "NaN".into()
                } else if f > 0.0 {
                    "Infinity".into()
                } else {
                    "-Infinity".into()
                })
            }),
        // A JSON column takes the value itself; anything else takes the text.
        Value::Str(s) if t == ColumnType::Json && bq == "JSON" => {
            serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.to_owned()))
        }
        Value::Str(s) => Json::String(s.to_owned()),
        Value::Micros(m) => {
            let d = micros_to_datetime(m).unwrap_or_default();
            Json::String(if bq == "DATETIME" {
                // A DATETIME target gets the UTC wall-clock time.
                d.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            } else if bq == "DATE" {
                d.format("%Y-%m-%d").to_string()
            } else {
                d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            })
        }
        Value::Days(d) => Json::String(days_to_date(d).map(|d| d.to_string()).unwrap_or_default()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_bigquery_reads_them() {
        assert_eq!(
            to_json(
                Value::Micros(1_704_164_645_123_456),
                ColumnType::Timestamp,
                "TIMESTAMP"
            ),
            json!("2024-01-02T03:04:05.123456Z")
        );
        assert_eq!(
            to_json(
                Value::Micros(1_704_164_645_123_456),
                ColumnType::Timestamp,
                "DATETIME"
            ),
            json!("2024-01-02 03:04:05.123456")
        );
        assert_eq!(
            to_json(Value::Bytes(&[0, 1, 2]), ColumnType::Bytes, "BYTES"),
            json!("AAEC")
        );
        assert_eq!(
            to_json(Value::Str("{\"a\":1}"), ColumnType::Json, "JSON"),
            json!({"a": 1})
        );
        assert_eq!(
            to_json(Value::Str("{\"a\":1}"), ColumnType::Json, "STRING"),
            json!("{\"a\":1}")
        );
        assert_eq!(
            to_json(Value::Double(f64::NAN), ColumnType::Double, "FLOAT64"),
            json!("NaN")
        );
    }

    #[test]
    fn column_names_outside_bigquerys_rule_are_refused() {
        assert!(check_column("amount_1").is_ok());
        assert!(check_column("a`b").is_err());
        assert!(check_column("1a").is_err());
        assert!(check_column("").is_err());
    }
}
