//! Hakobu's data plane: connectors (sources and destinations), the streaming pipeline,
//! filters, load modes, incremental state, data checks, and connection check / discovery /
//! preview for the app.
