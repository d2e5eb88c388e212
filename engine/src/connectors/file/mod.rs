//! Local files: CSV and JSON Lines, optionally gzip.

pub mod charset;
mod csv_out;
pub mod parquet;
pub mod prescan;
pub mod reader;
pub mod writer;
