//! The counters of a run, shared by every stage: the source tasks count rows and bytes
//! read and skipped rows, the pipeline counts rows written and turns them into progress.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many skipped-row reasons the summary keeps verbatim.
const MAX_SKIP_EXAMPLES: usize = 20;

/// What a source expects to read, when it can tell before reading: a whole table's row
/// statistics, the sizes of the files it lists. Progress turns it into a percentage and a
/// time left. Statistics are estimates (InnoDB's can be off by half), so a percentage from
/// rows is shown as "about" and held below 100 until the run ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Rows, from the table's statistics (PostgreSQL `pg_class.reltuples`, MySQL
    /// `information_schema.tables.table_rows`).
    pub rows: Option<u64>,
    /// Bytes, the files' sizes as stored (compressed files by their compressed size, which
    /// is what the read counts).
    pub bytes: Option<u64>,
}

/// Bytes a destination has sent, counted where they leave for it (shared with the stats,
/// which read it for progress while the writer adds to it).
#[derive(Debug, Default, Clone)]
pub struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    /// Counts `bytes` more.
    pub fn add(&self, bytes: usize) {
        self.0.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The total so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A `Write` that counts what passes through it into a [`ByteCounter`]: under a file's
/// buffer and compressor, so what it counts is the file as stored.
pub struct CountingWriter<W> {
    inner: W,
    counter: ByteCounter,
}

impl<W> CountingWriter<W> {
    /// Counts what is written to `inner` into `counter`.
    pub fn new(inner: W, counter: ByteCounter) -> Self {
        CountingWriter { inner, counter }
    }
}

impl<W: std::io::Write> std::io::Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.counter.add(n);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Counters shared by every stage of a run.
#[derive(Debug, Default)]
pub struct Stats {
    rows_read: AtomicU64,
    bytes_read: AtomicU64,
    rows_written: AtomicU64,
    bytes_written: ByteCounter,
    skipped: AtomicU64,
    skip_examples: Mutex<Vec<String>>,
    /// What the source said it expects to read, once it is open.
    expected: std::sync::OnceLock<Expected>,
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

    /// What the opened source expects to read (set once; later calls change nothing).
    pub(crate) fn expect(&self, expected: Expected) {
        let _ = self.expected.set(expected);
    }

    /// Counts rows handed to the destination.
    pub(crate) fn add_written(&self, rows: u64) {
        self.rows_written.fetch_add(rows, Ordering::Relaxed);
    }

    /// The counter the destination adds the bytes it sends to.
    pub(crate) fn bytes_written(&self) -> ByteCounter {
        self.bytes_written.clone()
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
        let expected = self.expected.get().copied().unwrap_or_default();
        Progress {
            rows_read,
            rows_written: self.rows_written.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.get(),
            rows_expected: expected.rows,
            bytes_expected: expected.bytes,
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
    /// Bytes sent to the destination so far, in the form it receives them: the binary
    /// COPY stream (PostgreSQL), the LOAD DATA text or INSERT statements (MySQL), the
    /// file as stored, compressed if it is (files, S3).
    pub bytes_written: u64,
    /// Rows the source expects to read in all (a table's statistics), when known.
    pub rows_expected: Option<u64>,
    /// Bytes the source expects to read in all (its files' sizes), when known.
    pub bytes_expected: Option<u64>,
    /// Time since the run started.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Average read rate.
    pub rows_per_second: f64,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
