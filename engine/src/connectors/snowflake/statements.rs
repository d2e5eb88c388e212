//! `sql: {type: snowflake}`: a data mart on Snowflake, run by Snowflake on its own tables
//! (the rows never leave it).
//!
//! - Statements run in order in one session inside `BEGIN` ... `COMMIT`, the commit after
//!   the commit gate; a failure rolls back. As in MySQL, DDL commits by itself: what ran
//!   before a `CREATE`/`ALTER`/`DROP` stays if a later statement fails.
//! - A write runs the query once into a temporary table of the session, then, after the
//!   commit gate, changes the target: `replace` with one `CREATE OR REPLACE TABLE`, `merge`
//!   with one `MERGE`, `insert` and `delete_insert` in one transaction. A failed run leaves
//!   the target as it was. A missing target is created with the result's columns.

use super::writer::ident;
use super::{Login, Session};
use anyhow::{Context, Result};
use hakobu_core::config::{Mode, SnowflakeStatements, WarehouseWrite};
use hakobu_core::sql::Dialect;

/// Runs the section's statements or write, awaiting `commit_gate` before the step that
/// changes the warehouse for good. Answers the rows written (a write) or the rows the
/// statements changed as Snowflake counted them.
pub async fn run(
    s: &SnowflakeStatements,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    let output = s.output();
    let (account, base) = (output.account_name(), output.base_url());
    let session = Session::connect(&Login::of(&output, &account, &base)).await?;
    let outcome = match (&s.statements, &s.write) {
        (_, Some(write)) => {
            let qualify = |table: &str| {
                format!(
                    "{}.{}.{}",
                    ident(&output.database),
                    ident(output.schema_name()),
                    ident(table)
                )
            };
            run_write(&session, &qualify, write, commit_gate).await
        }
        (Some(statements), None) => run_statements(&session, statements, commit_gate).await,
        (None, None) => Err(anyhow::anyhow!(
            "sql: neither statements nor a write to run"
        )),
    };
    session.close().await;
    outcome
}

async fn run_statements(
    session: &Session,
    statements: &str,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    // Snowflake takes one statement per request.
    let statements: Vec<&str> = Dialect::Snowflake
        .split_statements(statements)
        .into_iter()
        .filter(|s| !only_comments(s))
        .collect();
    session.execute("BEGIN").await?;
    let result = async {
        let mut changed = 0;
        for (i, statement) in statements.iter().enumerate() {
            let rows = session
                .execute(statement)
                .await
                .with_context(|| format!("statement {} failed; nothing was committed", i + 1))?;
            changed += changed_rows(&rows);
        }
        commit_gate.await?;
        session.execute("COMMIT").await.context("COMMIT failed")?;
        Ok(changed)
    }
    .await;
    if result.is_err() {
        let _ = session.execute("ROLLBACK").await;
    }
    result
}

/// The rows a DML statement changed: Snowflake answers them as its result's one row, in
/// columns `number of rows inserted` / `updated` / `deleted` (an UPDATE adds `number of
/// multi-joined rows updated`, which counts the same rows again).
fn changed_rows(rows: &super::Rows) -> u64 {
    let Some(row) = rows.rows.first() else {
        return 0;
    };
    rows.columns
        .iter()
        .zip(row)
        .filter(|(c, _)| c.starts_with("number of rows "))
        .filter_map(|(_, v)| v.as_deref()?.parse::<u64>().ok())
        .sum()
}

/// Whether a piece of a script holds only comments (a script's closing remark), which
/// Snowflake refuses as an empty statement. A comment marker inside a string of a real
/// statement leaves the rest of it, so such a piece is never taken for a comment.
fn only_comments(statement: &str) -> bool {
    let mut rest = statement.trim_start();
    while !rest.is_empty() {
        rest = if let Some(after) = rest.strip_prefix("/*") {
            after.find("*/").map_or("", |end| &after[end + 2..])
        } else if rest.starts_with("--") || rest.starts_with("//") {
            rest.find('\n').map_or("", |end| &rest[end + 1..])
        } else {
            return false;
        }
        .trim_start();
    }
    true
}

async fn run_write(
    session: &Session,
    qualify: &dyn Fn(&str) -> String,
    w: &WarehouseWrite,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    // Snowflake runs one statement per request (`MULTI_STATEMENT_COUNT` is sent as 1), so
    // a second one would only fail; refused here with the field's name instead.
    let condition = w.delete_where.as_ref().map(|c| (c, "delete_where"));
    for (sql, field) in std::iter::once((&w.query, "query")).chain(condition) {
        if Dialect::Snowflake.statement_count(sql.trim().trim_end_matches(';')) > 1 {
            anyhow::bail!("sql.write.{field}: must be a single statement, as Snowflake reads it");
        }
    }
    let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    // Unqualified: a temporary table lives in the session's schema (the emulator refuses
    // a temporary table named with a database).
    let stage = ident(&format!("HAKOBU_MART_{id}"));
    let outcome = write_through_stage(session, &stage, &qualify(&w.table), w, commit_gate).await;
    // Temporary: it would go with the session anyway; dropped now to free it at once.
    let _ = session
        .execute(&format!("DROP TABLE IF EXISTS {stage}"))
        .await;
    outcome
}

async fn write_through_stage(
    session: &Session,
    stage: &str,
    target: &str,
    w: &WarehouseWrite,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    session
        .execute(&format!("CREATE TEMPORARY TABLE {stage} AS\n{}", w.query))
        .await
        .context("the query failed; the target was not changed")?;
    // Names as Snowflake stores them, quoted exactly.
    let columns: Vec<String> = session
        .execute(&format!("SELECT * FROM {stage} LIMIT 0"))
        .await?
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    let rows = session
        .execute(&format!("SELECT COUNT(*) FROM {stage}"))
        .await?
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let plan = write_sql(target, stage, w, &columns);
    // Everything from here changes the target (a created one included).
    commit_gate.await?;
    if let Some(create) = &plan.create {
        session
            .execute(create)
            .await
            .with_context(|| format!("creating {} failed", w.table))?;
    }
    let failed = || format!("writing {} failed; it was not changed", w.table);
    match plan.change.as_slice() {
        // One statement is atomic by itself (and the emulator cannot run a MERGE inside
        // BEGIN .. COMMIT).
        [one] => {
            session.execute(one).await.with_context(failed)?;
        }
        several => {
            session.execute("BEGIN").await?;
            let result = async {
                for sql in several {
                    session.execute(sql).await.with_context(failed)?;
                }
                session.execute("COMMIT").await.context("COMMIT failed")?;
                Ok::<_, anyhow::Error>(())
            }
            .await;
            if result.is_err() {
                let _ = session.execute("ROLLBACK").await;
            }
            result?;
        }
    }
    Ok(rows)
}

/// How the staged result reaches the target.
struct WritePlan {
    /// DDL that makes a missing target (it commits by itself, so it runs first).
    create: Option<String>,
    /// The change: one statement, or several in one transaction.
    change: Vec<String>,
}

/// The statements that move the staged result into the target.
fn write_sql(target: &str, stage: &str, w: &WarehouseWrite, columns: &[String]) -> WritePlan {
    let mode = w.mode();
    if mode == Mode::Replace {
        return WritePlan {
            create: None,
            change: vec![format!(
                "CREATE OR REPLACE TABLE {target} COPY GRANTS AS SELECT * FROM {stage}"
            )],
        };
    }
    let create = Some(format!(
        "CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {stage} LIMIT 0"
    ));
    let list = |prefix: &str| {
        columns
            .iter()
            .map(|c| format!("{prefix}{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let insert = format!(
        "INSERT INTO {target} ({}) SELECT {} FROM {stage}",
        list(""),
        list("")
    );
    let keys: Vec<String> = w.merge_keys.iter().map(|k| ident(k)).collect();
    let keys_match = keys
        .iter()
        .map(|k| format!("t.{k} = s.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let change = match mode {
        Mode::Merge => {
            let updates: Vec<String> = columns
                .iter()
                .filter(|c| !keys.contains(c))
                .map(|c| format!("{c} = s.{c}"))
                .collect();
            let matched = if updates.is_empty() {
                String::new()
            } else {
                format!(" WHEN MATCHED THEN UPDATE SET {}", updates.join(", "))
            };
            vec![format!(
                "MERGE INTO {target} t USING {stage} s ON {keys_match}{matched} WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                list(""),
                list("s.")
            )]
        }
        Mode::DeleteInsert => {
            let delete = match w.delete_where.as_deref().filter(|c| !c.trim().is_empty()) {
                Some(condition) => format!("DELETE FROM {target} WHERE ({condition})"),
                None => format!("DELETE FROM {target} t USING {stage} s WHERE {keys_match}"),
            };
            vec![delete, insert]
        }
        _ => vec![insert],
    };
    WritePlan { create, change }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replace_is_one_statement_and_the_other_modes_make_the_target_first() {
        let w = |mode, keys: &[&str], condition: Option<&str>| WarehouseWrite {
            query: "SELECT 1".into(),
            table: "t".into(),
            mode: Some(mode),
            merge_keys: keys.iter().map(|k| k.to_string()).collect(),
            delete_where: condition.map(str::to_owned),
        };
        let cols = ["\"ID\"".to_owned(), "\"v\"".to_owned()];
        let replace = write_sql("T", "S", &w(Mode::Replace, &[], None), &cols);
        assert!(replace.create.is_none());
        assert_eq!(
            replace.change,
            ["CREATE OR REPLACE TABLE T COPY GRANTS AS SELECT * FROM S"]
        );
        let merge = write_sql("T", "S", &w(Mode::Merge, &["id"], None), &cols);
        assert_eq!(
            merge.create.as_deref(),
            Some("CREATE TABLE IF NOT EXISTS T AS SELECT * FROM S LIMIT 0")
        );
        assert_eq!(
            merge.change,
            [
                "MERGE INTO T t USING S s ON t.\"ID\" = s.\"ID\" WHEN MATCHED THEN UPDATE SET \"v\" = s.\"v\" WHEN NOT MATCHED THEN INSERT (\"ID\", \"v\") VALUES (s.\"ID\", s.\"v\")"
            ]
        );
        let by_key = write_sql("T", "S", &w(Mode::DeleteInsert, &["id"], None), &cols);
        assert_eq!(
            by_key.change,
            [
                "DELETE FROM T t USING S s WHERE t.\"ID\" = s.\"ID\"",
                "INSERT INTO T (\"ID\", \"v\") SELECT \"ID\", \"v\" FROM S"
            ]
        );
    }

    #[test]
    fn a_closing_comment_is_not_sent_as_a_statement_and_row_counts_are_read() {
        assert!(only_comments("-- done\n// really"));
        assert!(only_comments("/* done */\n-- really"));
        assert!(!only_comments("-- delete\nDELETE FROM t"));
        assert!(!only_comments("/* a */ SELECT '/*'"));
        let rows = crate::connectors::snowflake::Rows {
            columns: vec![
                "number of rows updated".into(),
                "number of multi-joined rows updated".into(),
            ],
            types: vec!["fixed".into(), "fixed".into()],
            rows: vec![vec![Some("3".into()), Some("3".into())]],
        };
        assert_eq!(changed_rows(&rows), 3);
    }
}
