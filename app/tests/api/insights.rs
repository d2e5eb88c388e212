//! Insights and the usage export: outcomes per day in the reader's zone, failure rate,
//! percentiles, usage and price, each over the jobs the caller may see only; a tenant's job
//! name in the CSV stays text.

use crate::helpers::{TestApp, TestUser, spawn_app};
use crate::runs::job;
use reqwest::StatusCode;
use serde_json::json;

/// Inserts ended runs of `job`: each `(finished_at, status, seconds)` started `seconds`
/// before it ended, waited 5 s in the queue, on a 1 vCPU / 2048 MiB task, writing 100 rows.
async fn ended_runs(app: &TestApp, org: &str, job: &str, runs: &[(&str, &str, i64)]) {
    for (finished, status, seconds) in runs {
        app.sql(&format!(
            "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger,
                               timeout_seconds, queued_at, not_before, started_at, finished_at,
                               rows_written, task_vcpu, task_memory_mb)
             SELECT id, '{org}', '{job}', 1, '{status}', id, 'manual', 3600,
                    t - interval '{seconds} seconds' - interval '5 seconds',
                    t - interval '{seconds} seconds' - interval '5 seconds',
                    t - interval '{seconds} seconds', t, 100, 1, 2048
             FROM (SELECT gen_random_uuid() AS id, timestamptz '{finished}' AS t) r"
        ))
        .await;
    }
}

const PERIOD: &str = "from=2026-11-30T15:00:00Z&to=2026-12-03T15:00:00Z&timezone=Asia/Tokyo";

async fn rename(app: &TestApp, owner: &TestUser, job: &str, name: &str) {
    let (status, body) = app
        .patch(
            &format!("/api/jobs/{job}"),
            &owner.token,
            json!({"name": name}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn insights_count_each_outcome_per_day_in_the_readers_zone_for_visible_jobs_only() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let visible = job(&app, &owner, json!({})).await;
    rename(&app, &owner, &visible, "orders daily").await;
    // A job of another team, which a member of the default team may not see.
    let ops = app.create_team(&owner, "Ops").await;
    let hidden = job(&app, &owner, json!({})).await;
    app.sql(&format!(
        "UPDATE jobs SET team_id = '{ops}' WHERE id = '{hidden}'"
    ))
    .await;
    let member = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    // 23:30 and 00:30 in Tokyo: two days there, one day in UTC.
    ended_runs(
        &app,
        &owner.org_id,
        &visible,
        &[
            ("2026-12-01T14:30:00Z", "succeeded", 10),
            ("2026-12-01T14:30:00Z", "succeeded", 20),
            ("2026-12-01T14:30:00Z", "failed", 30),
            ("2026-12-01T15:30:00Z", "succeeded", 40),
            ("2026-12-01T15:30:00Z", "timed_out", 50),
            ("2026-12-01T15:30:00Z", "cancelled", 60),
            // Outside the period.
            ("2026-11-20T00:00:00Z", "failed", 10),
        ],
    )
    .await;
    ended_runs(
        &app,
        &owner.org_id,
        &hidden,
        &[
            ("2026-12-02T03:00:00Z", "failed", 1000),
            ("2026-12-02T03:00:00Z", "succeeded", 1000),
        ],
    )
    .await;
    // Another organization's runs never count.
    let other = app.signup("Other").await;
    let others = job(&app, &other, json!({})).await;
    ended_runs(
        &app,
        &other.org_id,
        &others,
        &[("2026-12-02T03:00:00Z", "failed", 5)],
    )
    .await;

    let (status, member_view) = app
        .get(&format!("/api/insights?{PERIOD}"), &member.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{member_view}");
    let totals = &member_view["totals"];
    assert_eq!(
        (
            &totals["runs"],
            &totals["succeeded"],
            &totals["failed"],
            &totals["cancelled"]
        ),
        (&json!(6), &json!(3), &json!(2), &json!(1)),
        "{member_view}"
    );
    assert_eq!(totals["rows_written"], 600);
    // Durations 10..60 s: percentile_cont gives 35 and 57.5; every run waited 5 s.
    assert_eq!(totals["duration_p50_seconds"], 35.0, "{totals}");
    assert_eq!(totals["duration_p95_seconds"], 57.5, "{totals}");
    assert_eq!(totals["queue_wait_p50_seconds"], 5.0, "{totals}");
    // 210 s on 1 vCPU and 2 GB, at the us-east-1 list prices.
    let usage = &totals["usage"];
    assert_eq!(usage["vcpu_seconds"], 210.0, "{usage}");
    assert_eq!(usage["gb_seconds"], 420.0, "{usage}");
    let price = 210.0 / 3600.0 * 0.04048 + 420.0 / 3600.0 * 0.004445;
    assert!(
        (usage["price"].as_f64().unwrap() - price).abs() < 1e-9,
        "{usage}"
    );
    let days: Vec<_> = member_view["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                d["succeeded"].as_i64().unwrap(),
                d["failed"].as_i64().unwrap(),
                d["cancelled"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-12-01".to_owned(), 2, 1, 0),
            ("2026-12-02".to_owned(), 1, 1, 1),
            ("2026-12-03".to_owned(), 0, 0, 0),
        ]
    );
    let jobs = member_view["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "the hidden job stays hidden: {member_view}");
    assert_eq!(jobs[0]["job_name"], "orders daily");
    assert_eq!(jobs[0]["runs"], 6);
    assert_eq!(
        member_view["months"],
        json!([{"month": "2026-12", "runs": 6, "usage": usage}])
    );
    assert_eq!(member_view["prices"]["currency"], "USD");

    // The owner sees both jobs; the hidden one is the slowest.
    let (_, owner_view) = app
        .get(&format!("/api/insights?{PERIOD}"), &owner.token)
        .await;
    assert_eq!(owner_view["totals"]["runs"], 8, "{owner_view}");
    assert_eq!(owner_view["totals"]["failed"], 3);
    assert_eq!(owner_view["jobs"].as_array().unwrap().len(), 2);
    let hidden_figures = owner_view["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == hidden.as_str())
        .unwrap();
    assert_eq!(hidden_figures["duration_p95_seconds"], 1000.0);
}

#[tokio::test]
async fn a_bad_period_is_refused_on_its_field() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    for (query, field) in [
        ("from=2026-12-05T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
        ("from=2020-01-01T00:00:00Z&to=2026-12-01T00:00:00Z", "to"),
        ("timezone=Mars/Olympus", "timezone"),
    ] {
        let (status, body) = app
            .get(&format!("/api/insights?{query}"), &owner.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (status, body) = app.get("/api/insights?period=7", &owner.token).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown parameter: {body}"
    );
    let (status, _) = app.get("/api/insights", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The CSV has one line per run the caller may see, with its price; a job named like a
/// spreadsheet formula stays text.
#[tokio::test]
async fn the_usage_csv_lists_each_visible_run_and_defuses_formulas() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({})).await;
    rename(
        &app,
        &owner,
        &job,
        "=HYPERLINK(\"http://evil.example\",\"x\")",
    )
    .await;
    ended_runs(
        &app,
        &owner.org_id,
        &job,
        &[
            ("2026-12-01T14:30:00Z", "succeeded", 3600),
            ("2026-12-02T14:30:00Z", "failed", 60),
        ],
    )
    .await;
    let other = app.signup("Other").await;
    let response = app
        .client
        .get(format!("{}/api/usage.csv?{PERIOD}", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"hakobu-usage-20261130-20261203.csv\"")
    );
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "run_id,job_id,job_name,status,started_at,finished_at,seconds,billed_seconds,vcpu,memory_mb,vcpu_seconds,gb_seconds,estimated_price_usd"
    );
    assert_eq!(lines.len(), 3, "{body}");
    // An hour on 1 vCPU and 2 GB: 0.04048 + 2 * 0.004445.
    assert!(
        lines[1].contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",succeeded,")
            && lines[1].ends_with(",3600.000,3600.000,1.00,2048,3600.000,7200.000,0.049370"),
        "{body}"
    );
    let other_body = app
        .client
        .get(format!("{}/api/usage.csv?{PERIOD}", app.address))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        other_body.lines().count(),
        1,
        "another organization sees only the header: {other_body}"
    );
}

/// On a launcher whose platform reports its tasks' own times (ECS), the watchdog records
/// them after a run ends, and the run's usage, the month's sums and the CSV count those
/// instead of the claim-to-end time; runs of another launcher, or ended too recently, are
/// not asked about.
#[tokio::test]
async fn usage_follows_the_tasks_own_times_once_the_platform_reports_them() {
    use hakobu::launcher::{RecordingLauncher, TaskTimes};
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({})).await;
    // Three runs of 60 s by the app's clock, ended 10 minutes ago: one on the recording
    // launcher, one on another launcher, one ended a moment ago.
    let mut ids = Vec::new();
    for (launcher, ended) in [
        ("recording", "10 minutes"),
        ("local", "10 minutes"),
        ("recording", "1 second"),
    ] {
        let id = uuid::Uuid::new_v4();
        app.sql(&format!(
            "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger,
                               timeout_seconds, queued_at, not_before, started_at, finished_at,
                               task_vcpu, task_memory_mb, launcher, task_id)
             VALUES ('{id}', '{org}', '{job}', 1, 'succeeded', '{id}', 'manual', 3600,
                     now() - interval '{ended}' - interval '60 seconds', now() - interval '{ended}' - interval '60 seconds',
                     now() - interval '{ended}' - interval '60 seconds', now() - interval '{ended}', 2, 4096,
                     '{launcher}', 'task-{id}')",
            org = owner.org_id
        ))
        .await;
        ids.push(id);
    }
    let launcher = std::sync::Arc::new(RecordingLauncher::default());
    let started = chrono::Utc::now() - chrono::Duration::minutes(12);
    for id in &ids {
        launcher.times.lock().unwrap().insert(
            format!("task-{id}"),
            TaskTimes {
                started,
                stopped: started + chrono::Duration::seconds(90),
            },
        );
    }
    let watchdog = hakobu::runs::watchdog::Watchdog {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher,
        heartbeat_timeout: std::time::Duration::from_secs(60),
        start_timeout: std::time::Duration::from_secs(600),
        log_retention: std::time::Duration::from_secs(7 * 86_400),
    };
    assert_eq!(watchdog.record_task_times_once().await.unwrap(), 1);
    assert_eq!(watchdog.record_task_times_once().await.unwrap(), 0, "once");

    let usage = |run: serde_json::Value| run["usage"]["vcpu_seconds"].as_f64().unwrap();
    let (_, timed) = app
        .get(&format!("/api/runs/{}", ids[0]), &owner.token)
        .await;
    assert_eq!(usage(timed), 180.0, "90 s of the task's own on 2 vCPU");
    let (_, other) = app
        .get(&format!("/api/runs/{}", ids[1]), &owner.token)
        .await;
    assert_eq!(usage(other), 120.0, "60 s from the claim to the end");
    let (_, recent) = app
        .get(&format!("/api/runs/{}", ids[2]), &owner.token)
        .await;
    assert_eq!(usage(recent), 120.0, "not asked yet");

    let today = chrono::Utc::now();
    let period = format!(
        "from={}&to={}&timezone=UTC",
        (today - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (today + chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (status, insights) = app
        .get(&format!("/api/insights?{period}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{insights}");
    assert_eq!(
        insights["totals"]["usage"]["vcpu_seconds"], 420.0,
        "180 + 120 + 120: {insights}"
    );
    let csv = app
        .client
        .get(format!("{}/api/usage.csv?{period}", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let timed_line = csv
        .lines()
        .find(|l| l.starts_with(&ids[0].to_string()))
        .unwrap();
    assert!(
        timed_line.contains(",60.000,90.000,2.00,4096,180.000,360.000,"),
        "{timed_line}"
    );
}
