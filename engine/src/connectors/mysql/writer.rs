//! `out: {type: mysql}`.

use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::JdbcOutput;

/// An open MySQL load.
pub struct MysqlWriter;

impl MysqlWriter {
    /// Connects and prepares the load.
    pub async fn open(_c: &JdbcOutput, _schema: SchemaRef) -> Result<Self> {
        anyhow::bail!("type: mysql output is not implemented in this build yet")
    }
    /// Writes one batch.
    pub async fn write(&mut self, _batch: RecordBatch) -> Result<()> {
        Ok(())
    }
    /// Commits.
    pub async fn commit(self) -> Result<()> {
        Ok(())
    }
    /// Rolls back.
    pub async fn abort(self) {}
}
