//! The floor under the connectors, the filters and the pipeline: what more than one of them
//! needs, so that none of them reaches into another. Nothing here imports from those three;
//! below it are only `types` and the crates it builds on.
//!
//! - [`files_root`]: the organization's files folder, the one rule for local paths.
//! - [`source`]: what a source is to the pipeline (schema, tasks, state for the next run).
//! - [`stats`]: the counters of a run.
//! - [`text`]: values <-> text (Embulk's strftime dialect, typed parsing, formatting).
//! - [`time`]: wall-clock time <-> instants in a time zone.

pub mod files_root;
pub mod source;
pub mod stats;
pub mod text;
pub mod time;
