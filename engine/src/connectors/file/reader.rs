//! `in: {type: file}`.

use crate::connectors::Source;
use anyhow::Result;
use hakobu_core::config::FileInput;

/// Opens the source.
pub async fn open(_c: &FileInput) -> Result<Source> {
    anyhow::bail!("type: file input is not implemented in this build yet")
}
