//! Reading a BigQuery project for the app's forms and for data checks: its datasets, a
//! dataset's tables, a table's columns and first rows, and the rows of a small query.
//!
//! Listings and table previews use the REST resources (`datasets.list`, `tables.list`,
//! `tables.get`, `tabledata.list`), not `INFORMATION_SCHEMA` views: they run no query (a
//! table preview by `tabledata.list` is not billed), need no region qualifier, and both
//! the real service and the local emulator answer them alike. A query (a preview of one,
//! a data check's value) goes through `jobs.query` with `maxResults`.
//!
//! Every answer is read within [`WAREHOUSE_ANSWER_MAX_BYTES`] (the endpoint is the
//! tenant's to set, so is the length of what it sends); a listing asks page by page for
//! no more entries than it keeps, and stops at its bounds saying so.

use super::{BqField, Client, error_message, standard_type};
use crate::egress::http::read_bounded;
use crate::limits::WAREHOUSE_ANSWER_MAX_BYTES;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Names, and whether the listing stopped at a bound before the project's answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub names: Vec<String>,
    pub truncated: bool,
}

/// A column of a table as BigQuery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BqColumn {
    pub name: String,
    /// Standard SQL type (`INT64`, `STRING`, `RECORD`, ...); `ARRAY<...>` for a repeated one.
    pub type_: String,
    /// Whether the mode allows NULL (`NULLABLE`; `REQUIRED` and `REPEATED` do not).
    pub nullable: bool,
}

/// Rows of a table or a query, each cell as BigQuery's text (`None`: NULL; a record or
/// an array as its JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BqRows {
    pub fields: Vec<BqField>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// One path segment of a URL: everything but unreserved characters percent-encoded, so a
/// tenant's dataset or table name (`../`, `?`) cannot reach another resource.
pub fn segment(s: &str) -> String {
    // `.` and `..` alone would be read as path steps.
    let dots_only = s == "." || s == "..";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') || (b == b'.' && !dots_only)
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// BigQuery's largest page of a listing.
const PAGE_MAX: usize = 1000;

impl Client {
    fn project_path(&self) -> String {
        format!("/bigquery/v2/projects/{}", segment(&self.project))
    }

    /// Reads an answer within the budget; an error status becomes BigQuery's message.
    async fn bounded_answer(&self, path: &str, response: reqwest::Response) -> Result<Value> {
        let status = response.status();
        let body = read_bounded(response, WAREHOUSE_ANSWER_MAX_BYTES)
            .await
            .context("BigQuery's answer")?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "BigQuery answered {status} to {}: {}",
                path.split('?').next().unwrap_or(path),
                error_message(&value)
            );
        }
        Ok(value)
    }

    async fn get_bounded(&self, path: &str) -> Result<Value> {
        let response = self
            .http
            .get(&format!("{}{path}", self.base))?
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| {
                format!(
                    "BigQuery request {} failed",
                    path.split('?').next().unwrap_or(path)
                )
            })?;
        self.bounded_answer(path, response).await
    }

    /// Names from the pages of a listing at `path` (items under `key`, each name at
    /// `reference`.`id`), at most `max_entries` of them and `max_bytes` of names, sorted.
    async fn names(
        &self,
        path: &str,
        key: &str,
        reference: (&str, &str),
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Names> {
        let (mut names, mut bytes, mut token) = (Vec::new(), 0usize, None::<String>);
        let truncated = 'pages: loop {
            // One more than is kept, so a longer listing is told from one exactly as long.
            let want = (max_entries + 1 - names.len()).min(PAGE_MAX);
            let mut url = format!("{path}?maxResults={want}");
            if let Some(t) = &token {
                url.push_str(&format!("&pageToken={}", segment(t)));
            }
            let page = self.get_bounded(&url).await?;
            let items = page[key].as_array().cloned().unwrap_or_default();
            for item in &items {
                let name = item[reference.0][reference.1]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if names.len() == max_entries || bytes + name.len() > max_bytes {
                    break 'pages true;
                }
                bytes += name.len();
                names.push(name);
            }
            match page["nextPageToken"].as_str() {
                // A page without entries that promises more would page forever.
                Some(t) if !t.is_empty() && !items.is_empty() => token = Some(t.to_owned()),
                _ => break false,
            }
        };
        names.sort();
        Ok(Names { names, truncated })
    }

    /// The datasets of the project.
    pub async fn list_datasets(&self, max_entries: usize, max_bytes: usize) -> Result<Names> {
        let path = format!("{}/datasets", self.project_path());
        self.names(
            &path,
            "datasets",
            ("datasetReference", "datasetId"),
            max_entries,
            max_bytes,
        )
        .await
    }

    /// The tables and views of a dataset.
    pub async fn list_tables(
        &self,
        dataset: &str,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Names> {
        let path = format!(
            "{}/datasets/{}/tables",
            self.project_path(),
            segment(dataset)
        );
        self.names(
            &path,
            "tables",
            ("tableReference", "tableId"),
            max_entries,
            max_bytes,
        )
        .await
    }

    /// A table's resource (`tables.get`); `None` when it does not exist.
    async fn table(&self, dataset: &str, table: &str) -> Result<Option<Value>> {
        let path = format!(
            "{}/datasets/{}/tables/{}",
            self.project_path(),
            segment(dataset),
            segment(table)
        );
        let response = self
            .http
            .get(&format!("{}{path}", self.base))?
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("BigQuery request {path} failed"))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.bounded_answer(&path, response).await.map(Some)
    }

    /// The top-level columns of a table, in table order; `None` when it does not exist.
    pub async fn columns(&self, dataset: &str, table: &str) -> Result<Option<Vec<BqColumn>>> {
        let Some(resource) = self.table(dataset, table).await? else {
            return Ok(None);
        };
        Ok(Some(
            resource["schema"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let type_ = standard_type(f["type"].as_str().unwrap_or("STRING")).to_owned();
                    let mode = f["mode"].as_str().unwrap_or("NULLABLE");
                    BqColumn {
                        name: f["name"].as_str().unwrap_or_default().to_owned(),
                        type_: if mode == "REPEATED" {
                            format!("ARRAY<{type_}>")
                        } else {
                            type_
                        },
                        nullable: mode == "NULLABLE",
                    }
                })
                .collect(),
        ))
    }

    /// The first `limit` rows of a table by `tabledata.list` (no query runs); `None` when
    /// the table does not exist.
    pub async fn table_rows(
        &self,
        dataset: &str,
        table: &str,
        limit: usize,
    ) -> Result<Option<BqRows>> {
        let Some(columns) = self.columns(dataset, table).await? else {
            return Ok(None);
        };
        let path = format!(
            "{}/datasets/{}/tables/{}/data?maxResults={limit}",
            self.project_path(),
            segment(dataset),
            segment(table)
        );
        let answer = self.get_bounded(&path).await?;
        Ok(Some(BqRows {
            fields: columns
                .into_iter()
                .map(|c| BqField {
                    name: c.name,
                    type_: c.type_,
                })
                .collect(),
            rows: cells(&answer["rows"], limit),
        }))
    }

    /// The first `max_rows` rows of a standard-SQL query (`jobs.query`), waiting at most
    /// `timeout_ms` for it to finish.
    pub async fn query_rows(&self, sql: &str, max_rows: usize, timeout_ms: u64) -> Result<BqRows> {
        let mut body = json!({"query": sql, "useLegacySql": false, "maxResults": max_rows,
            "timeoutMs": timeout_ms});
        if let Some(l) = &self.location {
            body["location"] = json!(l);
        }
        let path = format!("{}/queries", self.project_path());
        let response = self
            .http
            .post(&format!("{}{path}", self.base))?
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("BigQuery request {path} failed"))?;
        let answer = self.bounded_answer(&path, response).await?;
        if let Some(e) = answer["errors"].as_array().and_then(|e| e.first()) {
            bail!(
                "BigQuery query failed: {}",
                e["message"].as_str().unwrap_or("unknown error")
            );
        }
        if answer["jobComplete"].as_bool() != Some(true) {
            bail!("BigQuery query did not finish in time");
        }
        Ok(BqRows {
            fields: answer["schema"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| BqField {
                    name: f["name"].as_str().unwrap_or_default().to_owned(),
                    type_: standard_type(f["type"].as_str().unwrap_or("STRING")).to_owned(),
                })
                .collect(),
            rows: cells(&answer["rows"], max_rows),
        })
    }
}

/// The `rows` of an answer (`[{"f": [{"v": ...}]}]`) as text cells, at most `max_rows`.
fn cells(rows: &Value, max_rows: usize) -> Vec<Vec<Option<String>>> {
    rows.as_array()
        .into_iter()
        .flatten()
        .take(max_rows)
        .map(|r| {
            r["f"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| match &c["v"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_a_path_cannot_leave_their_segment() {
        assert_eq!(segment("sales_2024"), "sales_2024");
        assert_eq!(segment("../datasets"), "..%2Fdatasets");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("a/b?c#d"), "a%2Fb%3Fc%23d");
    }
}
