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
        "out.mode: unknown mode \"upsert\"; expected one of insert, insert_direct, truncate_insert, replace, merge, merge_direct"
    );
    let yaml = FILE_TO_FILE.replace("type: long", "type: integer");
    assert_eq!(
        error_of(&yaml),
        "in.parser.columns[0].type: unknown type \"integer\"; expected one of boolean, long, double, string, timestamp, json, decimal, date, bytes"
    );
    let yaml = PG_TO_PG.replace("database: src", "database: src\n  tabel: x");
    let e = error_of(&yaml);
    assert!(
        e.starts_with("in.tabel: unknown field `tabel`, expected one of `host`"),
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
        "out.type: is required; expected one of postgresql, mysql, file, s3"
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
