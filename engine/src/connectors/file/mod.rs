//! Local files: CSV and JSON Lines, optionally gzip.

pub mod charset;
pub mod parquet;
pub mod prescan;
pub mod reader;
pub mod writer;
