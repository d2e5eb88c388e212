//! What the app needs before a transfer runs: test a connection, browse schemas, tables
//! and columns, preview rows, and run data checks. Failures come back as a plain-language
//! [`ErrorKind`] an analyst can act on, mapped from the driver's error codes.
//!
//! What a tenant's database answers is read within the budgets of [`crate::limits`]:
//! previews stop at a size and say so, listings stop at a count, and a data check's or a
//! query variable's value is asked for no longer than its limit.
//!
//! - `connection`: the connection a check runs on, and its time limit.
//! - `error`: failures in plain language.
//! - `connection_test`: [`check`], testing a connection.
//! - `discovery`: schemas, tables, columns and primary keys.
//! - `preview`: the first rows of a table or a query.
//! - `data_check`: one value compared with an expected one.
//! - `storage`: a bucket's and a directory's connection test.
//! - `guess`: a file's format and columns from its first bytes (Embulk's guess).
//! - `warehouse`: a data warehouse's (BigQuery, Snowflake) connection test.
//! - `warehouse_read`: a data warehouse's datasets or schemas, tables, columns, previews
//!   and data checks.
//! - `files`: a file source's files listed, and the first one guessed and previewed.
//! - `http`: a workflow's HTTP task, sent under the egress policy, its answer bounded.

mod connection;
mod connection_test;
mod data_check;
mod discovery;
mod error;
mod files;
mod guess;
mod http;
mod preview;
mod storage;
mod warehouse;
mod warehouse_read;

pub use connection::{Connection, DbKind};
pub use connection_test::{CheckOk, check};
pub use data_check::{DataCheckResult, data_check, query_value};
pub use discovery::{ColumnInfo, Listing, list_columns, list_schemas, list_tables, primary_key};
pub use error::{CheckError, ErrorKind};
pub use files::{FileEntry, FileGuess, FileStore, guess_source_file, list_source_files};
pub use guess::{
    GuessedColumn, GuessedFormat, TextGuess, guess_text, guess_type, parquet_columns, sample_text,
};
pub use http::{HttpAnswer, HttpCall, http_request};
pub use preview::{preview_query, preview_table};
pub use storage::{BucketAccess, BucketCredentials, test_bucket, test_directory};
pub use warehouse::{Warehouse, test_warehouse};
pub use warehouse_read::{
    WarehouseRead, warehouse_columns, warehouse_data_check, warehouse_preview, warehouse_schemas,
    warehouse_tables, warehouse_value,
};
