//! `in: {type: mysql}`.

use crate::connectors::Source;
use anyhow::Result;
use hakobu_core::config::JdbcInput;

/// Opens the source.
pub async fn open(_c: &JdbcInput) -> Result<Source> {
    anyhow::bail!("type: mysql input is not implemented in this build yet")
}
