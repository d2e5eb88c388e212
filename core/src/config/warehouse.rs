//! A data warehouse reached outside a transfer's config: a connection test, discovery, a
//! preview or a data check on BigQuery or Snowflake. It is the warehouse's output section
//! (its sign-in, project or database, endpoint), whose table is not used.

use super::{BigqueryOutput, SnowflakeOutput};
use serde::{Deserialize, Serialize};

/// The warehouse to reach, as its output section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warehouse {
    Bigquery(Box<BigqueryOutput>),
    Snowflake(Box<SnowflakeOutput>),
}
