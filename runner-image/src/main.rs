//! `hakobu-runner`: executes one Embulk-style config.
//!
//! - `hakobu-runner run config.yml [-c diff.yml]`: transfers, prints a JSON summary on
//!   stdout (on stderr when `out: {type: stdout}` prints the records there), and rewrites
//!   `diff.yml` only after the destination committed.
//! - `hakobu-runner preview config.yml`: prints the first rows as JSON Lines.
//! - `hakobu-runner managed`: one run for the app (`managed.rs`).
//! - `hakobu-runner probe`: one connection test, discovery call or preview for the app,
//!   request on stdin, reply on stdout (`probe.rs`).
//!
//! Any failure exits non-zero with one line on stderr naming what failed and where.

use anyhow::{Context, Result};
mod engine_log;
mod managed;
mod probe;

use clap::{Parser, Subcommand};
use hakobu_core::config::Config;
use hakobu_engine::template::read_config_file;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(version, about = "Runs one Hakobu / Embulk-style transfer config")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transfers the data described by a config (`.yml` or `.yml.liquid`).
    Run {
        /// The config file.
        config: PathBuf,
        /// Embulk config diff: merged over the config before the run, rewritten after the
        /// commit with the next incremental state.
        #[arg(short = 'c', long = "config-diff")]
        diff: Option<PathBuf>,
    },
    /// Runs one run for the Hakobu app (started by its launcher; reads HAKOBU_APP_URL,
    /// HAKOBU_RUN_ID and HAKOBU_RUN_TOKEN).
    Managed,
    /// Serves one probe for the Hakobu app: a JSON request on stdin, the reply on stdout.
    Probe,
    /// Prints the first rows the config would transfer, as JSON Lines.
    Preview {
        /// The config file.
        config: PathBuf,
        /// How many rows.
        #[arg(long, default_value_t = 20)]
        rows: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Command::Probe = cli.command {
        // Before any runtime: the worker limits itself first.
        if let Err(e) = probe::serve() {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(cli.command)) {
        if e.is::<managed::Interrupted>() {
            eprintln!("error: {e}");
            // As a shell reports a death by SIGTERM (128 + 15).
            std::process::exit(143);
        }
        // One line: the error chain, with driver messages folded onto it.
        let line = format!("{e:#}")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("error: {line}");
        std::process::exit(1);
    }
}

fn load(config: &Path, diff: Option<&Path>) -> Result<Config> {
    let text = read_config_file(config)?;
    let diff_text = match diff {
        Some(d) if d.exists() => Some(
            std::fs::read_to_string(d).with_context(|| format!("cannot read {}", d.display()))?,
        ),
        _ => None,
    };
    hakobu_engine::parse_config(&text, diff_text.as_deref())
        .with_context(|| config.display().to_string())
}

/// The bar's steps: a share done is shown to a tenth of a percent.
const BAR_STEPS: u64 = 1000;

/// Counts and pace on a spinner; once the source said how much it expects to read (a
/// table's statistics, its files' sizes), a bar with the share done and the time left.
fn show_progress(bar: &ProgressBar, p: &hakobu_engine::Progress) {
    let counts = format!(
        "{} rows, {} read, {} written, {:.0} rows/s",
        p.rows_read,
        indicatif::HumanBytes(p.bytes_read),
        indicatif::HumanBytes(p.bytes_written),
        p.rows_per_second
    );
    let Some(done) =
        hakobu_core::progress::done(p.rows_read, p.bytes_read, p.rows_expected, p.bytes_expected)
    else {
        bar.set_message(counts);
        return;
    };
    if bar.length() != Some(BAR_STEPS) {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} [{bar:30}] {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_length(BAR_STEPS);
    }
    bar.set_position((done.fraction * BAR_STEPS as f64) as u64);
    let left = hakobu_core::progress::seconds_left(p.elapsed.as_secs_f64(), done.fraction)
        .map(|s| {
            format!(
                ", {} left",
                indicatif::HumanDuration(Duration::from_secs_f64(s))
            )
        })
        .unwrap_or_default();
    let about = if done.estimated { "about " } else { "" };
    bar.set_message(format!(
        "{about}{:.0}%{left} · {counts}",
        done.fraction * 100.0
    ));
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Run { config, diff } => {
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                        .expect("valid template"),
                );
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            });
            let printer = bar.clone();
            engine_log::forward_to(Box::new(move |line| {
                let text = format!("{}: {}", line.level, line.message);
                match &printer {
                    Some(bar) => bar.println(text),
                    None => eprintln!("{text}"),
                }
            }));
            // After the engine's lines are shown: parsing logs the options it ignores.
            let parsed = match load(&config, diff.as_deref()) {
                Ok(parsed) => parsed,
                Err(e) => {
                    if let Some(bar) = &bar {
                        bar.finish_and_clear();
                    }
                    return Err(e);
                }
            };
            let progress_bar = bar.clone();
            // The operator's own config on their own machine: paths mean what they say.
            let files = hakobu_engine::FileAccess::Unconfined;
            let summary = hakobu_engine::run_config(&parsed, &files, move |p| {
                if let Some(bar) = &progress_bar {
                    show_progress(bar, p);
                }
            })
            .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let summary = summary?;
            // The destination has committed: only now may the next state be recorded.
            if let Some(diff) = diff {
                let tmp = diff.with_extension("tmp");
                std::fs::write(&tmp, summary.next_diff.to_yaml())
                    .and_then(|_| std::fs::rename(&tmp, &diff))
                    .with_context(|| {
                        format!("the load committed but writing {} failed", diff.display())
                    })?;
            }
            // With `out: {type: stdout}` the records are the standard output; the summary
            // goes beside the log lines so that a pipe gets the records alone.
            let summary = serde_json::to_string(&summary)?;
            if matches!(parsed.out, hakobu_core::config::OutputConfig::Stdout(_)) {
                eprintln!("{summary}");
            } else {
                println!("{summary}");
            }
        }
        Command::Managed => managed::run().await?,
        Command::Probe => unreachable!("served before the runtime starts"),
        Command::Preview { config, rows } => {
            engine_log::forward_to(Box::new(|line| {
                eprintln!("{}: {}", line.level, line.message)
            }));
            let parsed = load(&config, None)?;
            let preview = hakobu_engine::preview_config(
                &parsed,
                &hakobu_engine::FileAccess::Unconfined,
                rows,
            )
            .await?;
            let names: Vec<&str> = preview.columns.iter().map(|(n, _)| n.as_str()).collect();
            println!("{}", serde_json::to_string(&preview.columns)?);
            for row in preview.rows {
                let obj: serde_json::Map<String, serde_json::Value> =
                    names.iter().map(|n| n.to_string()).zip(row).collect();
                println!("{}", serde_json::Value::Object(obj));
            }
            if preview.truncated {
                eprintln!(
                    "preview cut short at {}: long values end with …, later rows were not read",
                    hakobu_engine::limits::human_bytes(hakobu_engine::limits::PREVIEW_MAX_BYTES)
                );
            }
        }
    }
    Ok(())
}
