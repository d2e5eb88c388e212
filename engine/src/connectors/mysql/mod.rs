//! MySQL / MariaDB source (streaming query) and destination (multi-row INSERT).

pub mod reader;
pub mod writer;
