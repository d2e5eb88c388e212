use super::*;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn timestamp(name: &str, offset: Option<Offset>, format: &str, zone: &str) -> Variable {
    Variable {
        name: name.into(),
        value: VariableValue::Timestamp {
            base: TimeBase::ScheduledTime,
            offset,
            format: format.into(),
            timezone: zone.into(),
        },
        in_sql: SqlUse::Literal,
    }
}

fn text(name: &str, value: &str, in_sql: SqlUse) -> Variable {
    Variable {
        name: name.into(),
        value: VariableValue::String {
            value: value.into(),
        },
        in_sql,
    }
}

fn ago(quantity: u32, unit: OffsetUnit) -> Option<Offset> {
    Some(Offset {
        quantity,
        unit,
        direction: OffsetDirection::Ago,
    })
}

fn context(scheduled: &str) -> RunContext<'static> {
    RunContext {
        run_id: "0193-run",
        job_name: "orders",
        scheduled_time: at(scheduled),
        start_time: at(scheduled) + Duration::seconds(42),
    }
}

fn resolve(variables: &[Variable], scheduled: &str) -> Values {
    resolve_local(variables, &context(scheduled), &BTreeMap::new()).unwrap()
}

#[test]
fn parses_dollars_adjacent_and_malformed_placeholders() {
    assert_eq!(
        parse("a$$b").unwrap(),
        [Piece::Text("a"), Piece::Dollar, Piece::Text("b")]
    );
    assert_eq!(
        parse("$a$$b$").unwrap(),
        [
            Piece::Variable {
                name: "a",
                position: 1
            },
            Piece::Variable {
                name: "b",
                position: 4
            }
        ]
    );
    assert_eq!(
        parse("s3://b/$date$/x").unwrap()[1],
        Piece::Variable {
            name: "date",
            position: 8
        }
    );
    let lone = parse("price in $ 5").unwrap_err();
    assert_eq!(lone.position, 10);
    assert!(
        lone.message.english.contains("$$ for a dollar sign"),
        "{lone:?}"
    );
    let unclosed = parse("ab $date").unwrap_err();
    assert_eq!(unclosed.position, 4);
    let digit = parse("$1$").unwrap_err();
    assert_eq!(digit.position, 1);
    // Positions count characters, not bytes.
    assert_eq!(parse("日本$x").unwrap_err().position, 3);
}

#[test]
fn timestamps_with_offsets_formats_and_zones() {
    let vars = [
        timestamp("today", None, "%Y-%m-%d", "Asia/Tokyo"),
        timestamp("yesterday", ago(1, OffsetUnit::Day), "%Y%m%d", "Asia/Tokyo"),
        timestamp("hour", ago(1, OffsetUnit::Hour), "%Y-%m-%d %H:00", "UTC"),
        timestamp("last_month", ago(1, OffsetUnit::Month), "%Y-%m", "UTC"),
    ];
    // 16:30 UTC is already the next day in Tokyo: the zone crosses midnight.
    let v = resolve(&vars, "2026-11-21T16:30:00Z");
    assert_eq!(v.get("today"), Some("2026-11-22"));
    assert_eq!(v.get("yesterday"), Some("20261121"));
    assert_eq!(v.get("hour"), Some("2026-11-21 15:00"));
    assert_eq!(v.get("last_month"), Some("2026-10"));
    assert_eq!(v.get("scheduled_time"), Some("2026-11-21T16:30:00Z"));
    assert_eq!(v.get("run_id"), Some("0193-run"));
    assert_eq!(v.get("job_name"), Some("orders"));
}

#[test]
fn month_offsets_at_month_end() {
    let vars = [
        timestamp("month_ago", ago(1, OffsetUnit::Month), "%Y-%m-%d", "UTC"),
        timestamp(
            "month_later",
            Some(Offset {
                quantity: 1,
                unit: OffsetUnit::Month,
                direction: OffsetDirection::Later,
            }),
            "%Y-%m-%d",
            "UTC",
        ),
    ];
    let v = resolve(&vars, "2026-03-31T12:00:00Z");
    assert_eq!(v.get("month_ago"), Some("2026-02-28"));
    assert_eq!(v.get("month_later"), Some("2026-04-30"));
    let leap = resolve(&vars, "2028-03-31T12:00:00Z");
    assert_eq!(leap.get("month_ago"), Some("2028-02-29"));
}

#[test]
fn day_offsets_are_calendar_days_across_daylight_saving() {
    // 2026-03-09 00:30 in New York; the day before had only 23 hours.
    let vars = [timestamp(
        "yesterday",
        ago(1, OffsetUnit::Day),
        "%Y-%m-%d %H:%M %Z",
        "America/New_York",
    )];
    let v = resolve(&vars, "2026-03-09T04:30:00Z");
    assert_eq!(v.get("yesterday"), Some("2026-03-08 00:30 EST"));
}

#[test]
fn start_time_base_uses_the_actual_start() {
    let mut var = timestamp("started", None, "%H:%M:%S", "UTC");
    if let VariableValue::Timestamp { base, .. } = &mut var.value {
        *base = TimeBase::StartTime;
    }
    let v = resolve(&[var], "2026-11-21T10:00:00Z");
    assert_eq!(v.get("started"), Some("10:00:42"));
}

#[test]
fn overrides_replace_values_and_must_name_a_variable() {
    let vars = [timestamp("day", None, "%Y-%m-%d", "UTC")];
    let given = BTreeMap::from([("day".to_owned(), "2020-01-01".to_owned())]);
    let v = resolve_local(&vars, &context("2026-11-21T10:00:00Z"), &given).unwrap();
    assert_eq!(v.get("day"), Some("2020-01-01"));
    let unknown = BTreeMap::from([("dya".to_owned(), "x".to_owned())]);
    let e = resolve_local(&vars, &context("2026-11-21T10:00:00Z"), &unknown).unwrap_err();
    assert_eq!(e.field, "variables.dya");
    let built_in = BTreeMap::from([("run_id".to_owned(), "x".to_owned())]);
    assert!(resolve_local(&vars, &context("2026-11-21T10:00:00Z"), &built_in).is_err());
}

#[test]
fn sql_values_are_quoted_literals() {
    let mut v = Values::default();
    v.insert("day", "2026-11-21".into(), SqlUse::Literal);
    v.insert("evil", "x'; DROP TABLE orders; --".into(), SqlUse::Literal);
    v.insert("slashy", "a\\'b".into(), SqlUse::Literal);
    v.insert("table", "sales \"2026\"".into(), SqlUse::Identifier);
    v.insert("fragment", "amount > 10".into(), SqlUse::Raw);
    let pg = Target::Sql(Dialect::Postgres);
    let my = Target::Sql(Dialect::Mysql);
    assert_eq!(
        expand("SELECT * FROM t WHERE d = $day$", pg, &v).unwrap(),
        "SELECT * FROM t WHERE d = '2026-11-21'"
    );
    assert_eq!(
        expand("d = $evil$", pg, &v).unwrap(),
        "d = 'x''; DROP TABLE orders; --'"
    );
    assert_eq!(expand("d = $slashy$", pg, &v).unwrap(), "d = E'a\\\\''b'");
    assert_eq!(
        expand("d = $evil$", my, &v).unwrap(),
        "d = _utf8mb4 X'78273B2044524F50205441424C45206F72646572733B202D2D'"
    );
    assert_eq!(
        expand("SELECT * FROM $table$", pg, &v).unwrap(),
        "SELECT * FROM \"sales \"\"2026\"\"\""
    );
    assert_eq!(
        expand("SELECT * FROM $table$", my, &v).unwrap(),
        "SELECT * FROM `sales \"2026\"`"
    );
    assert_eq!(
        expand("WHERE $fragment$", pg, &v).unwrap(),
        "WHERE amount > 10"
    );
    assert_eq!(
        expand("costs $$5 on $day$", Target::Text, &v).unwrap(),
        "costs $5 on 2026-11-21"
    );
    assert!(
        expand("$nope$", Target::Text, &v)
            .unwrap_err()
            .contains("$nope$ at position 1")
    );
}

#[test]
fn settings_check_names_the_field_and_position() {
    let vars = vec![
        timestamp("day", None, "%Y-%m-%d", "UTC"),
        text("fragment", "1 = 1", SqlUse::Raw),
    ];
    let settings = json!({
        "source": {
            "query": "SELECT * FROM t WHERE d = '$day$'",
            "filter": "x = $dya$",
        },
        "destination": {"table": {"name": "sales_$day$"}, "path": "a$b"},
        "checks": [{"sql": "SELECT count(*) FROM t WHERE '$fragment$' = '1 = 1' AND d = $day$"}],
        "variables": [{"name": "$ignored"}],
    });
    let mut errors = FieldErrors::default();
    check_settings(&settings, &vars, &mut errors);
    let mut found: Vec<(String, String)> =
        errors.0.into_iter().map(|e| (e.field, e.message)).collect();
    found.sort();
    // The check may quote its raw variable; the others are flagged.
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found[0].0, "destination.path");
    assert!(found[0].1.contains("position 2"), "{found:?}");
    assert_eq!(found[1].0, "source.filter");
    assert!(found[1].1.starts_with("unknown variable $dya$ at position 5; known here: $run_id$, $job_name$, $scheduled_time$, $day$"), "{found:?}");
    assert_eq!(found[2].0, "source.query");
    // The quoted `$day$` in source.query is flagged too, after the walk (SQL rule).
    let mut errors = FieldErrors::default();
    check_settings(
        &json!({"source": {"query": "SELECT 1 WHERE d = '$day$' -- $day$"}}),
        &vars,
        &mut errors,
    );
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert!(
        errors.0[0]
            .message
            .contains("$day$ at position 21 is inside quotes")
    );
    assert!(errors.0[1].message.contains("position 31"));
}

#[test]
fn checks_definitions() {
    let vars = vec![
        text("run_id", "x", SqlUse::Literal),
        text("9lives", "x", SqlUse::Literal),
        text("dup", "x", SqlUse::Literal),
        text("dup", "y", SqlUse::Literal),
        timestamp("bad_format", None, "%Q", "UTC"),
        timestamp("bad_zone", None, "%Y", "Mars/Base"),
    ];
    let mut errors = FieldErrors::default();
    check_settings(&json!({}), &vars, &mut errors);
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "variables[0].name",
            "variables[1].name",
            "variables[3].name",
            "variables[4].value.format",
            "variables[5].value.timezone",
        ]
    );
}

#[test]
fn expanding_settings_quotes_sql_and_keeps_text() {
    let vars = [timestamp("day", None, "%Y-%m-%d", "UTC")];
    let v = resolve(&vars, "2026-11-21T10:00:00Z");
    let settings = json!({
        "source": {"query": "SELECT * FROM t WHERE d >= $day$", "table": null},
        "destination": {"table": {"name": "t_$day$"}},
        "columns": [{"kind": "add", "value": "loaded for $job_name$ on $day$"}],
        "variables": [{"name": "day", "value": {"format": "$$ stays"}}],
    });
    let out = expand_settings(&settings, &v, &|_| Some(Dialect::Mysql)).unwrap();
    assert_eq!(
        out["source"]["query"],
        "SELECT * FROM t WHERE d >= '2026-11-21'"
    );
    assert_eq!(out["destination"]["table"]["name"], "t_2026-11-21");
    assert_eq!(
        out["columns"][0]["value"],
        "loaded for orders on 2026-11-21"
    );
    assert_eq!(out["variables"], settings["variables"]);
}

#[test]
fn an_injection_through_a_value_leaves_the_statement_unchanged() {
    // Whatever the value, the statement has the same shape: one literal where the
    // placeholder was. Swap the literal for a marker and compare.
    let attempts = [
        "'; DROP TABLE orders; --",
        "' OR '1'='1",
        "\\'; DELETE FROM t; --",
        "x\" OR \"1\"=\"1",
        "$$day$$",
        "{{ env.SOURCE_PASSWORD }}",
    ];
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        for attempt in attempts {
            let mut v = Values::default();
            v.insert("day", attempt.into(), SqlUse::Literal);
            let sql = expand(
                "SELECT * FROM t WHERE d = $day$ AND x = 1",
                Target::Sql(dialect),
                &v,
            )
            .unwrap();
            let literal = dialect.literal(attempt).unwrap();
            assert_eq!(
                sql.replacen(&literal, "?", 1),
                "SELECT * FROM t WHERE d = ? AND x = 1",
                "{dialect:?} {attempt}"
            );
            // And the literal itself is one token: no unescaped quote inside.
            let body = literal
                .trim_start_matches("E'")
                .trim_start_matches("_utf8mb4 X'")
                .trim_start_matches('\'')
                .trim_end_matches('\'');
            assert!(!body.replace("''", "").contains('\''), "{literal}");
        }
    }
}

#[test]
fn a_placeholder_a_dialect_reads_inside_quotes_is_refused_under_every_reading() {
    let vars = vec![text("x", "v", SqlUse::Literal)];
    let flagged = |sql: &str| {
        let mut errors = FieldErrors::default();
        check_settings(&json!({"source": {"query": sql}}), &vars, &mut errors);
        errors.0.len()
    };
    // Code under every reading: accepted.
    assert_eq!(flagged("SELECT 1 WHERE a = $x$ AND b = 'it''s'"), 0);
    assert_eq!(flagged("SELECT x$$ FROM t WHERE a = $x$"), 0);
    // MySQL, BigQuery and Snowflake read `\'` as a quote inside the string, so the
    // placeholder after it is inside quotes there (PostgreSQL alone would see code).
    assert_eq!(flagged(r"SELECT '\' $x$ '"), 1);
    // `$$` writes one `$`: `$$$$` is Snowflake's `$$` string (and PostgreSQL's `$$`).
    assert_eq!(flagged("SELECT $$$$ a = $x$ $$$$"), 1);
    // A PostgreSQL tagged string made of written dollars.
    assert_eq!(flagged("SELECT $$tag$$ $x$ $$tag$$"), 1);
    // BigQuery's triple-quoted string and its `#` comment.
    assert_eq!(flagged("SELECT '''a $x$ b'''"), 1);
    assert_eq!(flagged("SELECT 1 # $x$"), 1);
    // Snowflake's `//` comment.
    assert_eq!(flagged("SELECT 1 // $x$"), 1);
}
