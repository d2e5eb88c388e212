//! `out: {type: stdout}` prints what Embulk's `StdoutOutputPlugin` prints: one line per
//! record, values joined by `,` unquoted, NULL as nothing, timestamps as
//! `%Y-%m-%d %H:%M:%S.%6N %z` in the output's `timezone`.

use crate::common::{TempDir, run};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use hakobu_core::config::{Config, OutputConfig};
use hakobu_engine::connectors::stdout::StdoutWriter;
use hakobu_engine::shared::stats::ByteCounter;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A sink the test reads back after the writer is done with it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stdout_section(yaml: &str) -> hakobu_core::config::StdoutOutput {
    let config = Config::from_yaml(&format!(
        "in:\n  type: file\n  path_prefix: /x\n  parser: {{type: csv, columns: [{{name: a, type: long}}]}}\nout:\n{yaml}"
    ))
    .unwrap();
    match config.out {
        OutputConfig::Stdout(s) => s,
        other => panic!("parsed as {other:?}"),
    }
}

async fn print(out_yaml: &str) -> String {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(1), None])),
        Arc::new(StringArray::from(vec![Some("a, \"b\""), None])),
        Arc::new(Float64Array::from(vec![Some(1.0), Some(2.5)])),
        Arc::new(BooleanArray::from(vec![Some(true), None])),
        // 2015-01-27 19:23:49.123456 UTC
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_422_386_629_123_456), None])
                .with_timezone("UTC"),
        ),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let sink = Captured::default();
    let written = ByteCounter::default();
    let mut w = StdoutWriter::to(
        &stdout_section(out_yaml),
        schema,
        Box::new(sink.clone()),
        written.clone(),
    )
    .unwrap();
    w.write(batch).await.unwrap();
    w.commit().await.unwrap();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        written.get(),
        text.len() as u64,
        "the bytes printed are counted"
    );
    text
}

#[tokio::test]
async fn stdout_prints_records_as_embulk_does() {
    assert_eq!(
        print("  type: stdout\n").await,
        "1,a, \"b\",1.0,true,2015-01-27 19:23:49.123456 +0000\n,,2.5,,\n"
    );
    // The zone, as an IANA name or as an offset; the names line on request.
    assert_eq!(
        print("  type: stdout\n  timezone: Asia/Tokyo\n  prints_column_names: true\n").await,
        "id,name,price,ok,at\n1,a, \"b\",1.0,true,2015-01-28 04:23:49.123456 +0900\n,,2.5,,\n"
    );
    assert_eq!(
        print("  type: stdout\n  default_timezone: '-05:00'\n").await,
        "1,a, \"b\",1.0,true,2015-01-27 14:23:49.123456 -0500\n,,2.5,,\n"
    );
}

#[tokio::test]
async fn a_config_runs_to_stdout_and_a_typo_is_named() {
    let dir = TempDir::new();
    std::fs::write(dir.path("a.csv"), "1,x\n2,\n").unwrap();
    let s = run(&format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser: {{type: csv, columns: [{{name: id, type: long}}, {{name: v, type: string}}]}}\nout: {{type: stdout}}\n",
        dir.path("a.csv")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 2);
    let err = Config::from_yaml(
        "in:\n  type: file\n  path_prefix: /x\n  parser: {type: csv, columns: [{name: a, type: long}]}\nout: {type: stdout, prints_column_name: true}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("did you mean `prints_column_names`"), "{err}");
}
