//! The limits that keep one tenant's input from taking the service's memory or time: how
//! much work a Liquid template may make, and how much of a tenant database's answer the
//! app reads for a preview, a listing, a data check or a query variable, and how much of a
//! tenant's files a listing or a guess of their columns reads, and how much and how long
//! an answer of a tenant-directed HTTP server is read (a warehouse's API, a token endpoint,
//! a webhook).
//!
//! Everything a tenant configures is hostile input, and so is everything a tenant's
//! database answers. Each limit is a constant here, the one place its value is written;
//! `docs/security.md` lists them with where they are enforced.
//!
//! It depends on nothing else of the crate, so every module of the engine can use it.

use std::time::Duration;

// --- Liquid templates (`crate::template`) ---

/// The largest template source (and each partial) that is parsed at all. Parsing is
/// recursive in the nesting of blocks, so this also bounds the parser's depth.
pub const TEMPLATE_MAX_SOURCE_BYTES: usize = 64 * 1024;

/// Loop iterations one render may make, counted over every `for` and `tablerow`, nested
/// or not. A range larger than this is refused before any of it exists.
pub const TEMPLATE_MAX_LOOP_ITERATIONS: u64 = 100_000;

/// The most a render may write.
pub const TEMPLATE_MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// The largest value a render may build: an `assign`, a `capture`, or the result of any
/// filter (so `append` in a loop cannot double a string forty times).
pub const TEMPLATE_MAX_VALUE_BYTES: usize = 64 * 1024;

/// The sum of the values `assign` and `capture` hold at one time: many names each just
/// under the value limit stay bounded too.
pub const TEMPLATE_MAX_ASSIGNED_BYTES: usize = 4 * 1024 * 1024;

/// How long one render may take; checked at every loop iteration, filter and include.
pub const TEMPLATE_MAX_RENDER_TIME: Duration = Duration::from_secs(2);

/// How deep `include`s may nest (a partial that includes itself stops here).
pub const TEMPLATE_MAX_INCLUDE_DEPTH: usize = 10;

// --- answers of a tenant's database (`crate::check`, `crate::pipeline::preview_config`) ---

/// The most a preview answers, counted over its values as text. Reading stops once the
/// rows taken reach it; the preview then says it was cut short.
pub const PREVIEW_MAX_BYTES: usize = 1024 * 1024;

/// The longest value a preview shows; a longer one is cut and ends with `…`.
pub const PREVIEW_MAX_VALUE_BYTES: usize = 64 * 1024;

/// The most entries a listing of schemas, tables or columns answers.
pub const DISCOVERY_MAX_ENTRIES: usize = 10_000;

/// The most text a listing of schemas, tables or columns reads.
pub const DISCOVERY_MAX_BYTES: usize = 1024 * 1024;

/// The longest value (in characters) a data check compares. The database is asked for no
/// more than this and one character, and for at most two rows, so a longer value or a
/// query of many rows is refused without being sent.
pub const DATA_CHECK_MAX_VALUE_CHARS: usize = 64 * 1024;

/// The longest value (in characters) a query variable may have: it is written into SQL,
/// paths and messages. Read the same way as a data check's value. The same limit holds for
/// values given by hand (`hakobu_core::variables::VALUE_MAX_CHARS`, which this is).
pub const VARIABLE_MAX_VALUE_CHARS: usize = hakobu_core::variables::VALUE_MAX_CHARS;

// --- files of a tenant's bucket or folder (`crate::check::files`) ---

/// The most files a "find files" listing answers.
pub const FILE_LISTING_MAX_ENTRIES: usize = 1_000;

/// How long a "find files" listing walks a folder or pages through a bucket before it
/// answers with what it found (and says it stopped).
pub const FILE_LISTING_MAX_TIME: Duration = Duration::from_secs(5);

/// The most bytes of a file a guess reads, before and after decompression alike: a huge
/// or endless file costs this much, never more.
pub const GUESS_MAX_BYTES: usize = 1024 * 1024;

/// The most rows a guess looks at.
pub const GUESS_MAX_ROWS: usize = 200;

/// The most columns a guess answers; a wider sample is refused as not tabular.
pub const GUESS_MAX_COLUMNS: usize = 1_000;

/// The largest Parquet footer (the schema) a guess reads.
pub const GUESS_PARQUET_FOOTER_MAX_BYTES: usize = 1024 * 1024;

// --- answers of tenant-directed HTTP servers (`crate::egress::http`) ---

/// How long connecting to a tenant-directed HTTP server may take.
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a warehouse's API answer may hold (BigQuery's, Snowflake's: a statement's
/// first chunk of rows comes inline in it), for loads, discovery, previews and data
/// checks alike. A larger answer fails, naming this limit, once this much has been read;
/// the rest is never read. Previews then cut the values taken to [`PREVIEW_MAX_BYTES`],
/// listings to [`DISCOVERY_MAX_ENTRIES`] and [`DISCOVERY_MAX_BYTES`].
pub const WAREHOUSE_ANSWER_MAX_BYTES: usize = 32 * 1024 * 1024;

/// How long one warehouse API call may take, its body included (a load job's upload
/// chunk is one call; a job itself is waited for by polling).
pub const WAREHOUSE_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The most a token endpoint's answer (a service account key's `token_uri`) may hold.
pub const TOKEN_ANSWER_MAX_BYTES: usize = 64 * 1024;

/// How long a webhook or Slack hook may take to answer a notification.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a webhook's refusal is read to quote it in the delivery's error; the
/// rest of the answer is not read.
pub const WEBHOOK_ANSWER_QUOTE_BYTES: usize = 1200;
/// The most of an HTTP task's answer body that is read (and kept for its message): the
/// start of an error page says what went wrong; the rest is never read, whatever the
/// server sends.
pub const HTTP_TASK_ANSWER_MAX_BYTES: usize = 512;

/// `n` bytes in the unit a person reads: `64 KiB`, `1 MiB`, `500 bytes`.
pub fn human_bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    match n {
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= MIB => format!("{:.1} MiB", n as f64 / MIB as f64),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB", n / KIB),
        n if n >= KIB => format!("{:.1} KiB", n as f64 / KIB as f64),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_their_unit() {
        assert_eq!(human_bytes(64 * 1024), "64 KiB");
        assert_eq!(human_bytes(1024 * 1024), "1 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(500), "500 bytes");
    }
}
