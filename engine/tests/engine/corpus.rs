//! Real Embulk configs from public repositories (`tests/fixtures/embulk-corpus/`, each
//! with its source and what was adapted at its top): each must parse and import into a
//! job, or fail with the reason listed in [`EXPECTED`], which is what Hakobu means to
//! refuse (a plugin it does not have, a key a job cannot express). A config that starts
//! failing, or fails for another reason, fails this test; so does one that starts
//! passing (its line here should then say so).

use hakobu_core::config::Config;
use hakobu_core::job::import::settings_from_config;
use std::path::Path;

/// What happens to a config of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Parses, and imports into a job.
    Imports,
    /// Parses (the runner runs it), but a job cannot express it: the import's error
    /// contains this text.
    RunsButImportRefuses(&'static str),
    /// Refused by the parser with an error containing this text.
    Refused(&'static str),
}

use Outcome::*;

const EXPECTED: &[(&str, Outcome)] = &[
    // Jobs cannot yet hold the CSV parser's options, even at their default values.
    (
        "01_csv_to_mysql_merge.yml",
        RunsButImportRefuses(PARSER_OPTIONS),
    ),
    (
        "02_csv_timestamp_format_filter_to_mysql.yml",
        Refused("unknown filter type \"timestamp_format\""),
    ),
    // A key the file output does not have (Embulk ignores it; it belongs to the formatter).
    (
        "03_csv_to_csv_file_timestamps.yml",
        Refused("out.default_timestamp_format: unknown field"),
    ),
    (
        "04_inline_to_mysql_merge_direct.yml",
        Refused("unknown input type \"inline\""),
    ),
    (
        "05_csv_to_postgresql_replace.yml",
        RunsButImportRefuses(PARSER_OPTIONS),
    ),
    (
        "06_postgresql_query_to_excel.yml",
        Refused("unknown formatter type \"poi_excel\""),
    ),
    ("07_csv_millis_to_stdout.yml", RunsButImportRefuses(STDOUT)),
    (
        "08_csv_backslash_escape_to_stdout.yml",
        RunsButImportRefuses(STDOUT),
    ),
    (
        "09_mysql_table_env_password.yml.liquid",
        RunsButImportRefuses(STDOUT),
    ),
    (
        "10_mysql_time_table.yml.liquid",
        RunsButImportRefuses(STDOUT),
    ),
    (
        "11_liquid_date_path_gzip_csv.yml.liquid",
        RunsButImportRefuses(STDOUT),
    ),
    (
        "12_csv_typecast_filter.yml",
        Refused("unknown filter type \"typecast\""),
    ),
    (
        "13_gzip_csv_to_mysql_column_types.yml.liquid",
        RunsButImportRefuses(PARSER_OPTIONS),
    ),
    (
        "14_mysql_query_geojson.yml.liquid",
        RunsButImportRefuses(STDOUT),
    ),
    ("15_jsonl_emoji.yml", RunsButImportRefuses(STDOUT)),
    (
        "16_csv_to_postgresql_insert.yml",
        RunsButImportRefuses(PARSER_OPTIONS),
    ),
    (
        "17_mysql_to_csv_column_formats.yml",
        RunsButImportRefuses("config.in.column_options: is not supported by Hakobu jobs yet"),
    ),
    // A typo Embulk silently ignores; Hakobu refuses it and names the nearest key.
    (
        "18_mysql_incremental_datetime_legacy_option.yml",
        Refused(
            "in.default_time_zone: unknown field `default_time_zone`; did you mean `default_timezone`?",
        ),
    ),
    // Zones as UTC offsets are read as their IANA names (`Etc/GMT-9`); a job cannot
    // hold column_options yet.
    (
        "19_mysql_column_options_offset_zones.yml",
        RunsButImportRefuses("config.in.column_options: is not supported by Hakobu jobs yet"),
    ),
    (
        "20_mysql_raw_incremental_query.yml",
        RunsButImportRefuses("config.in.use_raw_query_with_incremental: is not supported"),
    ),
    ("21_postgresql_merge_keys.yml", Imports),
    (
        "22_postgresql_truncate_insert_before_load.yml",
        RunsButImportRefuses("config.out.before_load: is not supported"),
    ),
    ("23_postgresql_insert_timestamps.yml", Imports),
    // merge_rule runs (corpus_runs.rs); a job cannot hold it yet.
    (
        "24_postgresql_merge_rule.yml",
        RunsButImportRefuses("config.out.merge_rule: is not supported"),
    ),
    (
        "25_csv_tab_to_postgresql_insert.yml",
        RunsButImportRefuses(PARSER_OPTIONS),
    ),
    (
        "26_gzip_csv_to_postgresql_replace.yml",
        RunsButImportRefuses(PARSER_OPTIONS),
    ),
    // The column filter's `columns:` (reordering) is run, but a job cannot hold it.
    (
        "27_column_filter_reorder_to_stdout.yml",
        RunsButImportRefuses("config.filters[0].columns: is not supported"),
    ),
    (
        "28_csv_null_string_to_stdout.yml",
        RunsButImportRefuses(STDOUT),
    ),
    ("29_gzip_csv_to_stdout.yml", RunsButImportRefuses(STDOUT)),
    (
        "30_column_add_columns_typecast_calcite.yml",
        Refused("unknown filter type \"typecast\""),
    ),
    (
        "31_csv_tokyo_dates_to_csv_file.yml",
        RunsButImportRefuses("config.exec.min_output_tasks: jobs choose their own parallelism"),
    ),
    (
        "32_ruby_proc_typecast_number_with_comma.yml",
        Refused("unknown filter type \"ruby_proc\""),
    ),
    // embulk-input-jdbc has no `format` in column_options (Embulk ignores the key; the
    // author meant timestamp_format): refused, naming the keys there are.
    (
        "33_postgresql_json_column_options_both_ways.yml",
        Refused("in.column_options.pg_created_at.format: unknown field `format`"),
    ),
    (
        "34_generic_jdbc_sqlite_to_stdout.yml",
        Refused("in.type: unknown input type \"jdbc\""),
    ),
    (
        "35_mysql_tinyint_as_boolean_to_stdout.yml",
        RunsButImportRefuses("config.in.column_options: is not supported"),
    ),
    ("36_json_parser_to_stdout.yml", RunsButImportRefuses(STDOUT)),
    // add_columns with `src` (a copy of a column) runs; a job's added columns are
    // constants only.
    (
        "37_postgresql_query_add_columns_truncate_insert.yml",
        RunsButImportRefuses(
            "config.filters[0].add_columns: each added column needs a type and a default value",
        ),
    ),
    (
        "38_postgresql_query_to_csv_backslash.yml",
        RunsButImportRefuses("config.out.formatter.quote_policy: is not supported"),
    ),
    (
        "39_postgresql_incremental_add_columns.yml",
        RunsButImportRefuses("config.in.select: is not supported"),
    ),
    (
        "40_command_input_none_parser.yml",
        Refused("unknown filter type \"ruby_proc\""),
    ),
    // No keys: an import is not silently given a role.
    (
        "41_csv_to_s3_endpoint_no_keys.yml",
        RunsButImportRefuses("config.out.access_key_id: no credentials given"),
    ),
];

const PARSER_OPTIONS: &str =
    "config.in.parser.allow_extra_columns: is not supported by Hakobu jobs yet";
/// What an import says of `out: {type: stdout}`, which the runner runs.
const STDOUT: &str = "config.out.type: stdout prints to the runner's terminal";

/// The environment `{{ env.* }}` reads in the Liquid configs.
fn env() -> impl Iterator<Item = (String, String)> {
    [("mysql_password".to_owned(), "pw".to_owned())].into_iter()
}

fn outcome_of(path: &Path) -> (Outcome, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let text = if path.to_string_lossy().ends_with(".liquid") {
        match hakobu_engine::template::render(&text, path.parent().unwrap(), env()) {
            Ok(t) => t,
            Err(e) => return (Refused(""), format!("liquid: {e:#}")),
        }
    } else {
        text
    };
    match Config::from_yaml(&text) {
        Err(e) => (Refused(""), e.to_string()),
        Ok(config) => match settings_from_config(&config) {
            Ok(_) => (Imports, String::new()),
            Err(e) => (RunsButImportRefuses(""), e.to_string()),
        },
    }
}

fn matches(expected: Outcome, got: Outcome, detail: &str) -> bool {
    match (expected, got) {
        (Imports, Imports) => true,
        (RunsButImportRefuses(want), RunsButImportRefuses(_)) | (Refused(want), Refused(_)) => {
            detail.contains(want)
        }
        _ => false,
    }
}

#[test]
fn every_config_of_the_corpus_imports_or_fails_for_its_listed_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embulk-corpus");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yml.liquid"))
        .filter(|n| !n.starts_with('_'))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "the corpus has {} configs", names.len());
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    let (mut imports, mut runs) = (0, 0);
    for name in &names {
        let (got, detail) = outcome_of(&dir.join(name));
        match got {
            Imports => {
                imports += 1;
                runs += 1;
            }
            RunsButImportRefuses(_) => runs += 1,
            Refused(_) => {}
        }
        report.push(format!("{name}: {got:?} {detail}"));
        let expected = EXPECTED.iter().find(|(n, _)| n == name).map(|(_, o)| *o);
        match expected {
            Some(e) if matches(e, got, &detail) => {}
            _ => wrong.push(format!(
                "{name}: expected {expected:?}, got {got:?}: {detail}"
            )),
        }
    }
    println!(
        "corpus: {} configs, {runs} parse (the runner runs them), {imports} import into jobs\n{}",
        names.len(),
        report.join("\n")
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
