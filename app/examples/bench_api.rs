//! API load benchmark (`make bench`): the app with 100,000 runs in its table, under an
//! open-loop load from a client in the same process (both on this machine's cores). Each
//! request is sent at its scheduled time and its latency is counted from that time, so a
//! slow answer delays the figures of the requests queued behind it (no coordinated
//! omission). Prints one table: endpoint, offered load, requests, errors, p50/p99/max.
//!
//!   cargo run --release -p hakobu --example bench_api
//!   HAKOBU_BENCH_RUNS=20000 HAKOBU_BENCH_SECONDS=5 cargo run --release -p hakobu --example bench_api
//!   HAKOBU_BENCH_KEEP=1 ...   # keep the database afterwards, to EXPLAIN its queries
//!
//! The dispatcher, scheduler and notifier are off: the figures are the API's alone.

use hakobu::auth::run_token::RunTokens;
use hakobu::settings::Settings;
use hakobu::startup::Application;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const JWT_SECRET: &str = "bench-api: 3kq9Lw2Zx8Vb5Nm1Rt4Yp6Hs7Gd0Fa";
/// Runners heartbeating at once (the figure); each sends one a second, five times
/// the default `HAKOBU_HEARTBEAT_SECONDS`.
const RUNNERS: usize = 200;

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let server = std::env::var("HAKOBU_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    // The app reads its settings from the environment: the bench runs itself again in one
    // made for it.
    let Ok(db) = std::env::var("HAKOBU_BENCH_DB") else {
        let db = format!("hakobu_bench_api_{}", std::process::id());
        let status = std::process::Command::new(std::env::current_exe()?)
            .env("HAKOBU_BENCH_DB", &db)
            .env("HAKOBU_JWT_SECRET", JWT_SECRET)
            .env("HAKOBU_DATABASE_URL", format!("{server}/{db}"))
            .env("HAKOBU_BIND", "127.0.0.1:0")
            .env("HAKOBU_STATIC_DIR", "/nonexistent")
            .env("HAKOBU_DISPATCHER", "false")
            .env("HAKOBU_SCHEDULER", "false")
            .env("HAKOBU_NOTIFIER", "false")
            .env("HAKOBU_QUOTA_QUEUED_RUNS", "1000000")
            .env("RUST_LOG", "warn")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(server, db))
}

async fn sql(client: &tokio_postgres::Client, statement: &str) {
    client
        .batch_execute(statement)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{statement}"));
}

async fn bench(server: String, db: String) -> anyhow::Result<()> {
    let runs: i64 = env_number("HAKOBU_BENCH_RUNS", 100_000);
    let seconds: u64 = env_number("HAKOBU_BENCH_SECONDS", 10);
    let jobs: i64 = 200;
    let (admin, conn) =
        tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    sql(&admin, &format!("DROP DATABASE IF EXISTS {db}")).await;
    sql(&admin, &format!("CREATE DATABASE {db}")).await;
    let url = format!("{server}/{db}");
    hakobu::db::run_migrations(&url).await?;

    let settings = Settings::from_env()?;
    let app = Application::build(settings).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;

    let signup: Value = http
        .post(format!("{address}/api/auth/signup"))
        .json(&json!({"organization_name": "Bench", "name": "Owner",
                      "email": "owner@bench.example", "password": "correct horse battery staple"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = signup["token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    let org = signup["me"]["organization_id"].as_str().unwrap().to_owned();
    let team = signup["me"]["teams"][0]["team_id"]
        .as_str()
        .unwrap()
        .to_owned();

    eprintln!("setting up {jobs} jobs, {runs} finished runs and {RUNNERS} running ones ...");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    sql(&client, &format!(
        "INSERT INTO connections (id, organization_id, team_id, name, kind, settings)
           VALUES ('00000000-0000-0000-0000-000000000003', '{org}', '{team}', 'PG', 'postgresql',
                   '{{\"host\": \"127.0.0.1\", \"database\": \"bench\", \"user\": \"postgres\", \"tls_mode\": \"disable\"}}');
         INSERT INTO jobs (id, organization_id, team_id, name, settings, source_connection_id, destination_connection_id)
           SELECT gen_random_uuid(), '{org}', '{team}', 'job ' || g,
                  '{{\"source\": {{\"connection_id\": \"00000000-0000-0000-0000-000000000003\", \"table\": {{\"name\": \"src\"}}}},
                     \"destination\": {{\"connection_id\": \"00000000-0000-0000-0000-000000000003\", \"table\": {{\"name\": \"dst\"}}}},
                     \"overlap\": \"allow\"}}',
                  '00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000003'
           FROM generate_series(1, {jobs}) g;
         INSERT INTO job_revisions (job_id, revision, organization_id, name, description, labels, settings)
           SELECT id, 1, organization_id, name, '', '{{}}', settings FROM jobs;
         INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds,
                           queued_at, started_at, finished_at, rows_read, rows_written)
           SELECT r.id, '{org}', j.id, 1, CASE WHEN r.g % 10 = 0 THEN 'failed' ELSE 'succeeded' END, r.id, 'schedule', 3600,
                  t, t + interval '1 second', t + interval '1 minute', r.g % 5000, r.g % 5000
           FROM (SELECT gen_random_uuid() AS id, g, now() - interval '90 days' + g * interval '1 minute' AS t
                 FROM generate_series(1, {runs}) g) r
           JOIN (SELECT id, row_number() OVER () - 1 AS n FROM jobs) j ON j.n = r.g % {jobs};
         INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds,
                           queued_at, started_at, heartbeat_at)
           SELECT r.id, '{org}', j.id, 1, 'running', r.id, 'manual', 3600, now(), now(), now()
           FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, {RUNNERS}) g) r
           JOIN (SELECT id, row_number() OVER () - 1 AS n FROM jobs) j ON j.n = r.g % {jobs};"
    ))
    .await;
    sql(&client, "VACUUM ANALYZE").await;
    let job_ids: Vec<String> = client
        .query("SELECT id::text FROM jobs ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let running: Vec<String> = client
        .query("SELECT id::text FROM runs WHERE status = 'running'", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let run_tokens = RunTokens::new(JWT_SECRET);
    let runner_tokens: Vec<String> = running
        .iter()
        .map(|id| run_tokens.renew(id.parse().expect("a run id")))
        .collect::<anyhow::Result<_>>()?;
    let deep_page = (runs / 50 / 2).max(1);
    let middle: String = client
        .query_one(
            "SELECT id::text FROM runs ORDER BY queued_at DESC, id DESC OFFSET $1 LIMIT 1",
            &[&(runs / 2)],
        )
        .await?
        .get(0);
    let one_job = job_ids[0].clone();

    let bearer = format!("Bearer {token}");
    let mut rows = Vec::new();
    let get = |path: String| {
        let (http, address, bearer) = (http.clone(), address.clone(), bearer.clone());
        move |_: usize| {
            http.get(format!("{address}{path}"))
                .header("authorization", &bearer)
        }
    };
    let cases: Vec<Case> = vec![
        (
            "GET /api/jobs (200 jobs)".into(),
            300.0,
            Target::List,
            Box::new(get("/api/jobs".into())),
        ),
        (
            "GET /api/runs (newest 50)".into(),
            300.0,
            Target::List,
            Box::new(get("/api/runs".into())),
        ),
        (
            "GET /api/runs?job= (one job's newest 50)".into(),
            300.0,
            Target::List,
            Box::new(get(format!("/api/runs?job={one_job}"))),
        ),
        (
            "GET /api/runs?before= (middle of the history, by key)".into(),
            300.0,
            Target::List,
            Box::new(get(format!("/api/runs?before={middle}"))),
        ),
        (
            format!("GET /api/runs?page={deep_page} (the same, by offset)"),
            30.0,
            Target::None,
            Box::new(get(format!("/api/runs?page={deep_page}"))),
        ),
        (
            "POST /api/jobs/{id}/runs (run start)".into(),
            50.0,
            Target::None,
            Box::new({
                let (http, address, bearer) = (http.clone(), address.clone(), bearer.clone());
                move |i| {
                    http.post(format!(
                        "{address}/api/jobs/{}/runs",
                        job_ids[i % job_ids.len()]
                    ))
                    .header("authorization", &bearer)
                }
            }),
        ),
        (
            format!("POST /api/runner/runs/{{id}}/heartbeat ({RUNNERS} runners, 1/s each)"),
            RUNNERS as f64,
            Target::Heartbeat,
            Box::new({
                let (http, address) = (http.clone(), address.clone());
                move |i| {
                    let n = i % RUNNERS;
                    http.post(format!(
                        "{address}/api/runner/runs/{}/heartbeat",
                        running[n]
                    ))
                    .header("authorization", format!("Bearer {}", runner_tokens[n]))
                    .json(&json!({"rows_read": i, "rows_written": i, "bytes_read": i * 100}))
                }
            }),
        ),
    ];
    for (name, rate, target, request) in cases {
        eprintln!("{name}: {rate} req/s for {seconds} s ...");
        let measured = open_loop(rate, Duration::from_secs(seconds), request).await;
        rows.push((name, rate, target, measured));
    }

    println!();
    println!(
        "API under load: {runs} runs in the table, {jobs} jobs, {seconds} s per row, client and app on this machine"
    );
    println!();
    println!(
        "| endpoint | offered req/s | requests | errors | achieved req/s | p50 ms | p99 ms | max ms | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (name, rate, target, m) in &rows {
        println!(
            "| {name} | {rate:.0} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} |",
            m.latencies.len(),
            m.errors,
            m.latencies.len() as f64 / m.seconds,
            m.percentile(0.50),
            m.percentile(0.99),
            m.percentile(1.0),
            target.describe(m),
        );
    }
    drop(client);
    if std::env::var_os("HAKOBU_BENCH_KEEP").is_some() {
        eprintln!("kept the database {db} (HAKOBU_BENCH_KEEP) for EXPLAIN");
    } else {
        sql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
    }
    Ok(())
}

/// One row of the table: its name, the offered load (requests a second), its target and
/// the request to send (given its sequence number).
type Case = (
    String,
    f64,
    Target,
    Box<dyn Fn(usize) -> reqwest::RequestBuilder>,
);

/// The target for a row, and whether it was met.
#[derive(Clone, Copy)]
enum Target {
    List,
    Heartbeat,
    None,
}

impl Target {
    fn describe(self, m: &Measured) -> String {
        let limit = match self {
            Target::List => 50.0,
            Target::Heartbeat => 20.0,
            Target::None => return "-".to_owned(),
        };
        let met = m.errors == 0 && m.percentile(0.99) < limit;
        format!(
            "p99 < {limit:.0} ms: {}",
            if met { "met" } else { "MISSED" }
        )
    }
}

struct Measured {
    /// Latencies of the answered requests, sorted.
    latencies: Vec<Duration>,
    errors: usize,
    /// From the first scheduled send to the last answer.
    seconds: f64,
}

impl Measured {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let at = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        self.latencies[at].as_secs_f64() * 1000.0
    }
}

/// Sends `rate` requests a second for `duration`, each at its own scheduled time whatever
/// the earlier ones are doing; a request's latency runs from its scheduled time to the end
/// of its answer's body. A status other than 2xx counts as an error.
async fn open_loop(
    rate: f64,
    duration: Duration,
    request: Box<dyn Fn(usize) -> reqwest::RequestBuilder>,
) -> Measured {
    let total = (rate * duration.as_secs_f64()) as usize;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let send = request(i).send();
        let (latencies, errors) = (latencies.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let answer = match send.await {
                Ok(response) => {
                    let status = response.status();
                    response
                        .bytes()
                        .await
                        .map(|_| status)
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match answer {
                Ok(status) if status.is_success() => latencies.lock().unwrap().push(at.elapsed()),
                Ok(status) => errors.lock().unwrap().push(status.to_string()),
                Err(e) => errors.lock().unwrap().push(e),
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let errors = errors.lock().unwrap().clone();
    if let Some(first) = errors.first() {
        eprintln!("  {} errors, the first: {first}", errors.len());
    }
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    Measured {
        latencies,
        errors: errors.len(),
        seconds,
    }
}
