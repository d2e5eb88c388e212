//! Sources and destinations, one folder per connector.

pub mod file;
pub mod mysql;
pub mod postgres;
pub mod s3;
pub mod sql;

use crate::filters::FilterChain;
use crate::pipeline::Stats;
use crate::types;
use anyhow::{Context, Result, anyhow};
use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use futures::FutureExt;
use futures::future::BoxFuture;
use hakobu_core::config::{
    CastColumn, CastFilter, ColumnType, FilterConfig, InputConfig, JdbcInput, OutputConfig,
};
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// What one input task leaves for the next run.
#[derive(Debug, Default)]
pub struct TaskState {
    /// Cursor values of the last row read (database inputs).
    pub last_record: Option<Vec<serde_json::Value>>,
    /// The path read (file inputs).
    pub last_path: Option<String>,
}

/// One unit of reading (a file, a query): sends batches until done.
pub type Task = Box<
    dyn FnOnce(Sender<RecordBatch>, Arc<Stats>) -> BoxFuture<'static, Result<TaskState>> + Send,
>;

/// An opened source: its schema, known before any row is read so the destination can
/// prepare tables, and its tasks.
pub struct Source {
    /// Columns of every batch the tasks send.
    pub schema: SchemaRef,
    /// Independent units of reading, run up to `exec.max_threads` at a time.
    pub tasks: Vec<Task>,
}

/// Embulk's `socket_timeout` of a database input: how long a read may wait for the
/// server's next data (not counting time the destination makes it wait). Default: 1800 s.
pub(crate) fn socket_timeout(c: &JdbcInput) -> std::time::Duration {
    std::time::Duration::from_secs(c.socket_timeout.unwrap_or(1800))
}

/// Awaits `io` for at most `limit`, so a server or network that stopped answering fails
/// the run instead of hanging it.
pub(crate) async fn within<T>(
    limit: std::time::Duration,
    io: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(limit, io).await.map_err(|_| {
        anyhow!(
            "the server sent nothing for {} s (socket_timeout)",
            limit.as_secs()
        )
    })
}

/// Opens the source of `in:`; `parallel` > 1 lets one table be read in that many key
/// ranges at once (`exec.max_threads`).
pub async fn open_source(config: &InputConfig, parallel: usize) -> Result<Source> {
    match config {
        InputConfig::Postgresql(c) => {
            let (read, formats) = split_timestamp_formats(c);
            formatted(postgres::reader::open(&read, parallel).await?, formats)
        }
        InputConfig::Mysql(c) => {
            let (read, formats) = split_timestamp_formats(c);
            formatted(mysql::reader::open(&read, parallel).await?, formats)
        }
        InputConfig::File(c) => file::reader::open(c).await,
        InputConfig::S3(c) => s3::reader::open(c).await,
    }
}

/// Embulk's `column_options.<c>.timestamp_format` of a database input: a column read as
/// `type: string` is formatted with that strftime format, in the column's `timezone`,
/// else `default_timezone`, instead of taking the server's text. So the reader gets the
/// input without those `type: string` overrides (reading the column's own type), and the
/// conversions to do afterwards.
fn split_timestamp_formats(c: &JdbcInput) -> (JdbcInput, Vec<CastColumn>) {
    let mut read = c.clone();
    let mut formats = Vec::new();
    for (name, option) in &mut read.column_options {
        if let (Some(ColumnType::String), Some(format)) = (option.type_, &option.timestamp_format) {
            option.type_ = None;
            formats.push(CastColumn {
                name: name.clone(),
                type_: ColumnType::String,
                format: Some(format.clone()),
                timezone: option
                    .timezone
                    .clone()
                    .or_else(|| c.default_timezone.clone()),
            });
        }
    }
    (read, formats)
}

/// Embulk's `column_options.<c>.timestamp_format` of a database output: timestamp columns
/// that have one are written as text in that strftime format, in the column's `timezone`,
/// else the output's `default_timezone`, as a cast after the configured filters.
pub fn output_timestamp_formats(config: &OutputConfig, schema: &Schema) -> Option<FilterConfig> {
    let c = match config {
        OutputConfig::Postgresql(c) | OutputConfig::Mysql(c) => c,
        OutputConfig::File(_) | OutputConfig::S3(_) => return None,
    };
    let columns: Vec<CastColumn> = schema
        .fields()
        .iter()
        .filter(|f| types::column_type(f) == ColumnType::Timestamp)
        .filter_map(|f| {
            let option = c.column_options.get(f.name())?;
            Some(CastColumn {
                name: f.name().clone(),
                type_: ColumnType::String,
                format: Some(option.timestamp_format.clone()?),
                timezone: option
                    .timezone
                    .clone()
                    .or_else(|| c.default_timezone.clone()),
            })
        })
        .collect();
    (!columns.is_empty()).then_some(FilterConfig::Cast(CastFilter {
        columns,
        stop_on_invalid_record: None,
    }))
}

/// `source` with the `timestamp_format` conversions applied to every batch its tasks send.
fn formatted(source: Source, formats: Vec<CastColumn>) -> Result<Source> {
    if formats.is_empty() {
        return Ok(source);
    }
    let cast = FilterConfig::Cast(CastFilter {
        columns: formats,
        stop_on_invalid_record: None,
    });
    let chain = Arc::new(
        FilterChain::new(&[cast], source.schema.clone())
            .context("column_options with timestamp_format")?,
    );
    let tasks = source
        .tasks
        .into_iter()
        .map(|read| -> Task {
            let chain = chain.clone();
            Box::new(move |tx, stats| {
                async move {
                    let (read_tx, mut read_rx) = tokio::sync::mpsc::channel(1);
                    let forward = async move {
                        while let Some(batch) = read_rx.recv().await {
                            let batch = chain
                                .apply(batch)
                                .context("column_options with timestamp_format")?;
                            tx.send(batch)
                                .await
                                .map_err(|_| anyhow!("the destination stopped"))?;
                        }
                        anyhow::Ok(())
                    };
                    let (state, forwarded) = futures::join!(read(read_tx, stats), forward);
                    // A failed conversion stops the read; its error is the one to report.
                    forwarded?;
                    state
                }
                .boxed()
            })
        })
        .collect();
    Ok(Source {
        schema: chain.schema(),
        tasks,
    })
}

/// An opened destination.
pub enum Destination {
    /// PostgreSQL
    Postgres(Box<postgres::writer::PgWriter>),
    /// MySQL / MariaDB
    Mysql(Box<mysql::writer::MysqlWriter>),
    /// Local files
    File(Box<file::writer::FileWriter>),
    /// S3-compatible object store
    S3(Box<s3::writer::S3Writer>),
}

/// A destination connection made while the source is being opened, so the two
/// connection setups overlap (most of a small transfer's time).
pub enum Preconnected {
    /// PostgreSQL
    Postgres(tokio_postgres::Client),
    /// MySQL / MariaDB
    Mysql(mysql_async::Conn),
    /// Files and objects need no connection.
    None,
}

impl Destination {
    /// Connects to the destination of `out:`.
    pub async fn connect(config: &OutputConfig) -> Result<Preconnected> {
        Ok(match config {
            OutputConfig::Postgresql(c) => {
                Preconnected::Postgres(postgres::writer::PgWriter::connect(c).await?)
            }
            OutputConfig::Mysql(c) => {
                Preconnected::Mysql(mysql::writer::MysqlWriter::connect(c).await?)
            }
            _ => Preconnected::None,
        })
    }

    /// Prepares the destination for rows of `schema` (staging tables, files).
    pub async fn open(
        config: &OutputConfig,
        schema: SchemaRef,
        conn: Preconnected,
    ) -> Result<Self> {
        Ok(match (config, conn) {
            (OutputConfig::Postgresql(c), Preconnected::Postgres(client)) => Self::Postgres(
                Box::new(postgres::writer::PgWriter::open(c, schema, client).await?),
            ),
            (OutputConfig::Mysql(c), Preconnected::Mysql(conn)) => Self::Mysql(Box::new(
                mysql::writer::MysqlWriter::open(c, schema, conn).await?,
            )),
            (OutputConfig::Postgresql(_) | OutputConfig::Mysql(_), _) => {
                anyhow::bail!("internal: the destination was not connected")
            }
            (OutputConfig::File(c), _) => {
                Self::File(Box::new(file::writer::FileWriter::open(c, schema).await?))
            }
            (OutputConfig::S3(c), _) => {
                Self::S3(Box::new(s3::writer::S3Writer::open(c, schema).await?))
            }
        })
    }

    /// Writes one batch.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        match self {
            Self::Postgres(w) => w.write(batch).await,
            Self::Mysql(w) => w.write(batch).await,
            Self::File(w) => w.write(batch).await,
            Self::S3(w) => w.write(batch).await,
        }
    }

    /// Makes everything written visible at once (transactional modes).
    pub async fn commit(self) -> Result<()> {
        match self {
            Self::Postgres(w) => w.commit().await,
            Self::Mysql(w) => w.commit().await,
            Self::File(w) => w.commit().await,
            Self::S3(w) => w.commit().await,
        }
    }

    /// Undoes what can be undone and removes staging tables / partial files.
    pub async fn abort(self) {
        match self {
            Self::Postgres(w) => w.abort().await,
            Self::Mysql(w) => w.abort().await,
            Self::File(w) => w.abort().await,
            Self::S3(w) => w.abort().await,
        }
    }
}
