//! Dispatcher benchmark (`make bench`): N queued runs (100,000 by default) through the
//! dispatcher with a launcher that starts nothing, and runs that end as soon as they are
//! launched. Prints runs per second and the claim-to-launch latency (p50, p99, max).
//! A second case puts another organization's 500 blocked runs (an exclusive job with a run
//! in flight) ahead of them all: the figures must not change, and those 500 never start.
//!
//!   cargo run --release -p hakobu --example bench_dispatch
//!   HAKOBU_BENCH_RUNS=10000 cargo run --release -p hakobu --example bench_dispatch

use futures::future::BoxFuture;
use hakobu::auth::run_token::RunTokens;
use hakobu::launcher::{ActiveTask, LaunchSpec, Launcher, TaskState};
use hakobu::runs::dispatch::Dispatcher;
use hakobu::settings::RunLimits;
use hakobu_core::ids::RunId;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts nothing; records when each launch happened relative to its dispatch round.
struct NoopLauncher {
    round_started: Mutex<Instant>,
    latencies: Mutex<Vec<Duration>>,
    launched: Mutex<Vec<RunId>>,
}

impl Launcher for NoopLauncher {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>> {
        let latency = self.round_started.lock().unwrap().elapsed();
        self.latencies.lock().unwrap().push(latency);
        self.launched.lock().unwrap().push(spec.run_id);
        Box::pin(async move { Ok(format!("noop-{}", spec.run_id)) })
    }

    fn stop(&self, _: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    // Nothing was started, so nothing runs.
    fn state(&self, _: &str) -> BoxFuture<'_, anyhow::Result<TaskState>> {
        Box::pin(async { Ok(TaskState::Missing) })
    }

    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

async fn sql(client: &tokio_postgres::Client, statement: &str) {
    client
        .batch_execute(statement)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{statement}"));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: i64 = std::env::var("HAKOBU_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let jobs: i64 = 200;
    let server = std::env::var("HAKOBU_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let db = format!("hakobu_bench_dispatch_{}", std::process::id());
    let (admin, conn) =
        tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    sql(&admin, &format!("DROP DATABASE IF EXISTS {db}")).await;
    sql(&admin, &format!("CREATE DATABASE {db}")).await;
    let url = format!("{server}/{db}");
    hakobu::db::run_migrations(&url).await?;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);

    eprintln!("setting up {jobs} jobs and {runs} queued runs ...");
    sql(&client, &format!(
        "INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'Bench');
         INSERT INTO teams (id, organization_id, name) VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'Bench');
         INSERT INTO connections (id, organization_id, team_id, name, kind, settings)
           VALUES ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'PG', 'postgresql',
                   '{{\"host\": \"127.0.0.1\", \"database\": \"bench\", \"user\": \"postgres\", \"tls_mode\": \"disable\"}}');
         INSERT INTO jobs (id, organization_id, team_id, name, settings, source_connection_id, destination_connection_id)
           SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'job ' || g,
                  '{{\"source\": {{\"connection_id\": \"00000000-0000-0000-0000-000000000003\", \"table\": {{\"name\": \"src\"}}}},
                     \"destination\": {{\"connection_id\": \"00000000-0000-0000-0000-000000000003\", \"table\": {{\"name\": \"dst\"}}}},
                     \"overlap\": \"allow\"}}',
                  '00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000003'
           FROM generate_series(1, {jobs}) g;
         INSERT INTO job_revisions (job_id, revision, organization_id, name, description, labels, settings)
           SELECT id, 1, organization_id, name, '', '{{}}', settings FROM jobs;
         INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, queued_at)
           SELECT r.id, '00000000-0000-0000-0000-000000000001', j.id, 1, 'queued', r.id, 'manual', 3600, now() + r.g * interval '1 microsecond'
           FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, {runs}) g) r
           JOIN (SELECT id, row_number() OVER () - 1 AS n FROM jobs) j ON j.n = r.g % {jobs};
         ANALYZE;"
    ))
    .await;

    let plain = measure(&url, &client, runs).await?;

    // The same again behind another organization's 500 runs that cannot start: an
    // exclusive job (overlap `queue`) with a run in flight, all queued before the others.
    let blocked_runs = runs.min(10_000);
    sql(&client, &format!(
        "DELETE FROM runs;
         INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'Blocked');
         INSERT INTO teams (id, organization_id, name) VALUES ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000a', 'Blocked');
         INSERT INTO connections (id, organization_id, team_id, name, kind, settings)
           VALUES ('00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b', 'PG', 'postgresql',
                   '{{\"host\": \"127.0.0.1\", \"database\": \"bench\", \"user\": \"postgres\", \"tls_mode\": \"disable\"}}');
         INSERT INTO jobs (id, organization_id, team_id, name, settings, source_connection_id, destination_connection_id)
           VALUES ('00000000-0000-0000-0000-00000000000d', '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b', 'exclusive',
                  '{{\"source\": {{\"connection_id\": \"00000000-0000-0000-0000-00000000000c\", \"table\": {{\"name\": \"src\"}}}},
                     \"destination\": {{\"connection_id\": \"00000000-0000-0000-0000-00000000000c\", \"table\": {{\"name\": \"dst\"}}}},
                     \"overlap\": \"queue\"}}',
                  '00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-00000000000c');
         INSERT INTO job_revisions (job_id, revision, organization_id, name, description, labels, settings)
           SELECT id, 1, organization_id, name, '', '{{}}', settings FROM jobs WHERE name = 'exclusive';
         INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, queued_at, started_at)
           SELECT r.id, '00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000d', 1,
                  CASE WHEN r.g = 0 THEN 'running' ELSE 'queued' END, r.id, 'manual', 3600,
                  now() - interval '1 hour' + r.g * interval '1 microsecond',
                  CASE WHEN r.g = 0 THEN now() END
           FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(0, 500) g) r;
         UPDATE runs SET not_before = queued_at;
         INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, queued_at)
           SELECT r.id, '00000000-0000-0000-0000-000000000001', j.id, 1, 'queued', r.id, 'manual', 3600, now() + r.g * interval '1 microsecond'
           FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, {blocked_runs}) g) r
           JOIN (SELECT id, row_number() OVER () - 1 AS n FROM jobs WHERE organization_id = '00000000-0000-0000-0000-000000000001') j
             ON j.n = r.g % {jobs};
         ANALYZE;"
    ))
    .await;
    let behind = measure(&url, &client, blocked_runs).await?;
    let still_blocked: i64 = client
        .query_one(
            "SELECT count(*) FROM runs WHERE organization_id = '00000000-0000-0000-0000-00000000000a' AND status = 'queued'",
            &[],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        still_blocked == 500,
        "the blocked runs must stay queued: {still_blocked}"
    );

    println!();
    println!(
        "| benchmark | runs | seconds | runs/s | claim-to-launch p50 ms | p99 ms | max ms | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for (name, row) in [
        ("dispatcher, no-op launcher", &plain),
        (
            "the same, behind 500 blocked runs of another organization",
            &behind,
        ),
    ] {
        println!(
            "| {name} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | >= 12 runs/s, p99 < 100 ms |",
            row.runs,
            row.seconds,
            row.runs as f64 / row.seconds,
            row.percentile(0.50),
            row.percentile(0.99),
            row.percentile(1.0)
        );
    }
    sql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await;
    Ok(())
}

/// What one case measured.
struct Measured {
    runs: i64,
    seconds: f64,
    /// Claim-to-launch latencies, sorted.
    latencies: Vec<Duration>,
}

impl Measured {
    /// The latency at `p` (0..=1), in milliseconds.
    fn percentile(&self, p: f64) -> f64 {
        let at = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        self.latencies[at].as_secs_f64() * 1000.0
    }
}

/// Dispatches until `runs` were launched, ending each run as soon as it is launched.
async fn measure(
    url: &str,
    client: &tokio_postgres::Client,
    runs: i64,
) -> anyhow::Result<Measured> {
    let launcher = Arc::new(NoopLauncher {
        round_started: Mutex::new(Instant::now()),
        latencies: Mutex::default(),
        launched: Mutex::default(),
    });
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(url, 4)?,
        launcher: launcher.clone(),
        run_tokens: RunTokens::new("bench-secret-bench-secret-bench-secret-00"),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits {
            global: 100,
            per_organization: 100,
        },
        batch: std::env::var("HAKOBU_BENCH_BATCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    };
    let started = Instant::now();
    let mut done = 0;
    while done < runs {
        *launcher.round_started.lock().unwrap() = Instant::now();
        let n = dispatcher.dispatch_once().await? as i64;
        done += n;
        // The runs end at once, as if each transfer took no time.
        let ids: Vec<String> = launcher
            .launched
            .lock()
            .unwrap()
            .drain(..)
            .map(|r| r.to_string())
            .collect();
        if !ids.is_empty() {
            client
                .execute("UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = ANY($1::text[]::uuid[])", &[&ids])
                .await?;
        }
        if n == 0 {
            anyhow::bail!("the dispatcher stopped with {done} of {runs} runs launched");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = launcher.latencies.lock().unwrap().clone();
    latencies.sort();
    Ok(Measured {
        runs,
        seconds,
        latencies,
    })
}
