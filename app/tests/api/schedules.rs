//! Schedules, the scheduler, custom variables in real runs, manual runs with "as of" and
//! explicit values, and backfills.

use crate::helpers::{
    JWT_SECRET, SpawnOptions, TestApp, TestUser, server_url, spawn_app, spawn_app_with,
};
use crate::runs::{job, wait_final};
use chrono::{DateTime, Utc};
use hakobu::auth::run_token::RunTokens;
use hakobu::launcher::RecordingLauncher;
use hakobu::runs::dispatch::Dispatcher;
use hakobu::scheduler::Scheduler;
use hakobu::settings::RunLimits;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A scheduler on the app's database; its queue quota is above the thousand runs the
/// racing test makes (`quotas.rs` tests the quota).
pub fn scheduler(app: &TestApp) -> Scheduler {
    let url = format!("{}/{}", server_url(), app.db_name);
    Scheduler {
        pool: hakobu::db::build_pool(&url, 4).unwrap(),
        tick: Duration::from_secs(1),
        quotas: hakobu::settings::Quotas {
            queued_runs: 10_000,
            ..hakobu::settings::Quotas::default()
        },
    }
}

async fn schedule(app: &TestApp, owner: &TestUser, job: &str, settings: Value) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/schedules"),
            &owner.token,
            json!({"settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn runs_of(app: &TestApp, job: &str) -> Vec<(String, String)> {
    app.query_strings(&format!(
        "SELECT trigger, to_char(scheduled_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') FROM runs WHERE job_id = '{job}' ORDER BY scheduled_time, queued_at"
    ))
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].clone().unwrap_or_default(),
        )
    })
    .collect()
}

#[tokio::test]
async fn schedules_are_created_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text)")
        .await;
    let job = job(&app, &owner, json!({})).await;
    let created = schedule(
        &app,
        &owner,
        &job,
        json!({"recurrence": {"kind": "daily", "time": "02:30"}, "timezone": "Asia/Tokyo"}),
    )
    .await;
    let upcoming = created["upcoming"].as_array().unwrap();
    assert_eq!(upcoming.len(), 10);
    assert_eq!(created["next_fire_at"], upcoming[0]);
    // 02:30 in Tokyo is 17:30 UTC.
    assert!(
        upcoming[0].as_str().unwrap().contains("T17:30:00"),
        "{created}"
    );
    assert_eq!(created["settings"]["catch_up"], "last");

    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/schedules"),
            &owner.token,
            json!({"settings": {"recurrence": {"kind": "cron", "expression": "0 2 * *"}, "timezone": "Asia/Tokio"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["settings.timezone", "settings.recurrence.expression"],
        "{body}"
    );

    let id = created["id"].as_str().unwrap();
    let (status, all) = app.get("/api/schedules", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert!(all[0]["target_name"].as_str().unwrap().starts_with("Job "));

    let (status, off) = app
        .put(
            &format!("/api/schedules/{id}"),
            &owner.token,
            json!({"settings": created["settings"], "enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{off}");
    assert_eq!(off["next_fire_at"], Value::Null);
    assert_eq!(off["upcoming"].as_array().unwrap().len(), 10);

    let (status, on) = app
        .post(
            "/api/schedules/bulk",
            &owner.token,
            json!({"ids": [id], "enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{on}");
    assert_eq!(on[0]["enabled"], true);
    assert_eq!(on[0]["next_fire_at"], created["next_fire_at"]);

    let (status, _) = app
        .delete(&format!("/api/schedules/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app
        .get(&format!("/api/jobs/{job}/schedules"), &owner.token)
        .await;
    assert_eq!(list, json!([]));
    let actions = app.audit_actions(&owner).await;
    for action in [
        "schedule.create",
        "schedule.update",
        "schedule.enable",
        "schedule.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }

    // Another organization sees none of it.
    let other = app.signup("Other").await;
    let (_, theirs) = app.get("/api/schedules", &other.token).await;
    assert_eq!(theirs, json!([]));
}

/// Three days of downtime: `none` creates nothing for the missed days, `last` one run for
/// the latest, `all` one per missed day; a second round creates nothing more.
#[tokio::test]
async fn catch_up_after_three_days_for_each_policy() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text)")
        .await;
    let mut jobs = Vec::new();
    for policy in ["none", "last", "all"] {
        let job = job(&app, &owner, json!({"overlap": "queue"})).await;
        let created = schedule(
            &app,
            &owner,
            &job,
            json!({"recurrence": {"kind": "daily", "time": "03:00"}, "catch_up": policy}),
        )
        .await;
        // The app was last up before the 18th's run.
        app.sql(&format!(
            "UPDATE schedules SET next_fire_at = '2026-11-18T03:00:00Z' WHERE id = '{}'",
            created["id"].as_str().unwrap()
        ))
        .await;
        jobs.push(job);
    }
    let scheduler = scheduler(&app);
    let now = at("2026-11-21T12:00:00Z");
    assert_eq!(scheduler.fire_due_once(now).await.unwrap(), 5);
    assert_eq!(runs_of(&app, &jobs[0]).await, []);
    assert_eq!(
        runs_of(&app, &jobs[1]).await,
        [("schedule".to_owned(), "2026-11-21T03:00".to_owned())]
    );
    let all: Vec<String> = runs_of(&app, &jobs[2])
        .await
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        all,
        [
            "2026-11-18T03:00",
            "2026-11-19T03:00",
            "2026-11-20T03:00",
            "2026-11-21T03:00"
        ]
    );
    let next = app
        .query_strings("SELECT DISTINCT next_fire_at::text FROM schedules")
        .await;
    assert_eq!(next, [[Some("2026-11-22 03:00:00+00".to_owned())]]);
    assert_eq!(scheduler.fire_due_once(now).await.unwrap(), 0);

    // Back on time: a fire time within the grace period runs even with `none`.
    assert_eq!(
        scheduler
            .fire_due_once(at("2026-11-22T03:01:00Z"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(runs_of(&app, &jobs[0]).await.len(), 1);
}

/// Two schedulers over 1,000 due schedules create exactly 1,000 runs.
#[tokio::test]
async fn two_schedulers_racing_create_each_run_once() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text)")
        .await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    app.sql(&format!(
        "INSERT INTO schedules (id, organization_id, job_id, settings, next_fire_at)
         SELECT gen_random_uuid(), '{}', '{job}', '{{\"recurrence\": {{\"kind\": \"hourly\", \"minute\": 0}}}}', '2026-11-21T12:00:00Z'
         FROM generate_series(1, 1000)",
        owner.org_id
    ))
    .await;
    let now = at("2026-11-21T12:00:30Z");
    let (a, b) = (scheduler(&app), scheduler(&app));
    let (made_a, made_b) = tokio::join!(a.fire_due_once(now), b.fire_due_once(now));
    let (made_a, made_b) = (made_a.unwrap(), made_b.unwrap());
    assert_eq!(made_a + made_b, 1000, "{made_a} + {made_b}");
    let counts = app
        .query_strings(&format!(
            "SELECT count(*)::text, count(DISTINCT idempotency_key)::text, count(DISTINCT schedule_id)::text FROM runs WHERE job_id = '{job}'"
        ))
        .await;
    assert_eq!(
        counts,
        [[
            Some("1000".to_owned()),
            Some("1000".to_owned()),
            Some("1000".to_owned())
        ]]
    );
    assert_eq!(a.fire_due_once(now).await.unwrap(), 0);
}

/// After its limit of failed runs in a row a schedule turns itself off, with the reason,
/// an audit entry, and no more runs; a success in between resets the count.
#[tokio::test]
async fn a_schedule_turns_off_after_repeated_failures() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text)")
        .await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    let created = schedule(
        &app,
        &owner,
        &job,
        json!({"recurrence": {"kind": "hourly", "minute": 0}, "max_consecutive_failures": 2}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let scheduler = scheduler(&app);
    let url = format!("{}/{}", server_url(), app.db_name);
    let pool = hakobu::db::build_pool(&url, 2).unwrap();
    let mut hour = 10;
    let mut fire_and_end = async |status: &str| {
        app.sql(&format!(
            "UPDATE schedules SET next_fire_at = '2026-11-21T{hour}:00:00Z' WHERE id = '{id}'"
        ))
        .await;
        assert_eq!(
            scheduler
                .fire_due_once(at(&format!("2026-11-21T{hour}:00:10Z")))
                .await
                .unwrap(),
            1
        );
        hour += 1;
        let run = app
            .query_strings(&format!(
                "SELECT id::text FROM runs WHERE schedule_id = '{id}' AND status = 'queued'"
            ))
            .await[0][0]
            .clone()
            .unwrap();
        let mut conn = pool.get().await.unwrap();
        let status = match status {
            "failed" => hakobu_core::api::runs::RunStatus::Failed,
            _ => hakobu_core::api::runs::RunStatus::Succeeded,
        };
        hakobu::runs::finish_as(
            &mut conn,
            run.parse().unwrap(),
            status,
            "the source is down",
        )
        .await
        .unwrap();
    };
    fire_and_end("failed").await;
    fire_and_end("succeeded").await;
    fire_and_end("failed").await;
    let (_, view) = app
        .get(&format!("/api/jobs/{job}/schedules"), &owner.token)
        .await;
    assert_eq!(
        view[0]["enabled"], true,
        "a success reset the count: {view}"
    );
    assert_eq!(view[0]["consecutive_failures"], 1);
    fire_and_end("failed").await;
    let (_, view) = app
        .get(&format!("/api/jobs/{job}/schedules"), &owner.token)
        .await;
    assert_eq!(view[0]["enabled"], false, "{view}");
    assert_eq!(view[0]["next_fire_at"], Value::Null);
    assert_eq!(
        view[0]["disabled_reason"],
        "Turned off after 2 failed runs in a row. The last error: the source is down"
    );
    assert!(
        app.audit_actions(&owner)
            .await
            .iter()
            .any(|a| a == "schedule.auto_disable")
    );
    // Off means off: a due time creates nothing.
    app.sql(&format!(
        "UPDATE schedules SET next_fire_at = '2026-11-21T20:00:00Z' WHERE id = '{id}'"
    ))
    .await;
    assert_eq!(
        scheduler
            .fire_due_once(at("2026-11-21T20:00:10Z"))
            .await
            .unwrap(),
        0
    );
    // Turning it on again starts the count afresh.
    let (_, on) = app
        .put(
            &format!("/api/schedules/{id}"),
            &owner.token,
            json!({"settings": created["settings"], "enabled": true}),
        )
        .await;
    assert_eq!(on["consecutive_failures"], 0);
    assert_eq!(on["disabled_reason"], Value::Null);
}

/// Variables reach a real run: a timestamp "as of" a chosen day picks that day's rows and
/// names the destination table; the values are stored on the run and a re-run reuses them;
/// a value built to break out of its literal leaves the statement as it was.
#[tokio::test]
async fn variables_fill_a_real_run_and_cannot_change_its_sql() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE sales (id bigint PRIMARY KEY, day date, note text);
         INSERT INTO sales VALUES (1, '2026-11-19', 'a'), (2, '2026-11-20', 'b'), (3, '2026-11-20', 'c'), (4, '2026-11-21', 'd');",
    )
    .await;
    let connection = app.pg_connection(&owner).await;
    let settings = json!({
        "source": {"connection_id": connection, "query": "SELECT id, note FROM sales WHERE day = $day$::date AND note <> $skip$ AND id > $floor$::bigint ORDER BY id"},
        "destination": {"connection_id": connection, "table": {"name": "sales_$suffix$"}, "mode": "replace"},
        "overlap": "queue",
        // The check's SQL gets the run's values too: the day's two rows were loaded.
        "checks": [{"name": "the day is complete", "connection_id": connection, "sql": "SELECT count(*) FROM sales WHERE day = $day$::date AND note <> $skip$", "operator": "=", "expected": "2", "on_failure": "fail"}],
        "variables": [
            {"name": "day", "value": {"kind": "timestamp", "offset": {"quantity": 1, "unit": "day", "direction": "ago"}, "format": "%Y-%m-%d", "timezone": "Asia/Tokyo"}},
            {"name": "suffix", "value": {"kind": "timestamp", "offset": {"quantity": 1, "unit": "day", "direction": "ago"}, "format": "%Y%m%d", "timezone": "Asia/Tokyo"}},
            {"name": "skip", "value": {"kind": "string", "value": "none"}},
            // One value from the database when the run starts, using another variable.
            {"name": "floor", "value": {"kind": "query", "connection_id": connection, "sql": "SELECT max(id) FROM sales WHERE day < $day$::date"}},
        ],
    });
    let (status, created) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Daily sales", "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["id"].as_str().unwrap().to_owned();
    let (_, stored) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(
        stored["settings"]["variables"].as_array().unwrap().len(),
        4,
        "{stored}"
    );

    // As of 2026-11-21 09:00 in Tokyo (00:00 UTC): "one day ago" is the 20th.
    let (status, run) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &owner.token,
            json!({"as_of": "2026-11-21T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_written"], 2);
    assert_eq!(run["scheduled_time"], "2026-11-21T00:00:00Z");
    assert_eq!(
        run["resolved_inputs"]["variables"]["day"], "2026-11-20",
        "{run}"
    );
    assert_eq!(run["resolved_inputs"]["variables"]["suffix"], "20261120");
    assert_eq!(run["resolved_inputs"]["variables"]["floor"], "1");
    let (_, checks) = app
        .get(
            &format!("/api/runs/{}/checks", run["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(checks[0]["outcome"], "passed", "{checks}");
    assert_eq!(checks[0]["actual"], "2", "{checks}");
    let rows = app
        .query_strings("SELECT string_agg(note, ',' ORDER BY id) FROM sales_20261120")
        .await;
    assert_eq!(rows, [[Some("b,c".to_owned())]]);

    // A re-run uses the same values, whatever the clock says now.
    let (status, rerun) = app
        .post(
            &format!("/api/runs/{}/rerun", run["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rerun}");
    let rerun = wait_final(&app, &owner.token, rerun["id"].as_str().unwrap()).await;
    assert_eq!(rerun["status"], "succeeded", "{rerun}");
    assert_eq!(
        rerun["resolved_inputs"]["variables"],
        run["resolved_inputs"]["variables"]
    );

    // An explicit value crafted to end the literal and run its own statement.
    let (status, attack) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &owner.token,
            json!({"as_of": "2026-11-21T00:00:00Z", "variables": {"skip": "x'; DROP TABLE sales; --"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{attack}");
    let attack = wait_final(&app, &owner.token, attack["id"].as_str().unwrap()).await;
    assert_eq!(attack["status"], "succeeded", "{attack}");
    assert_eq!(attack["rows_written"], 2, "the value was compared, not run");
    let left = app.query_strings("SELECT count(*)::text FROM sales").await;
    assert_eq!(left, [[Some("4".to_owned())]]);

    // Unknown names in a manual run are refused before anything is queued.
    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &owner.token,
            json!({"variables": {"dya": "2026-01-01"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "variables.dya");
}

/// A placeholder inside quotes, an unknown name, a lone `$`: refused at save with the
/// field and position.
#[tokio::test]
async fn saving_checks_every_placeholder() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let connection = app.pg_connection(&owner).await;
    let settings = json!({
        "source": {"connection_id": connection, "query": "SELECT * FROM t WHERE d = '$day$'"},
        "destination": {"connection_id": connection, "table": {"name": "t_$dya$"}, "mode": "insert"},
        "variables": [{"name": "day", "value": {"kind": "timestamp", "format": "%Y-%m-%d"}}],
    });
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Sales", "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<(String, String)> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        fields.iter().any(|(f, m)| f == "settings.source.query"
            && m.contains("$day$ at position 28 is inside quotes")),
        "{fields:?}"
    );
    assert!(
        fields
            .iter()
            .any(|(f, m)| f == "settings.destination.table.name"
                && m.starts_with("unknown variable $dya$ at position 3")),
        "{fields:?}"
    );
}

/// A backfill queues one run per day, each as of its day, and runs them one at a time.
#[tokio::test]
async fn a_backfill_queues_a_run_per_day_and_respects_its_parallelism() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text)")
        .await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/backfill"),
            &owner.token,
            json!({"from": "2026-11-01T00:00:00", "to": "2026-11-03T00:00:00", "step": "day", "timezone": "Asia/Tokyo", "parallelism": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let times: Vec<&str> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scheduled_time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-10-31T15:00:00Z",
            "2026-11-01T15:00:00Z",
            "2026-11-02T15:00:00Z"
        ]
    );
    let url = format!("{}/{}", server_url(), app.db_name);
    let launcher = Arc::new(RecordingLauncher::default());
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher: launcher.clone(),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits::default(),
        batch: 10,
    };
    assert_eq!(
        dispatcher.dispatch_once().await.unwrap(),
        1,
        "one at a time"
    );
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0);
    let started = app
        .query_strings(&format!(
            "SELECT to_char(scheduled_time AT TIME ZONE 'UTC', 'MM-DD') FROM runs WHERE job_id = '{job}' AND status = 'starting'"
        ))
        .await;
    assert_eq!(started, [[Some("10-31".to_owned())]], "oldest first");

    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/backfill"),
            &owner.token,
            json!({"from": "2026-01-01T00:00:00", "to": "2030-01-01T00:00:00", "step": "day"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "to");
}

/// Another organization gets 404 for every schedule endpoint; a viewer may not schedule,
/// an operator may run and backfill but not give a value to a raw SQL variable.
#[tokio::test]
async fn schedules_are_isolated_and_follow_roles() {
    let app = spawn_app().await;
    let alice = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text)")
        .await;
    let job = job(
        &app,
        &alice,
        json!({"variables": [{"name": "cond", "value": {"kind": "string", "value": "true"}, "in_sql": "raw"}]}),
    )
    .await;
    let created = schedule(
        &app,
        &alice,
        &job,
        json!({"recurrence": {"kind": "hourly", "minute": 5}}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let body = json!({"settings": created["settings"]});
    let bob = app.signup("Beta").await;
    let attempts = [
        (
            "list",
            app.get(&format!("/api/jobs/{job}/schedules"), &bob.token)
                .await,
        ),
        (
            "create",
            app.post(
                &format!("/api/jobs/{job}/schedules"),
                &bob.token,
                body.clone(),
            )
            .await,
        ),
        (
            "update",
            app.put(&format!("/api/schedules/{id}"), &bob.token, body.clone())
                .await,
        ),
        (
            "delete",
            app.delete(&format!("/api/schedules/{id}"), &bob.token)
                .await,
        ),
        (
            "bulk",
            app.post(
                "/api/schedules/bulk",
                &bob.token,
                json!({"ids": [id], "enabled": false}),
            )
            .await,
        ),
        (
            "backfill",
            app.post(
                &format!("/api/jobs/{job}/backfill"),
                &bob.token,
                json!({"from": "2026-11-01T00:00:00", "to": "2026-11-01T00:00:00", "step": "day"}),
            )
            .await,
        ),
        (
            "run",
            app.post(
                &format!("/api/jobs/{job}/runs"),
                &bob.token,
                json!({"as_of": "2026-11-01T00:00:00Z"}),
            )
            .await,
        ),
    ];
    for (what, (status, body)) in attempts {
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    }
    let (_, still) = app
        .get(&format!("/api/jobs/{job}/schedules"), &alice.token)
        .await;
    assert_eq!(still[0]["enabled"], true);

    let viewer = app
        .add_member(
            &alice,
            "member",
            json!([{"team_id": alice.default_team, "role": "viewer"}]),
        )
        .await;
    let (status, _) = app
        .post(
            &format!("/api/jobs/{job}/schedules"),
            &viewer.token,
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, seen) = app
        .get(&format!("/api/jobs/{job}/schedules"), &viewer.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen.as_array().unwrap().len(), 1);

    let operator = app
        .add_member(
            &alice,
            "member",
            json!([{"team_id": alice.default_team, "role": "operator"}]),
        )
        .await;
    let (status, _) = app
        .put(&format!("/api/schedules/{id}"), &operator.token, body)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, run) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &operator.token,
            json!({"as_of": "2026-11-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let (status, refused) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &operator.token,
            json!({"variables": {"cond": "1=1; DROP TABLE src"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
}

/// A query variable is a tenant database's answer: one longer than a variable's limit is
/// refused by name when the run starts (the database is asked for no more than the limit
/// and one character), and the run fails saying which variable and what the limit is.
#[tokio::test]
async fn a_query_variable_longer_than_its_limit_fails_the_run_by_name() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1);")
        .await;
    let connection = app.pg_connection(&owner).await;
    let settings = json!({
        "source": {"connection_id": connection, "query": "SELECT id FROM src WHERE id::text <> $huge$"},
        "destination": {"connection_id": connection, "table": {"name": "dst"}, "mode": "replace"},
        "variables": [
            {"name": "huge", "value": {"kind": "query", "connection_id": connection, "sql": "SELECT repeat('7', 10000)"}},
        ],
    });
    let (status, created) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Huge variable", "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["id"].as_str().unwrap();
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = app
        .wait_for_run_end(&owner.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error_summary"].as_str().unwrap_or_default();
    assert!(error.contains("Variable $huge$"), "{run}");
    assert!(
        error.contains("longer than 4096 characters; values are limited to 4096 characters"),
        "{run}"
    );
}
