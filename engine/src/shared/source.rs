//! What a source is to the pipeline: its schema and independent reading tasks, each sending
//! batches and leaving state for the next run. Every connector's reader builds one; the
//! pipeline runs them.

use crate::shared::stats::{Expected, Stats};
use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures::future::BoxFuture;
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
/// prepare tables, its tasks, and how much it expects to read.
pub struct Source {
    /// Columns of every batch the tasks send.
    pub schema: SchemaRef,
    /// Independent units of reading, run up to `exec.max_threads` at a time.
    pub tasks: Vec<Task>,
    /// What the source expects to read, when it can tell ahead.
    pub expected: Expected,
}
