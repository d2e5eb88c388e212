//! Embulk's `column_options.<c>.timestamp_format` of the database connectors, done as a
//! cast filter around them: after the reader for an input (the column is read in its own
//! type, then formatted), before the writer for an output (after the configured filters).
//! It lives in the pipeline because it joins a connector with the filters.

use crate::filters::FilterChain;
use crate::shared::source::{Source, Task};
use crate::types;
use anyhow::{Context, Result, anyhow};
use arrow_schema::Schema;
use futures::FutureExt;
use hakobu_core::config::{
    CastColumn, CastFilter, ColumnType, FilterConfig, InputConfig, JdbcInput, OutputConfig,
};
use std::borrow::Cow;
use std::sync::Arc;

/// The input the connector reads and the `timestamp_format` conversions of its columns to
/// apply afterwards (see [`split_jdbc`]); files have none.
pub(super) fn split_input(config: &InputConfig) -> (Cow<'_, InputConfig>, Vec<CastColumn>) {
    match config {
        InputConfig::Postgresql(c) => {
            let (read, formats) = split_jdbc(c);
            (Cow::Owned(InputConfig::Postgresql(read)), formats)
        }
        InputConfig::Mysql(c) => {
            let (read, formats) = split_jdbc(c);
            (Cow::Owned(InputConfig::Mysql(read)), formats)
        }
        InputConfig::File(_) | InputConfig::S3(_) => (Cow::Borrowed(config), Vec::new()),
    }
}

/// Embulk's `column_options.<c>.timestamp_format` of a database input: a column read as
/// `type: string` is formatted with that strftime format, in the column's `timezone`,
/// else `default_timezone`, instead of taking the server's text. So the reader gets the
/// input without those `type: string` overrides (reading the column's own type), and the
/// conversions to do afterwards.
///
/// As in Embulk, the zone there only formats: a wall-time column (`DATETIME`, `timestamp`)
/// is read as UTC, the session's zone, so `timezone: +0900` turns a stored `12:34:56` into
/// `21:34:56` (embulk-input-mysql's own test expects exactly that).
fn split_jdbc(c: &JdbcInput) -> (JdbcInput, Vec<CastColumn>) {
    let mut read = c.clone();
    let mut formats = Vec::new();
    for (name, option) in &mut read.column_options {
        if let (Some(ColumnType::String), Some(format)) = (option.type_, &option.timestamp_format) {
            option.type_ = None;
            formats.push(CastColumn {
                name: name.clone(),
                type_: ColumnType::String,
                format: Some(format.clone()),
                timezone: option
                    .timezone
                    .clone()
                    .or_else(|| c.default_timezone.clone()),
            });
            option.timezone = Some("UTC".to_owned());
        }
    }
    (read, formats)
}

/// Embulk's `column_options.<c>.timestamp_format` of a database output: timestamp columns
/// that have one are written as text in that strftime format, in the column's `timezone`,
/// else the output's `default_timezone`, as a cast after the configured filters.
pub(super) fn output_timestamp_formats(
    config: &OutputConfig,
    schema: &Schema,
) -> Option<FilterConfig> {
    let c = match config {
        OutputConfig::Postgresql(c) | OutputConfig::Mysql(c) => c,
        OutputConfig::File(_)
        | OutputConfig::S3(_)
        | OutputConfig::Stdout(_)
        | OutputConfig::Bigquery(_) => return None,
        OutputConfig::Snowflake(_) => return None,
    };
    let columns: Vec<CastColumn> = schema
        .fields()
        .iter()
        .filter(|f| types::column_type(f) == ColumnType::Timestamp)
        .filter_map(|f| {
            let option = c.column_options.get(f.name())?;
            Some(CastColumn {
                name: f.name().clone(),
                type_: ColumnType::String,
                format: Some(option.timestamp_format.clone()?),
                timezone: option
                    .timezone
                    .clone()
                    .or_else(|| c.default_timezone.clone()),
            })
        })
        .collect();
    (!columns.is_empty()).then_some(FilterConfig::Cast(CastFilter {
        columns,
        stop_on_invalid_record: None,
    }))
}

/// `source` with the `timestamp_format` conversions applied to every batch its tasks send.
pub(super) fn formatted(source: Source, formats: Vec<CastColumn>) -> Result<Source> {
    if formats.is_empty() {
        return Ok(source);
    }
    let cast = FilterConfig::Cast(CastFilter {
        columns: formats,
        stop_on_invalid_record: None,
    });
    let chain = Arc::new(
        FilterChain::new(&[cast], source.schema.clone())
            .context("column_options with timestamp_format")?,
    );
    let tasks = source
        .tasks
        .into_iter()
        .map(|read| -> Task {
            let chain = chain.clone();
            Box::new(move |tx, stats| {
                async move {
                    let (read_tx, mut read_rx) = tokio::sync::mpsc::channel(1);
                    let forward = async move {
                        while let Some(batch) = read_rx.recv().await {
                            let batch = chain
                                .apply(batch)
                                .context("column_options with timestamp_format")?;
                            tx.send(batch)
                                .await
                                .map_err(|_| anyhow!("the destination stopped"))?;
                        }
                        anyhow::Ok(())
                    };
                    let (state, forwarded) = futures::join!(read(read_tx, stats), forward);
                    // A failed conversion stops the read; its error is the one to report.
                    forwarded?;
                    state
                }
                .boxed()
            })
        })
        .collect();
    Ok(Source {
        schema: chain.schema(),
        tasks,
        expected: source.expected,
    })
}
