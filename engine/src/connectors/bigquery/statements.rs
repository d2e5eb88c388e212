//! `sql: {type: bigquery}`: a data mart on BigQuery, run by BigQuery on its own tables
//! (the rows never leave it).
//!
//! - Statements run as one BigQuery script, after the commit gate: a script stops at its
//!   first failing statement and keeps what the statements before it did, unless they sit
//!   in `BEGIN TRANSACTION; ... COMMIT TRANSACTION;` (BigQuery's own multi-statement
//!   transactions, which take DML but not DDL on permanent tables).
//! - A write runs the query once into a staging table of this run (expiring after a day
//!   if the run dies before dropping it), then, after the commit gate, changes the target
//!   with one job: `INSERT`, a `CREATE OR REPLACE TABLE`, a `MERGE`, or delete-then-insert
//!   inside one transaction. A failed run leaves the target as it was. A missing target
//!   is created with the result's columns.
//! - A query or condition BigQuery would read as several statements is refused: spliced
//!   into this module's SQL, the rest would run as a script outside its order.

use super::Client;
use super::writer::{check_column, rand_suffix};
use anyhow::{Context, Result};
use hakobu_core::config::{BigqueryStatements, Mode, WarehouseWrite};
use hakobu_core::sql::Dialect;

/// Runs the section's statements or write, awaiting `commit_gate` before the step that
/// changes the warehouse for good. Answers the rows written (a write) or the rows the
/// statements changed, as far as BigQuery reports them (a script's parent job does not).
pub async fn run(
    s: &BigqueryStatements,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    let client = Client::connect(&s.output()).await?;
    match (&s.statements, &s.write) {
        (_, Some(write)) => run_write(&client, &s.dataset, write, commit_gate).await,
        (Some(statements), None) => {
            commit_gate.await?;
            let job = client
                .query_in(&s.dataset, statements)
                .await
                .context("the statements failed")?;
            Ok(job["statistics"]["query"]["numDmlAffectedRows"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0))
        }
        (None, None) => anyhow::bail!("sql: neither statements nor a write to run"),
    }
}

async fn run_write(
    client: &Client,
    dataset: &str,
    w: &WarehouseWrite,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    one_statement(&w.query, "write.query")?;
    if let Some(condition) = &w.delete_where {
        one_statement(condition, "write.delete_where")?;
    }
    for key in &w.merge_keys {
        check_column(key).context("write.merge_keys")?;
    }
    let stage = format!("hakobu_mart_{:016x}", rand_suffix());
    let outcome = async {
        client
            .query_in(
                dataset,
                &format!(
                    "CREATE TABLE {} OPTIONS(expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)) AS\n{}",
                    client.table_sql(dataset, &stage),
                    w.query
                ),
            )
            .await
            .context("the query failed; the target was not changed")?;
        let columns: Vec<String> = client
            .table_schema(dataset, &stage)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.name)
            .collect();
        for c in &columns {
            check_column(c)?;
        }
        let rows = client.table_row_count(dataset, &stage).await?;
        let target_exists = client.table_schema(dataset, &w.table).await?.is_some();
        let sql = write_sql(
            &client.table_sql(dataset, &w.table),
            &client.table_sql(dataset, &stage),
            w,
            &columns,
            target_exists,
        );
        commit_gate.await?;
        client
            .query_in(dataset, &sql)
            .await
            .with_context(|| format!("writing {} failed; it was not changed", w.table))?;
        Ok(rows)
    }
    .await;
    if let Err(e) = client.delete_table(dataset, &stage).await {
        tracing::warn!("the staging table {stage} was not dropped (it expires in a day): {e:#}");
    }
    outcome
}

/// Refuses SQL that BigQuery would run as a script of several statements: spliced into
/// the staging `CREATE TABLE` or the final job, a second statement would run outside the
/// steps this module orders (before the commit gate, say). Saving checks it too.
fn one_statement(sql: &str, field: &str) -> Result<()> {
    if Dialect::Bigquery.statement_count(sql.trim().trim_end_matches(';')) > 1 {
        anyhow::bail!("sql.{field}: must be a single statement, as BigQuery reads it");
    }
    Ok(())
}

/// The one job that moves the staged result into the target. Column names were checked
/// by [`check_column`], so backquoting them needs no escaping.
fn write_sql(
    target: &str,
    stage: &str,
    w: &WarehouseWrite,
    columns: &[String],
    target_exists: bool,
) -> String {
    let mode = w.mode();
    if mode == Mode::Replace {
        return format!("CREATE OR REPLACE TABLE {target} AS SELECT * FROM {stage}");
    }
    // Not `OR REPLACE`: a table made meanwhile (by another run) fails this job rather than
    // being replaced by it.
    if !target_exists {
        return format!("CREATE TABLE {target} AS SELECT * FROM {stage}");
    }
    let col = |prefix: &str| {
        columns
            .iter()
            .map(|c| format!("{prefix}`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let insert = format!(
        "INSERT INTO {target} ({}) SELECT {} FROM {stage}",
        col(""),
        col("")
    );
    let keys_match = w
        .merge_keys
        .iter()
        .map(|k| format!("T.`{k}` = S.`{k}`"))
        .collect::<Vec<_>>()
        .join(" AND ");
    match mode {
        Mode::Merge => {
            let updates = columns
                .iter()
                .filter(|c| !w.merge_keys.contains(c))
                .map(|c| format!("`{c}` = S.`{c}`"))
                .collect::<Vec<_>>();
            let matched = if updates.is_empty() {
                String::new()
            } else {
                format!(" WHEN MATCHED THEN UPDATE SET {}", updates.join(", "))
            };
            format!(
                "MERGE {target} T USING {stage} S ON {keys_match}{matched} WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                col(""),
                col("S.")
            )
        }
        Mode::DeleteInsert => {
            let delete = match w.delete_where.as_deref().filter(|c| !c.trim().is_empty()) {
                Some(condition) => format!("DELETE FROM {target} WHERE ({condition})"),
                None => format!(
                    "DELETE FROM {target} T WHERE EXISTS (SELECT 1 FROM {stage} S WHERE {keys_match})"
                ),
            };
            format!("BEGIN TRANSACTION;\n{delete};\n{insert};\nCOMMIT TRANSACTION;")
        }
        _ => insert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(mode: Mode, keys: &[&str], condition: Option<&str>) -> WarehouseWrite {
        WarehouseWrite {
            query: "SELECT 1".into(),
            table: "t".into(),
            mode: Some(mode),
            merge_keys: keys.iter().map(|k| k.to_string()).collect(),
            delete_where: condition.map(str::to_owned),
        }
    }

    #[test]
    fn each_mode_is_one_job_and_a_missing_target_is_created() {
        let cols = ["id".to_owned(), "v".to_owned()];
        let sql = |w: &WarehouseWrite, exists| write_sql("`p.d.t`", "`p.d.s`", w, &cols, exists);
        assert_eq!(
            sql(&write(Mode::Insert, &[], None), true),
            "INSERT INTO `p.d.t` (`id`, `v`) SELECT `id`, `v` FROM `p.d.s`"
        );
        for mode in [Mode::Insert, Mode::Merge, Mode::DeleteInsert] {
            assert_eq!(
                sql(&write(mode, &["id"], None), false),
                "CREATE TABLE `p.d.t` AS SELECT * FROM `p.d.s`"
            );
        }
        for exists in [false, true] {
            assert_eq!(
                sql(&write(Mode::Replace, &[], None), exists),
                "CREATE OR REPLACE TABLE `p.d.t` AS SELECT * FROM `p.d.s`"
            );
        }
        assert!(one_statement("SELECT '''a;b''' AS x;", "q").is_ok());
        let hidden = one_statement("select '''a'b''' as x; drop table target --'", "q");
        assert!(hidden.unwrap_err().to_string().contains("single statement"));
        assert_eq!(
            sql(&write(Mode::Merge, &["id"], None), true),
            "MERGE `p.d.t` T USING `p.d.s` S ON T.`id` = S.`id` WHEN MATCHED THEN UPDATE SET `v` = S.`v` WHEN NOT MATCHED THEN INSERT (`id`, `v`) VALUES (S.`id`, S.`v`)"
        );
        let by_key = sql(&write(Mode::DeleteInsert, &["id"], None), true);
        assert!(by_key.starts_with("BEGIN TRANSACTION;\nDELETE FROM `p.d.t` T WHERE EXISTS (SELECT 1 FROM `p.d.s` S WHERE T.`id` = S.`id`);\nINSERT"), "{by_key}");
        assert!(by_key.ends_with("COMMIT TRANSACTION;"), "{by_key}");
        let by_condition = sql(
            &write(Mode::DeleteInsert, &[], Some("day = '2026-12-01'")),
            true,
        );
        assert!(
            by_condition.contains("DELETE FROM `p.d.t` WHERE (day = '2026-12-01');"),
            "{by_condition}"
        );
    }
}
