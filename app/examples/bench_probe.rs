//! Probe benchmark (`make bench`): what running a connection test in a fresh worker
//! process costs against running it inside the app, as the app did before the tenant
//! boundary. Both test the local PostgreSQL, alternating, N times each (200 by default);
//! prints p50/p95/max and the ratio of the medians.
//!
//!   cargo build --release -p hakobu-runner
//!   cargo run --release -p hakobu --example bench_probe
//!   HAKOBU_BENCH_PROBES=50 cargo run --release -p hakobu --example bench_probe

use hakobu::probe::ProbeWorkers;
use hakobu_core::config::{DbEndpoint, DbKind, Tls};
use hakobu_core::egress::EgressPolicy;
use hakobu_engine::check::{self, CheckOk, Connection};
use hakobu_engine::probe::ProbeTask;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("HAKOBU_BENCH_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runner = std::env::var("HAKOBU_RUNNER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            // target/release/examples/bench_probe -> target/release/hakobu-runner
            let exe = std::env::current_exe().expect("own path");
            exe.parent()
                .and_then(|d| d.parent())
                .map(|d| d.join("hakobu-runner"))
                .expect("target directory")
        });
    anyhow::ensure!(
        runner.exists(),
        "{} is missing: cargo build --release -p hakobu-runner",
        runner.display()
    );
    let egress = EgressPolicy::public(
        EgressPolicy::parse_allow_list("127.0.0.1").map_err(anyhow::Error::msg)?,
        vec![],
    );
    let workers = ProbeWorkers::new(runner, egress);
    let connection = Connection {
        endpoint: DbEndpoint {
            kind: DbKind::Postgresql,
            host: "127.0.0.1".into(),
            port: Some(5432),
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            tls: Tls::disabled(),
            ssh: None,
        },
        timeout: Duration::from_secs(10),
    };
    let mut in_app = Vec::with_capacity(n);
    let mut in_worker = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        check::check(&connection).await?;
        in_app.push(started.elapsed());
        let started = Instant::now();
        let _: CheckOk = workers
            .run(
                ProbeTask::TestDatabase {
                    connection: connection.clone(),
                },
                connection.timeout,
            )
            .await?;
        in_worker.push(started.elapsed());
    }
    in_app.sort();
    in_worker.sort();
    println!();
    println!("connection test to the local PostgreSQL, {n} each, alternating (ms)");
    println!(
        "| {:<28} | {:>6} | {:>6} | {:>6} | {:>14} |",
        "where", "p50", "p95", "max", "p50 vs in-app"
    );
    println!("|{:-<30}|{:->8}|{:->8}|{:->8}|{:->16}|", "", "", "", "", "");
    for (name, samples) in [
        ("inside the app (before)", &in_app),
        ("fresh probe worker (now)", &in_worker),
    ] {
        let ratio = percentile(samples, 0.5).as_secs_f64() / percentile(&in_app, 0.5).as_secs_f64();
        println!(
            "| {:<28} | {:>6} | {:>6} | {:>6} | {:>14} |",
            name,
            ms(percentile(samples, 0.5)),
            ms(percentile(samples, 0.95)),
            ms(*samples.last().unwrap()),
            format!("{ratio:.2}x"),
        );
    }
    Ok(())
}
