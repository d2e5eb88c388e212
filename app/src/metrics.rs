//! Prometheus metrics at `/metrics`: request counts and latencies per route, from
//! actix-web-prom. Later subsystems (dispatcher, outbox) register their gauges on the
//! same registry.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

pub fn middleware() -> anyhow::Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new("hakobu")
        .endpoint("/metrics")
        .build()
        .map_err(|e| anyhow::anyhow!("building the metrics middleware: {e}"))
}
