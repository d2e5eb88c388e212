use super::*;
use serde_json::json;

fn spec(tasks: serde_json::Value) -> WorkflowSpec {
    serde_json::from_value(json!({ "tasks": tasks })).expect("a workflow document")
}

fn wait(name: &str, after: &[&str]) -> serde_json::Value {
    json!({"name": name, "action": {"type": "wait", "seconds": 1}, "after": after})
}

/// The fields of the problems found, in order.
fn fields(spec: &WorkflowSpec) -> Vec<(String, String)> {
    match spec.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.into_iter().map(|e| (e.field, e.message)).collect(),
    }
}

#[test]
fn a_diamond_is_valid() {
    let s = spec(json!([
        wait("a", &[]),
        wait("b", &["a"]),
        wait("c", &["a"]),
        wait("d", &["b", "c"]),
    ]));
    assert_eq!(fields(&s), []);
    assert_eq!(s.parallelism, 4);
}

#[test]
fn an_empty_workflow_is_refused() {
    let found = fields(&spec(json!([])));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "tasks");
    assert!(found[0].1.contains("at least one task"), "{found:?}");
}

#[test]
fn too_many_tasks_are_refused() {
    let tasks: Vec<_> = (0..=MAX_TASKS)
        .map(|i| wait(&format!("t{i}"), &[]))
        .collect();
    let found = fields(&spec(json!(tasks)));
    assert_eq!(found[0].0, "tasks");
    assert!(found[0].1.contains("at most 100 tasks"), "{found:?}");
    let tasks: Vec<_> = (0..MAX_TASKS)
        .map(|i| wait(&format!("t{i}"), &[]))
        .collect();
    assert_eq!(fields(&spec(json!(tasks))), []);
}

#[test]
fn duplicate_names_are_refused_at_the_second() {
    let found = fields(&spec(json!([
        wait("load", &[]),
        wait("x", &[]),
        wait("load", &[])
    ])));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "tasks[2].name");
    assert!(
        found[0].1.contains("already named \"load\" (task 1)"),
        "{found:?}"
    );
}

#[test]
fn blank_and_padded_names_are_refused() {
    let found = fields(&spec(json!([wait("", &[]), wait(" x", &[])])));
    let paths: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(paths, ["tasks[0].name", "tasks[1].name"], "{found:?}");
}

#[test]
fn a_task_after_itself_is_refused() {
    let found = fields(&spec(json!([wait("a", &["a"])])));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "tasks[0].after[0]");
    assert!(found[0].1.contains("after itself"), "{found:?}");
}

#[test]
fn unknown_references_are_named() {
    let found = fields(&spec(json!([
        wait("load", &[]),
        wait("mart", &["load", "lod"])
    ])));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "tasks[1].after[1]");
    assert!(found[0].1.contains("No task is named \"lod\""), "{found:?}");
}

#[test]
fn a_reference_listed_twice_is_refused() {
    let found = fields(&spec(json!([wait("a", &[]), wait("b", &["a", "a"])])));
    assert_eq!(found[0].0, "tasks[1].after[1]");
}

#[test]
fn cycles_are_spelled_out() {
    let found = fields(&spec(json!([
        wait("start", &[]),
        wait("a", &["start", "c"]),
        wait("b", &["a"]),
        wait("c", &["b"]),
    ])));
    assert_eq!(found.len(), 1, "{found:?}");
    let (field, message) = &found[0];
    assert!(
        field.starts_with("tasks[") && field.contains("].after["),
        "{field}"
    );
    // The cycle is named in full, whichever task it is found from.
    for name in ["a", "b", "c"] {
        assert!(
            message.contains(&format!("\"{name}\"")) || message.contains(name),
            "{message}"
        );
    }
    assert!(!message.contains("start ->"), "{message}");
    assert!(message.contains("wait for each other"), "{message}");
    let cycle = spec(json!([wait("x", &["y"]), wait("y", &["x"])]))
        .find_cycle()
        .unwrap();
    assert_eq!(cycle, ["x", "y", "x"]);
}

#[test]
fn limits_of_a_task_are_checked() {
    let found = fields(&spec(json!([
        {"name": "w", "action": {"type": "wait", "seconds": 0}},
        {"name": "r", "action": {"type": "wait", "seconds": 5}, "retries": 11, "timeout_minutes": 0},
        {"name": "f", "action": {"type": "wait", "seconds": 5}, "run_if": "failure"},
    ])));
    let paths: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        paths,
        [
            "tasks[0].action.seconds",
            "tasks[1].retries",
            "tasks[1].timeout_minutes",
            "tasks[2].run_if"
        ],
        "{found:?}"
    );
    let mut s = spec(json!([wait("a", &[])]));
    s.parallelism = 0;
    assert_eq!(fields(&s)[0].0, "parallelism");
}

#[test]
fn unknown_fields_and_kinds_do_not_parse() {
    assert!(
        serde_json::from_value::<WorkflowSpec>(json!({"tasks": [{"name": "a", "action": {"type": "wait", "seconds": 1}, "afterr": []}]}))
            .is_err()
    );
    assert!(
        serde_json::from_value::<WorkflowSpec>(
            json!({"tasks": [{"name": "a", "action": {"type": "shell", "cmd": "rm"}}]})
        )
        .is_err()
    );
}

fn ended(state: TaskState) -> Option<Ended> {
    Some(Ended {
        state,
        for_failure: false,
    })
}

#[test]
fn decisions_follow_run_if() {
    use TaskState::*;
    assert_eq!(decide(RunIf::Success, &[]), Decision::Start);
    assert_eq!(
        decide(RunIf::Success, &[ended(Succeeded), None]),
        Decision::Wait
    );
    assert_eq!(
        decide(RunIf::Success, &[ended(Succeeded), ended(Succeeded)]),
        Decision::Start
    );
    assert_eq!(
        decide(RunIf::Success, &[ended(Succeeded), ended(Failed)]),
        Decision::Skip { for_failure: true }
    );
    // An on-failure task that did not fire: those after it are skipped, not for a failure.
    assert_eq!(
        decide(RunIf::Success, &[ended(Skipped)]),
        Decision::Skip { for_failure: false }
    );
    assert_eq!(
        decide(RunIf::Failure, &[ended(Succeeded)]),
        Decision::Skip { for_failure: false }
    );
    assert_eq!(
        decide(RunIf::Failure, &[ended(Failed), None]),
        Decision::Wait
    );
    assert_eq!(decide(RunIf::Failure, &[ended(Cancelled)]), Decision::Start);
    // A failure two steps up reaches an on-failure task through the skip it caused.
    let skipped_for_failure = Some(Ended {
        state: Skipped,
        for_failure: true,
    });
    assert_eq!(
        decide(RunIf::Failure, &[skipped_for_failure]),
        Decision::Start
    );
    assert_eq!(
        decide(RunIf::Always, &[ended(Failed), ended(Succeeded)]),
        Decision::Start
    );
}

#[test]
fn resume_runs_failures_and_their_downstream_only() {
    use TaskState::*;
    let s = spec(json!([
        wait("a", &[]),
        wait("b", &["a"]),
        wait("c", &["a"]),
        wait("d", &["b", "c"]),
        {"name": "alert", "action": {"type": "wait", "seconds": 1}, "after": ["c"], "run_if": "failure"},
    ]));
    let states: BTreeMap<String, Ended> = [
        ("a", Succeeded, false),
        ("b", Succeeded, false),
        ("c", Failed, false),
        ("d", Skipped, true),
        ("alert", Succeeded, false),
    ]
    .into_iter()
    .map(|(n, state, for_failure)| (n.to_owned(), Ended { state, for_failure }))
    .collect();
    let again: Vec<String> = resume_set(&s, &states).into_iter().collect();
    assert_eq!(again, ["alert", "c", "d"]);
}

#[test]
fn outcomes() {
    use TaskState::*;
    let e = |state| Ended {
        state,
        for_failure: false,
    };
    assert_eq!(outcome(&[e(Succeeded), e(Running)]), None);
    assert_eq!(
        outcome(&[e(Succeeded), e(Skipped)]),
        Some(WorkflowRunStatus::Succeeded)
    );
    // The failure was handled by a cleanup task, and still the run failed.
    assert_eq!(
        outcome(&[e(Failed), e(Succeeded)]),
        Some(WorkflowRunStatus::Failed)
    );
}

#[test]
fn overlap_is_allow_or_skip() {
    let allow = spec(json!([{"name": "a", "action": {"type": "wait", "seconds": 1}}]));
    assert_eq!(allow.overlap, crate::job::OverlapPolicy::Allow);
    // The default is not written back, so older specs read and write the same.
    assert!(
        serde_json::to_value(&allow)
            .unwrap()
            .get("overlap")
            .is_none()
    );
    let skip: WorkflowSpec = serde_json::from_value(json!({
        "overlap": "skip",
        "tasks": [{"name": "a", "action": {"type": "wait", "seconds": 1}}]
    }))
    .unwrap();
    assert!(skip.validate().is_ok());
    let queue: WorkflowSpec = serde_json::from_value(json!({
        "overlap": "queue",
        "tasks": [{"name": "a", "action": {"type": "wait", "seconds": 1}}]
    }))
    .unwrap();
    let errors = queue.validate().unwrap_err();
    assert!(errors.first().unwrap().field == "overlap", "{errors:?}");
}

#[test]
fn variables_are_checked_like_a_jobs() {
    let with = |variables: serde_json::Value| -> WorkflowSpec {
        serde_json::from_value(json!({
            "variables": variables,
            "tasks": [{"name": "a", "action": {"type": "wait", "seconds": 1}}]
        }))
        .unwrap()
    };
    let good = with(json!([
        {"name": "day", "value": {"kind": "timestamp", "format": "%Y-%m-%d", "timezone": "Asia/Tokyo",
            "offset": {"quantity": 1, "unit": "day", "direction": "ago"}}},
        {"name": "tag", "value": {"kind": "string", "value": "mart-$day$"}}
    ]));
    assert_eq!(fields(&good), []);
    let bad = with(json!([
        {"name": "9lives", "value": {"kind": "string", "value": "x"}},
        {"name": "run_id", "value": {"kind": "string", "value": "x"}},
        {"name": "d", "value": {"kind": "timestamp", "format": "%Y", "timezone": "Mars/Base"}},
        {"name": "q", "value": {"kind": "query", "connection_id": uuid::Uuid::new_v4(), "sql": "SELECT 1"}}
    ]));
    let found: Vec<String> = fields(&bad).into_iter().map(|(f, _)| f).collect();
    for field in [
        "variables[0].name",
        "variables[1].name",
        "variables[2].value.timezone",
        "variables[3].value.kind",
    ] {
        assert!(found.iter().any(|f| f == field), "{field} in {found:?}");
    }
}

#[test]
fn wait_until_needs_a_time_of_day_and_a_known_zone() {
    let until = |time: &str, zone: &str| json!({"name": "w", "action": {"type": "wait_until", "time": time, "time_zone": zone}});
    assert_eq!(fields(&spec(json!([until("09:30", "Asia/Tokyo")]))), []);
    assert_eq!(fields(&spec(json!([until("23:59", "UTC")]))), []);
    let found = fields(&spec(json!([until("9:30", "Asia/Tokio")])));
    let names: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["tasks[0].action.time", "tasks[0].action.time_zone"]);
    assert!(found[0].1.contains("HH:MM"), "{found:?}");
    assert!(found[1].1.contains("Asia/Tokyo"), "{found:?}");
    assert_eq!(
        fields(&spec(json!([until("24:00", "UTC")])))[0].0,
        "tasks[0].action.time"
    );
    // The moment: the first at or after the start, never more than a week away.
    let now: chrono::DateTime<chrono::Utc> = "2026-12-08T00:00:00Z".parse().unwrap();
    assert_eq!(
        wait_until_moment(now, "09:30", "Asia/Tokyo"),
        Some("2026-12-08T00:30:00Z".parse().unwrap())
    );
    assert_eq!(
        wait_until_moment(now, "08:59", "Asia/Tokyo"),
        Some("2026-12-08T23:59:00Z".parse().unwrap())
    );
    assert_eq!(wait_until_moment(now, "25:00", "Asia/Tokyo"), None);
}

#[test]
fn retry_delays_are_bounded_and_only_the_engines_kinds_retry_themselves() {
    let task = |action: serde_json::Value, delay: u32| json!({"name": "t", "action": action, "retries": 2, "retry_delay_seconds": delay});
    let child = json!({"type": "workflow", "workflow_id": crate::ids::WorkflowId::new()});
    assert_eq!(fields(&spec(json!([task(child.clone(), 30)]))), []);
    for bad in [0, 86_401] {
        let found = fields(&spec(json!([task(child.clone(), bad)])));
        assert_eq!(found[0].0, "tasks[0].retry_delay_seconds", "{found:?}");
        assert!(found[0].1.contains("between 1 and 86400"), "{found:?}");
    }
    let s = spec(json!([task(child, 30)]));
    let t = &s.tasks[0];
    assert_eq!(t.engine_retry_after(1), Some(30));
    assert_eq!(t.engine_retry_after(2), Some(60));
    assert_eq!(t.engine_retry_after(3), None, "two retries, then it fails");
    // A job task's retries are its job run's.
    let job = json!({"type": "job", "job_id": crate::ids::JobId::new()});
    assert_eq!(
        spec(json!([task(job, 30)])).tasks[0].engine_retry_after(1),
        None
    );
    // Without a delay: 60 s.
    let s = spec(json!([{"name": "t", "retries": 1,
        "action": {"type": "workflow", "workflow_id": crate::ids::WorkflowId::new()}}]));
    assert_eq!(s.tasks[0].engine_retry_after(1), Some(60));
    assert_eq!(s.workflow_references()[0].0, "tasks[0].action.workflow_id");
}

#[test]
fn a_check_task_needs_a_query_and_bounded_values() {
    let connection = uuid::Uuid::new_v4();
    let good = spec(
        json!([{"name": "c", "action": {"type": "check", "connection_id": connection,
        "sql": "SELECT count(*) FROM orders", "operator": ">", "expected": "0"}}]),
    );
    assert_eq!(fields(&good), []);
    assert_eq!(
        good.connection_references(),
        [(
            "tasks[0].action.connection_id".to_owned(),
            crate::ids::ConnectionId(connection)
        )]
    );
    assert!(good.tasks[0].action.is_side_task());
    let bad = spec(json!([{"name": "c", "timeout_minutes": 61,
        "action": {"type": "check", "connection_id": connection,
        "sql": "  ", "operator": "=", "expected": "x".repeat(1001)}}]));
    let found: Vec<String> = fields(&bad).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        found,
        [
            "tasks[0].timeout_minutes",
            "tasks[0].action.sql",
            "tasks[0].action.expected"
        ]
    );
    // An unknown operator is not a check at all.
    assert!(
        serde_json::from_value::<WorkflowSpec>(json!({"tasks": [{"name": "c", "action":
        {"type": "check", "connection_id": connection, "sql": "SELECT 1", "operator": "~", "expected": "1"}}]}))
        .is_err()
    );
}

#[test]
fn an_http_task_names_each_bad_field() {
    let good = spec(
        json!([{"name": "h", "action": {"type": "http", "method": "POST",
        "url": "https://hooks.example.com/done", "body": "{\"ok\": true}",
        "headers": [{"name": "Content-Type", "value": "application/json"},
                    {"name": "Authorization", "secret": true}]}}]),
    );
    assert_eq!(fields(&good), []);
    assert!(good.connection_references().is_empty());
    let bad = spec(
        json!([{"name": "h", "action": {"type": "http", "method": "GET",
        "url": "file:///etc/passwd", "body": "x".repeat(HTTP_BODY_MAX_BYTES + 1), "expect_status": 42,
        "headers": [{"name": "Bad Name", "value": "v"}, {"name": "Idempotency-Key", "value": "k"},
                    {"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"},
                    {"name": "X-Plain"}, {"name": "X-Ctl", "value": "a\nb"}]}}]),
    );
    let found: Vec<String> = fields(&bad).into_iter().map(|(f, _)| f).collect();
    for field in [
        "tasks[0].action.url",
        "tasks[0].action.headers[0].name",
        "tasks[0].action.headers[1].name",
        "tasks[0].action.headers[3].name",
        "tasks[0].action.headers[4].value",
        "tasks[0].action.headers[5].value",
        "tasks[0].action.body",
        "tasks[0].action.expect_status",
    ] {
        assert!(found.iter().any(|f| f == field), "{field} in {found:?}");
    }
    assert!(!found.iter().any(|f| f == "tasks[0].action.headers[2].name"));
    let no_host = spec(
        json!([{"name": "h", "action": {"type": "http", "method": "GET", "url": "http:///x"}}]),
    );
    assert_eq!(fields(&no_host)[0].0, "tasks[0].action.url");
    // Only the five methods.
    assert!(
        serde_json::from_value::<WorkflowSpec>(json!({"tasks": [{"name": "h", "action":
        {"type": "http", "method": "TRACE", "url": "https://example.com"}}]}))
        .is_err()
    );
}

#[test]
fn an_http_status_passes_when_expected_or_any_2xx() {
    assert!(http_status_passes(None, 200));
    assert!(http_status_passes(None, 204));
    assert!(!http_status_passes(None, 302));
    assert!(!http_status_passes(None, 500));
    assert!(http_status_passes(Some(409), 409));
    assert!(!http_status_passes(Some(201), 200));
}
