use super::*;

const PG_TO_PG: &str = r#"
in:
  type: postgresql
  host: 127.0.0.1
  user: postgres
  password: secret
  database: src
  table: orders
  incremental: true
  incremental_columns: [updated_at, id]
  column_options:
    amount: {type: decimal}
filters:
  - type: rename
    columns: {amount: total}
  - type: mask
    columns:
      - {name: email, type: partial, keep_head: 2}
out:
  type: postgresql
  host: 127.0.0.1
  user: postgres
  database: dst
  table: orders
  mode: merge
  merge_keys: [id]
  default_timezone: Asia/Tokyo
exec:
  max_threads: 2
"#;

const FILE_TO_FILE: &str = r#"
in:
  type: file
  path_prefix: /data/orders_
  decoders: [{type: gzip}]
  parser:
    type: csv
    delimiter: ";"
    skip_header_lines: 1
    stop_on_invalid_record: true
    columns:
      - {name: id, type: long}
      - {name: at, type: timestamp, format: "%Y-%m-%d %H:%M:%S", timezone: Asia/Tokyo}
out:
  type: file
  path_prefix: /out/orders_
  file_ext: jsonl.gz
  encoders: [{type: gzip, level: 1}]
  formatter: {type: jsonl}
"#;

const PARQUET: &str = r#"
in:
  type: s3
  bucket: b
  path_prefix: logs/
  parser:
    type: parquet
    columns: [{name: id, type: long}]
out:
  type: file
  path_prefix: /out/x_
  file_ext: parquet
  formatter: {type: parquet, compression: uncompressed}
"#;

#[test]
fn parses_and_round_trips() {
    for yaml in [PG_TO_PG, FILE_TO_FILE, PARQUET] {
        let config = Config::from_yaml(yaml).unwrap();
        let again = Config::from_yaml(&config.to_yaml()).unwrap();
        assert_eq!(config, again);
    }
    let config = Config::from_yaml(PG_TO_PG).unwrap();
    let InputConfig::Postgresql(input) = &config.input else {
        panic!("not postgresql")
    };
    assert_eq!(input.incremental_columns, ["updated_at", "id"]);
    assert_eq!(config.exec.max_threads, Some(2));
    let OutputConfig::Postgresql(out) = &config.out else {
        panic!("not postgresql")
    };
    assert_eq!(out.mode(), Mode::Merge);
    assert!(
        config.to_yaml().starts_with("in:\n  type: postgresql\n"),
        "{}",
        config.to_yaml()
    );
}

fn error_of(yaml: &str) -> String {
    Config::from_yaml(yaml).unwrap_err().to_string()
}

#[test]
fn errors_name_the_path_and_the_choices() {
    let yaml = PG_TO_PG.replace("mode: merge", "mode: upsert");
    assert_eq!(
        error_of(&yaml),
        "out.mode: unknown mode \"upsert\"; expected one of insert, insert_direct, truncate_insert, replace, merge, merge_direct, delete_insert"
    );
    let yaml = FILE_TO_FILE.replace("type: long", "type: integer");
    assert_eq!(
        error_of(&yaml),
        "in.parser.columns[0].type: unknown type \"integer\"; expected one of boolean, long, double, string, timestamp, json, decimal, date, bytes"
    );
    let yaml = PG_TO_PG.replace("database: src", "database: src\n  tabel: x");
    assert_eq!(
        error_of(&yaml),
        "in.tabel: unknown field `tabel`; did you mean `table`?"
    );
    let yaml = PG_TO_PG.replace("database: src", "database: src\n  colour: x");
    let e = error_of(&yaml);
    assert!(
        e.starts_with("in.colour: unknown field `colour`, expected one of `host`"),
        "{e}"
    );
    let yaml = PG_TO_PG.replace("type: rename", "type: renam");
    assert_eq!(
        error_of(&yaml),
        "filters[0].type: unknown filter type \"renam\"; expected one of rename, remove_columns, column, cast, mask"
    );
    let yaml = PG_TO_PG.replace("default_timezone: Asia/Tokyo", "default_timezone: Tokyo");
    assert!(error_of(&yaml).starts_with("out.default_timezone: unknown time zone \"Tokyo\""));
    let yaml = PG_TO_PG.replace("  table: orders\n  incremental", "  incremental");
    assert_eq!(
        error_of(&yaml),
        "in.table: either table or query is required"
    );
    assert_eq!(
        error_of("out: {}"),
        "out.type: is required; expected one of postgresql, mysql, file, s3, stdout, bigquery, snowflake"
    );
    let e = error_of("in: {type: postgresql, host: h, user: u, database: d, table: t}");
    assert!(e.contains("missing field `out`"), "{e}");
    let yaml = FILE_TO_FILE.replace(
        "timezone: Asia/Tokyo}",
        "timezone: Asia/Tokyo, date: 2024/01/02}",
    );
    assert_eq!(
        error_of(&yaml),
        "in.parser.columns[1].date: \"2024/01/02\" is not a date; expected YYYY-MM-DD"
    );
    let yaml = FILE_TO_FILE.replace("skip_header_lines: 1", "default_date: tomorrow");
    assert_eq!(
        error_of(&yaml),
        "in.parser.default_date: \"tomorrow\" is not a date; expected YYYY-MM-DD"
    );
    let yaml = FILE_TO_FILE.replace("delimiter: \";\"", "delimiter: \";;\"");
    assert_eq!(
        error_of(&yaml),
        "in.parser.delimiter: \";;\" is not one ASCII character"
    );
    let yaml = FILE_TO_FILE.replace(
        "formatter: {type: jsonl}",
        "formatter: {type: jsonl, timezone: Mars}",
    );
    assert!(
        error_of(&yaml).starts_with("out.formatter.timezone: unknown time zone \"Mars\""),
        "{}",
        error_of(&yaml)
    );
    let yaml = FILE_TO_FILE.replace("type: gzip, level: 1", "type: zip");
    assert!(
        error_of(&yaml).starts_with("out.encoders[0].type: unknown codec \"zip\""),
        "{}",
        error_of(&yaml)
    );
}

#[test]
fn value_type_is_one_of_embulks_words_and_fetch_rows_takes_its_values() {
    let yaml = PG_TO_PG.replace(
        "amount: {type: decimal}",
        "amount: {value_type: string}\n    at: {value_type: time}",
    );
    let config = Config::from_yaml(&yaml).unwrap();
    let InputConfig::Postgresql(input) = &config.input else {
        panic!("not postgresql")
    };
    assert_eq!(
        input.column_options["amount"].value_type,
        Some(ValueType::String)
    );
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
    let yaml = PG_TO_PG.replace("amount: {type: decimal}", "amount: {value_type: text}");
    assert_eq!(
        error_of(&yaml),
        "in.column_options.amount.value_type: unknown value_type \"text\"; expected one of coalesce, long, float, double, decimal, boolean, string, json, date, time, timestamp"
    );
    // Embulk's MySQL input documents -1 (fetch everything) and 1 (row by row).
    for n in ["-1", "1", "10000"] {
        let yaml = PG_TO_PG.replace(
            "  incremental: true",
            &format!("  fetch_rows: {n}\n  incremental: true"),
        );
        Config::from_yaml(&yaml).unwrap();
    }
    let yaml = PG_TO_PG.replace(
        "  incremental: true",
        "  fetch_rows: -5\n  incremental: true",
    );
    assert_eq!(
        error_of(&yaml),
        "in.fetch_rows: must be -1 or more (it is -5)"
    );
}

#[test]
fn password_is_redacted_in_debug() {
    let config = Config::from_yaml(PG_TO_PG).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(debug.contains("***"));
    assert!(
        config.to_yaml().contains("password: secret"),
        "the runner needs the real value"
    );
}

#[test]
fn diff_is_merged_over_the_config() {
    let diff = ConfigDiff {
        input: InputDiff {
            last_record: Some(vec!["2024-01-02T03:04:05Z".into(), 42.into()]),
            last_path: None,
        },
        out: Default::default(),
    };
    let config = Config::from_yaml_with_diff(PG_TO_PG, Some(&diff.to_yaml())).unwrap();
    let InputConfig::Postgresql(input) = &config.input else {
        panic!("not postgresql")
    };
    assert_eq!(
        input.last_record.as_ref().unwrap()[1],
        serde_json::json!(42)
    );
    assert_eq!(input.database, "src", "fields not in the diff are kept");

    let diff = "in: {last_path: /data/orders_002.csv.gz}\nout: {}\n";
    let config = Config::from_yaml_with_diff(FILE_TO_FILE, Some(diff)).unwrap();
    let InputConfig::File(input) = &config.input else {
        panic!("not file")
    };
    assert_eq!(input.last_path.as_deref(), Some("/data/orders_002.csv.gz"));
}

fn input_tls(extra: &str) -> Result<Tls, String> {
    let yaml = format!(
        "in: {{type: postgresql, host: h, user: u, database: d, table: t{extra}}}\nout: {{type: file, path_prefix: /tmp/x, file_ext: jsonl, formatter: {{type: jsonl}}}}\n"
    );
    let config = Config::from_yaml(&yaml).map_err(|e| e.to_string())?;
    let InputConfig::Postgresql(input) = &config.input else {
        panic!("not postgresql")
    };
    Ok(input.tls().unwrap())
}

#[test]
fn tls_comes_from_ssl_ssl_mode_or_the_jdbc_options() {
    assert_eq!(input_tls("").unwrap().mode, TlsMode::Disable);
    assert_eq!(input_tls(", ssl: true").unwrap().mode, TlsMode::Require);
    assert_eq!(
        input_tls(", ssl_mode: verify-ca, ssl_ca_certificate: /etc/ca.pem").unwrap(),
        Tls {
            mode: TlsMode::VerifyCa,
            ca_certificate: Some("/etc/ca.pem".into())
        }
    );
    assert_eq!(
        input_tls(", options: {sslmode: verify-full, sslrootcert: /etc/ca.pem}").unwrap(),
        Tls {
            mode: TlsMode::VerifyFull,
            ca_certificate: Some("/etc/ca.pem".into())
        }
    );
    assert_eq!(
        input_tls(", options: {sslMode: PREFERRED}").unwrap().mode,
        TlsMode::Prefer
    );

    let err = input_tls(", ssl_mode: sometimes").unwrap_err();
    assert!(
        err.contains("in.ssl_mode") && err.contains("verify-full"),
        "{err}"
    );
    let err = input_tls(", ssl: false, ssl_mode: require").unwrap_err();
    assert!(
        err.contains("in.ssl") && err.contains("contradicts"),
        "{err}"
    );
    let err = input_tls(", ssl_mode: require, ssl_ca_certificate: x").unwrap_err();
    assert!(
        err.contains("in.ssl_ca_certificate") && err.contains("verify-ca"),
        "{err}"
    );
}

#[test]
fn jdbc_options_take_any_scalar_and_old_tls_switches() {
    assert_eq!(
        input_tls(", options: {useSSL: false, useUnicode: true, connectTimeout: 300}")
            .unwrap()
            .mode,
        TlsMode::Disable
    );
    assert_eq!(
        input_tls(", options: {useSSL: true, requireSSL: true}")
            .unwrap()
            .mode,
        TlsMode::Require
    );
    assert_eq!(
        input_tls(", options: {useSSL: true}").unwrap().mode,
        TlsMode::Prefer
    );
    assert_eq!(
        input_tls(", options: {useSSL: 'true', verifyServerCertificate: true}")
            .unwrap()
            .mode,
        TlsMode::VerifyCa
    );
    assert_eq!(
        input_tls(", options: {ssl: true, sslfactory: org.postgresql.ssl.NonValidatingFactory}")
            .unwrap()
            .mode,
        TlsMode::Require
    );
    assert_eq!(
        input_tls(", options: {ssl: true}").unwrap().mode,
        TlsMode::VerifyFull
    );
    // `ssl_mode` says it outright and wins over the driver's switches.
    assert_eq!(
        input_tls(", ssl_mode: require, options: {useSSL: false}")
            .unwrap()
            .mode,
        TlsMode::Require
    );
    let err = input_tls(", options: {useSSL: maybe}").unwrap_err();
    assert_eq!(
        err,
        "in.options.useSSL: expected true or false, got \"maybe\""
    );
    let err = input_tls(", options: {useSSL: [true]}").unwrap_err();
    assert_eq!(
        err,
        "in.options.useSSL: expected one value (text, a number or true/false), not a list or mapping"
    );
}

const MYSQL_WITH_DRIVER_OPTIONS: &str = r#"
in:
  type: mysql
  host: h
  user: u
  database: d
  table: t
  options:
    useSSL: false
    useUnicode: true
    characterEncoding: utf8
    serverTimezone: Asia/Tokyo
    zeroDateTimeBehavior: convertToNull
    connectTimeout: 5000
    socketTimeout: 120000
out:
  type: mysql
  host: h
  user: u
  database: d
  table: t
  options: {rewriteBatchedStatements: true, connectTimeout: 1000}
"#;

#[test]
fn jdbc_options_are_mapped_or_noted_never_refused() {
    let (config, notices) =
        Config::from_yaml_with_notices(MYSQL_WITH_DRIVER_OPTIONS, None).unwrap();
    let InputConfig::Mysql(input) = &config.input else {
        panic!("not mysql")
    };
    assert_eq!(
        input.options.get("useSSL").map(String::as_str),
        Some("false")
    );
    assert_eq!(input.connect_timeout_secs(DbKind::Mysql), Some(5));
    assert_eq!(input.socket_timeout_secs(DbKind::Mysql), 120);
    assert_eq!(input.zoneless_timezone(DbKind::Mysql), "Asia/Tokyo");
    assert_eq!(
        input.driver_options(DbKind::Mysql).unwrap().zero_dates,
        ZeroDates::Null
    );
    let paths: Vec<&str> = notices.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "in.options.characterEncoding",
            "in.options.connectTimeout",
            "in.options.serverTimezone",
            "in.options.socketTimeout",
            "in.options.useSSL",
            "in.options.useUnicode",
            "in.options.zeroDateTimeBehavior",
            "out.options.connectTimeout",
            "out.options.rewriteBatchedStatements",
        ]
    );
    // The section's own settings win over the driver's.
    let yaml = MYSQL_WITH_DRIVER_OPTIONS.replace(
        "  table: t\n  options:\n",
        "  table: t\n  connect_timeout: 9\n  default_timezone: UTC\n  options:\n",
    );
    let config = Config::from_yaml(&yaml).unwrap();
    let InputConfig::Mysql(input) = &config.input else {
        panic!("not mysql")
    };
    assert_eq!(input.connect_timeout_secs(DbKind::Mysql), Some(9));
    assert_eq!(input.zoneless_timezone(DbKind::Mysql), "UTC");
    // A round trip keeps the options, as text.
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
    let bad = MYSQL_WITH_DRIVER_OPTIONS.replace("Asia/Tokyo", "Mars/Olympus");
    assert!(
        error_of(&bad).starts_with("in.options.serverTimezone: unknown time zone \"Mars/Olympus\""),
        "{}",
        error_of(&bad)
    );
}

#[test]
fn performance_options_are_accepted_and_noted_and_typos_are_not() {
    let yaml = r#"
in:
  type: postgresql
  host: h
  user: u
  database: d
  table: t
  driver_path: /opt/postgresql.jar
out:
  type: postgresql
  host: h
  user: u
  database: d
  table: t
  retry_limit: 3
  retry_wait: 1000
  insert_method: copy
exec:
  max_threads: 2
  preview_sample_buffer_bytes: 10000
"#;
    let (config, notices) = Config::from_yaml_with_notices(yaml, None).unwrap();
    let lines: Vec<String> = notices.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0].starts_with(
        "in.driver_path: accepted and ignored: Hakobu connects with its own native driver"
    ));
    assert!(lines[1].starts_with(
        "out.retry_limit: accepted and ignored: Hakobu retries a failed run as a whole"
    ));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("out.insert_method: accepted and ignored"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("exec.preview_sample_buffer_bytes: accepted and ignored"))
    );
    // Ignored keys leave the model: the YAML users see no longer carries them.
    assert!(!config.to_yaml().contains("retry_limit"));

    let typo = yaml.replace("retry_limit: 3", "retry_limt: 3");
    assert_eq!(
        error_of(&typo),
        "out.retry_limt: unknown field `retry_limt`; did you mean `retry_limit`?"
    );
    let typo = yaml.replace("max_threads: 2", "max_thread: 2");
    assert_eq!(
        error_of(&typo),
        "exec.max_thread: unknown field `max_thread`; did you mean `max_threads`?"
    );
    // A key ignored in one kind of section is still unknown in another.
    let elsewhere = yaml.replace("driver_path: /opt/postgresql.jar", "tmp_path: /tmp");
    assert!(error_of(&elsewhere).starts_with("in.tmp_path: unknown field `tmp_path`"));
}

#[test]
fn csv_typos_in_nested_sections_name_the_path_and_the_nearest_option() {
    let yaml = FILE_TO_FILE.replace("type: csv", "type: csv\n    delimeter: ';'");
    assert_eq!(
        error_of(&yaml),
        "in.parser.delimeter: unknown field `delimeter`; did you mean `delimiter`?"
    );
}

#[test]
fn quotes_in_quoted_fields_takes_the_rfc_4180_value_and_refuses_stray_quotes() {
    let ok = FILE_TO_FILE.replace(
        "type: csv",
        "type: csv\n    quotes_in_quoted_fields: ACCEPT_ONLY_RFC4180_ESCAPED",
    );
    assert!(Config::from_yaml(&ok).is_ok());
    let stray = FILE_TO_FILE.replace(
        "type: csv",
        "type: csv\n    quotes_in_quoted_fields: ACCEPT_STRAY_QUOTES_ASSUMING_NO_DELIMITERS_IN_FIELDS",
    );
    assert!(
        error_of(&stray).starts_with(
            "in.parser.quotes_in_quoted_fields: stray quotes inside quoted values are not supported"
        ),
        "{}",
        error_of(&stray)
    );
}

#[test]
fn zones_written_as_utc_offsets_become_their_iana_names() {
    let yaml = FILE_TO_FILE.replace("timezone: Asia/Tokyo", "timezone: '+09:00'");
    let (config, notices) = Config::from_yaml_with_notices(&yaml, None).unwrap();
    let InputConfig::File(input) = &config.input else {
        panic!("not file")
    };
    let ParserConfig::Csv(csv) = &input.parser else {
        panic!("not csv")
    };
    assert_eq!(csv.columns[1].timezone.as_deref(), Some("Etc/GMT-9"));
    assert_eq!(
        notices[0].to_string(),
        "in.parser.columns[1].timezone: the offset +09:00 is read as the zone Etc/GMT-9"
    );
    // An offset with minutes has no IANA name: it stays an offset, which the engine's
    // zones (`zone::Zone`) take as they are.
    let half = FILE_TO_FILE.replace("timezone: Asia/Tokyo", "timezone: '+0530'");
    let (config, _) = Config::from_yaml_with_notices(&half, None).unwrap();
    let InputConfig::File(input) = &config.input else {
        panic!("not file")
    };
    let ParserConfig::Csv(csv) = &input.parser else {
        panic!("not csv")
    };
    assert_eq!(csv.columns[1].timezone.as_deref(), Some("+0530"));
    let nonsense = FILE_TO_FILE.replace("timezone: Asia/Tokyo", "timezone: '+05:3'");
    assert!(
        error_of(&nonsense).contains("or a UTC offset such as +05:30"),
        "{}",
        error_of(&nonsense)
    );
}

#[test]
fn codec_levels_are_checked_where_they_mean_something() {
    let bz = FILE_TO_FILE.replace("type: gzip, level: 1", "type: bzip2, level: 9");
    assert!(Config::from_yaml(&bz).is_ok(), "bzip2 level 9");
    let zero = FILE_TO_FILE.replace("type: gzip, level: 1", "type: bzip2, level: 0");
    let e = Config::from_yaml(&zero).unwrap_err().to_string();
    assert!(
        e.contains("out.encoders[0].level") && e.contains("1 to 9"),
        "{e}"
    );
    let on_decoder = FILE_TO_FILE.replace(
        "decoders: [{type: gzip}]",
        "decoders: [{type: gzip, level: 5}]",
    );
    let e = Config::from_yaml(&on_decoder).unwrap_err().to_string();
    assert!(e.contains("in.decoders[0].level"), "{e}");
}

#[test]
fn stdout_output_parses_its_zone_and_options() {
    let yaml = "in:\n  type: file\n  path_prefix: /x/a_\n  parser: {type: csv, columns: [{name: id, type: long}]}\nout: {type: stdout, timezone: '+09:00', prints_column_names: true}\n";
    let config = Config::from_yaml(yaml).unwrap();
    let OutputConfig::Stdout(out) = &config.out else {
        panic!("{:?}", config.out)
    };
    assert_eq!(out.zone(), "Etc/GMT-9");
    assert_eq!(out.prints_column_names, Some(true));
    assert!(
        error_of(&yaml.replace("timezone: '+09:00'", "timezone: Tokyo"))
            .starts_with("out.timezone: unknown time zone \"Tokyo\"")
    );
}

const PG_TO_BIGQUERY: &str = "in: {type: postgresql, host: db, user: u, database: d, table: src}
out:
  type: bigquery
  project: my-project
  dataset: analytics
  table: events
  mode: merge
  merge_keys: [id]
  json_keyfile: '{\"client_email\": \"a@b\", \"private_key\": \"k\"}'
  time_partitioning: {type: DAY, field: created_at}
  clustering: {fields: [id]}
  column_options: [{name: amount, type: BIGNUMERIC}]
";

#[test]
fn bigquery_output_round_trips_and_hides_its_key() {
    let config = Config::from_yaml(PG_TO_BIGQUERY).unwrap();
    let OutputConfig::Bigquery(c) = &config.out else {
        panic!("not bigquery: {:?}", config.out)
    };
    assert_eq!(c.mode(), BigqueryMode::Merge);
    assert!(!format!("{c:?}").contains("client_email"));
    assert!(
        config
            .secret_values()
            .iter()
            .any(|v| v.contains("client_email"))
    );
    assert_eq!(Config::from_yaml(&config.to_yaml()).unwrap(), config);
}

#[test]
fn bigquery_output_errors_name_the_field() {
    for (change, path) in [
        (("merge_keys: [id]", "merge_keys: []"), "out.merge_keys"),
        (("dataset: analytics", "dataset: 'a`b'"), "out.dataset"),
        (("mode: merge", "mode: upsert"), "out.mode"),
        (("type: DAY", "type: WEEK"), "out.time_partitioning.type"),
        (
            ("type: BIGNUMERIC", "type: DECIMAL"),
            "out.column_options[0].type",
        ),
        (("  clustering", "  unknown_option: 1\n  clustering"), "out"),
    ] {
        let message = error_of(&PG_TO_BIGQUERY.replace(change.0, change.1));
        assert!(message.contains(path), "{change:?}: {message}");
    }
    let keyless: String = PG_TO_BIGQUERY
        .lines()
        .filter(|l| !l.starts_with("  json_keyfile"))
        .map(|l| format!("{l}\n"))
        .collect();
    let message = error_of(&keyless);
    assert!(message.contains("out.json_keyfile"), "{message}");
}
