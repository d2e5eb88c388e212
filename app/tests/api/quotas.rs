//! Per-organization quotas: jobs, schedules, queued runs and revisions kept, with the
//! operator's override (`hakobu set-quotas`); one organization's use never counts against
//! another's.

use crate::helpers::{SpawnOptions, server_url, spawn_app_with};
use crate::runs::job;
use hakobu::settings::Quotas;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn refused_by(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("limit"),
        "{body}"
    );
}

#[tokio::test]
async fn quotas_hold_per_organization_and_the_operator_can_raise_them() {
    let app = spawn_app_with(SpawnOptions {
        quotas: Quotas {
            jobs: 2,
            schedules: 1,
            queued_runs: 2,
            revisions_kept: 2,
        },
        ..SpawnOptions::default()
    })
    .await;
    let owner = app.signup("Busy").await;
    let other = app.signup("Neighbour").await;
    let first = job(&app, &owner, json!({"overlap": "queue"})).await;
    job(&app, &owner, json!({})).await;
    let third = app
        .post(
            &format!("/api/jobs/{first}/duplicate"),
            &owner.token,
            json!({"name": "Copy"}),
        )
        .await;
    refused_by(third.0, &third.1, "quota_jobs");
    // Another organization has its own count.
    job(&app, &other, json!({})).await;

    let daily = json!({"settings": {"recurrence": {"kind": "daily", "time": "03:00"}, "timezone": "UTC", "catch_up": "last"}});
    let (status, body) = app
        .post(
            &format!("/api/jobs/{first}/schedules"),
            &owner.token,
            daily.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(&format!("/api/jobs/{first}/schedules"), &owner.token, daily)
        .await;
    refused_by(status, &body, "quota_schedules");

    // No dispatcher runs here: started runs wait in the queue.
    for _ in 0..2 {
        let (status, body) = app
            .post(&format!("/api/jobs/{first}/runs"), &owner.token, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .post(&format!("/api/jobs/{first}/runs"), &owner.token, json!({}))
        .await;
    refused_by(status, &body, "quota_queued_runs");
    let (status, body) = app
        .post(
            &format!("/api/jobs/{first}/backfill"),
            &owner.token,
            json!({"from": "2026-01-01T00:00:00", "to": "2026-01-03T00:00:00", "step": "day", "timezone": "UTC"}),
        )
        .await;
    refused_by(status, &body, "quota_queued_runs");
    // The schedule's turn comes while the queue is full: it is skipped, not queued.
    app.sql(&format!(
        "UPDATE schedules SET next_fire_at = date_trunc('day', now()) - interval '21 hours' WHERE job_id = '{first}'"
    ))
    .await;
    let mut scheduler = crate::schedules::scheduler(&app);
    scheduler.quotas.queued_runs = 2;
    assert_eq!(
        scheduler.fire_due_once(chrono::Utc::now()).await.unwrap(),
        0
    );
    let queued = app
        .query_strings(&format!(
            "SELECT count(*)::text FROM runs WHERE job_id = '{first}'"
        ))
        .await;
    assert_eq!(queued, [[Some("2".to_owned())]]);
    // With room in the queue the same turn is queued: the quota was the reason.
    app.sql(&format!(
        "UPDATE schedules SET next_fire_at = date_trunc('day', now()) - interval '21 hours' WHERE job_id = '{first}'"
    ))
    .await;
    scheduler.quotas.queued_runs = 3;
    assert_eq!(
        scheduler.fire_due_once(chrono::Utc::now()).await.unwrap(),
        1
    );

    // Revisions: the newest two are kept, and revision 1, which the queued runs execute.
    for n in 0..3 {
        let (status, body) = app
            .patch(
                &format!("/api/jobs/{first}"),
                &owner.token,
                json!({"description": format!("change {n}")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, revisions) = app
        .get(&format!("/api/jobs/{first}/revisions"), &owner.token)
        .await;
    let kept: Vec<i64> = revisions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(kept, vec![4, 3, 1], "{revisions}");

    // The operator raises this organization's job quota.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hakobu"))
        .args(["set-quotas", "--organization", &owner.org_id, "--jobs", "3"])
        .env_clear()
        .env(
            "HAKOBU_DATABASE_URL",
            format!("{}/{}", server_url(), app.db_name),
        )
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("jobs 3"), "{printed}");
    let (status, body) = app
        .post(
            &format!("/api/jobs/{first}/duplicate"),
            &owner.token,
            json!({"name": "Copy"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
