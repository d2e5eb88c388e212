//! The streaming pipeline: source tasks -> filters -> destination, joined by bounded
//! channels so reading, transforming and writing overlap while at most a few batches per
//! stage are in memory, whatever the table size.

mod timestamp_formats;

use crate::connectors::{self, Destination};
use crate::filters::FilterChain;
use crate::limits::{PREVIEW_MAX_BYTES, PREVIEW_MAX_VALUE_BYTES};
use crate::shared::files_root::FileAccess;
use crate::shared::source::{Source, TaskState};
use crate::shared::stats::{Progress, Stats};
use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use futures::StreamExt;
use hakobu_core::config::{
    ColumnType, Config, ConfigDiff, ConfigError, InputConfig, RunnerConfig, StatementsConfig,
    StatementsSection,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timestamp_formats::output_timestamp_formats;
use tokio::sync::mpsc;

/// Batches in flight between two stages. Two is enough to overlap the stages; more only
/// costs memory.
const CHANNEL_DEPTH: usize = 2;

/// Parses a config as a run reads it (with its Embulk config diff): the options Hakobu
/// accepts and ignores, and the JDBC driver options it maps, are logged one line each
/// (the run log shows them) instead of refusing the config.
pub fn parse_config(yaml: &str, diff: Option<&str>) -> Result<Config, ConfigError> {
    let (config, notices) = Config::from_yaml_with_notices(yaml, diff)?;
    for notice in &notices {
        tracing::info!("{notice}");
    }
    Ok(config)
}

/// [`parse_config`] for either document a runner runs: a transfer, or a data mart's
/// statements (`sql:`).
pub fn parse_runner_config(yaml: &str, diff: Option<&str>) -> Result<RunnerConfig, ConfigError> {
    let (config, notices) = RunnerConfig::from_yaml_with_notices(yaml, diff)?;
    for notice in &notices {
        tracing::info!("{notice}");
    }
    Ok(config)
}

/// [`run_config_gated`] for either document: a transfer, or statements run in one
/// transaction (PostgreSQL; MySQL where its DDL does not commit implicitly) that
/// `commit_gate` is awaited before committing. A statements run reports the rows its
/// statements changed as written.
pub async fn run_runner_config_gated(
    config: &RunnerConfig,
    files: &FileAccess,
    progress: impl Fn(&Progress) + Send + Sync + 'static,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<Summary> {
    match config {
        RunnerConfig::Transfer(c) => run_config_gated(c, files, progress, commit_gate).await,
        RunnerConfig::Statements(s) => run_statements(s, progress, commit_gate).await,
    }
}

async fn run_statements(
    config: &StatementsConfig,
    progress: impl Fn(&Progress) + Send + Sync + 'static,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<Summary> {
    let started = Instant::now();
    tracing::info!(
        "running the {} in {}",
        if config.writes_a_query() {
            "query and writing its result"
        } else {
            "statements"
        },
        config.sql.type_name()
    );
    let changed = match &config.sql {
        StatementsSection::Postgresql(s) => {
            connectors::postgres::statements::run(s, commit_gate).await
        }
        StatementsSection::Mysql(s) => connectors::mysql::statements::run(s, commit_gate).await,
        StatementsSection::Bigquery(s) => {
            connectors::bigquery::statements::run(s, commit_gate).await
        }
        StatementsSection::Snowflake(s) => {
            connectors::snowflake::statements::run(s, commit_gate).await
        }
    }
    .context("sql")?;
    let stats = Stats::default();
    stats.add_written(changed);
    progress(&stats.progress(started));
    tracing::info!(
        "committed; {changed} rows {}",
        if config.writes_a_query() {
            "written"
        } else {
            "changed"
        }
    );
    Ok(Summary {
        rows_read: 0,
        rows_written: changed,
        rows_skipped: 0,
        skipped_reasons: Vec::new(),
        bytes_read: 0,
        bytes_written: 0,
        seconds: started.elapsed().as_secs_f64(),
        next_diff: ConfigDiff::default(),
    })
}

/// The result of a committed run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Rows read from the source (valid and skipped).
    pub rows_read: u64,
    /// Rows written and committed.
    pub rows_written: u64,
    /// Invalid rows skipped.
    pub rows_skipped: u64,
    /// Why rows were skipped (the first few, with file and line).
    pub skipped_reasons: Vec<String>,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Bytes sent to the destination (see [`Progress::bytes_written`]).
    pub bytes_written: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The state for the next run (`-c diff.yml`), written only after the commit.
    pub next_diff: ConfigDiff,
}

/// Runs one config to completion: reads, filters, writes and commits. The destination is
/// committed only if every stage succeeded; otherwise it is rolled back (transactional
/// modes) and the error says which stage failed. `files` says which local files the
/// config may read and write: a tenant's run is confined to its organization's folder.
pub async fn run_config(
    config: &Config,
    files: &FileAccess,
    progress: impl Fn(&Progress) + Send + Sync + 'static,
) -> Result<Summary> {
    run_config_gated(config, files, progress, std::future::ready(Ok(()))).await
}

/// [`run_config`] that awaits `commit_gate` once everything is written, just before the
/// destination commits: an error from the gate rolls the destination back and is the
/// run's error. A managed runner asks its app there whether the run is still its own, so
/// that a run the app has already given up (and may have retried) commits nothing.
pub async fn run_config_gated(
    config: &Config,
    files: &FileAccess,
    progress: impl Fn(&Progress) + Send + Sync + 'static,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<Summary> {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let (source, preconnected) = tokio::join!(
        open_source(
            &config.input,
            config.exec.max_threads.map_or(1, |n| n.max(1) as usize),
            files,
        ),
        Destination::connect(&config.out)
    );
    let source = source.context("in")?;
    stats.expect(source.expected);
    let preconnected = preconnected.context("out")?;
    let mut filters = FilterChain::new(&config.filters, source.schema.clone())?;
    if let Some(formats) = output_timestamp_formats(&config.out, &filters.schema()) {
        let with_formats = [config.filters.clone(), vec![formats]].concat();
        filters = FilterChain::new(&with_formats, source.schema.clone()).context("out")?;
    }
    let out_schema = filters.schema();
    let mut destination = Destination::open(
        &config.out,
        out_schema.clone(),
        preconnected,
        files,
        stats.bytes_written(),
    )
    .await
    .context("out")?;

    let threads = config
        .exec
        .max_threads
        .map(|n| n.max(1) as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    tracing::info!(
        "connected; reading in {} part(s), up to {} at a time",
        source.tasks.len(),
        threads.min(source.tasks.len().max(1))
    );
    let (src_tx, mut src_rx) = mpsc::channel::<RecordBatch>(CHANNEL_DEPTH);
    let (flt_tx, mut flt_rx) = mpsc::channel::<RecordBatch>(CHANNEL_DEPTH);

    // Task futures are lazy: `buffered` starts at most `threads` of them at a time.
    let task_futures: Vec<_> = source
        .tasks
        .into_iter()
        .map(|task| task(src_tx.clone(), stats.clone()))
        .collect();
    drop(src_tx);
    let reader = tokio::spawn(async move {
        let results: Vec<Result<TaskState>> = futures::stream::iter(task_futures)
            .buffered(threads)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<_>>>()
    });
    let filter = tokio::spawn(async move {
        while let Some(batch) = src_rx.recv().await {
            let batch = filters.apply(batch)?;
            if batch.num_rows() > 0 && flt_tx.send(batch).await.is_err() {
                break; // the destination failed; its error is the one to report
            }
        }
        anyhow::Ok(())
    });

    let progress = Arc::new(progress);
    let progress_at_end = progress.clone();
    let progress_stats = stats.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        loop {
            every.tick().await;
            progress(&progress_stats.progress(started));
        }
    });

    let mut write_error = None;
    while let Some(batch) = flt_rx.recv().await {
        let rows = batch.num_rows() as u64;
        if let Err(e) = destination.write(batch).await {
            write_error = Some(e);
            break;
        }
        stats.add_written(rows);
    }
    drop(flt_rx);
    let read_result = reader.await.context("reader task panicked")?;
    let filter_result = filter.await.context("filter task panicked")?;

    let outcome = match (read_result, filter_result, write_error) {
        // A failed destination makes the other stages fail to send; report its error.
        (_, _, Some(e)) => Err(e.context("out")),
        (_, Err(e), _) => Err(e.context("filters")),
        (Err(e), _, _) => Err(e.context("in")),
        (Ok(states), Ok(()), None) => Ok(states),
    };
    let states = match outcome {
        Ok(states) => states,
        Err(e) => {
            ticker.abort();
            destination.abort().await;
            return Err(e);
        }
    };
    if let Err(e) = commit_gate.await {
        ticker.abort();
        destination.abort().await;
        return Err(e);
    }
    // Committing can take a while (a staged table copied into the target) while the
    // counts stand still; say what is happening.
    tracing::info!(
        "all {} rows written; committing the destination",
        stats.progress(started).rows_written
    );
    let committed = destination.commit().await.context("out");
    ticker.abort();
    committed?;

    let p = stats.progress(started);
    // The last word, however short the run was next to the ticker's period.
    progress_at_end(&p);
    Ok(Summary {
        rows_read: p.rows_read,
        rows_written: p.rows_written,
        rows_skipped: stats.rows_skipped(),
        skipped_reasons: stats.skipped_reasons(),
        bytes_read: p.bytes_read,
        bytes_written: p.bytes_written,
        seconds: started.elapsed().as_secs_f64(),
        next_diff: next_diff(&config.input, states),
    })
}

/// Opens the source of `in:` as the pipeline reads it: the connector's reader, with the
/// input's `column_options.timestamp_format` conversions applied to what it sends.
/// `parallel` > 1 lets one table be read in that many key ranges at once
/// (`exec.max_threads`); `files` says which local files may be read.
pub async fn open_source(
    config: &InputConfig,
    parallel: usize,
    files: &FileAccess,
) -> Result<Source> {
    let (read, formats) = timestamp_formats::split_input(config);
    timestamp_formats::formatted(
        connectors::open_input(&read, parallel, files).await?,
        formats,
    )
}

/// The diff the next run starts from: the previous state unless this run moved it.
fn next_diff(input: &InputConfig, states: Vec<TaskState>) -> ConfigDiff {
    let mut diff = ConfigDiff::default();
    match input {
        InputConfig::Postgresql(c) | InputConfig::Mysql(c) => {
            if c.incremental.unwrap_or(false) {
                diff.input.last_record = states
                    .into_iter()
                    .filter_map(|s| s.last_record)
                    .next_back()
                    .or_else(|| c.last_record.clone());
            }
        }
        InputConfig::File(c) => {
            if c.incremental.unwrap_or(true) {
                diff.input.last_path = states
                    .into_iter()
                    .filter_map(|s| s.last_path)
                    .max()
                    .or_else(|| c.last_path.clone());
            }
        }
        InputConfig::S3(c) => {
            if c.incremental.unwrap_or(true) {
                diff.input.last_path = states
                    .into_iter()
                    .filter_map(|s| s.last_path)
                    .max()
                    .or_else(|| c.last_path.clone());
            }
        }
    }
    diff
}

/// The first rows a config produces (after filters), without writing anything.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Preview {
    /// `(name, type)` of each column.
    pub columns: Vec<(String, String)>,
    /// Up to the requested number of rows, values as JSON.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Whether the preview was cut to stay within [`PREVIEW_MAX_BYTES`]: a value longer
    /// than [`PREVIEW_MAX_VALUE_BYTES`] (or than what was left) ends with `…`, and no row
    /// was read after the budget was spent.
    pub truncated: bool,
}

/// Reads up to `limit` rows through the source and filters of `config`, and stops reading
/// once the values taken reach [`PREVIEW_MAX_BYTES`]: a tenant's table of 1 MB values
/// answers about a megabyte, not `limit` megabytes. Readers send batches of at most
/// [`crate::types::BATCH_BYTES`], so no more than a batch or two is read past the budget.
/// `files` says which local files may be read.
pub async fn preview_config(config: &Config, files: &FileAccess, limit: usize) -> Result<Preview> {
    let stats = Arc::new(Stats::default());
    let source = open_source(&config.input, 1, files).await.context("in")?;
    let filters = FilterChain::new(&config.filters, source.schema.clone())?;
    let schema = filters.schema();
    let columns = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), crate::types::column_type(f).to_string()))
        .collect();
    let mut rows = Vec::new();
    let mut budget = PreviewBudget::default();
    for task in source.tasks {
        // One batch in the channel: the reader stops soon after the preview does.
        let (tx, mut rx) = mpsc::channel(1);
        let reading = tokio::spawn(task(tx, stats.clone()));
        while let Some(batch) = rx.recv().await {
            let batch = filters.apply(batch).context("filters")?;
            let views = (0..batch.num_columns())
                .map(|i| crate::types::ColumnView::of(&batch, i))
                .collect::<Result<Vec<_>>>()?;
            for r in 0..batch.num_rows() {
                if rows.len() == limit || budget.spent() {
                    break;
                }
                rows.push(
                    views
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            budget.take(v.get(r), crate::types::column_type(schema.field(i)))
                        })
                        .collect(),
                );
            }
            if rows.len() == limit || budget.spent() {
                break;
            }
        }
        drop(rx);
        if rows.len() == limit || budget.spent() {
            // Enough is read: stop the reader where it is (its session closes with it)
            // rather than wait for it to notice, and ignore how it ends.
            reading.abort();
            break;
        }
        reading
            .await
            .context("reader task panicked")?
            .context("in")?;
    }
    Ok(Preview {
        columns,
        rows,
        truncated: budget.truncated,
    })
}

/// What a preview has taken of [`PREVIEW_MAX_BYTES`], counted as the length of each
/// value's text.
#[derive(Debug, Default)]
struct PreviewBudget {
    used: usize,
    truncated: bool,
}

impl PreviewBudget {
    /// Whether the budget is spent (no further row is taken).
    fn spent(&self) -> bool {
        self.used >= PREVIEW_MAX_BYTES
    }

    /// `value` as JSON, cut to what the budget allows (at most [`PREVIEW_MAX_VALUE_BYTES`])
    /// before any copy of it is made.
    fn take(&mut self, value: crate::types::Value<'_>, t: ColumnType) -> serde_json::Value {
        use crate::types::Value as V;
        let room = PREVIEW_MAX_VALUE_BYTES.min(PREVIEW_MAX_BYTES.saturating_sub(self.used));
        let cut = match value {
            V::Str(s) if s.len() > room => Some(format!("{}…", prefix(s, room))),
            V::Bytes(b) if b.len() * 2 > room => Some(format!("{}…", hex::encode(&b[..room / 2]))),
            _ => None,
        };
        let json = match cut {
            Some(text) => {
                self.truncated = true;
                serde_json::Value::String(text)
            }
            None => crate::types::value_to_json(value, t),
        };
        self.used += json_size(&json);
        if self.used >= PREVIEW_MAX_BYTES {
            // Rows after this one are not read; say so even if this one fitted exactly.
            self.truncated = true;
        }
        json
    }
}

/// The longest start of `s` within `max` bytes, ending on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The length of a JSON value's text, roughly as it is sent.
fn json_size(value: &serde_json::Value) -> usize {
    use serde_json::Value as J;
    match value {
        J::Null => 4,
        J::Bool(_) => 5,
        J::Number(n) => n.to_string().len(),
        J::String(s) => s.len() + 2,
        J::Array(items) => items.iter().map(|v| json_size(v) + 1).sum::<usize>() + 2,
        J::Object(fields) => {
            fields
                .iter()
                .map(|(k, v)| k.len() + 4 + json_size(v))
                .sum::<usize>()
                + 2
        }
    }
}
