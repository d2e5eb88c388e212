//! `out: {type: file}`.

use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::FileOutput;

/// An open file output.
pub struct FileWriter;

impl FileWriter {
    /// Prepares the output.
    pub async fn open(_c: &FileOutput, _schema: SchemaRef) -> Result<Self> {
        anyhow::bail!("type: file output is not implemented in this build yet")
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
