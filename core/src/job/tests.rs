use super::*;
use crate::config::{FilterConfig, InputConfig, OutputConfig, ParserConfig};
use serde_json::json;

fn pg() -> Map<String, Value> {
    json!({"host": "db.internal", "port": 5433, "database": "shop", "user": "etl", "tls_mode": "disable"})
        .as_object()
        .unwrap()
        .clone()
}

fn secrets(password: &str) -> Map<String, Value> {
    json!({"password": password}).as_object().unwrap().clone()
}

fn settings(source: Value, destination: Value) -> JobSettings {
    serde_json::from_value(json!({"source": source, "destination": destination})).unwrap()
}

const PG: Option<ConnectionInfo> = Some(ConnectionInfo {
    kind: ConnectionKind::Postgresql,
});
const S3: Option<ConnectionInfo> = Some(ConnectionInfo {
    kind: ConnectionKind::S3,
});

fn fields(e: &FieldErrors) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

#[test]
fn a_table_to_table_job_compiles_to_a_config_the_runner_parses() {
    let id = ConnectionId::new();
    let job = settings(
        json!({"connection_id": id, "table": {"name": "orders"}, "filter": "status = 'paid'", "incremental": true, "incremental_columns": ["updated_at", "id"]}),
        json!({"connection_id": id, "table": {"schema": "dwh", "name": "orders"}, "mode": "merge", "merge_keys": ["id"]}),
    );
    assert!(job.validate(PG, PG).is_empty());
    let (s, sec) = (pg(), secrets("s3cret"));
    let c = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &s,
        secrets: &sec,
    };
    let last = json!({"last_record": ["2026-01-01T00:00:00Z", 42]});
    let config = compile(&job, &c, &c, Some(&last)).unwrap();
    let InputConfig::Postgresql(input) = &config.input else {
        panic!("{config:?}")
    };
    assert_eq!(input.host, "db.internal");
    assert_eq!(input.port, Some(5433));
    assert_eq!(input.schema.as_deref(), Some("public"));
    assert_eq!(input.where_.as_deref(), Some("status = 'paid'"));
    assert_eq!(input.password.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(input.ssl_mode, Some(crate::config::TlsMode::Disable));
    assert_eq!(input.last_record.as_ref().unwrap().len(), 2);
    let OutputConfig::Postgresql(out) = &config.out else {
        panic!()
    };
    assert_eq!(out.schema.as_deref(), Some("dwh"));
    assert_eq!(out.mode(), Mode::Merge);
    // The YAML users see parses back to the same config.
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
}

#[test]
fn column_changes_and_masks_become_filters_in_order() {
    let id = ConnectionId::new();
    let mut job = settings(
        json!({"connection_id": id, "query": "SELECT * FROM t;"}),
        json!({"connection_id": id, "table": {"name": "t2"}}),
    );
    job.columns = serde_json::from_value(json!([
        {"action": "rename", "column": "a", "to": "b"},
        {"action": "drop", "column": "c"},
        {"action": "cast", "column": "d", "to": "long"},
        {"action": "add", "column": "source", "type": "string", "value": "shop"},
    ]))
    .unwrap();
    job.masks = vec![MaskRule {
        column: "email".into(),
        method: MaskMethod::Partial,
        keep_head: 2,
        keep_tail: 0,
    }];
    assert!(job.validate(PG, PG).is_empty(), "{}", job.validate(PG, PG));
    let (s, sec) = (pg(), Map::new());
    let c = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &s,
        secrets: &sec,
    };
    let config = compile(&job, &c, &c, None).unwrap();
    let kinds: Vec<&str> = config
        .filters
        .iter()
        .map(|f| match f {
            FilterConfig::Rename(_) => "rename",
            FilterConfig::RemoveColumns(_) => "remove_columns",
            FilterConfig::Cast(_) => "cast",
            FilterConfig::Column(_) => "column",
            FilterConfig::Mask(_) => "mask",
        })
        .collect();
    assert_eq!(
        kinds,
        ["rename", "remove_columns", "cast", "column", "mask"]
    );
    let InputConfig::Postgresql(input) = &config.input else {
        panic!()
    };
    assert_eq!(
        input.query.as_deref(),
        Some("SELECT * FROM t"),
        "the trailing ; is dropped"
    );
    assert!(input.password.is_none());
}

#[test]
fn files_on_s3_to_a_table() {
    let s3 = json!({"bucket": "exports", "region": "ap-northeast-1", "endpoint": "http://127.0.0.1:5055", "access_key_id": "AKIA"})
        .as_object()
        .unwrap()
        .clone();
    let s3_secrets = json!({"secret_access_key": "{{ env.S3_SECRET }}"})
        .as_object()
        .unwrap()
        .clone();
    let job = settings(
        json!({"connection_id": ConnectionId::new(), "incremental": true, "files": {
            "path_prefix": "orders/", "gzip": true, "delimiter": ";",
            "quote": "'", "skip_header_lines": 2,
            "columns": [{"name": "id", "type": "long"}, {"name": "at", "type": "timestamp", "format": "%Y-%m-%d"}]}}),
        json!({"connection_id": ConnectionId::new(), "table": {"name": "orders"}, "mode": "truncate_insert"}),
    );
    assert!(job.validate(S3, PG).is_empty(), "{}", job.validate(S3, PG));
    let (p, ps) = (pg(), Map::new());
    let source = CompileConnection {
        kind: ConnectionKind::S3,
        settings: &s3,
        secrets: &s3_secrets,
    };
    let dest = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &p,
        secrets: &ps,
    };
    let config = compile(
        &job,
        &source,
        &dest,
        Some(&json!({"last_path": "orders/0001.csv.gz"})),
    )
    .unwrap();
    let InputConfig::S3(input) = &config.input else {
        panic!()
    };
    assert_eq!(input.bucket, "exports");
    assert_eq!(input.last_path.as_deref(), Some("orders/0001.csv.gz"));
    assert_eq!(input.decoders.len(), 1);
    // A guessed title line before the header: both are skipped; the quote is kept.
    let ParserConfig::Csv(csv) = &input.parser else {
        panic!()
    };
    assert_eq!(csv.skip_header_lines, Some(3));
    assert_eq!(csv.quote.as_deref(), Some("'"));
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
    let mut bad = job.clone();
    bad.source.files.as_mut().unwrap().quote = Some("`".into());
    assert!(fields(&bad.validate(S3, PG)).contains(&"source.files.quote"));
}

/// An `assume_role` connection compiles to the role and Embulk's `session` credentials,
/// filled from what the app assumed (here references, as `/config` shows them); the
/// service's own role compiles for both sections, the output included.
#[test]
fn roles_compile_to_session_credentials_and_the_ambient_role_to_instance() {
    let role = json!({"bucket": "exports", "auth": "assume_role", "role_arn": "arn:aws:iam::123456789012:role/hakobu-reader"})
        .as_object()
        .unwrap()
        .clone();
    let references: Map<String, Value> = TEMPORARY_CREDENTIAL_FIELDS
        .iter()
        .map(|f| {
            (
                f.to_string(),
                json!(format!("{{{{ env.DESTINATION_{} }}}}", f.to_uppercase())),
            )
        })
        .collect();
    let job = settings(
        json!({"connection_id": ConnectionId::new(), "table": {"name": "orders"}}),
        json!({"connection_id": ConnectionId::new(), "files": {"path_prefix": "orders_", "format": "csv"}}),
    );
    let (p, ps) = (pg(), Map::new());
    let source = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &p,
        secrets: &ps,
    };
    let config = compile(
        &job,
        &source,
        &CompileConnection {
            kind: ConnectionKind::S3,
            settings: &role,
            secrets: &references,
        },
        None,
    )
    .unwrap();
    let OutputConfig::S3(out) = &config.out else {
        panic!()
    };
    assert_eq!(
        out.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/hakobu-reader")
    );
    assert_eq!(out.auth_method.as_deref(), Some("session"));
    assert_eq!(
        out.session_token.as_ref().map(|t| t.expose()),
        Some("{{ env.DESTINATION_SESSION_TOKEN }}")
    );
    assert_eq!(
        out.access_key_id.as_ref().map(|t| t.expose()),
        Some("{{ env.DESTINATION_ACCESS_KEY_ID }}")
    );
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
    assert!(
        config
            .secret_values()
            .contains(&"{{ env.DESTINATION_SESSION_TOKEN }}")
    );

    let ambient = json!({"bucket": "exports", "auth": "instance_role"})
        .as_object()
        .unwrap()
        .clone();
    let config = compile(
        &job,
        &source,
        &CompileConnection {
            kind: ConnectionKind::S3,
            settings: &ambient,
            secrets: &Map::new(),
        },
        None,
    )
    .unwrap();
    let OutputConfig::S3(out) = &config.out else {
        panic!()
    };
    assert_eq!(out.auth_method.as_deref(), Some("instance"));
    assert!(out.access_key_id.is_none() && out.role_arn.is_none());
}

#[test]
fn table_to_local_files() {
    let dir = json!({"directory": "data/exports/"})
        .as_object()
        .unwrap()
        .clone();
    let job = settings(
        json!({"connection_id": ConnectionId::new(), "table": {"name": "orders"}}),
        json!({"connection_id": ConnectionId::new(), "files": {"path_prefix": "orders_", "format": "jsonl", "gzip": true}}),
    );
    let local = Some(ConnectionInfo {
        kind: ConnectionKind::LocalFiles,
    });
    assert!(job.validate(PG, local).is_empty());
    // Paths on the server are relative to the organization's files folder: an absolute
    // prefix or one with `..` is refused by name; the same text is a fine S3 key.
    for (prefix, code) in [
        ("/orders_", "path_absolute"),
        ("../x/orders_", "path_leaves_folder"),
    ] {
        let mut escaping = job.clone();
        escaping.destination.files.as_mut().unwrap().path_prefix = prefix.to_owned();
        let errors = escaping.validate(PG, local).0;
        assert_eq!(errors.len(), 1, "{prefix}: {errors:?}");
        assert_eq!(errors[0].field, "destination.files.path_prefix");
        assert_eq!(errors[0].code.as_deref(), Some(code));
        let s3 = Some(ConnectionInfo {
            kind: ConnectionKind::S3,
        });
        assert!(escaping.validate(PG, s3).is_empty(), "{prefix}");
    }
    let (p, none) = (pg(), Map::new());
    let config = compile(
        &job,
        &CompileConnection {
            kind: ConnectionKind::Postgresql,
            settings: &p,
            secrets: &none,
        },
        &CompileConnection {
            kind: ConnectionKind::LocalFiles,
            settings: &dir,
            secrets: &none,
        },
        None,
    )
    .unwrap();
    let OutputConfig::File(out) = &config.out else {
        panic!()
    };
    assert_eq!(out.path_prefix, "data/exports/orders_");
    assert_eq!(out.file_ext, "jsonl.gz");
}

#[test]
fn invalid_settings_name_their_fields() {
    let id = ConnectionId::new();
    let job = settings(
        json!({"connection_id": id, "table": {"name": "ord\"ers"}, "query": "select 1"}),
        json!({"connection_id": id, "table": {"name": "t"}, "mode": "insert", "merge_keys": ["id"]}),
    );
    let e = job.validate(PG, PG);
    assert_eq!(
        fields(&e),
        [
            "source.table",
            "source.table.name",
            "destination.merge_keys"
        ]
    );
    assert_eq!(
        e.0[1].message,
        "must not contain quotes, backticks or control characters"
    );

    let job = settings(
        json!({"connection_id": id, "query": "DELETE FROM t"}),
        json!({"connection_id": id, "files": {"path_prefix": "x"}}),
    );
    let e = job.validate(PG, S3);
    assert_eq!(fields(&e), ["source.query"]);
    assert_eq!(
        e.0[0].message,
        "must be a single SELECT (or WITH ... SELECT) query"
    );

    let mut job = settings(
        json!({"connection_id": id, "table": {"name": "t"}}),
        json!({"connection_id": id, "table": {"name": "t"}}),
    );
    job.resources = Resources {
        cpu: 3.0,
        memory_mb: 100,
    };
    job.timeout_minutes = 0;
    job.retry.count = 11;
    assert_eq!(
        fields(&job.validate(PG, PG)),
        ["resources.cpu", "timeout_minutes", "retry.count"]
    );
}

#[test]
fn unknown_modes_and_fields_are_rejected_when_parsing() {
    let id = ConnectionId::new();
    let err = serde_json::from_value::<JobSettings>(json!({
        "source": {"connection_id": id, "table": {"name": "t"}},
        "destination": {"connection_id": id, "table": {"name": "t"}, "mode": "upsert"},
    }))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected one of insert, insert_direct"),
        "{err}"
    );
    let err = serde_json::from_value::<JobSettings>(json!({
        "source": {"connection_id": id, "table": {"name": "t"}, "colour": 1},
        "destination": {"connection_id": id, "table": {"name": "t"}},
    }))
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `colour`"), "{err}");
}

#[test]
fn select_guard() {
    assert!(check_select("SELECT 1").is_ok());
    assert!(check_select("  with x as (select 1) select * from x;  ").is_ok());
    assert!(check_select("select ';' as semi; ").is_ok());
    assert!(check_select("select 1; drop table t").is_err());
    assert!(check_select("update t set a = 1").is_err());
    assert!(check_select("select 1 -- ; drop table t").is_ok());
    assert!(check_select("").is_err());
    // MySQL reads the backslash as an escape and sees a second statement; PostgreSQL
    // reads one string. Either server splitting it is enough to refuse it.
    assert!(check_select(r"select '\'' ; drop table t -- '").is_err());
    assert!(
        check_select_in(
            r"select '\'' ; drop table t -- '",
            crate::sql::Dialect::Postgres
        )
        .is_ok()
    );
    assert!(
        check_select("select $$;$$").is_err(),
        "MySQL has no dollar quotes"
    );
    assert!(check_select_in("select $$;$$", crate::sql::Dialect::Postgres).is_ok());
}

#[test]
fn casts() {
    use ColumnType::*;
    assert!(can_cast(String, Long));
    assert!(can_cast(Long, String));
    assert!(can_cast(Timestamp, Date));
    assert!(!can_cast(Json, Long));
    assert!(!can_cast(Boolean, Timestamp));
    assert!(!can_cast(String, Bytes));
}

#[test]
fn task_sizes_are_the_pairs_fargate_offers() {
    let id = ConnectionId::new();
    let mut job = settings(
        json!({"connection_id": id, "table": {"name": "t"}}),
        json!({"connection_id": id, "table": {"name": "t"}}),
    );
    for (cpu, memory_mb, ok) in [
        (0.25, 512, true),
        (0.25, 4096, false),
        (1.0, 1024, false),
        (1.0, 8192, true),
        (4.0, 30720, true),
        (8.0, 20480, true),
        (8.0, 18432, false),
        (16.0, 122_880, true),
        (16.0, 36864, false),
    ] {
        job.resources = Resources { cpu, memory_mb };
        let errors = job.validate(PG, PG);
        assert_eq!(
            errors.is_empty(),
            ok,
            "{cpu} vCPU, {memory_mb} MiB: {errors}"
        );
    }
    job.resources = Resources {
        cpu: 1.0,
        memory_mb: 1024,
    };
    let errors = job.validate(PG, PG);
    assert_eq!(
        errors.0[0].message,
        "must be a memory size offered with 1 vCPU: 2048 to 8192 MiB in steps of 1024 MiB"
    );
}

/// Each Fargate size at both ends of its memory range, one step beyond each end, and off
/// its step (ECS's documented task sizes).
#[test]
fn every_fargate_size_is_held_to_its_memory_range_and_step() {
    let id = ConnectionId::new();
    let mut job = settings(
        json!({"connection_id": id, "table": {"name": "t"}}),
        json!({"connection_id": id, "table": {"name": "t"}}),
    );
    // (vCPU, first MiB, last MiB, step MiB)
    for (cpu, first, last, step) in [
        (0.25, 512, 2048, 512),
        (0.5, 1024, 4096, 1024),
        (1.0, 2048, 8192, 1024),
        (2.0, 4096, 16384, 1024),
        (4.0, 8192, 30720, 1024),
        (8.0, 16384, 61440, 4096),
        (16.0, 32768, 122_880, 8192),
    ] {
        let mut cases = vec![
            (first, true),
            (last, true),
            (first - step, false),
            (last + step, false),
            (first + step / 2, false),
        ];
        if cpu == 0.25 {
            // 512, 1024 and 2048 only: 1536 is not a size.
            cases.push((1536, false));
        } else {
            cases.push((first + step, true));
        }
        for (memory_mb, ok) in cases {
            job.resources = Resources { cpu, memory_mb };
            let errors = job.validate(PG, PG);
            assert_eq!(
                errors.is_empty(),
                ok,
                "{cpu} vCPU, {memory_mb} MiB: {errors}"
            );
            if !ok {
                assert_eq!(errors.0[0].field, "resources.memory_mb");
            }
        }
    }
}

#[test]
fn a_per_job_run_limit_needs_overlapping_runs_and_a_sane_number() {
    let id = ConnectionId::new();
    let base = |extra: Value| {
        let mut doc = json!({
            "source": {"connection_id": id, "table": {"name": "a"}},
            "destination": {"connection_id": id, "table": {"name": "b"}, "mode": "insert"},
        });
        doc.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<JobSettings>(doc).unwrap()
    };
    assert!(
        base(json!({"overlap": "allow", "max_concurrent_runs": 3}))
            .validate(PG, PG)
            .is_empty()
    );
    // One at a time is what skip and queue already mean.
    assert!(
        base(json!({"overlap": "queue", "max_concurrent_runs": 1}))
            .validate(PG, PG)
            .is_empty()
    );
    for (extra, message) in [
        (
            json!({"overlap": "allow", "max_concurrent_runs": 0}),
            "from 1 to 100",
        ),
        (
            json!({"overlap": "allow", "max_concurrent_runs": 101}),
            "from 1 to 100",
        ),
        (
            json!({"overlap": "skip", "max_concurrent_runs": 3}),
            "only when runs may overlap",
        ),
    ] {
        let e = base(extra.clone()).validate(PG, PG);
        assert_eq!(fields(&e), ["max_concurrent_runs"], "{extra}");
        assert!(e.to_string().contains(message), "{extra}: {e}");
    }
}

fn data_mart(source: Value, destination: Value) -> JobSettings {
    serde_json::from_value(
        json!({"kind": "data_mart", "source": source, "destination": destination}),
    )
    .unwrap()
}

#[test]
fn a_data_mart_is_validated_field_by_field() {
    let id = ConnectionId::new();
    let ok = data_mart(
        json!({"connection_id": id, "query": "SELECT day, sum(x) FROM t GROUP BY day"}),
        json!({"connection_id": id, "table": {"name": "daily"}, "mode": "delete_insert", "merge_keys": ["day"]}),
    );
    assert!(ok.validate(PG, PG).is_empty(), "{:?}", ok.validate(PG, PG));
    let statements = data_mart(
        json!({"connection_id": id, "statements": "CREATE TABLE a (x int); INSERT INTO a VALUES (1)"}),
        json!({"connection_id": id}),
    );
    assert!(statements.validate(PG, PG).is_empty());

    let cases = [
        (
            json!({"connection_id": id, "query": " "}),
            json!({"connection_id": id, "table": {"name": "d"}}),
            "source.query",
        ),
        (
            json!({"connection_id": id}),
            json!({"connection_id": id}),
            "source.query",
        ),
        (
            json!({"connection_id": id, "statements": ""}),
            json!({"connection_id": id}),
            "source.statements",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1"}),
            json!({"connection_id": id}),
            "destination.table",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1; DROP TABLE x"}),
            json!({"connection_id": id, "table": {"name": "d"}}),
            "source.query",
        ),
        (
            json!({"connection_id": id, "query": "DELETE FROM x"}),
            json!({"connection_id": id, "table": {"name": "d"}}),
            "source.query",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1"}),
            json!({"connection_id": id, "table": {"name": "d"}, "mode": "merge_direct"}),
            "destination.mode",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1"}),
            json!({"connection_id": id, "table": {"name": "d"}, "mode": "delete_insert"}),
            "destination.merge_keys",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1"}),
            json!({"connection_id": id, "table": {"name": "d"}, "mode": "delete_insert", "delete_where": "day = 1; DROP TABLE x"}),
            "destination.delete_where",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1"}),
            json!({"connection_id": id, "table": {"name": "d"}, "mode": "insert", "delete_where": "day = 1"}),
            "destination.delete_where",
        ),
        (
            json!({"connection_id": id, "query": "SELECT 1"}),
            json!({"connection_id": ConnectionId::new(), "table": {"name": "d"}}),
            "destination.connection_id",
        ),
        (
            json!({"connection_id": id, "statements": "SELECT 1"}),
            json!({"connection_id": id, "table": {"name": "d"}}),
            "destination.table",
        ),
    ];
    for (source, destination, field) in cases {
        let job = data_mart(source.clone(), destination.clone());
        let e = job.validate(PG, PG);
        assert!(fields(&e).contains(&field), "{source} {destination}: {e:?}");
    }
    let on_s3 = data_mart(
        json!({"connection_id": id, "query": "SELECT 1"}),
        json!({"connection_id": id, "table": {"name": "d"}}),
    );
    assert_eq!(fields(&on_s3.validate(S3, S3)), ["source.connection_id"]);
    let transfer_with_statements = settings(
        json!({"connection_id": id, "statements": "DROP TABLE x"}),
        json!({"connection_id": id, "table": {"name": "d"}}),
    );
    assert!(fields(&transfer_with_statements.validate(PG, PG)).contains(&"source.statements"));
}

#[test]
fn a_data_mart_compiles_to_a_transfer_or_a_statements_document() {
    let id = ConnectionId::new();
    let (s, sec) = (pg(), secrets("s3cret"));
    let c = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &s,
        secrets: &sec,
    };
    let write = data_mart(
        json!({"connection_id": id, "query": "SELECT 1 AS x;"}),
        json!({"connection_id": id, "table": {"name": "d"}, "mode": "delete_insert", "delete_where": "x = 1"}),
    );
    let RunnerConfig::Transfer(config) = compile_runner(&write, &c, &c, None).unwrap() else {
        panic!("a query's result is a transfer")
    };
    let OutputConfig::Postgresql(out) = &config.out else {
        panic!("{config:?}")
    };
    assert_eq!(out.mode(), Mode::DeleteInsert);
    assert_eq!(out.delete_where.as_deref(), Some("x = 1"));
    let run = data_mart(
        json!({"connection_id": id, "statements": "UPDATE a SET x = 1"}),
        json!({"connection_id": id}),
    );
    let compiled = compile_runner(&run, &c, &c, None).unwrap();
    let RunnerConfig::Statements(doc) = &compiled else {
        panic!("{compiled:?}")
    };
    let (kind, section) = doc.sql.database().unwrap();
    assert_eq!(kind, crate::config::DbKind::Postgresql);
    assert_eq!(
        (section.host.as_str(), section.statements.as_str()),
        ("db.internal", "UPDATE a SET x = 1")
    );
    assert_eq!(compiled.secret_values(), ["s3cret"]);
}

#[test]
fn a_connection_through_a_bastion_compiles_to_an_ssh_section_once_its_key_is_pinned() {
    let id = ConnectionId::new();
    let job = settings(
        json!({"connection_id": id, "table": {"name": "orders"}}),
        json!({"connection_id": id, "table": {"name": "copy"}, "mode": "insert"}),
    );
    let mut s = pg();
    s.insert("ssh_host".into(), json!("bastion.example.com"));
    s.insert("ssh_user".into(), json!("tunnel"));
    let sec = json!({"password": "p", "ssh_private_key": "{{ env.SOURCE_SSH_PRIVATE_KEY }}"})
        .as_object()
        .unwrap()
        .clone();
    let c = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &s,
        secrets: &sec,
    };
    // Not pinned yet: no runner is handed a bastion whose key it would trust blindly.
    let refused = compile(&job, &c, &c, None).unwrap_err();
    assert_eq!(refused.path, "in.ssh.host_key_fingerprint", "{refused}");
    let fingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    s.insert("ssh_host_key_fingerprint".into(), json!(fingerprint));
    let c = CompileConnection {
        kind: ConnectionKind::Postgresql,
        settings: &s,
        secrets: &sec,
    };
    let config = compile(&job, &c, &c, None).unwrap();
    let InputConfig::Postgresql(input) = &config.input else {
        panic!("{config:?}")
    };
    let ssh = input.ssh.as_ref().unwrap();
    assert_eq!(
        (ssh.host.as_str(), ssh.port(), ssh.user.as_str()),
        ("bastion.example.com", 22, "tunnel")
    );
    assert_eq!(ssh.private_key.expose(), "{{ env.SOURCE_SSH_PRIVATE_KEY }}");
    assert_eq!(ssh.host_key_fingerprint.as_deref(), Some(fingerprint));
    assert!(!format!("{config:?}").contains("SOURCE_SSH_PRIVATE_KEY"));
}

#[test]
fn a_data_mart_on_a_warehouse_runs_inside_it_and_merge_needs_keys() {
    let bigquery = Some(ConnectionInfo {
        kind: ConnectionKind::Bigquery,
    });
    let id = ConnectionId::new();
    let merge = |keys: Value| {
        data_mart(
            json!({"connection_id": id, "query": "SELECT day, count(*) AS n FROM orders GROUP BY day;"}),
            json!({"connection_id": id, "table": {"schema": "mart", "name": "daily"}, "mode": "merge", "merge_keys": keys}),
        )
    };
    assert_eq!(
        fields(&merge(json!([])).validate(bigquery, bigquery)),
        ["destination.merge_keys"]
    );
    let job = merge(json!(["day"]));
    assert!(job.validate(bigquery, bigquery).is_empty());
    // One statement to PostgreSQL and MySQL, a script to BigQuery: refused on a warehouse.
    let hidden = data_mart(
        json!({"connection_id": id, "query": "select '''a'b''' as x; drop table target --'"}),
        json!({"connection_id": id, "table": {"name": "t"}, "mode": "replace"}),
    );
    assert!(hidden.validate(PG, PG).is_empty());
    assert_eq!(
        fields(&hidden.validate(bigquery, bigquery)),
        ["source.query"]
    );
    let condition = data_mart(
        json!({"connection_id": id, "query": "SELECT 1 AS x"}),
        json!({"connection_id": id, "table": {"name": "t"}, "mode": "delete_insert",
            "delete_where": "x = '''a'b'''; drop table target --'"}),
    );
    assert_eq!(
        fields(&condition.validate(bigquery, bigquery)),
        ["destination.delete_where"]
    );

    let s = json!({"project": "p1", "dataset": "raw"})
        .as_object()
        .unwrap()
        .clone();
    let sec = json!({"json_keyfile": "{\"type\": \"service_account\"}"})
        .as_object()
        .unwrap()
        .clone();
    let c = CompileConnection {
        kind: ConnectionKind::Bigquery,
        settings: &s,
        secrets: &sec,
    };
    let compiled = compile_runner(&job, &c, &c, None).unwrap();
    let RunnerConfig::Statements(doc) = &compiled else {
        panic!("a warehouse data mart is not a transfer: {compiled:?}")
    };
    let crate::config::StatementsSection::Bigquery(section) = &doc.sql else {
        panic!("{doc:?}")
    };
    // The target's schema is the dataset the query runs in.
    assert_eq!(section.dataset, "mart");
    let write = section.write.as_ref().unwrap();
    assert_eq!(
        (write.query.as_str(), write.table.as_str(), write.mode()),
        (
            "SELECT day, count(*) AS n FROM orders GROUP BY day",
            "daily",
            Mode::Merge
        )
    );
    assert_eq!(write.merge_keys, ["day"]);
    assert_eq!(
        compiled.secret_values(),
        ["{\"type\": \"service_account\"}"]
    );
    let yaml = compiled.to_yaml();
    assert!(
        yaml.contains("type: bigquery") && yaml.contains("write:"),
        "{yaml}"
    );

    let statements = data_mart(
        json!({"connection_id": id, "statements": "DELETE FROM t WHERE TRUE"}),
        json!({"connection_id": id}),
    );
    let RunnerConfig::Statements(doc) = compile_runner(&statements, &c, &c, None).unwrap() else {
        panic!("statements compile to a sql: document")
    };
    let crate::config::StatementsSection::Bigquery(section) = &doc.sql else {
        panic!("{doc:?}")
    };
    assert_eq!(
        (section.dataset.as_str(), section.statements.as_deref()),
        ("raw", Some("DELETE FROM t WHERE TRUE"))
    );
}

/// Embulk configs with a warehouse destination, as their plugins' READMEs write them
/// (embulk-output-bigquery: `auth_method: json_key`, `auto_create_table: true`;
/// embulk-output-snowflake: `host: <account>.snowflakecomputing.com`), import as jobs on
/// BigQuery and Snowflake connections.
#[test]
fn an_embulk_config_with_a_warehouse_destination_imports() {
    use super::import::settings_from_config;
    use crate::config::Config;
    let source = "in:\n  type: postgresql\n  host: db.internal\n  user: u\n  password: p\n  database: shop\n  table: orders\n";
    let bigquery = format!(
        "{source}out:\n  type: bigquery\n  mode: replace\n  auth_method: json_key\n  json_keyfile: '{{\"type\": \"service_account\"}}'\n  project: your-project-000\n  dataset: your_dataset_name\n  table: your_table_name\n  auto_create_table: true\n  source_format: NEWLINE_DELIMITED_JSON\n"
    );
    let job = settings_from_config(&Config::from_yaml(&bigquery).unwrap())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let wanted = &job.destination_connection;
    assert_eq!(wanted.kind, ConnectionKind::Bigquery);
    assert_eq!(
        (
            wanted.settings["project"].as_str(),
            wanted.settings["dataset"].as_str()
        ),
        (Some("your-project-000"), Some("your_dataset_name"))
    );
    assert_eq!(
        wanted.secrets["json_keyfile"],
        "{\"type\": \"service_account\"}"
    );
    assert_eq!(job.destination.mode, Mode::Replace);
    assert_eq!(job.destination.table.unwrap().name, "your_table_name");

    // A key file's path cannot be read by a saved connection: refused on its field.
    let path = bigquery.replace(
        "json_keyfile: '{\"type\": \"service_account\"}'",
        "json_keyfile: /path/to/json_keyfile.json",
    );
    let e = settings_from_config(&Config::from_yaml(&path).unwrap())
        .err()
        .unwrap();
    assert_eq!(fields(&e), ["config.out.json_keyfile"]);
    let append = bigquery.replace("mode: replace", "mode: append_direct");
    let job = settings_from_config(&Config::from_yaml(&append).unwrap())
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(job.destination.mode, Mode::InsertDirect);

    let snowflake = format!(
        "{source}out:\n  type: snowflake\n  host: xy12345.snowflakecomputing.com\n  user: loader\n  password: pw\n  warehouse: LOAD_WH\n  database: ANALYTICS\n  schema: RAW\n  table: ORDERS\n  mode: merge\n  merge_keys: [ID]\n"
    );
    let job = settings_from_config(&Config::from_yaml(&snowflake).unwrap())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let wanted = &job.destination_connection;
    assert_eq!(wanted.kind, ConnectionKind::Snowflake);
    assert_eq!(wanted.settings["account"], "xy12345");
    assert_eq!(wanted.settings["schema"], "RAW");
    assert!(
        wanted.settings.get("endpoint").is_none(),
        "{:?}",
        wanted.settings
    );
    assert_eq!(wanted.secrets["password"], "pw");
    assert_eq!(
        (job.destination.mode, job.destination.merge_keys.clone()),
        (Mode::Merge, vec!["ID".to_owned()])
    );
    // A private link host is not the account's own: it becomes the endpoint.
    let private = snowflake.replace(
        "host: xy12345.snowflakecomputing.com",
        "host: xy12345.us-east-1.privatelink.snowflakecomputing.com",
    );
    let job = settings_from_config(&Config::from_yaml(&private).unwrap())
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        job.destination_connection.settings["endpoint"],
        "https://xy12345.us-east-1.privatelink.snowflakecomputing.com"
    );
}
