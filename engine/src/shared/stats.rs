//! The counters of a run, shared by every stage: the source tasks count rows and bytes
//! read and skipped rows, the pipeline counts rows written and turns them into progress.

use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many skipped-row reasons the summary keeps verbatim.
const MAX_SKIP_EXAMPLES: usize = 20;

/// Counters shared by every stage of a run.
#[derive(Debug, Default)]
pub struct Stats {
    rows_read: AtomicU64,
    bytes_read: AtomicU64,
    rows_written: AtomicU64,
    skipped: AtomicU64,
    skip_examples: Mutex<Vec<String>>,
}

impl Stats {
    /// Counts rows and bytes read.
    pub fn add_read(&self, rows: u64, bytes: u64) {
        self.rows_read.fetch_add(rows, Ordering::Relaxed);
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts a skipped (invalid) row; `reason` names the file/line and the problem.
    pub fn skip(&self, reason: String) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        let mut ex = self.skip_examples.lock().expect("stats lock");
        if ex.len() < MAX_SKIP_EXAMPLES {
            ex.push(reason);
        }
    }

    /// Counts rows handed to the destination.
    pub(crate) fn add_written(&self, rows: u64) {
        self.rows_written.fetch_add(rows, Ordering::Relaxed);
    }

    /// Invalid rows skipped so far.
    pub(crate) fn rows_skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Why rows were skipped: the first [`MAX_SKIP_EXAMPLES`] reasons.
    pub(crate) fn skipped_reasons(&self) -> Vec<String> {
        self.skip_examples.lock().expect("stats lock").clone()
    }

    /// A snapshot for the progress callback.
    pub fn progress(&self, started: Instant) -> Progress {
        let elapsed = started.elapsed();
        let rows_read = self.rows_read.load(Ordering::Relaxed);
        Progress {
            rows_read,
            rows_written: self.rows_written.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            elapsed,
            rows_per_second: rows_read as f64 / elapsed.as_secs_f64().max(1e-9),
        }
    }
}

/// Progress of a running transfer.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// Rows read from the source so far.
    pub rows_read: u64,
    /// Rows handed to the destination so far (committed only at the end for
    /// transactional modes).
    pub rows_written: u64,
    /// Bytes read from the source so far.
    pub bytes_read: u64,
    /// Time since the run started.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Average read rate.
    pub rows_per_second: f64,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
