//! Hakobu's data plane: connectors (sources and destinations), the streaming pipeline,
//! filters, load modes, incremental state, data checks, and connection check / discovery /
//! preview for the app.
//!
//! The entry point is [`run_config`]: it runs one [`hakobu_core::config::Config`] and
//! returns a [`Summary`] with the next incremental state.

pub mod check;
pub mod connectors;
pub mod egress;
pub mod filters;
pub mod limits;
pub mod pipeline;
pub mod probe;
pub mod shared;
pub mod ssh;
pub mod template;
pub mod tls;
pub mod types;

pub use pipeline::{
    Preview, Summary, parse_config, parse_runner_config, preview_config, run_config,
    run_config_gated, run_runner_config_gated,
};
pub use shared::files_root::{FileAccess, FilesRoot, PathRefused};
pub use shared::stats::{Progress, Stats};
