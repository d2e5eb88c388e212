//! Sources and destinations, one folder per connector, and the two entry points the
//! pipeline opens them through: [`open_input`] and [`Destination`].
//!
//! The connectors build on `crate::shared` and `types`; what the database connectors share
//! with each other is in [`sql`]. Converting columns with filters (`timestamp_format`) is
//! the pipeline's business, above both.

pub mod bigquery;
pub mod file;
pub mod mysql;
pub mod postgres;
pub mod s3;
pub mod snowflake;
pub mod sql;
pub mod stdout;

use crate::shared::files_root::FileAccess;
use crate::shared::source::Source;
use crate::shared::stats::ByteCounter;
use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::{InputConfig, OutputConfig};

/// Opens the reader of `in:`, its columns in the types the connector reads them as.
/// `parallel` > 1 lets one table be read in that many key ranges at once; `files` says
/// which local files may be read.
pub async fn open_input(
    config: &InputConfig,
    parallel: usize,
    files: &FileAccess,
) -> Result<Source> {
    match config {
        InputConfig::Postgresql(c) => postgres::reader::open(c, parallel).await,
        InputConfig::Mysql(c) => mysql::reader::open(c, parallel).await,
        InputConfig::File(c) => file::reader::open(c, files).await,
        InputConfig::S3(c) => s3::reader::open(c).await,
    }
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
    /// The runner's standard output
    Stdout(Box<stdout::StdoutWriter>),
    /// A BigQuery table
    Bigquery(Box<bigquery::writer::BigqueryWriter>),
    /// Snowflake
    Snowflake(Box<snowflake::writer::SnowflakeWriter>),
}

/// A destination connection made while the source is being opened, so the two
/// connection setups overlap (most of a small transfer's time).
pub enum Preconnected {
    /// PostgreSQL
    Postgres(tokio_postgres::Client),
    /// MySQL / MariaDB
    Mysql(mysql_async::Conn),
    /// Snowflake
    Snowflake(Box<snowflake::Session>),
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
            OutputConfig::Snowflake(c) => Preconnected::Snowflake(Box::new(
                snowflake::writer::SnowflakeWriter::connect(c).await?,
            )),
            _ => Preconnected::None,
        })
    }

    /// Prepares the destination for rows of `schema` (staging tables, files); `files`
    /// says where local files may be written; the bytes it sends are added to `written`.
    pub async fn open(
        config: &OutputConfig,
        schema: SchemaRef,
        conn: Preconnected,
        files: &FileAccess,
        written: ByteCounter,
    ) -> Result<Self> {
        Ok(match (config, conn) {
            (OutputConfig::Postgresql(c), Preconnected::Postgres(client)) => Self::Postgres(
                Box::new(postgres::writer::PgWriter::open(c, schema, client, written).await?),
            ),
            (OutputConfig::Mysql(c), Preconnected::Mysql(conn)) => Self::Mysql(Box::new(
                mysql::writer::MysqlWriter::open(c, schema, conn, written).await?,
            )),
            (OutputConfig::Snowflake(c), Preconnected::Snowflake(session)) => {
                Self::Snowflake(Box::new(
                    snowflake::writer::SnowflakeWriter::open(c, schema, *session, written).await?,
                ))
            }
            (
                OutputConfig::Postgresql(_) | OutputConfig::Mysql(_) | OutputConfig::Snowflake(_),
                _,
            ) => {
                anyhow::bail!("internal: the destination was not connected")
            }
            (OutputConfig::File(c), _) => Self::File(Box::new(
                file::writer::FileWriter::open(c, schema, files, written).await?,
            )),
            (OutputConfig::S3(c), _) => Self::S3(Box::new(
                s3::writer::S3Writer::open(c, schema, written).await?,
            )),
            (OutputConfig::Stdout(c), _) => {
                Self::Stdout(Box::new(stdout::StdoutWriter::open(c, schema, written)?))
            }
            (OutputConfig::Bigquery(c), _) => Self::Bigquery(Box::new(
                bigquery::writer::BigqueryWriter::open(c, schema, written).await?,
            )),
        })
    }

    /// Writes one batch.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        match self {
            Self::Postgres(w) => w.write(batch).await,
            Self::Mysql(w) => w.write(batch).await,
            Self::File(w) => w.write(batch).await,
            Self::S3(w) => w.write(batch).await,
            Self::Stdout(w) => w.write(batch).await,
            Self::Bigquery(w) => w.write(batch).await,
            Self::Snowflake(w) => w.write(batch).await,
        }
    }

    /// Makes everything written visible at once (transactional modes).
    pub async fn commit(self) -> Result<()> {
        match self {
            Self::Postgres(w) => w.commit().await,
            Self::Mysql(w) => w.commit().await,
            Self::File(w) => w.commit().await,
            Self::S3(w) => w.commit().await,
            Self::Stdout(w) => w.commit().await,
            Self::Bigquery(w) => w.commit().await,
            Self::Snowflake(w) => w.commit().await,
        }
    }

    /// Undoes what can be undone and removes staging tables / partial files.
    pub async fn abort(self) {
        match self {
            Self::Postgres(w) => w.abort().await,
            Self::Mysql(w) => w.abort().await,
            Self::File(w) => w.abort().await,
            Self::S3(w) => w.abort().await,
            Self::Stdout(w) => w.abort().await,
            Self::Bigquery(w) => w.abort().await,
            Self::Snowflake(w) => w.abort().await,
        }
    }
}
