//! Reading a Snowflake database for the app's forms and for data checks: statements whose
//! answer is read within [`WAREHOUSE_ANSWER_MAX_BYTES`] (the account's endpoint is the
//! tenant's to set, so is the length of what it sends), and the SQL of the listings.
//!
//! Listings query the database's `INFORMATION_SCHEMA` views with a `LIMIT`, not `SHOW`
//! commands: a view is filtered and limited by the server like any query, shows only what
//! the session's role may use, and the local emulator (fakesnow) answers the views too.

use super::writer::ident;
use super::{Rows, Session, answer_error, read_rows, why};
use crate::connectors::answer::read_bounded;
use crate::limits::WAREHOUSE_ANSWER_MAX_BYTES;
use anyhow::{Result, anyhow};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A text literal: Snowflake reads a backslash in `'...'` as an escape, so it is doubled
/// like the quote.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The name as Snowflake stores it: a plain name (what [`ident`] upper-cases) in upper
/// case, any other as written. Listings compare the views' columns with it.
pub fn stored_name(name: &str) -> String {
    let quoted = ident(name);
    quoted[1..quoted.len() - 1].replace("\"\"", "\"")
}

/// `SELECT` of the schemas of `database` (without `INFORMATION_SCHEMA` itself).
pub fn schemas_sql(database: &str, limit: usize) -> String {
    format!(
        "SELECT schema_name FROM {}.INFORMATION_SCHEMA.SCHEMATA WHERE schema_name <> 'INFORMATION_SCHEMA' ORDER BY 1 LIMIT {limit}",
        ident(database)
    )
}

/// `SELECT` of the tables and views of a schema.
pub fn tables_sql(database: &str, schema: &str, limit: usize) -> String {
    format!(
        "SELECT table_name FROM {}.INFORMATION_SCHEMA.TABLES WHERE table_schema = {} ORDER BY 1 LIMIT {limit}",
        ident(database),
        literal(&stored_name(schema))
    )
}

/// `SELECT` of a table's columns: name, type, `YES`/`NO` nullable, in table order.
pub fn columns_sql(database: &str, schema: &str, table: &str, limit: usize) -> String {
    format!(
        "SELECT column_name, data_type, is_nullable FROM {}.INFORMATION_SCHEMA.COLUMNS WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position LIMIT {limit}",
        ident(database),
        literal(&stored_name(schema)),
        literal(&stored_name(table))
    )
}

impl Session {
    /// Runs one statement and reads its rows, each answer within
    /// [`WAREHOUSE_ANSWER_MAX_BYTES`]; like `execute`, only the first chunk of a result.
    pub async fn execute_bounded(&self, sql: &str) -> Result<Rows> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let submitted = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let response = self
            .http
            .post(format!(
                "{}/queries/v1/query-request?requestId={request_id}",
                self.base
            ))
            .header("Accept", "application/snowflake")
            .header("Authorization", self.authorization())
            .json(&serde_json::json!({
                "sqlText": sql,
                "asyncExec": false,
                "sequenceId": self.sequence.fetch_add(1, Ordering::Relaxed),
                "querySubmissionTime": submitted,
            }))
            .send()
            .await
            .map_err(|e| anyhow!("Snowflake request failed: {}", why(e)))?;
        let mut answer = protocol(response).await?;
        // Still running after Snowflake's own wait: its result is polled at the URL given.
        while matches!(answer["code"].as_str(), Some("333333" | "333334")) {
            let Some(path) = answer["data"]["getResultUrl"].as_str() else {
                break;
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            let response = self
                .http
                .get(format!("{}{path}", self.base))
                .header("Accept", "application/snowflake")
                .header("Authorization", self.authorization())
                .send()
                .await
                .map_err(|e| anyhow!("Snowflake request failed: {}", why(e)))?;
            answer = protocol(response).await?;
        }
        if answer["success"] != true {
            return Err(answer_error(&answer));
        }
        read_rows(&answer["data"])
    }
}

/// An answer of the query protocol, read within the budget.
async fn protocol(response: reqwest::Response) -> Result<serde_json::Value> {
    let body = read_bounded(response, WAREHOUSE_ANSWER_MAX_BYTES, "Snowflake's answer").await?;
    serde_json::from_slice(&body)
        .map_err(|_| anyhow!("Snowflake answered with something else than its protocol"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_listings_are_literals_as_stored() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\' OR 1=1 --"), "'a\\\\'' OR 1=1 --'");
        assert_eq!(stored_name("public"), "PUBLIC");
        assert_eq!(stored_name("Mixed Case"), "Mixed Case");
        assert!(tables_sql("db", "x' OR '1'='1", 5).contains("= 'x'' OR ''1''=''1'"));
    }
}
