//! Local files: CSV and JSON Lines, gzip, multiple files, incremental by last_path,
//! invalid rows, time zones and filters.

use crate::common::*;
use std::io::Write;
use std::path::Path;

fn gunzip(path: &str) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut s,
    )
    .unwrap();
    s
}

fn write_gz(path: &Path, text: &str) {
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_gzip_csv_and_back_is_lossless() {
    let (db, client) = postgres_db().await;
    let dir = TempDir::new();
    client
        .batch_execute(
            r#"CREATE TABLE src (id bigint PRIMARY KEY, note text, amount numeric(38,10), at timestamptz, ok boolean, doc jsonb);
               INSERT INTO src VALUES
                 (1, E'日本語, "quoted"\nnew line;semi\ttab\\back', 12345678901234567890.0123456789, '2024-01-02 03:04:05.123456+00', true, '{"a": "b,c"}'),
                 (2, NULL, NULL, NULL, NULL, NULL),
                 (3, '', -0.5, '1999-12-31 15:00:00+00', false, '[1, 2]');"#,
        )
        .await
        .unwrap();
    let out = format!(
        "out:\n  type: file\n  path_prefix: {}\n  file_ext: csv.gz\n  encoders: [{{type: gzip}}]\n  formatter: {{type: csv, null_string: '\\N'}}\n",
        dir.path("orders_")
    );
    let s = run(&format!(
        "{}\n{out}",
        pg_in(&db.name, "table: src\norder_by: id")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 3);
    let text = gunzip(&dir.path("orders_000.00.csv.gz"));
    assert!(text.starts_with("id,note,amount,at,ok,doc\r\n1,\"日本語, \"\"quoted\"\"\nnew line;semi\ttab\\back\",12345678901234567890.0123456789,2024-01-02 03:04:05.123456 +0000,true,"), "{text}");
    assert!(text.contains("\r\n2,\\N,\\N,\\N,\\N,\\N\r\n"), "{text}");

    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  decoders: [{{type: gzip}}]\n  parser:\n    type: csv\n    skip_header_lines: 1\n    null_string: '\\N'\n    escape: '\"'\n    stop_on_invalid_record: true\n    columns:\n      - {{name: id, type: long}}\n      - {{name: note, type: string}}\n      - {{name: amount, type: decimal}}\n      - {{name: at, type: timestamp}}\n      - {{name: ok, type: boolean}}\n      - {{name: doc, type: json}}\n",
        dir.path("orders_")
    );
    client
        .batch_execute("CREATE TABLE back (LIKE src)")
        .await
        .unwrap();
    let s = run(&format!("{input}\n{}", pg_out(&db.name, "table: back")))
        .await
        .unwrap();
    assert_eq!((s.rows_read, s.rows_written, s.rows_skipped), (3, 3, 0));
    assert_eq!(
        pg_checksum(&client, "src", "id").await,
        pg_checksum(&client, "back", "id").await
    );
}

fn csv_in(prefix: &str, extra: &str) -> String {
    format!(
        "in:\n  type: file\n  path_prefix: {prefix}\n  parser:\n    type: csv\n    columns:\n      - {{name: id, type: long}}\n      - {{name: at, type: timestamp}}\n      - {{name: v, type: string}}\n{extra}"
    )
}

fn jsonl_out(prefix: &str) -> String {
    format!(
        "out:\n  type: file\n  path_prefix: {prefix}\n  file_ext: jsonl\n  formatter: {{type: jsonl, timezone: UTC}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_are_skipped_and_counted_or_stop_the_run_with_file_and_line() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path("in")).unwrap();
    std::fs::write(dir.path("in/a.csv"), "1,2024-01-01 00:00:00,x\nnot a number,2024-01-01 00:00:00,y\n3,2024-01-01 00:00:00\n4,2024-01-01 09:00:00,\"multi\nline\"\n").unwrap();
    let yaml = format!(
        "{}{}",
        csv_in(&dir.path("in/"), ""),
        jsonl_out(&dir.path("out_"))
    );
    let s = run(&yaml).await.unwrap();
    assert_eq!((s.rows_read, s.rows_written, s.rows_skipped), (4, 2, 2));
    assert!(
        s.skipped_reasons[0].ends_with("a.csv:2: column \"id\": \"not a number\" is not a long"),
        "{:?}",
        s.skipped_reasons
    );
    assert!(
        s.skipped_reasons[1].ends_with("a.csv:3: expected 3 columns, got 2"),
        "{:?}",
        s.skipped_reasons
    );
    let out = std::fs::read_to_string(dir.path("out_000.00.jsonl")).unwrap();
    assert_eq!(
        out,
        "{\"id\":1,\"at\":\"2024-01-01 00:00:00.000000 +0000\",\"v\":\"x\"}\n{\"id\":4,\"at\":\"2024-01-01 09:00:00.000000 +0000\",\"v\":\"multi\\nline\"}\n"
    );

    let yaml = format!(
        "{}{}",
        csv_in(&dir.path("in/"), "    stop_on_invalid_record: true\n"),
        jsonl_out(&dir.path("stop_"))
    );
    let err = format!("{:#}", run(&yaml).await.unwrap_err());
    assert!(
        err.contains("a.csv:2: column \"id\": \"not a number\" is not a long"),
        "{err}"
    );
    assert!(
        !Path::new(&dir.path("stop_000.00.jsonl")).exists(),
        "no partial output file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_gzip_files_with_max_threads_and_last_path() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path("in")).unwrap();
    for f in 0..5 {
        let text: String = (0..1000)
            .map(|i| format!("{},2024-01-01 00:00:00,f{f}\n", f * 1000 + i))
            .collect();
        write_gz(&dir.0.join(format!("in/part_{f}.csv.gz")), &text);
    }
    std::fs::write(dir.path("in/ignored.txt"), "not csv").unwrap();
    let (db, client) = postgres_db().await;
    let input = csv_in(&dir.path("in/part_"), "").replace(
        "  parser:",
        "  decoders: [{type: gzip}]\n  path_match_pattern: '\\.csv\\.gz$'\n  parser:",
    );
    let yaml = format!(
        "{input}{}\nexec: {{max_threads: 3}}\n",
        pg_out(&db.name, "table: t")
    );
    let first = run_with_diff(&yaml, None).await.unwrap();
    assert_eq!(first.rows_written, 5000);
    assert_eq!(
        first.next_diff.input.last_path.as_deref(),
        Some(dir.path("in/part_4.csv.gz").as_str())
    );
    let sum: i64 = client
        .query_one("SELECT sum(id)::bigint FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, (0..5000).sum::<i64>());

    let nothing = run_with_diff(&yaml, Some(&first.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(nothing.rows_written, 0);
    assert_eq!(nothing.next_diff, first.next_diff);

    write_gz(
        &dir.0.join("in/part_5.csv.gz"),
        "9999,2024-01-01 00:00:00,new\n",
    );
    let more = run_with_diff(&yaml, Some(&first.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(more.rows_written, 1);
    assert_eq!(pg_count(&client, "t").await, 5001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_options_and_tokyo_time() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path("data.tsv"),
        "# comment\nheader\tline\n 1 \t2024/01/01 09:00\t'it''s'\n2\t2024/01/02 09:00\tNULL\n3\t2024/01/03 09:00\n",
    )
    .unwrap();
    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    delimiter: \"\\t\"\n    quote: \"'\"\n    escape: \"'\"\n    null_string: 'NULL'\n    comment_line_marker: '#'\n    skip_header_lines: 1\n    trim_if_not_quoted: true\n    allow_optional_columns: true\n    default_timezone: Asia/Tokyo\n    columns:\n      - {{name: id, type: long}}\n      - {{name: at, type: timestamp, format: '%Y/%m/%d %H:%M'}}\n      - {{name: v, type: string}}\n",
        dir.path("data")
    );
    let s = run(&format!("{input}{}", jsonl_out(&dir.path("o_"))))
        .await
        .unwrap();
    assert_eq!(s.rows_written, 3);
    let out = std::fs::read_to_string(dir.path("o_000.00.jsonl")).unwrap();
    assert_eq!(
        out,
        "{\"id\":1,\"at\":\"2024-01-01 00:00:00.000000 +0000\",\"v\":\"it's\"}\n{\"id\":2,\"at\":\"2024-01-02 00:00:00.000000 +0000\",\"v\":null}\n{\"id\":3,\"at\":\"2024-01-03 00:00:00.000000 +0000\",\"v\":null}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_rename_remove_column_cast_and_mask() {
    let dir = TempDir::new();
    std::fs::write(dir.path("in.jsonl"), "{\"id\": 1, \"email\": \"alice@example.com\", \"card\": \"4111222233334444\", \"n\": \"42\", \"secret\": \"x\"}\n").unwrap();
    let yaml = format!(
        r#"in:
  type: file
  path_prefix: {}
  parser:
    type: jsonl
    columns:
      - {{name: id, type: long}}
      - {{name: email, type: string}}
      - {{name: card, type: string}}
      - {{name: n, type: string}}
      - {{name: secret, type: string}}
filters:
  - type: rename
    columns: {{id: order_id}}
  - type: remove_columns
    remove: [secret]
  - type: cast
    columns: [{{name: n, type: long}}]
  - type: mask
    columns:
      - {{name: email, type: sha256}}
      - {{name: card, type: partial, keep_tail: 4}}
  - type: column
    add_columns:
      - {{name: source, type: string, default: web}}
      - {{name: loaded_at, type: timestamp, default: "2024-01-01 00:00:00 +0900"}}
{}"#,
        dir.path("in.jsonl"),
        jsonl_out(&dir.path("o_"))
    );
    run(&yaml).await.unwrap();
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("o_000.00.jsonl")).unwrap())
            .unwrap();
    assert_eq!(
        out,
        serde_json::json!({
            "order_id": 1,
            "email": "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976",
            "card": "************4444",
            "n": 42,
            "source": "web",
            "loaded_at": "2023-12-31 15:00:00.000000 +0000"
        })
    );
    let bad = yaml.replace("remove: [secret]", "remove: [secrets]");
    let err = format!("{:#}", run(&bad).await.unwrap_err());
    assert!(
        err.contains("filters[1] (remove_columns): column \"secrets\" does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_parquet_and_back_keeps_types() {
    let (db, client) = postgres_db().await;
    let dir = TempDir::new();
    client
        .batch_execute(
            r#"CREATE TABLE src (id bigint PRIMARY KEY, note text, amount numeric(38,10), at timestamptz, day date, ok boolean, r float8, doc jsonb, raw bytea);
               INSERT INTO src SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE E'日本語 "q"\n' || g END, g * 1.0000000001, '2024-01-01'::timestamptz + g * interval '1 minute',
                 '2024-01-01'::date + g, g % 2 = 0, g / 7.0, jsonb_build_object('g', g), '\x00ff'::bytea FROM generate_series(1, 20000) g;
               CREATE TABLE back (LIKE src);"#,
        )
        .await
        .unwrap();
    let out = format!(
        "out:\n  type: file\n  path_prefix: {}\n  file_ext: parquet\n  formatter: {{type: parquet}}\n",
        dir.path("p_")
    );
    run(&format!("{}\n{out}", pg_in(&db.name, "table: src")))
        .await
        .unwrap();
    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser: {{type: parquet}}\n",
        dir.path("p_")
    );
    let s = run(&format!("{input}{}", pg_out(&db.name, "table: back")))
        .await
        .unwrap();
    assert_eq!(s.rows_written, 20000);
    assert_eq!(
        pg_checksum(&client, "src", "id").await,
        pg_checksum(&client, "back", "id").await
    );

    // gzip-compressed Parquet is written and read back the same.
    let out = format!(
        "out:\n  type: file\n  path_prefix: {}\n  file_ext: parquet\n  formatter: {{type: parquet, compression: gzip}}\n",
        dir.path("gz_")
    );
    run(&format!("{}\n{out}", pg_in(&db.name, "table: src")))
        .await
        .unwrap();
    let file = std::fs::File::open(dir.path("gz_000.00.parquet")).unwrap();
    let meta = parquet::file::reader::FileReader::metadata(
        &parquet::file::reader::SerializedFileReader::new(file).unwrap(),
    )
    .clone();
    assert!(matches!(
        meta.row_group(0).column(1).compression(),
        parquet::basic::Compression::GZIP(_)
    ));
    client
        .batch_execute("CREATE TABLE back_gz (LIKE src)")
        .await
        .unwrap();
    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser: {{type: parquet}}\n",
        dir.path("gz_")
    );
    run(&format!("{input}{}", pg_out(&db.name, "table: back_gz")))
        .await
        .unwrap();
    assert_eq!(
        pg_checksum(&client, "src", "id").await,
        pg_checksum(&client, "back_gz", "id").await
    );

    // Listing columns picks and converts them.
    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: parquet\n    columns:\n      - {{name: id, type: string}}\n      - {{name: amount, type: decimal}}\n",
        dir.path("p_")
    );
    run(&format!("{input}{}", pg_out(&db.name, "table: picked")))
        .await
        .unwrap();
    let row = client
        .query_one("SELECT id, amount::text FROM picked WHERE id = '7'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(1), "7.0000000007");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_are_doubled_by_default_or_backslash_escaped() {
    let dir = TempDir::new();
    std::fs::write(dir.path("doubled.csv"), "1,\"say \"\"hi\"\", ok\"\n").unwrap();
    std::fs::write(dir.path("backslash.csv"), "1,\"say \\\"hi\\\", ok\"\n").unwrap();
    for (file, extra) in [("doubled", ""), ("backslash", "    escape: \"\\\\\"\n")] {
        let input = format!(
            "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    stop_on_invalid_record: true\n{extra}    columns:\n      - {{name: id, type: long}}\n      - {{name: v, type: string}}\n",
            dir.path(file)
        );
        run(&format!(
            "{input}{}",
            jsonl_out(&dir.path(&format!("{file}_out_")))
        ))
        .await
        .unwrap();
        let out = std::fs::read_to_string(dir.path(&format!("{file}_out_000.00.jsonl"))).unwrap();
        assert_eq!(out, "{\"id\":1,\"v\":\"say \\\"hi\\\", ok\"}\n", "{file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_in_shift_jis_and_windows_1252_is_decoded() {
    let dir = TempDir::new();
    // Shift_JIS: 寿司 is 0x8e 0xf5 0x8e 0x69; the second byte of 司 is ASCII 'i'.
    std::fs::write(
        dir.path("sjis.csv"),
        b"1,\"\x8e\xf5\x8ei, \x83J\x83^\x83J\x83i\"\n2,\xb6\xc0\xb6\xc5\n",
    )
    .unwrap();
    std::fs::write(
        dir.path("cp1252.csv"),
        b"1,\"caf\xe9 \x80 \x93q\x94\"\n2,na\xefve\n",
    )
    .unwrap();
    for (file, charset, expected) in [
        (
            "sjis",
            "Shift_JIS",
            "{\"id\":1,\"v\":\"寿司, カタカナ\"}\n{\"id\":2,\"v\":\"ｶﾀｶﾅ\"}\n",
        ),
        (
            "cp1252",
            "windows-1252",
            "{\"id\":1,\"v\":\"café € “q”\"}\n{\"id\":2,\"v\":\"naïve\"}\n",
        ),
    ] {
        let input = format!(
            "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    charset: {charset}\n    stop_on_invalid_record: true\n    columns:\n      - {{name: id, type: long}}\n      - {{name: v, type: string}}\n",
            dir.path(&format!("{file}.csv"))
        );
        run(&format!(
            "{input}{}",
            jsonl_out(&dir.path(&format!("{file}_out_")))
        ))
        .await
        .unwrap();
        let out = std::fs::read_to_string(dir.path(&format!("{file}_out_000.00.jsonl"))).unwrap();
        assert_eq!(out, expected, "{charset}");
    }
    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    charset: EBCDIC-ish\n    columns:\n      - {{name: id, type: long}}\n",
        dir.path("sjis.csv")
    );
    let e = format!(
        "{:#}",
        run(&format!("{input}{}", jsonl_out(&dir.path("bad_"))))
            .await
            .unwrap_err()
    );
    assert!(
        e.contains("parser.charset: unknown charset \"EBCDIC-ish\""),
        "{e}"
    );
}

/// `formatter.charset` writes the file in that charset (Japanese users' Excel still opens
/// CSV as Shift_JIS), a character the charset lacks as `?` as Embulk's Java encoder does,
/// and the file reads back through `parser.charset`.
#[tokio::test]
async fn csv_out_in_shift_jis_reads_back_and_lacking_characters_become_question_marks() {
    let dir = TempDir::new();
    std::fs::write(dir.path("in.csv"), "1,寿司 カタカナ\n2,🍣 café\n").unwrap();
    let columns = "    columns:\n      - {name: id, type: long}\n      - {name: v, type: string}\n";
    run(&format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n{columns}out:\n  type: file\n  path_prefix: {}\n  file_ext: csv\n  formatter:\n    type: csv\n    charset: Windows-31J\n    newline: LF\n",
        dir.path("in.csv"),
        dir.path("sjis_")
    ))
    .await
    .unwrap();
    let written = std::fs::read(dir.path("sjis_000.00.csv")).unwrap();
    let (expected, _, _) = encoding_rs::SHIFT_JIS.encode("id,v\n1,寿司 カタカナ\n2,? caf?\n");
    assert_eq!(written, expected.as_ref());

    run(&format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    charset: Shift_JIS\n    skip_header_lines: 1\n{columns}{}",
        dir.path("sjis_000.00.csv"),
        jsonl_out(&dir.path("back_"))
    ))
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("back_000.00.jsonl")).unwrap(),
        "{\"id\":1,\"v\":\"寿司 カタカナ\"}\n{\"id\":2,\"v\":\"? caf?\"}\n"
    );

    let e = format!(
        "{:#}",
        run(&format!(
            "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n{columns}out:\n  type: file\n  path_prefix: {}\n  file_ext: csv\n  formatter: {{type: csv, charset: UTF-16}}\n",
            dir.path("in.csv"),
            dir.path("utf16_")
        ))
        .await
        .unwrap_err()
    );
    assert!(
        e.contains("formatter.charset: UTF-16LE can be read but not written"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_column_zones_dates_extra_columns_and_every_output_option() {
    let dir = TempDir::new();
    // CR line ends, a header (header_line: true), a row with two extra fields.
    std::fs::write(
        dir.path("in.csv"),
        "id,at,opens,closes,note\r1,2024-01-01 09:00:00,08:30,23:59:59,\"say \"\"hi\"\"; ok\",extra,more\r2,2024-06-01 00:00:00,12:00,00:00:00,plain\r",
    )
    .unwrap();
    let input = format!(
        r#"in:
  type: file
  path_prefix: {}
  parser:
    type: csv
    newline: CR
    header_line: true
    allow_extra_columns: true
    stop_on_invalid_record: true
    default_date: '2000-01-02'
    columns:
      - {{name: id, type: long}}
      - {{name: at, type: timestamp, timezone: Asia/Tokyo}}
      - {{name: opens, type: timestamp, format: '%H:%M', date: '2024-03-01'}}
      - {{name: closes, type: timestamp, format: '%H:%M:%S'}}
      - {{name: note, type: string}}
"#,
        dir.path("in.csv")
    );
    let quoted = format!(
        r#"out:
  type: file
  path_prefix: {}
  file_ext: csv
  formatter:
    type: csv
    header_line: false
    delimiter: ';'
    quote_policy: ALL
    newline: LF
    default_timezone: Asia/Tokyo
    column_options:
      opens: {{format: '%Y/%m/%d %H:%M', timezone: UTC}}
"#,
        dir.path("quoted_")
    );
    let s = run(&format!("{input}{quoted}")).await.unwrap();
    assert_eq!((s.rows_written, s.rows_skipped), (2, 0));
    assert_eq!(
        std::fs::read_to_string(dir.path("quoted_000.00.csv")).unwrap(),
        concat!(
            "\"1\";\"2024-01-01 09:00:00.000000 +0900\";\"2024/03/01 08:30\";\"2000-01-03 08:59:59.000000 +0900\";\"say \"\"hi\"\"; ok\"\n",
            "\"2\";\"2024-06-01 00:00:00.000000 +0900\";\"2024/03/01 12:00\";\"2000-01-02 09:00:00.000000 +0900\";\"plain\"\n",
        )
    );
    let bare = format!(
        "out:\n  type: file\n  path_prefix: {}\n  file_ext: csv\n  formatter: {{type: csv, quote_policy: NONE, newline: CRLF}}\n",
        dir.path("bare_")
    );
    run(&format!("{input}{bare}")).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("bare_000.00.csv")).unwrap(),
        concat!(
            "id,at,opens,closes,note\r\n",
            "1,2024-01-01 00:00:00.000000 +0000,2024-03-01 08:30:00.000000 +0000,2000-01-02 23:59:59.000000 +0000,say \"hi\"; ok\r\n",
            "2,2024-05-31 15:00:00.000000 +0000,2024-03-01 12:00:00.000000 +0000,2000-01-02 00:00:00.000000 +0000,plain\r\n",
        )
    );
    // Without allow_extra_columns the first row is invalid.
    let strict = input.replace("    allow_extra_columns: true\n", "");
    let err = format!("{:#}", run(&format!("{strict}{bare}")).await.unwrap_err());
    assert!(
        err.contains("in.csv:2: expected 5 columns, got 7 (stop_on_invalid_record is true)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_keep_pick_rename_default_drop_and_mask_all_or_partial() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path("in.jsonl"),
        "{\"id\": 1, \"name\": \"Alice\", \"email\": \"a@example.com\", \"phone\": \"09012345678\", \"secret\": \"s\", \"note\": null}\n{\"id\": 2, \"name\": \"Bo\", \"email\": \"b@example.com\", \"phone\": null, \"secret\": \"t\", \"note\": \"kept\"}\n",
    )
    .unwrap();
    let yaml = format!(
        r#"in:
  type: file
  path_prefix: {}
  parser:
    type: jsonl
    columns:
      - {{name: id, type: long}}
      - {{name: name, type: string}}
      - {{name: email, type: string}}
      - {{name: phone, type: string}}
      - {{name: secret, type: string}}
      - {{name: note, type: string}}
filters:
  - type: remove_columns
    keep: [id, name, email, phone, note]
  - type: column
    columns:
      - {{name: id}}
      - {{name: who, src: name}}
      - {{name: email}}
      - {{name: phone}}
      - {{name: note, default: none}}
  - type: column
    drop_columns: [{{name: email}}]
  - type: mask
    columns:
      - {{name: who, type: all, mask_char: '#'}}
      - {{name: phone, type: partial, keep_head: 3, keep_tail: 2}}
{}"#,
        dir.path("in.jsonl"),
        jsonl_out(&dir.path("o_"))
    );
    run(&yaml).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("o_000.00.jsonl")).unwrap(),
        concat!(
            "{\"id\":1,\"who\":\"#####\",\"phone\":\"090******78\",\"note\":\"none\"}\n",
            "{\"id\":2,\"who\":\"##\",\"phone\":null,\"note\":\"kept\"}\n",
        )
    );
}

/// Embulk's rule: without null_string an unquoted empty field is NULL and a quoted one
/// (`""`) the empty string; with null_string only that text is NULL, quoted or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quoted_empty_field_is_an_empty_string_and_an_unquoted_one_null() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path("in.csv"),
        "id,a,b,c\n1,,\"\",\"\"\"\"\n2,\"\",,\"x\"\n3,\"multi\nline\",\"\",\n",
    )
    .unwrap();
    let input = |null_string: &str| {
        format!(
            "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    skip_header_lines: 1\n{null_string}    stop_on_invalid_record: true\n    columns:\n      - {{name: id, type: long}}\n      - {{name: a, type: string}}\n      - {{name: b, type: string}}\n      - {{name: c, type: string}}\n",
            dir.path("in.csv")
        )
    };
    run(&format!("{}{}", input(""), jsonl_out(&dir.path("plain_"))))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("plain_000.00.jsonl")).unwrap(),
        concat!(
            "{\"id\":1,\"a\":null,\"b\":\"\",\"c\":\"\\\"\"}\n",
            "{\"id\":2,\"a\":\"\",\"b\":null,\"c\":\"x\"}\n",
            "{\"id\":3,\"a\":\"multi\\nline\",\"b\":\"\",\"c\":null}\n",
        )
    );
    run(&format!(
        "{}{}",
        input("    null_string: ''\n"),
        jsonl_out(&dir.path("nulls_"))
    ))
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("nulls_000.00.jsonl")).unwrap(),
        concat!(
            "{\"id\":1,\"a\":null,\"b\":null,\"c\":\"\\\"\"}\n",
            "{\"id\":2,\"a\":null,\"b\":null,\"c\":\"x\"}\n",
            "{\"id\":3,\"a\":\"multi\\nline\",\"b\":null,\"c\":null}\n",
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trim_if_not_quoted_keeps_spaces_inside_quotes() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path("in.csv"),
        "  1 , \" padded \" ,  plain text  \n2,\"x\",\"  \"\n",
    )
    .unwrap();
    let input = |trim: bool| {
        format!(
            "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    trim_if_not_quoted: {trim}\n    stop_on_invalid_record: true\n    columns:\n      - {{name: id, type: long}}\n      - {{name: q, type: string}}\n      - {{name: p, type: string}}\n",
            dir.path("in.csv")
        )
    };
    run(&format!("{}{}", input(true), jsonl_out(&dir.path("trim_"))))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("trim_000.00.jsonl")).unwrap(),
        "{\"id\":1,\"q\":\" padded \",\"p\":\"plain text\"}\n{\"id\":2,\"q\":\"x\",\"p\":\"  \"}\n"
    );
    // Without trimming, the spaces are part of the values (and " 1 " is still a long).
    run(&format!(
        "{}{}",
        input(false),
        jsonl_out(&dir.path("keep_"))
    ))
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("keep_000.00.jsonl")).unwrap(),
        "{\"id\":1,\"q\":\" \\\" padded \\\" \",\"p\":\"  plain text  \"}\n{\"id\":2,\"q\":\"x\",\"p\":\"  \"}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quoted_value_over_max_quoted_size_limit_makes_its_record_invalid() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path("in")).unwrap();
    std::fs::write(
        dir.path("in/a.csv"),
        "id,at,v\n\
         1,2024-01-01 00:00:00,\"12345678\"\n\
         2,2024-01-01 00:00:00,\"long\nvalue here\"\n\
         3,2024-01-01 00:00:00,\"a\"\"b\"\n\
         4,2024-01-01 00:00:00,x\n\
         5,2024-01-01 00:00:00,\"never closed\n6,2024-01-01 00:00:00,y\n",
    )
    .unwrap();
    let extra = "    skip_header_lines: 1\n    max_quoted_size_limit: 8\n";
    let yaml = format!(
        "{}{}",
        csv_in(&dir.path("in/"), extra),
        jsonl_out(&dir.path("out_"))
    );
    let s = run(&yaml).await.unwrap();
    assert_eq!(
        (s.rows_read, s.rows_written, s.rows_skipped),
        (5, 3, 2),
        "{:?}",
        s.skipped_reasons
    );
    let why = "a quoted value is longer than max_quoted_size_limit (8 bytes)";
    assert!(
        s.skipped_reasons[0].ends_with(&format!("a.csv:3: {why}")),
        "{:?}",
        s.skipped_reasons
    );
    // An unclosed quote runs to the end of the file: one invalid record.
    assert!(
        s.skipped_reasons[1].ends_with(&format!("a.csv:7: {why}")),
        "{:?}",
        s.skipped_reasons
    );
    let out = std::fs::read_to_string(dir.path("out_000.00.jsonl")).unwrap();
    let ids: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["v"].clone())
        .collect();
    assert_eq!(ids, ["12345678", "a\"b", "x"]);

    let yaml = format!(
        "{}{}",
        csv_in(
            &dir.path("in/"),
            &format!("{extra}    stop_on_invalid_record: true\n")
        ),
        jsonl_out(&dir.path("stop_"))
    );
    let err = format!("{:#}", run(&yaml).await.unwrap_err());
    assert!(
        err.contains(&format!("a.csv:3: {why} (stop_on_invalid_record is true)")),
        "{err}"
    );

    // Embulk's default limit, 131072 bytes.
    std::fs::create_dir_all(dir.path("big")).unwrap();
    std::fs::write(
        dir.path("big/b.csv"),
        format!(
            "1,2024-01-01 00:00:00,\"{}\"\n2,2024-01-01 00:00:00,\"{}\"\n",
            "x".repeat(131_072),
            "x".repeat(131_073)
        ),
    )
    .unwrap();
    let yaml = format!(
        "{}{}",
        csv_in(&dir.path("big/"), ""),
        jsonl_out(&dir.path("big_"))
    );
    let s = run(&yaml).await.unwrap();
    assert_eq!((s.rows_written, s.rows_skipped), (1, 1));
    assert!(
        s.skipped_reasons[0].ends_with(
            "b.csv:2: a quoted value is longer than max_quoted_size_limit (131072 bytes)"
        ),
        "{:?}",
        s.skipped_reasons
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_formatter_writes_line_breaks_empty_strings_and_nulls_as_embulk_does() {
    let dir = TempDir::new();
    // A JSON source: one value with every kind of line break, an empty string, a NULL.
    std::fs::write(
        dir.path("in.jsonl"),
        "{\"id\": 1, \"note\": \"a\\r\\nb\\nc\\rd\", \"tag\": \"\"}\n{\"id\": 2, \"note\": \"x;y\", \"tag\": null}\n",
    )
    .unwrap();
    let input = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: jsonl\n    columns:\n      - {{name: id, type: long}}\n      - {{name: note, type: string}}\n      - {{name: tag, type: string}}\n",
        dir.path("in.jsonl")
    );
    let out = |prefix: &str, options: &str| {
        format!(
            "out:\n  type: file\n  path_prefix: {}\n  file_ext: csv\n  formatter: {{type: csv, newline: LF, {options}}}\n",
            dir.path(prefix)
        )
    };
    run(&format!(
        "{input}{}",
        out("minimal_", "newline_in_field: CRLF")
    ))
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("minimal_000.00.csv")).unwrap(),
        "id,note,tag\n1,\"a\r\nb\r\nc\r\nd\",\"\"\n2,x;y,\n",
        "line breaks become newline_in_field; an empty string is quoted, NULL is not"
    );
    run(&format!(
        "{input}{}",
        out(
            "none_",
            "quote_policy: NONE, delimiter: ';', null_string: '\\N'"
        )
    ))
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("none_000.00.csv")).unwrap(),
        "id;note;tag\n1;a\\\nb\\\nc\\\nd;\n2;x\\;y;\\N\n",
        "NONE escapes the delimiter and line breaks with \\"
    );
    // What the formatter wrote, the parser reads back: line breaks inside quotes stay.
    let back = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    newline: LF\n    skip_header_lines: 1\n    stop_on_invalid_record: true\n    columns:\n      - {{name: id, type: long}}\n      - {{name: note, type: string}}\n",
        dir.path("minimal_000.00.csv")
    );
    let back = back.replace(
        "      - {name: note, type: string}\n",
        "      - {name: note, type: string}\n    allow_extra_columns: true\n",
    );
    run(&format!("{back}{}", jsonl_out(&dir.path("back_"))))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("back_000.00.jsonl")).unwrap(),
        "{\"id\":1,\"note\":\"a\\r\\nb\\r\\nc\\r\\nd\"}\n{\"id\":2,\"note\":\"x;y\"}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_written_as_a_utc_offset_applies_like_its_iana_name() {
    let dir = TempDir::new();
    std::fs::write(dir.path("in.csv"), "1,2024-01-01 09:00:00,x\n").unwrap();
    let input = csv_in(&dir.path("in.csv"), "").replace(
        "{name: at, type: timestamp}",
        "{name: at, type: timestamp, format: '%Y-%m-%d %H:%M:%S', timezone: '+0900'}",
    );
    run(&format!("{input}{}", jsonl_out(&dir.path("out_"))))
        .await
        .unwrap();
    let out = std::fs::read_to_string(dir.path("out_000.00.jsonl")).unwrap();
    assert!(
        out.contains("\"at\":\"2024-01-01 00:00:00.000000 +0000\""),
        "{out}"
    );
}

/// An offset with minutes (India's +05:30, Nepal's +05:45), which no IANA zone is for
/// all dates, applies as a fixed offset: in the parser, the formatter and its columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_written_as_an_offset_with_minutes_applies_as_that_offset() {
    let dir = TempDir::new();
    std::fs::write(dir.path("in.csv"), "1,2024-01-01 09:00:00,x\n").unwrap();
    let input = csv_in(&dir.path("in.csv"), "").replace(
        "{name: at, type: timestamp}",
        "{name: at, type: timestamp, format: '%Y-%m-%d %H:%M:%S', timezone: '+05:30'}",
    );
    run(&format!(
        "{input}out:\n  type: file\n  path_prefix: {}\n  file_ext: csv\n  formatter:\n    type: csv\n    header_line: false\n    newline: LF\n    default_timezone: '+0545'\n    column_options:\n      at: {{format: '%Y-%m-%d %H:%M %z'}}\n",
        dir.path("out_")
    ))
    .await
    .unwrap();
    let out = std::fs::read_to_string(dir.path("out_000.00.csv")).unwrap();
    // 09:00 at +05:30 is 03:30 UTC, which is 09:15 at +05:45.
    assert_eq!(out, "1,2024-01-01 09:15 +0545,x\n");
}

/// bzip2 both ways, checked against the real `bzip2` tool: files it compressed (two
/// concatenated, as `pbzip2` writes) are read whole, and what Hakobu writes it reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bzip2_files_from_the_bzip2_tool_are_read_and_written_back() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path("in")).unwrap();
    let mut joined = Vec::new();
    for (part, rows) in [("a", 1..=3), ("b", 4..=5)] {
        let plain = dir.0.join(format!("{part}.csv"));
        let text: String = rows
            .map(|i| format!("{i},2024-01-01 00:00:00,row {i}\n"))
            .collect();
        std::fs::write(&plain, text).unwrap();
        let status = std::process::Command::new("bzip2")
            .arg(&plain)
            .status()
            .expect("the bzip2 tool (Debian's bzip2 package)");
        assert!(status.success());
        joined.extend(std::fs::read(dir.0.join(format!("{part}.csv.bz2"))).unwrap());
    }
    std::fs::write(dir.path("in/both.csv.bz2"), joined).unwrap();
    let input = csv_in(&dir.path("in/both"), "")
        .replace("  parser:", "  decoders: [{type: bzip2}]\n  parser:");
    let output = format!(
        "out:\n  type: file\n  path_prefix: {}\n  file_ext: csv.bz2\n  encoders: [{{type: bzip2, level: 1}}]\n  formatter: {{type: csv, header_line: false}}\n",
        dir.path("out/rows")
    );
    let summary = run(&format!("{input}{output}")).await.unwrap();
    assert_eq!(summary.rows_written, 5, "both members of the file are read");
    let written = std::fs::read_dir(dir.path("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".csv.bz2"))
        .expect("a .csv.bz2 file");
    let out = std::process::Command::new("bzip2")
        .arg("-dc")
        .arg(&written)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the bzip2 tool reads what Hakobu wrote"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.contains("row 1") && text.contains("row 5"), "{text}");
}

/// Files are expected by their sizes as stored (what the read counts), and the read ends
/// exactly there: the run page's percentage reaches 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_expects_the_listed_files_sizes() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path("in")).unwrap();
    let a = "1,2024-01-01 00:00:00,x\n2,2024-01-01 00:00:00,y\n";
    let b = "3,2024-01-01 00:00:00,z\n";
    std::fs::write(dir.path("in/a.csv"), a).unwrap();
    std::fs::write(dir.path("in/b.csv"), b).unwrap();
    let yaml = format!(
        "{}{}",
        csv_in(&dir.path("in/"), ""),
        jsonl_out(&dir.path("out_"))
    );
    let total = (a.len() + b.len()) as u64;
    assert_eq!(expected_by_progress(&yaml).await, (None, Some(total)));
    let s = run(&yaml).await.unwrap();
    assert_eq!(
        s.bytes_read, total,
        "the read counts what the listing sized"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_written_are_the_files_as_stored() {
    let (db, client) = postgres_db().await;
    let dir = TempDir::new();
    client
        .batch_execute(
            "CREATE TABLE src AS SELECT g AS id, repeat('x', g % 50) AS note FROM generate_series(1, 5000) g",
        )
        .await
        .unwrap();
    for (name, rest) in [
        ("plain_", "file_ext: csv\n  formatter: {type: csv}"),
        (
            "gz_",
            "file_ext: csv.gz\n  encoders: [{type: gzip}]\n  formatter: {type: csv}",
        ),
        ("pq_", "file_ext: parquet\n  formatter: {type: parquet}"),
    ] {
        let s = run(&format!(
            "{}\nout:\n  type: file\n  path_prefix: {}\n  {rest}\n",
            pg_in(&db.name, "table: src"),
            dir.path(name)
        ))
        .await
        .unwrap();
        let ext = rest.split_whitespace().nth(1).unwrap();
        let stored = std::fs::metadata(dir.path(&format!("{name}000.00.{ext}")))
            .unwrap()
            .len();
        assert_eq!(s.bytes_written, stored, "{name}");
    }
}

/// Embulk's `json` parser: values in a stream (several on a line, one over two lines), the
/// whole object as `record` by default, arrays flattened on request, a `root` pointer,
/// listed columns, and what is not an object skipped or stopping the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_parser_reads_a_stream_of_values() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path("in")).unwrap();
    std::fs::write(
        dir.path("in/a.json"),
        "{\"id\": 1, \"v\": \"a\"} {\"id\": 2,\n  \"v\": \"b\"}\n[{\"id\": 3, \"v\": \"c\"}, {\"id\": 4}]\n\"just a string\"\n",
    )
    .unwrap();
    let json_in = |prefix: &str, extra: &str| {
        format!("in:\n  type: file\n  path_prefix: {prefix}\n  parser:\n    type: json\n{extra}")
    };
    let read = |name: &str| std::fs::read_to_string(dir.path(name)).unwrap();

    let s = run(&format!(
        "{}{}",
        json_in(&dir.path("in/a"), ""),
        jsonl_out(&dir.path("whole_"))
    ))
    .await
    .unwrap();
    assert_eq!((s.rows_read, s.rows_written, s.rows_skipped), (4, 2, 2));
    assert!(
        s.skipped_reasons[0].ends_with("a.json:3: not a JSON object"),
        "{:?}",
        s.skipped_reasons
    );
    assert_eq!(
        read("whole_000.00.jsonl"),
        "{\"record\":{\"id\":1,\"v\":\"a\"}}\n{\"record\":{\"id\":2,\"v\":\"b\"}}\n"
    );

    let columns = "    flatten_json_array: true\n    columns:\n      - {name: id, type: long}\n      - {name: v, type: string}\n";
    let s = run(&format!(
        "{}{}",
        json_in(&dir.path("in/a"), columns),
        jsonl_out(&dir.path("flat_"))
    ))
    .await
    .unwrap();
    assert_eq!((s.rows_read, s.rows_written, s.rows_skipped), (5, 4, 1));
    assert_eq!(
        read("flat_000.00.jsonl"),
        "{\"id\":1,\"v\":\"a\"}\n{\"id\":2,\"v\":\"b\"}\n{\"id\":3,\"v\":\"c\"}\n{\"id\":4,\"v\":null}\n"
    );

    std::fs::write(
        dir.path("in/b.json"),
        "{\"data\": {\"items\": [{\"id\": 7}, {\"id\": 8}]}}\n{\"other\": 1}\n",
    )
    .unwrap();
    let rooted = "    root: /data/items\n    flatten_json_array: true\n    columns:\n      - {name: id, type: long}\n";
    let s = run(&format!(
        "{}{}",
        json_in(&dir.path("in/b"), rooted),
        jsonl_out(&dir.path("root_"))
    ))
    .await
    .unwrap();
    assert_eq!((s.rows_written, s.rows_skipped), (2, 1));
    assert!(
        s.skipped_reasons[0].ends_with("b.json:2: nothing at root /data/items"),
        "{:?}",
        s.skipped_reasons
    );
    assert_eq!(read("root_000.00.jsonl"), "{\"id\":7}\n{\"id\":8}\n");

    std::fs::write(dir.path("in/c.json"), "{\"id\": 1} {\"id\": ").unwrap();
    let s = run(&format!(
        "{}{}",
        json_in(&dir.path("in/c"), ""),
        jsonl_out(&dir.path("cut_"))
    ))
    .await
    .unwrap();
    assert_eq!((s.rows_written, s.rows_skipped), (1, 1));
    let err = run(&format!(
        "{}{}",
        json_in(&dir.path("in/c"), "    stop_on_invalid_record: true\n"),
        jsonl_out(&dir.path("stop_"))
    ))
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("c.json:2: not JSON"), "{err:#}");
}
