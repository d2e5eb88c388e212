//! The job wizard, for a new job (`/jobs/new`) and for changing one (`/jobs/:id/edit`):
//! 1 source -> 2 preview and columns -> 3 destination -> 4 run settings, variables, checks,
//! notifications and (for a new job) schedules -> 5 review and save.
//!
//! Each step checks its part with `core`'s `JobSettings::validate`, the function the server
//! runs, before moving on; errors the server finds on save (a table that does not exist, a
//! cast the column cannot take) send the user back to the step that has the field.

use crate::api::{self, ApiError};
use crate::components::{
    Empty, FieldError as FieldMessage, FormProblem, LoadError, Loading, RowError, checkbox,
    row_input, row_select,
};
use crate::forms::{Form, split_list};
use crate::i18n::{
    Key, connection_kind_name, fill, load_mode_texts, tr, translate_message, use_lang,
};
use crate::session::editable_teams;
use crate::widgets::notification_rules::{RuleSet, RulesEditor, save_rules};
use crate::widgets::schedule_form::{
    ScheduleDraft, ScheduleFields, new_draft, schedule_text, upcoming,
};
use hakobu_core::api::connections::{ConnectionView, PreviewRequest, PreviewResponse};
use hakobu_core::api::jobs::{CreateJobRequest, JobView, UpdateJobRequest, validate_job_text};
use hakobu_core::api::notifications::RuleView;
use hakobu_core::api::org::TeamView;
use hakobu_core::api::schedules::ScheduleRequest;
use hakobu_core::authz::TeamRole;
use hakobu_core::config::{ColumnType, Mode};
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::{ConnectionId, JobId, TeamId};
use hakobu_core::job::{
    ColumnChange, CompileConnection, ConnectionInfo, DestinationSettings, FileColumn,
    FileDestination, FileFormat, FileSource, JobSettings, MaskMethod, MaskRule, OverlapPolicy,
    Resources, RetryPolicy, SourceSettings, TableRef,
    checks::{CheckOperator, DataCheck, OnCheckFailure},
    compile,
};
use hakobu_core::validation::{FieldError, FieldErrors};
use hakobu_core::variables::{
    Offset, OffsetDirection, OffsetUnit, RunContext, SqlUse, TimeBase, Variable, VariableValue,
    resolve_local,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::{Map, Value};

const STEPS: [Key; 5] = [
    Key::StepSource,
    Key::StepColumns,
    Key::StepDestination,
    Key::StepRunSettings,
    Key::StepReview,
];

/// Where rows come from, as the first step offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceMode {
    Table,
    Query,
    Files,
}

/// One source column and what happens to it on the way.
#[derive(Debug, Clone)]
struct ColumnPlan {
    name: String,
    type_: String,
    keep: RwSignal<bool>,
    rename: RwSignal<String>,
    cast: RwSignal<String>,
    mask: RwSignal<String>,
}

/// A column added with the same value in every row.
#[derive(Debug, Clone, Copy)]
struct AddedColumn {
    key: u64,
    name: RwSignal<String>,
    type_: RwSignal<String>,
    value: RwSignal<String>,
}

/// A column of a file source.
#[derive(Debug, Clone, Copy)]
struct FileColumnRow {
    key: u64,
    name: RwSignal<String>,
    type_: RwSignal<String>,
}

/// A data check as typed.
#[derive(Debug, Clone, Copy)]
struct CheckRow {
    key: u64,
    name: RwSignal<String>,
    connection: RwSignal<Option<ConnectionId>>,
    sql: RwSignal<String>,
    operator: RwSignal<String>,
    expected: RwSignal<String>,
    null_passes: RwSignal<bool>,
    warn_only: RwSignal<bool>,
}

impl CheckRow {
    fn new(key: u64, connection: Option<ConnectionId>) -> Self {
        CheckRow {
            key,
            name: text(""),
            connection: RwSignal::new(connection),
            sql: text(""),
            operator: text("="),
            expected: text("0"),
            null_passes: RwSignal::new(false),
            warn_only: RwSignal::new(false),
        }
    }

    fn from_check(key: u64, c: &DataCheck) -> Self {
        CheckRow {
            key,
            name: text(&c.name),
            connection: RwSignal::new(Some(c.connection_id)),
            sql: text(&c.sql),
            operator: text(c.operator.as_str()),
            expected: text(&c.expected),
            null_passes: RwSignal::new(c.null_passes),
            warn_only: RwSignal::new(c.on_failure == OnCheckFailure::Warn),
        }
    }
}

/// A `$name$` variable as typed. Every kind's inputs are kept, so switching the kind back
/// and forth loses nothing.
#[derive(Debug, Clone, Copy)]
struct VariableRow {
    key: u64,
    name: RwSignal<String>,
    /// `string`, `timestamp` or `query`.
    kind: RwSignal<String>,
    in_sql: RwSignal<SqlUse>,
    value: RwSignal<String>,
    base: RwSignal<TimeBase>,
    quantity: RwSignal<String>,
    unit: RwSignal<OffsetUnit>,
    direction: RwSignal<OffsetDirection>,
    format: RwSignal<String>,
    timezone: RwSignal<String>,
    connection: RwSignal<Option<ConnectionId>>,
    sql: RwSignal<String>,
    timeout: RwSignal<String>,
}

impl VariableRow {
    fn new(key: u64, timezone: &str) -> Self {
        VariableRow {
            key,
            name: text(""),
            kind: text("timestamp"),
            in_sql: RwSignal::new(SqlUse::Literal),
            value: text(""),
            base: RwSignal::new(TimeBase::ScheduledTime),
            quantity: text("1"),
            unit: RwSignal::new(OffsetUnit::Day),
            direction: RwSignal::new(OffsetDirection::Ago),
            format: text("%Y-%m-%d"),
            timezone: text(timezone),
            connection: RwSignal::new(None),
            sql: text(""),
            timeout: text("30"),
        }
    }

    fn from_variable(key: u64, v: &Variable, timezone: &str) -> Self {
        let row = VariableRow::new(key, timezone);
        row.name.set(v.name.clone());
        row.in_sql.set(v.in_sql);
        match &v.value {
            VariableValue::String { value } => {
                row.kind.set("string".into());
                row.value.set(value.clone());
            }
            VariableValue::Timestamp {
                base,
                offset,
                format,
                timezone,
            } => {
                row.kind.set("timestamp".into());
                row.base.set(*base);
                match offset {
                    Some(o) => {
                        row.quantity.set(o.quantity.to_string());
                        row.unit.set(o.unit);
                        row.direction.set(o.direction);
                    }
                    None => row.quantity.set("0".into()),
                }
                row.format.set(format.clone());
                row.timezone.set(timezone.clone());
            }
            VariableValue::Query {
                connection_id,
                sql,
                timeout_seconds,
            } => {
                row.kind.set("query".into());
                row.connection.set(Some(*connection_id));
                row.sql.set(sql.clone());
                row.timeout.set(timeout_seconds.to_string());
            }
        }
        row
    }

    /// The variable as typed; a query without a connection is reported and left out.
    fn variable(&self, index: usize, errors: &mut FieldErrors) -> Option<Variable> {
        let value = match self.kind.get_untracked().as_str() {
            "string" => VariableValue::String {
                value: self.value.get_untracked(),
            },
            "query" => {
                let Some(connection_id) = self.connection.get_untracked() else {
                    errors.push(
                        format!("settings.variables[{index}].value.connection_id"),
                        "is required",
                    );
                    return None;
                };
                VariableValue::Query {
                    connection_id,
                    sql: self.sql.get_untracked(),
                    // Not a number: 0 is out of range, so core names the field.
                    timeout_seconds: self.timeout.get_untracked().trim().parse().unwrap_or(0),
                }
            }
            _ => {
                let quantity = self.quantity.get_untracked();
                let quantity = quantity.trim();
                let offset = match quantity {
                    "" | "0" => None,
                    // Not a number: beyond the limit, so core names the field.
                    q => Some(Offset {
                        quantity: q.parse().unwrap_or(u32::MAX),
                        unit: self.unit.get_untracked(),
                        direction: self.direction.get_untracked(),
                    }),
                };
                VariableValue::Timestamp {
                    base: self.base.get_untracked(),
                    offset,
                    format: self.format.get_untracked(),
                    timezone: self.timezone.get_untracked().trim().to_owned(),
                }
            }
        };
        Some(Variable {
            name: self.name.get_untracked().trim().to_owned(),
            value,
            in_sql: self.in_sql.get_untracked(),
        })
    }
}

/// Everything typed into the wizard.
#[derive(Clone, Copy)]
struct Wizard {
    /// The wizard's owner: rows and column plans are created under it, so they live as
    /// long as the wizard, not as long as the step that created them.
    owner: StoredValue<Owner>,
    step: RwSignal<usize>,
    reached: RwSignal<usize>,
    next_key: StoredValue<u64>,
    // 1: source
    source: RwSignal<Option<ConnectionId>>,
    source_mode: RwSignal<SourceMode>,
    source_schema: RwSignal<String>,
    source_table: RwSignal<String>,
    source_query: RwSignal<String>,
    source_filter: RwSignal<String>,
    incremental: RwSignal<bool>,
    incremental_columns: StoredValue<Vec<String>>,
    file_prefix: RwSignal<String>,
    file_pattern: RwSignal<String>,
    file_format: RwSignal<FileFormat>,
    file_gzip: RwSignal<bool>,
    file_header: RwSignal<bool>,
    file_delimiter: RwSignal<String>,
    file_columns: RwSignal<Vec<FileColumnRow>>,
    // 2: columns
    plans: RwSignal<Vec<ColumnPlan>>,
    /// Changes and masks of a saved job not (yet) matched to previewed columns; kept as
    /// they are until the preview shows the columns.
    kept_changes: RwSignal<Vec<ColumnChange>>,
    kept_masks: RwSignal<Vec<MaskRule>>,
    added: RwSignal<Vec<AddedColumn>>,
    // 3: destination
    destination: RwSignal<Option<ConnectionId>>,
    dest_schema: RwSignal<String>,
    dest_table: RwSignal<String>,
    mode: RwSignal<Mode>,
    merge_keys: RwSignal<String>,
    dest_prefix: RwSignal<String>,
    dest_format: RwSignal<FileFormat>,
    dest_gzip: RwSignal<bool>,
    dest_header: RwSignal<bool>,
    dest_delimiter: RwSignal<String>,
    // 4: run settings
    timeout: RwSignal<String>,
    retries: RwSignal<String>,
    backoff: RwSignal<String>,
    overlap: RwSignal<OverlapPolicy>,
    resources: StoredValue<Resources>,
    checks: RwSignal<Vec<CheckRow>>,
    variables: RwSignal<Vec<VariableRow>>,
    /// The job's notification rules as typed (the same editor as the job page's).
    rules: RuleSet,
    /// Schedules to create with a new job (an existing job's are on its page).
    schedules: RwSignal<Vec<ScheduleDraft>>,
    adds_schedules: bool,
    // 5: the job itself
    name: RwSignal<String>,
    description: RwSignal<String>,
    team: RwSignal<Option<TeamId>>,
}

fn text(s: &str) -> RwSignal<String> {
    RwSignal::new(s.to_owned())
}

impl Wizard {
    /// What `core` finds wrong with the schedules not saved yet, at
    /// `schedules[i].settings.*` (untracked: read when a step is checked).
    fn schedule_errors(&self) -> FieldErrors {
        let mut errors = FieldErrors::default();
        for (i, draft) in self.schedules.get_untracked().iter().enumerate() {
            if draft.saved.get_untracked() {
                continue;
            }
            let request = ScheduleRequest {
                settings: draft.settings_untracked(),
                enabled: true,
            };
            if let Err(e) = request
                .settings
                .validate(&format!("schedules[{i}].settings."))
            {
                errors.0.extend(e.0);
            }
        }
        errors
    }

    fn new(job: Option<&JobView>, rules: &[RuleView], team: Option<TeamId>) -> Self {
        let settings = job.and_then(|j| j.settings.as_ref());
        let s = settings.map(|s| &s.source);
        let d = settings.map(|s| &s.destination);
        let files = s.and_then(|s| s.files.as_ref());
        let dfiles = d.and_then(|d| d.files.as_ref());
        let source_mode = match s {
            Some(s) if s.query.is_some() => SourceMode::Query,
            Some(s) if s.files.is_some() => SourceMode::Files,
            _ => SourceMode::Table,
        };
        let w = Wizard {
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            step: RwSignal::new(1),
            reached: RwSignal::new(if job.is_some() { 5 } else { 1 }),
            next_key: StoredValue::new(0),
            source: RwSignal::new(s.map(|s| s.connection_id)),
            source_mode: RwSignal::new(source_mode),
            source_schema: text(
                s.and_then(|s| s.table.as_ref())
                    .and_then(|t| t.schema.as_deref())
                    .unwrap_or(""),
            ),
            source_table: text(s.and_then(|s| s.table.as_ref()).map_or("", |t| &t.name)),
            source_query: text(s.and_then(|s| s.query.as_deref()).unwrap_or("")),
            source_filter: text(s.and_then(|s| s.filter.as_deref()).unwrap_or("")),
            incremental: RwSignal::new(s.is_some_and(|s| s.incremental)),
            incremental_columns: StoredValue::new(
                s.map(|s| s.incremental_columns.clone()).unwrap_or_default(),
            ),
            file_prefix: text(files.map_or("", |f| &f.path_prefix)),
            file_pattern: text(
                files
                    .and_then(|f| f.path_match_pattern.as_deref())
                    .unwrap_or(""),
            ),
            file_format: RwSignal::new(files.map(|f| f.format).unwrap_or_default()),
            file_gzip: RwSignal::new(files.is_some_and(|f| f.gzip)),
            file_header: RwSignal::new(files.is_none_or(|f| f.header_line)),
            file_delimiter: text(files.map_or(",", |f| &f.delimiter)),
            file_columns: RwSignal::new(Vec::new()),
            plans: RwSignal::new(Vec::new()),
            kept_changes: RwSignal::new(settings.map(|s| s.columns.clone()).unwrap_or_default()),
            kept_masks: RwSignal::new(settings.map(|s| s.masks.clone()).unwrap_or_default()),
            added: RwSignal::new(Vec::new()),
            destination: RwSignal::new(d.map(|d| d.connection_id)),
            dest_schema: text(
                d.and_then(|d| d.table.as_ref())
                    .and_then(|t| t.schema.as_deref())
                    .unwrap_or(""),
            ),
            dest_table: text(d.and_then(|d| d.table.as_ref()).map_or("", |t| &t.name)),
            mode: RwSignal::new(d.map(|d| d.mode).unwrap_or(Mode::Insert)),
            merge_keys: text(&d.map(|d| d.merge_keys.join(", ")).unwrap_or_default()),
            dest_prefix: text(dfiles.map_or("", |f| &f.path_prefix)),
            dest_format: RwSignal::new(dfiles.map(|f| f.format).unwrap_or_default()),
            dest_gzip: RwSignal::new(dfiles.is_some_and(|f| f.gzip)),
            dest_header: RwSignal::new(dfiles.is_none_or(|f| f.header_line)),
            dest_delimiter: text(dfiles.map_or(",", |f| &f.delimiter)),
            timeout: text(&settings.map_or(360, |s| s.timeout_minutes).to_string()),
            retries: text(&settings.map_or(0, |s| s.retry.count).to_string()),
            backoff: text(&settings.map_or(60, |s| s.retry.backoff_seconds).to_string()),
            overlap: RwSignal::new(settings.map(|s| s.overlap).unwrap_or_default()),
            resources: StoredValue::new(settings.map(|s| s.resources).unwrap_or_default()),
            checks: RwSignal::new(Vec::new()),
            variables: RwSignal::new(Vec::new()),
            rules: RuleSet::new(rules),
            schedules: RwSignal::new(Vec::new()),
            adds_schedules: job.is_none(),
            name: text(job.map_or("", |j| &j.name)),
            description: text(job.map_or("", |j| &j.description)),
            team: RwSignal::new(job.map(|j| j.team_id).or(team)),
        };
        if let Some(settings) = settings {
            let rows = settings
                .checks
                .iter()
                .map(|c| CheckRow::from_check(w.key(), c))
                .collect();
            w.checks.set(rows);
            let zone = browser_zone();
            let rows = settings
                .variables
                .iter()
                .map(|v| VariableRow::from_variable(w.key(), v, &zone))
                .collect();
            w.variables.set(rows);
        }
        if let Some(files) = files {
            let rows = files
                .columns
                .iter()
                .map(|c| FileColumnRow {
                    key: w.key(),
                    name: text(&c.name),
                    type_: text(c.type_.as_str()),
                })
                .collect();
            w.file_columns.set(rows);
        }
        // Added constants are edited on their own rows, whatever the preview shows.
        let (added, rest): (Vec<_>, Vec<_>) = w
            .kept_changes
            .get_untracked()
            .into_iter()
            .partition(|c| matches!(c, ColumnChange::Add { .. }));
        w.kept_changes.set(rest);
        w.added.set(
            added
                .into_iter()
                .filter_map(|c| match c {
                    ColumnChange::Add {
                        column,
                        type_,
                        value,
                    } => Some(AddedColumn {
                        key: w.key(),
                        name: text(&column),
                        type_: text(type_.as_str()),
                        value: text(&match value {
                            Value::String(s) => s,
                            other => other.to_string(),
                        }),
                    }),
                    _ => None,
                })
                .collect(),
        );
        w
    }

    /// Runs `f` under the wizard's owner (see [`Wizard::owner`]).
    fn owned<T>(&self, f: impl FnOnce() -> T) -> T {
        self.owner.with_value(|o| o.with(f))
    }

    fn key(&self) -> u64 {
        let k = self.next_key.get_value();
        self.next_key.set_value(k + 1);
        k
    }

    /// Lays out the columns a preview (or the file source) shows, and carries over what a
    /// saved job does to them.
    fn load_columns(&self, columns: Vec<(String, String)>) {
        let same = self.plans.with_untracked(|p| {
            p.len() == columns.len() && p.iter().zip(&columns).all(|(a, b)| a.name == b.0)
        });
        if same {
            return;
        }
        // What the current plans do (or the saved job's changes) is re-applied by name.
        let (changes, masks) = if self.plans.with_untracked(Vec::is_empty) {
            (
                self.kept_changes.get_untracked(),
                self.kept_masks.get_untracked(),
            )
        } else {
            let (c, m) = self.plan_changes();
            (c, m)
        };
        let plans: Vec<ColumnPlan> = self.owned(|| {
            columns
                .into_iter()
                .map(|(name, type_)| ColumnPlan {
                    name,
                    type_,
                    keep: RwSignal::new(true),
                    rename: RwSignal::new(String::new()),
                    cast: RwSignal::new(String::new()),
                    mask: RwSignal::new(String::new()),
                })
                .collect()
        });
        let effective = |p: &ColumnPlan| {
            let r = p.rename.get_untracked();
            if r.trim().is_empty() {
                p.name.clone()
            } else {
                r.trim().to_owned()
            }
        };
        let mut unmatched = Vec::new();
        for change in changes {
            let matched = match &change {
                ColumnChange::Drop { column } => plans
                    .iter()
                    .find(|p| &p.name == column)
                    .map(|p| p.keep.set(false))
                    .is_some(),
                ColumnChange::Rename { column, to } => plans
                    .iter()
                    .find(|p| &p.name == column)
                    .map(|p| p.rename.set(to.clone()))
                    .is_some(),
                ColumnChange::Cast {
                    column,
                    to,
                    format: None,
                } => plans
                    .iter()
                    .find(|p| &effective(p) == column)
                    .map(|p| p.cast.set(to.as_str().to_owned()))
                    .is_some(),
                _ => false,
            };
            if !matched {
                unmatched.push(change);
            }
        }
        let mut unmatched_masks = Vec::new();
        for mask in masks {
            let plan = plans.iter().find(|p| effective(p) == mask.column);
            match (plan, mask.method) {
                (Some(p), MaskMethod::Sha256) => p.mask.set("sha256".to_owned()),
                (Some(p), MaskMethod::Partial) if mask.keep_head == 2 && mask.keep_tail == 2 => {
                    p.mask.set("partial".to_owned())
                }
                _ => unmatched_masks.push(mask),
            }
        }
        self.kept_changes.set(unmatched);
        self.kept_masks.set(unmatched_masks);
        self.plans.set(plans);
    }

    /// The column changes and masks the plans stand for, after the kept ones.
    fn plan_changes(&self) -> (Vec<ColumnChange>, Vec<MaskRule>) {
        let mut changes = self.kept_changes.get_untracked();
        let mut masks = self.kept_masks.get_untracked();
        for p in self.plans.get_untracked() {
            if !p.keep.get_untracked() {
                changes.push(ColumnChange::Drop {
                    column: p.name.clone(),
                });
                continue;
            }
            let rename = p.rename.get_untracked().trim().to_owned();
            let mut current = p.name.clone();
            if !rename.is_empty() && rename != p.name {
                changes.push(ColumnChange::Rename {
                    column: p.name.clone(),
                    to: rename.clone(),
                });
                current = rename;
            }
            if let Ok(to) = p.cast.get_untracked().parse::<ColumnType>() {
                changes.push(ColumnChange::Cast {
                    column: current.clone(),
                    to,
                    format: None,
                });
            }
            match p.mask.get_untracked().as_str() {
                "sha256" => masks.push(MaskRule {
                    column: current,
                    method: MaskMethod::Sha256,
                    keep_head: 0,
                    keep_tail: 0,
                }),
                "partial" => masks.push(MaskRule {
                    column: current,
                    method: MaskMethod::Partial,
                    keep_head: 2,
                    keep_tail: 2,
                }),
                _ => {}
            }
        }
        for a in self.added.get_untracked() {
            let type_ = a
                .type_
                .get_untracked()
                .parse()
                .unwrap_or(ColumnType::String);
            changes.push(ColumnChange::Add {
                column: a.name.get_untracked().trim().to_owned(),
                type_,
                value: constant(type_, &a.value.get_untracked()),
            });
        }
        (changes, masks)
    }

    /// The settings as typed, and the errors found building them (a missing connection).
    fn settings(&self, connections: &[ConnectionView]) -> (Option<JobSettings>, FieldErrors) {
        let mut errors = FieldErrors::default();
        let source = self.source.get_untracked();
        let destination = self.destination.get_untracked();
        if source.is_none() {
            errors.push("settings.source.connection_id", "is required");
        }
        if destination.is_none() {
            errors.push("settings.destination.connection_id", "is required");
        }
        let (Some(source), Some(destination)) = (source, destination) else {
            return (None, errors);
        };
        let kind_of = |id| connections.iter().find(|c| c.id == id).map(|c| c.kind);
        let source_kind = kind_of(source);
        let destination_kind = kind_of(destination);
        let opt = |s: RwSignal<String>| {
            let v = s.get_untracked().trim().to_owned();
            (!v.is_empty()).then_some(v)
        };
        let mode = self.source_mode.get_untracked();
        let database_source = source_kind.is_none_or(ConnectionKind::is_database);
        let (table, query, files) = if !database_source {
            (None, None, Some(self.file_source()))
        } else if mode == SourceMode::Query {
            (None, Some(self.source_query.get_untracked()), None)
        } else {
            (
                Some(TableRef {
                    schema: opt(self.source_schema),
                    name: self.source_table.get_untracked().trim().to_owned(),
                }),
                None,
                None,
            )
        };
        let (columns, masks) = self.plan_changes();
        let database_destination = destination_kind.is_none_or(ConnectionKind::is_database);
        let settings = JobSettings {
            source: SourceSettings {
                connection_id: source,
                table: table.clone(),
                query,
                filter: if table.is_some() {
                    opt(self.source_filter)
                } else {
                    None
                },
                files,
                incremental: self.incremental.get_untracked(),
                incremental_columns: if database_source {
                    self.incremental_columns.get_value()
                } else {
                    Vec::new()
                },
            },
            destination: DestinationSettings {
                connection_id: destination,
                table: database_destination.then(|| TableRef {
                    schema: opt(self.dest_schema),
                    name: self.dest_table.get_untracked().trim().to_owned(),
                }),
                mode: if database_destination {
                    self.mode.get_untracked()
                } else {
                    Mode::Insert
                },
                merge_keys: if database_destination
                    && matches!(self.mode.get_untracked(), Mode::Merge | Mode::MergeDirect)
                {
                    split_list(&self.merge_keys.get_untracked())
                } else {
                    Vec::new()
                },
                files: (!database_destination).then(|| FileDestination {
                    path_prefix: self.dest_prefix.get_untracked().trim().to_owned(),
                    format: self.dest_format.get_untracked(),
                    gzip: self.dest_gzip.get_untracked(),
                    header_line: self.dest_header.get_untracked(),
                    delimiter: self.dest_delimiter.get_untracked(),
                }),
            },
            columns,
            masks,
            resources: self.resources.get_value(),
            // Not a number: 0 is out of range on purpose, so core's validator gives its
            // usual message beside the field.
            timeout_minutes: self.timeout.get_untracked().trim().parse().unwrap_or(0),
            retry: RetryPolicy {
                count: self
                    .retries
                    .get_untracked()
                    .trim()
                    .parse()
                    .unwrap_or(u32::MAX),
                backoff_seconds: self.backoff.get_untracked().trim().parse().unwrap_or(0),
            },
            overlap: self.overlap.get_untracked(),
            checks: self.data_checks(&mut errors),
            variables: self.variable_definitions(&mut errors),
        };
        let found = settings.validate(
            source_kind.map(|kind| ConnectionInfo { kind }),
            destination_kind.map(|kind| ConnectionInfo { kind }),
        );
        errors.0.extend(
            found
                .0
                .into_iter()
                .map(|e| FieldError::new(format!("settings.{}", e.field), e.message)),
        );
        // A database source needs a table to preview and to read.
        (Some(settings), errors)
    }

    /// The data checks as typed; a check without a connection is reported and left out.
    fn data_checks(&self, errors: &mut FieldErrors) -> Vec<DataCheck> {
        let mut out = Vec::new();
        for (i, row) in self.checks.get_untracked().iter().enumerate() {
            let Some(connection_id) = row.connection.get_untracked() else {
                errors.push(format!("settings.checks[{i}].connection_id"), "is required");
                continue;
            };
            out.push(DataCheck {
                name: row.name.get_untracked().trim().to_owned(),
                connection_id,
                sql: row.sql.get_untracked(),
                operator: serde_json::from_value(Value::String(row.operator.get_untracked()))
                    .unwrap_or(CheckOperator::Eq),
                expected: row.expected.get_untracked().trim().to_owned(),
                null_passes: row.null_passes.get_untracked(),
                on_failure: if row.warn_only.get_untracked() {
                    OnCheckFailure::Warn
                } else {
                    OnCheckFailure::Fail
                },
            });
        }
        out
    }

    fn variable_definitions(&self, errors: &mut FieldErrors) -> Vec<Variable> {
        self.variables
            .get_untracked()
            .iter()
            .enumerate()
            .filter_map(|(i, row)| row.variable(i, errors))
            .collect()
    }

    fn file_source(&self) -> FileSource {
        FileSource {
            path_prefix: self.file_prefix.get_untracked().trim().to_owned(),
            path_match_pattern: {
                let p = self.file_pattern.get_untracked();
                (!p.trim().is_empty()).then_some(p)
            },
            format: self.file_format.get_untracked(),
            gzip: self.file_gzip.get_untracked(),
            header_line: self.file_header.get_untracked(),
            delimiter: self.file_delimiter.get_untracked(),
            columns: self
                .file_columns
                .get_untracked()
                .iter()
                .map(|c| FileColumn {
                    name: c.name.get_untracked().trim().to_owned(),
                    type_: c
                        .type_
                        .get_untracked()
                        .parse()
                        .unwrap_or(ColumnType::String),
                    format: None,
                })
                .collect(),
        }
    }
}

/// A constant typed as text, as the JSON value its type takes; text that does not fit
/// stays text, so the validator says what is expected.
fn constant(type_: ColumnType, raw: &str) -> Value {
    let t = raw.trim();
    match type_ {
        ColumnType::Boolean => match t {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        },
        ColumnType::Long => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(raw.to_owned())),
        ColumnType::Double => t
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .unwrap_or(Value::String(raw.to_owned())),
        ColumnType::Json => serde_json::from_str(t).unwrap_or(Value::String(raw.to_owned())),
        _ => Value::String(raw.to_owned()),
    }
}

/// The browser's IANA time zone, the default of a new timestamp variable.
fn browser_zone() -> String {
    crate::format::time_zone(crate::i18n::Lang::En).0
}

/// An error about a `$name$` defined later (in step 4): earlier steps let it pass, so a
/// name can be used before it is defined; step 4 shows it where it is used.
fn is_unknown_variable(message: &str) -> bool {
    message.starts_with("unknown variable $")
}

/// What a variable would be for a run due now (built-ins, text and timestamps; a query's
/// value is known only when a run starts).
fn example_value(variables: &[Variable], name: &str) -> Option<String> {
    let now = chrono::Utc::now();
    let run = RunContext {
        run_id: "00000000-0000-0000-0000-000000000000",
        job_name: "",
        scheduled_time: now,
        start_time: now,
    };
    resolve_local(variables, &run, &Default::default())
        .ok()?
        .get(name)
        .map(str::to_owned)
}

/// The step (1 to 5) that holds the input of an error's field.
fn step_of(path: &str) -> usize {
    let p = path.strip_prefix("settings.").unwrap_or(path);
    if p.starts_with("source") {
        1
    } else if p.starts_with("columns") || p.starts_with("masks") {
        2
    } else if p.starts_with("destination") {
        3
    } else if p.starts_with("timeout")
        || p.starts_with("retry")
        || p.starts_with("resources")
        || p.starts_with("overlap")
        || p.starts_with("checks")
        || p.starts_with("variables")
        || p.starts_with("rules")
        || p.starts_with("schedules")
    {
        4
    } else {
        5
    }
}

/// `/jobs/new` and `/jobs/:id/edit`.
#[component]
pub fn JobWizardPage() -> impl IntoView {
    crate::components::page_title(Key::JobWizardTitle);
    let params = use_params_map();
    let job_id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<JobId>().ok()));
    let job = LocalResource::new(move || {
        let id = job_id();
        async move {
            match id {
                Some(id) => api::job(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let rules = LocalResource::new(move || {
        let id = job_id();
        async move {
            match id {
                Some(id) => api::job_rules(id).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let connections = LocalResource::new(api::connections);
    let teams = LocalResource::new(api::teams);
    move || {
        let (Some(j), Some(r), Some(c), Some(t)) =
            (job.get(), rules.get(), connections.get(), teams.get())
        else {
            return view! { <div class="page"><Loading/></div> }.into_any();
        };
        let loaded = j.and_then(|j| r.and_then(|r| c.and_then(|c| t.map(|t| (j, r, c, t)))));
        match loaded {
            Err(e) => view! {
                <div class="page">
                    <LoadError error=e retry=move || { job.refetch(); rules.refetch(); connections.refetch(); teams.refetch(); }/>
                </div>
            }
            .into_any(),
            Ok((Some(j), _, _, _)) if j.settings.is_none() || j.your_role < TeamRole::Editor => view! {
                <div class="page">
                    <h1>{j.name.clone()}</h1>
                    <p class="not-allowed">{tr(Key::OnlyEditorsChangeJobs)}</p>
                </div>
            }
            .into_any(),
            Ok((job, rules, connections, teams)) => {
                view! { <JobWizard job rules connections teams/> }.into_any()
            }
        }
    }
}

#[component]
fn JobWizard(
    job: Option<JobView>,
    rules: Vec<RuleView>,
    connections: Vec<ConnectionView>,
    teams: Vec<TeamView>,
) -> impl IntoView {
    let lang = use_lang();
    let navigate = use_navigate();
    let editable = editable_teams(&teams);
    let w = Wizard::new(job.as_ref(), &rules, editable.first().map(|t| t.id));
    let job_id = job.as_ref().map(|j| j.id);
    // Set once the job exists: a rule refused after the job was created is fixed and saved
    // as a change of that job, not as a second new job.
    let saved_id = RwSignal::new(job_id);
    let form = Form::new(
        "job",
        &[
            "name",
            "description",
            "team_id",
            "settings",
            "rules",
            "schedules",
        ],
    );
    let usable: Vec<ConnectionView> = connections
        .into_iter()
        .filter(|c| c.your_role >= TeamRole::Operator)
        .collect();
    let conns = StoredValue::new(usable);
    let editable = StoredValue::new(editable);

    if conns.with_value(Vec::is_empty) {
        return view! {
            <div class="page">
                <header class="page-header"><h1>{tr(Key::NewJob)}</h1></header>
                <Empty title=Key::NoConnectionsForJobTitle body=Key::NoConnectionsForJobBody/>
                <p><A href="/connections/new" attr:class="button primary">{tr(Key::NewConnection)}</A></p>
            </div>
        }
        .into_any();
    }

    // Checks the current step; moves on only when its fields are fine.
    let check_step = move |step: usize| -> bool {
        let (_, mut errors) = conns.with_value(|c| w.settings(c));
        errors.0.extend(w.rules.requests().1.0);
        errors.0.extend(w.schedule_errors().0);
        if step == 5 {
            let mut text = FieldErrors::default();
            validate_job_text(
                &mut text,
                Some(w.name.get_untracked().trim()),
                Some(&w.description.get_untracked()),
                None,
            );
            if w.team.get_untracked().is_none() {
                text.push("team_id", "is required");
            }
            errors.0.extend(text.0);
        }
        let at_step: Vec<FieldError> = errors
            .0
            .into_iter()
            .filter(|e| match step {
                5 => true,
                4 => step_of(&e.field) == 4 || is_unknown_variable(&e.message),
                _ => step_of(&e.field) == step && !is_unknown_variable(&e.message),
            })
            .collect();
        match at_step.first() {
            None => {
                form.show(Vec::new());
                true
            }
            Some(first) => {
                let s = step_of(&first.field);
                w.step.set(s);
                form.invalid(FieldErrors(at_step));
                false
            }
        }
    };
    let go = move |to: usize| {
        let from = w.step.get_untracked();
        if to > from && !check_step(from) {
            return;
        }
        w.step.set(to);
        w.reached.update(|r| *r = (*r).max(to));
        crate::forms::focus("wizard-step-heading");
    };

    // Set when the job was saved but one of its new schedules was not.
    let schedule_problem = RwSignal::new(None::<(JobId, String, ScheduleFailure)>);
    let save = {
        let navigate = navigate.clone();
        move |_| {
            schedule_problem.set(None);
            if !check_step(5) {
                return;
            }
            let (Some(settings), _) = conns.with_value(|c| w.settings(c)) else {
                return;
            };
            let (rule_rows, _) = w.rules.requests();
            let drafts = w.schedules.get_untracked();
            let job_id = saved_id.get_untracked();
            let Some(team_id) = w.team.get_untracked() else {
                return;
            };
            form.start();
            let name = w.name.get_untracked().trim().to_owned();
            let description = w.description.get_untracked().trim().to_owned();
            let navigate = navigate.clone();
            spawn_local(async move {
                let result = match job_id {
                    None => {
                        api::create_job(&CreateJobRequest {
                            name,
                            description,
                            labels: Vec::new(),
                            team_id,
                            enabled: true,
                            settings,
                        })
                        .await
                    }
                    Some(id) => {
                        api::update_job(
                            id,
                            &UpdateJobRequest {
                                name: Some(name),
                                description: Some(description),
                                labels: None,
                                enabled: None,
                                settings: Some(settings),
                            },
                        )
                        .await
                    }
                };
                match result {
                    Ok(job) => {
                        saved_id.set(Some(job.id));
                        if let Err(errors) = save_rules(job.id, w.rules, rule_rows).await {
                            w.step.set(4);
                            form.invalid(errors);
                            form.problem
                                .set(Some(crate::forms::Problem::Key(Key::RulesSaveProblem)));
                            return;
                        }
                        // A schedule refused after the job exists keeps the analyst here,
                        // on step 4 with the error beside the schedule's field, rather than
                        // on the job page: what they typed is still in the form to correct,
                        // the notice says the job is saved (with a link to it), and the
                        // next save changes that job and posts only the schedules not saved
                        // yet, so nothing is created twice. On the job page they would have
                        // to type the schedule again from a message.
                        match save_schedules(job.id, &drafts).await {
                            Ok(()) => {
                                form.done();
                                navigate(&format!("/jobs/{}", job.id), Default::default());
                            }
                            Err(failure) => {
                                w.step.set(4);
                                form.invalid(failure.errors.clone());
                                schedule_problem.set(Some((job.id, job.name.clone(), failure)));
                            }
                        }
                    }
                    Err(e) => {
                        // Send the user to the step where the first field at fault is.
                        let first = e.body().and_then(|b| {
                            b.fields
                                .first()
                                .map(|f| f.field.clone())
                                .or_else(|| b.field.clone())
                        });
                        if let Some(field) = first {
                            w.step.set(step_of(&field));
                        }
                        form.fail(e);
                    }
                }
            });
        }
    };

    let title = move || {
        if saved_id.get().is_some() {
            fill(lang.get(), Key::EditJobTitle, &[("name", &w.name.get())])
        } else {
            Key::NewJob.text(lang.get()).to_owned()
        }
    };

    view! {
        <div class="page wizard">
            <header class="page-header">
                <p class="breadcrumb"><A href="/jobs">{tr(Key::NavJobs)}</A></p>
                <h1>{title}</h1>
            </header>
            <nav aria-label=move || Key::WizardSteps.text(lang.get())>
                <ol class="steps">
                    {STEPS
                        .iter()
                        .enumerate()
                        .map(|(i, key)| {
                            let n = i + 1;
                            view! {
                                <li class=move || {
                                    if w.step.get() == n { "current" } else if w.step.get() > n { "done" } else { "" }
                                }>
                                    <button
                                        type="button"
                                        class="step-button"
                                        disabled=move || { n > w.reached.get() }
                                        aria-current=move || (w.step.get() == n).then_some("step")
                                        on:click=move |_| go(n)
                                    >
                                        <span class="step-number">{n}</span>
                                        " "
                                        {tr(*key)}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </nav>
            <section class="panel">
                <h2 id="wizard-step-heading" tabindex="-1">
                    {move || fill(lang.get(), Key::StepOf, &[("n", &w.step.get().to_string()), ("step", STEPS[w.step.get() - 1].text(lang.get()))])}
                </h2>
                {move || match w.step.get() {
                    1 => view! { <SourceStep w form conns/> }.into_any(),
                    2 => view! { <ColumnsStep w form conns/> }.into_any(),
                    3 => view! { <DestinationStep w form conns/> }.into_any(),
                    4 => view! { <RunSettingsStep w form conns/> }.into_any(),
                    _ => view! { <ReviewStep w form conns teams=editable/> }.into_any(),
                }}
                {move || schedule_problem.get().map(|(id, name, failure)| view! {
                    <div class="form-problem" role="alert" data-testid="schedule-save-problem">
                        <p>{move || fill(lang.get(), Key::ScheduleSaveFailed, &[
                            ("name", &name),
                            ("n", &(failure.index + 1).to_string()),
                            ("reason", translate_message(lang.get(), None, &failure.reason).trim_end_matches('.')),
                        ])}</p>
                        <p><A href=format!("/jobs/{id}")>{tr(Key::OpenSavedJob)}</A></p>
                    </div>
                })}
                <FormProblem form/>
                <div class="button-row wizard-buttons">
                    <Show when=move || { w.step.get() > 1 }>
                        <button type="button" on:click=move |_| go(w.step.get_untracked() - 1)>{tr(Key::Back)}</button>
                    </Show>
                    {move || if w.step.get() < 5 {
                        view! {
                            <button type="button" class="primary" on:click=move |_| go(w.step.get_untracked() + 1)>{tr(Key::Next)}</button>
                        }
                        .into_any()
                    } else {
                        let save = save.clone();
                        view! {
                            <button type="button" class="primary" disabled=move || form.busy.get() on:click=save>
                                {move || if form.busy.get() { tr(Key::Working)() } else { tr(Key::SaveJob)() }}
                            </button>
                        }
                        .into_any()
                    }}
                </div>
            </section>
        </div>
    }
    .into_any()
}

/// A labelled text input bound to a wizard path, with its hint and error.
#[component]
fn PathInput(
    form: Form,
    path: &'static str,
    label: Key,
    value: RwSignal<String>,
    #[prop(optional)] hint: Option<Key>,
    #[prop(optional)] required: bool,
    #[prop(optional)] multiline: bool,
    #[prop(optional)] list: Option<String>,
) -> impl IntoView {
    let id = form.input_id(path);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = format!("{hint_id} {error_id}");
    let input = if multiline {
        view! {
            <textarea
                id=id.clone()
                rows="6"
                class="code"
                spellcheck="false"
                aria-invalid=move || form.error(path).is_some().to_string()
                aria-describedby=described.clone()
                prop:value=move || value.get()
                on:input=move |ev| {
                    form.clear(path);
                    value.set(event_target_value(&ev))
                }
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id.clone()
                type="text"
                autocomplete="off"
                list=list
                aria-invalid=move || form.error(path).is_some().to_string()
                aria-describedby=described.clone()
                prop:value=move || value.get()
                on:input=move |ev| {
                    form.clear(path);
                    value.set(event_target_value(&ev))
                }
            />
        }
        .into_any()
    };
    view! {
        <div class="field" class:invalid=move || form.error(path).is_some()>
            <label for=id>
                {tr(label)}
                {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
            </label>
            {input}
            {hint.map(|h| view! { <p class="hint" id=hint_id>{tr(h)}</p> })}
            <FieldMessage form field=path label error_id/>
        </div>
    }
}

/// A connection `<select>` for the source or the destination.
#[component]
fn ConnectionSelect(
    form: Form,
    path: &'static str,
    label: Key,
    value: RwSignal<Option<ConnectionId>>,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = form.input_id(path);
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || form.error(path).is_some()>
            <label for=id.clone()>{tr(label)}<span class="required" aria-hidden="true">" *"</span></label>
            <select
                id=id
                aria-invalid=move || form.error(path).is_some().to_string()
                aria-describedby=error_id.clone()
                on:change=move |ev| value.set(event_target_value(&ev).parse().ok())
                prop:value=move || value.get().map(|v| v.to_string()).unwrap_or_default()
            >
                <option value="">{tr(Key::ChooseConnection)}</option>
                {conns
                    .get_value()
                    .into_iter()
                    .map(|c| {
                        let id = c.id;
                        let (name, kind) = (c.name.clone(), c.kind);
                        view! {
                            <option value=id.to_string() selected=move || value.get() == Some(id)>
                                {move || format!("{name} ({})", connection_kind_name(kind).text(lang.get()))}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <FieldMessage form field=path label error_id/>
        </div>
    }
}

fn kind_of(
    conns: StoredValue<Vec<ConnectionView>>,
    id: Option<ConnectionId>,
) -> Option<ConnectionKind> {
    id.and_then(|id| conns.with_value(|c| c.iter().find(|c| c.id == id).map(|c| c.kind)))
}

fn conn_name(conns: StoredValue<Vec<ConnectionView>>, id: Option<ConnectionId>) -> String {
    id.and_then(|id| conns.with_value(|c| c.iter().find(|c| c.id == id).map(|c| c.name.clone())))
        .unwrap_or_default()
}

// --- step 1 -----------------------------------------------------------------------------

#[component]
fn SourceStep(w: Wizard, form: Form, conns: StoredValue<Vec<ConnectionView>>) -> impl IntoView {
    let kind = move || kind_of(conns, w.source.get());
    let is_db = move || kind().is_none_or(ConnectionKind::is_database);
    view! {
        <p class="hint">{tr(Key::SourceLead)}</p>
        <ConnectionSelect form path="settings.source.connection_id" label=Key::SourceConnection value=w.source conns/>
        <Show when=move || w.source.get().is_some()>
            {move || if is_db() {
                view! { <DatabaseSource w form/> }.into_any()
            } else {
                view! { <FileSourceInputs w form/> }.into_any()
            }}
        </Show>
    }
}

#[component]
fn DatabaseSource(w: Wizard, form: Form) -> impl IntoView {
    let source = w.source;
    let schemas = LocalResource::new(move || {
        let id = source.get();
        async move {
            match id {
                Some(id) => api::schemas(id).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let tables = LocalResource::new(move || {
        let id = source.get();
        let schema = w.source_schema.get();
        async move {
            match id {
                Some(id) => api::tables(id, Some(&schema)).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let mode_radio = move |mode: SourceMode, label: Key, hint: Key| {
        let id = format!("source-mode-{mode:?}").to_lowercase();
        view! {
            <div class="choice">
                <input
                    type="radio"
                    name="source-mode"
                    id=id.clone()
                    prop:checked=move || w.source_mode.get() == mode
                    on:change=move |_| w.source_mode.set(mode)
                />
                <label for=id>{tr(label)} <span class="hint">" — " {tr(hint)}</span></label>
            </div>
        }
    };
    view! {
        <fieldset class="choices">
            <legend>{tr(Key::ReadFrom)}</legend>
            {mode_radio(SourceMode::Table, Key::ReadTable, Key::ReadTableHint)}
            {mode_radio(SourceMode::Query, Key::ReadQuery, Key::ReadQueryHint)}
        </fieldset>
        <Show
            when=move || w.source_mode.get() == SourceMode::Table
            fallback=move || view! {
                <PathInput form path="settings.source.query" label=Key::SourceQuery value=w.source_query hint=Key::SourceQueryHint required=true multiline=true/>
            }
        >
            <TablePicker w form schemas tables/>
        </Show>
        <div class="field toggle">
            <label>
                <input type="checkbox" prop:checked=move || w.incremental.get() on:change=move |ev| w.incremental.set(event_target_checked(&ev))/>
                " " {tr(Key::Incremental)}
            </label>
            <p class="hint">{tr(Key::IncrementalHint)}</p>
            <FieldMessage form field="settings.source.incremental" label=Key::Incremental error_id="incremental-error".to_owned()/>
        </div>
    }
}

#[component]
fn TablePicker(
    w: Wizard,
    form: Form,
    schemas: LocalResource<Result<Vec<String>, ApiError>>,
    tables: LocalResource<Result<Vec<String>, ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let table_id = form.input_id("settings.source.table");
    let schema_id = form.input_id("settings.source.table.schema");
    let schema_list = move || schemas.get().and_then(|r| r.ok()).unwrap_or_default();
    let schema_select = move || {
        let list = schema_list();
        (!list.is_empty()).then(|| {
            let schema_id = schema_id.clone();
            view! {
                <div class="field">
                    <label for=schema_id.clone()>{tr(Key::Schema)}</label>
                    <select
                        id=schema_id
                        on:change=move |ev| {
                            w.source_schema.set(event_target_value(&ev));
                            w.source_table.set(String::new());
                        }
                        prop:value=move || w.source_schema.get()
                    >
                        <option value="">{tr(Key::DefaultSchema)}</option>
                        {list
                            .into_iter()
                            .map(|s| {
                                let (value, current) = (s.clone(), s.clone());
                                view! { <option value=value selected=move || w.source_schema.get() == current>{s}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
            }
        })
    };
    let table_input = move || match tables.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(list)) if !list.is_empty() => {
            let table_id = table_id.clone();
            let error_id = format!("{table_id}-error");
            view! {
                <div class="field" class:invalid=move || form.error("settings.source.table").is_some()>
                    <label for=table_id.clone()>{tr(Key::Table)}<span class="required" aria-hidden="true">" *"</span></label>
                    <select
                        id=table_id
                        aria-invalid=move || form.error("settings.source.table").is_some().to_string()
                        aria-describedby=error_id.clone()
                        on:change=move |ev| w.source_table.set(event_target_value(&ev))
                        prop:value=move || w.source_table.get()
                    >
                        <option value="">{tr(Key::ChooseTable)}</option>
                        {list
                            .into_iter()
                            .map(|t| {
                                let (value, current) = (t.clone(), t.clone());
                                view! { <option value=value selected=move || w.source_table.get() == current>{t}</option> }
                            })
                            .collect_view()}
                    </select>
                    <FieldMessage form field="settings.source.table" label=Key::Table error_id/>
                </div>
            }
            .into_any()
        }
        Some(result) => {
            // Discovery failed or found nothing: the name can still be typed.
            let note = match result {
                Err(e) => translate_message(lang.get_untracked(), None, &e.to_string()),
                Ok(_) => Key::NoTablesFound.text(lang.get_untracked()).to_owned(),
            };
            view! {
                <p class="hint">{note}</p>
                <PathInput form path="settings.source.table" label=Key::Table value=w.source_table required=true/>
            }
            .into_any()
        }
    };
    view! {
        {schema_select}
        {table_input}
        <PathInput form path="settings.source.filter" label=Key::SourceFilter value=w.source_filter hint=Key::SourceFilterHint/>
    }
}

fn format_select(id: String, label: Key, value: RwSignal<FileFormat>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{tr(label)}</label>
            <select
                id=id
                on:change=move |ev| value.set(match event_target_value(&ev).as_str() {
                    "jsonl" => FileFormat::Jsonl,
                    "parquet" => FileFormat::Parquet,
                    _ => FileFormat::Csv,
                })
                prop:value=move || match value.get() { FileFormat::Csv => "csv", FileFormat::Jsonl => "jsonl", FileFormat::Parquet => "parquet" }
            >
                <option value="csv">"CSV"</option>
                <option value="jsonl">"JSON Lines"</option>
                <option value="parquet">"Parquet"</option>
            </select>
        </div>
    }
}

fn type_options(selected: RwSignal<String>, with_none: Option<Key>) -> impl IntoView {
    view! {
        {with_none.map(|k| view! { <option value="">{tr(k)}</option> })}
        {ColumnType::ALL
            .iter()
            .map(|t| {
                let t = *t;
                view! { <option value=t.as_str() selected=move || selected.get() == t.as_str()>{t.as_str()}</option> }
            })
            .collect_view()}
    }
}

#[component]
fn FileSourceInputs(w: Wizard, form: Form) -> impl IntoView {
    let add_column = move |_| {
        let key = w.key();
        let row = w.owned(|| FileColumnRow {
            key,
            name: text(""),
            type_: text("string"),
        });
        w.file_columns.update(|c| c.push(row));
    };
    view! {
        <PathInput form path="settings.source.files.path_prefix" label=Key::PathPrefix value=w.file_prefix hint=Key::PathPrefixHint required=true/>
        <PathInput form path="settings.source.files.path_match_pattern" label=Key::PathPattern value=w.file_pattern hint=Key::PathPatternHint/>
        {format_select(form.input_id("settings.source.files.format"), Key::FileFormatLabel, w.file_format)}
        {checkbox(Key::Gzip, w.file_gzip)}
        {checkbox(Key::HeaderLine, w.file_header)}
        <PathInput form path="settings.source.files.delimiter" label=Key::Delimiter value=w.file_delimiter/>
        <fieldset class="columns-editor">
            <legend>{tr(Key::FileColumns)}</legend>
            <p class="hint">{tr(Key::FileColumnsHint)}</p>
            <For each=move || w.file_columns.get() key=|c| c.key children=move |c: FileColumnRow| {
                    let name_id = format!("file-col-{}-name", c.key);
                    let type_id = format!("file-col-{}-type", c.key);
                    view! {
                        <div class="row-inputs">
                            <label class="visually-hidden" for=name_id.clone()>{tr(Key::ColumnName)}</label>
                            <input id=name_id type="text" placeholder=move || tr(Key::ColumnName)() prop:value=move || c.name.get() on:input=move |ev| c.name.set(event_target_value(&ev))/>
                            <label class="visually-hidden" for=type_id.clone()>{tr(Key::ColumnTypeLabel)}</label>
                            <select id=type_id on:change=move |ev| c.type_.set(event_target_value(&ev)) prop:value=move || c.type_.get()>
                                {type_options(c.type_, None)}
                            </select>
                            <button type="button" class="link-button" on:click=move |_| w.file_columns.update(|cs| cs.retain(|x| x.key != c.key))>{tr(Key::Remove)}</button>
                        </div>
                    }
                }/>
            <FieldMessage form field="settings.source.files.columns" label=Key::FileColumns error_id="file-columns-error".to_owned()/>
            <button type="button" on:click=add_column>{tr(Key::AddColumn)}</button>
        </fieldset>
    }
}

// --- step 2 -----------------------------------------------------------------------------

#[component]
fn ColumnsStep(w: Wizard, form: Form, conns: StoredValue<Vec<ConnectionView>>) -> impl IntoView {
    let lang = use_lang();
    let is_db = kind_of(conns, w.source.get_untracked()).is_none_or(ConnectionKind::is_database);
    let preview = LocalResource::new(move || {
        let id = w.source.get_untracked();
        let mode = w.source_mode.get_untracked();
        let request = PreviewRequest {
            table: (mode == SourceMode::Table).then(|| TableRef {
                schema: Some(w.source_schema.get_untracked()).filter(|s| !s.trim().is_empty()),
                name: w.source_table.get_untracked().trim().to_owned(),
            }),
            query: (mode == SourceMode::Query).then(|| w.source_query.get_untracked()),
            limit: Some(20),
        };
        async move {
            match id {
                Some(id) if is_db => api::preview(id, &request).await.map(Some),
                _ => Ok(None),
            }
        }
    });
    // Lay out the columns once the preview (or the file source) names them.
    Effect::new(move |_| {
        if !is_db {
            let columns = w
                .file_columns
                .get_untracked()
                .iter()
                .map(|c| (c.name.get_untracked(), c.type_.get_untracked()))
                .collect();
            w.load_columns(columns);
        } else if let Some(Ok(Some(p))) = preview.get() {
            w.load_columns(
                p.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.type_.clone()))
                    .collect(),
            );
        }
    });
    let add_constant = move |_| {
        let key = w.key();
        let row = w.owned(|| AddedColumn {
            key,
            name: text(""),
            type_: text("string"),
            value: text(""),
        });
        w.added.update(|a| a.push(row));
    };
    view! {
        <p class="hint">{tr(Key::ColumnsLead)}</p>
        {move || if !is_db {
            view! { <p class="muted">{tr(Key::PreviewOnlyDatabases)}</p> }.into_any()
        } else {
            match preview.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <LoadError error=e retry=move || preview.refetch()/> }.into_any(),
                Some(Ok(None)) => ().into_any(),
                Some(Ok(Some(p))) => view! { <PreviewTable preview=p/> }.into_any(),
            }
        }}
        <h3>{tr(Key::ColumnMapping)}</h3>
        {move || {
            let plans = w.plans.get();
            if plans.is_empty() {
                return view! { <p class="muted">{tr(Key::NoColumnsYet)}</p> }.into_any();
            }
            view! {
                <div class="table-wrap">
                    <table class="mapping">
                        <thead>
                            <tr>
                                <th scope="col">{tr(Key::SourceColumn)}</th>
                                <th scope="col">{tr(Key::Keep)}</th>
                                <th scope="col">{tr(Key::RenameTo)}</th>
                                <th scope="col">{tr(Key::CastTo)}</th>
                                <th scope="col">{tr(Key::Mask)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {plans.into_iter().enumerate().map(|(i, p)| {
                                let keep_id = format!("map-{i}-keep");
                                let rename_id = format!("map-{i}-rename");
                                let cast_id = format!("map-{i}-cast");
                                let mask_id = format!("map-{i}-mask");
                                let name = p.name.clone();
                                let n1 = name.clone();
                                let n2 = name.clone();
                                let n3 = name.clone();
                                let n4 = name.clone();
                                view! {
                                    <tr data-testid="mapping-row">
                                        <th scope="row"><code>{name.clone()}</code> " " <span class="muted small">{p.type_.clone()}</span></th>
                                        <td>
                                            <label class="visually-hidden" for=keep_id.clone()>{move || fill(lang.get(), Key::KeepColumn, &[("column", &n1)])}</label>
                                            <input id=keep_id type="checkbox" prop:checked=move || p.keep.get() on:change=move |ev| p.keep.set(event_target_checked(&ev))/>
                                        </td>
                                        <td>
                                            <label class="visually-hidden" for=rename_id.clone()>{move || fill(lang.get(), Key::RenameColumn, &[("column", &n2)])}</label>
                                            <input id=rename_id type="text" disabled=move || !p.keep.get() placeholder=name.clone() prop:value=move || p.rename.get() on:input=move |ev| p.rename.set(event_target_value(&ev))/>
                                        </td>
                                        <td>
                                            <label class="visually-hidden" for=cast_id.clone()>{move || fill(lang.get(), Key::CastColumn, &[("column", &n3)])}</label>
                                            <select id=cast_id disabled=move || !p.keep.get() on:change=move |ev| p.cast.set(event_target_value(&ev)) prop:value=move || p.cast.get()>
                                                {type_options(p.cast, Some(Key::NoCast))}
                                            </select>
                                        </td>
                                        <td>
                                            <label class="visually-hidden" for=mask_id.clone()>{move || fill(lang.get(), Key::MaskColumn, &[("column", &n4)])}</label>
                                            <select id=mask_id disabled=move || !p.keep.get() on:change=move |ev| p.mask.set(event_target_value(&ev)) prop:value=move || p.mask.get()>
                                                <option value="">{tr(Key::NoMask)}</option>
                                                <option value="sha256">{tr(Key::MaskSha256)}</option>
                                                <option value="partial">{tr(Key::MaskPartial)}</option>
                                            </select>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
        {move || {
            let kept = w.kept_changes.with(Vec::len) + w.kept_masks.with(Vec::len);
            (kept > 0).then(|| view! { <p class="hint">{fill(lang.get(), Key::OtherChangesKept, &[("n", &kept.to_string())])}</p> })
        }}
        {move || form.error("settings.columns").or_else(|| form.error("settings.masks")).map(|m| view! {
            <p class="field-error" role="alert">{translate_message(lang.get(), None, &m)}</p>
        })}
        <h3>{tr(Key::AddedColumns)}</h3>
        <p class="hint">{tr(Key::AddedColumnsHint)}</p>
        <For each=move || w.added.get() key=|a| a.key children=move |a: AddedColumn| {
                let name_id = format!("add-{}-name", a.key);
                let type_id = format!("add-{}-type", a.key);
                let value_id = format!("add-{}-value", a.key);
                view! {
                    <div class="row-inputs">
                        <div class="field">
                            <label for=name_id.clone()>{tr(Key::ColumnName)}</label>
                            <input id=name_id type="text" prop:value=move || a.name.get() on:input=move |ev| a.name.set(event_target_value(&ev))/>
                        </div>
                        <div class="field">
                            <label for=type_id.clone()>{tr(Key::ColumnTypeLabel)}</label>
                            <select id=type_id on:change=move |ev| a.type_.set(event_target_value(&ev)) prop:value=move || a.type_.get()>
                                {type_options(a.type_, None)}
                            </select>
                        </div>
                        <div class="field">
                            <label for=value_id.clone()>{tr(Key::ConstantValue)}</label>
                            <input id=value_id type="text" prop:value=move || a.value.get() on:input=move |ev| a.value.set(event_target_value(&ev))/>
                        </div>
                        <button type="button" class="link-button" on:click=move |_| w.added.update(|x| x.retain(|y| y.key != a.key))>{tr(Key::Remove)}</button>
                    </div>
                }
            }/>
        <button type="button" on:click=add_constant>{tr(Key::AddConstantColumn)}</button>
    }
}

#[component]
fn PreviewTable(preview: PreviewResponse) -> impl IntoView {
    let cell = |v: &Value| match v {
        Value::Null => "∅".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    view! {
        <h3>{tr(Key::PreviewRows)}</h3>
        {if preview.rows.is_empty() {
            view! { <p class="muted">{tr(Key::PreviewEmpty)}</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap preview">
                    <table data-testid="preview">
                        <thead>
                            <tr>
                                {preview.columns.iter().map(|c| view! {
                                    <th scope="col">{c.name.clone()} <span class="muted small">" " {c.type_.clone()}</span></th>
                                }).collect_view()}
                            </tr>
                        </thead>
                        <tbody>
                            {preview.rows.iter().map(|row| view! {
                                <tr>{row.iter().map(|v| view! { <td>{cell(v)}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
}

// --- step 3 -----------------------------------------------------------------------------

#[component]
fn DestinationStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let is_db = move || kind_of(conns, w.destination.get()).is_none_or(ConnectionKind::is_database);
    let destination = w.destination;
    let tables = LocalResource::new(move || {
        let id = destination.get();
        let schema = w.dest_schema.get();
        let db = is_db();
        async move {
            match id {
                Some(id) if db => api::tables(id, Some(&schema)).await.unwrap_or_default(),
                _ => Vec::new(),
            }
        }
    });
    view! {
        <p class="hint">{tr(Key::DestinationLead)}</p>
        <ConnectionSelect form path="settings.destination.connection_id" label=Key::DestinationConnection value=w.destination conns/>
        <Show when=move || w.destination.get().is_some()>
            {move || if is_db() {
                view! {
                    <PathInput form path="settings.destination.table.schema" label=Key::Schema value=w.dest_schema hint=Key::DestinationSchemaHint/>
                    <PathInput form path="settings.destination.table" label=Key::DestinationTable value=w.dest_table hint=Key::DestinationTableHint required=true list="destination-tables".to_owned()/>
                    <datalist id="destination-tables">
                        {move || tables.get().unwrap_or_default().into_iter().map(|t| view! { <option value=t/> }).collect_view()}
                    </datalist>
                    <fieldset class="choices" aria-describedby="mode-error">
                        <legend>{tr(Key::LoadMode)}</legend>
                        {Mode::ALL.iter().map(|m| {
                            let m = *m;
                            let (label, hint) = load_mode_texts(m);
                            let id = format!("mode-{}", m.as_str());
                            view! {
                                <div class="choice">
                                    <input type="radio" name="mode" id=id.clone() value=m.as_str() prop:checked=move || w.mode.get() == m on:change=move |_| w.mode.set(m)/>
                                    <label for=id>
                                        <strong>{tr(label)}</strong> " " <code>{m.as_str()}</code>
                                        <span class="hint block">{tr(hint)}</span>
                                    </label>
                                </div>
                            }
                        }).collect_view()}
                        <FieldMessage form field="settings.destination.mode" label=Key::LoadMode error_id="mode-error".to_owned()/>
                    </fieldset>
                    <Show when=move || matches!(w.mode.get(), Mode::Merge | Mode::MergeDirect)>
                        <PathInput form path="settings.destination.merge_keys" label=Key::MergeKeys value=w.merge_keys hint=Key::MergeKeysHint/>
                    </Show>
                }
                .into_any()
            } else {
                view! {
                    <PathInput form path="settings.destination.files.path_prefix" label=Key::PathPrefix value=w.dest_prefix hint=Key::DestPathPrefixHint required=true/>
                    {format_select(form.input_id("settings.destination.files.format"), Key::FileFormatLabel, w.dest_format)}
                    {checkbox(Key::Gzip, w.dest_gzip)}
                    {checkbox(Key::WriteHeaderLine, w.dest_header)}
                    <PathInput form path="settings.destination.files.delimiter" label=Key::Delimiter value=w.dest_delimiter/>
                }
                .into_any()
            }}
        </Show>
    }
}

// --- step 4 -----------------------------------------------------------------------------

#[component]
fn RunSettingsStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let databases: Vec<(ConnectionId, String)> = conns.with_value(|c| {
        c.iter()
            .filter(|c| c.kind.is_database())
            .map(|c| (c.id, c.name.clone()))
            .collect()
    });
    let databases = StoredValue::new(databases);
    let add_check = move |_| {
        // The destination is where a check usually looks.
        let (key, destination) = (w.key(), w.destination.get_untracked());
        let row = w.owned(|| CheckRow::new(key, destination));
        w.checks.update(|c| c.push(row));
    };
    let check_rows = move || {
        w.checks
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let path = |f: &str| format!("settings.checks[{i}].{f}");
                let id = |f: &str| form.input_id(&path(f));
                let error = move |f: &'static str| {
                    let p = format!("settings.checks[{i}].{f}");
                    move || form.error(&p)
                };
                let message = move |f: &'static str, label: Key| {
                    let e = error(f);
                    move || e().map(|m| view! { <p class="field-error">{translate_message(lang.get(), Some(label.text(lang.get())), &m)}</p> })
                };
                let (name_id, conn_id, sql_id, op_id, expected_id) =
                    (id("name"), id("connection_id"), id("sql"), id("operator"), id("expected"));
                view! {
                    <fieldset class="check" data-testid="check-row">
                        <legend>{move || fill(lang.get(), Key::CheckN, &[("n", &(i + 1).to_string())])}</legend>
                        <div class="field">
                            <label for=name_id.clone()>{tr(Key::CheckName)}</label>
                            <input id=name_id type="text" placeholder=move || Key::CheckNameHint.text(lang.get()) prop:value=move || row.name.get() on:input=move |ev| row.name.set(event_target_value(&ev))/>
                            {message("name", Key::CheckName)}
                        </div>
                        <div class="field">
                            <label for=conn_id.clone()>{tr(Key::CheckConnection)}</label>
                            <select id=conn_id on:change=move |ev| row.connection.set(event_target_value(&ev).parse().ok()) prop:value=move || row.connection.get().map(|c| c.to_string()).unwrap_or_default()>
                                <option value="">{tr(Key::ChooseConnection)}</option>
                                {databases.get_value().into_iter().map(|(cid, name)| view! {
                                    <option value=cid.to_string() selected=move || row.connection.get() == Some(cid)>{name}</option>
                                }).collect_view()}
                            </select>
                            {message("connection_id", Key::CheckConnection)}
                        </div>
                        <div class="field wide">
                            <label for=sql_id.clone()>{tr(Key::CheckSql)}</label>
                            <textarea id=sql_id class="code" rows="3" spellcheck="false" placeholder="SELECT count(*) FROM orders WHERE amount < 0" prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                            {message("sql", Key::CheckSql)}
                        </div>
                        <div class="row-inputs">
                            <div class="field">
                                <label for=op_id.clone()>{tr(Key::CheckOperatorLabel)}</label>
                                <select id=op_id on:change=move |ev| row.operator.set(event_target_value(&ev)) prop:value=move || row.operator.get()>
                                    {["=", "!=", "<", "<=", ">", ">="].into_iter().map(|o| view! { <option value=o selected=move || row.operator.get() == o>{o}</option> }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for=expected_id.clone()>{tr(Key::CheckExpected)}</label>
                                <input id=expected_id type="text" prop:value=move || row.expected.get() on:input=move |ev| row.expected.set(event_target_value(&ev))/>
                                {message("expected", Key::CheckExpected)}
                            </div>
                        </div>
                        {checkbox(Key::CheckNullPasses, row.null_passes)}
                        {checkbox(Key::CheckWarnOnly, row.warn_only)}
                        <button type="button" class="link-button" on:click=move |_| w.checks.update(|c| c.retain(|x| x.key != row.key))>{tr(Key::RemoveCheck)}</button>
                    </fieldset>
                }
            })
            .collect_view()
    };
    let overlap_radio = move |policy: OverlapPolicy, label: Key| {
        let id = format!("overlap-{policy:?}").to_lowercase();
        view! {
            <div class="choice">
                <input type="radio" name="overlap" id=id.clone() prop:checked=move || w.overlap.get() == policy on:change=move |_| w.overlap.set(policy)/>
                <label for=id>{tr(label)}</label>
            </div>
        }
    };
    view! {
        <p class="hint">{tr(Key::RunSettingsLead)}</p>
        <PathInput form path="settings.timeout_minutes" label=Key::TimeoutMinutes value=w.timeout hint=Key::TimeoutMinutesHint/>
        <PathInput form path="settings.retry.count" label=Key::Retries value=w.retries hint=Key::RetriesHint/>
        <PathInput form path="settings.retry.backoff_seconds" label=Key::Backoff value=w.backoff hint=Key::BackoffHint/>
        <fieldset class="choices">
            <legend>{tr(Key::Overlap)}</legend>
            {overlap_radio(OverlapPolicy::Skip, Key::OverlapSkip)}
            {overlap_radio(OverlapPolicy::Queue, Key::OverlapQueue)}
            {overlap_radio(OverlapPolicy::Allow, Key::OverlapAllow)}
        </fieldset>
        // Variables first: checks (and the notification templates) may use them.
        <VariablesEditor w form conns/>
        <h3>{tr(Key::DataChecks)}</h3>
        <p class="hint">{tr(Key::ChecksHint)}</p>
        {check_rows}
        <button type="button" on:click=add_check>{tr(Key::AddCheck)}</button>
        <h3>{tr(Key::Notifications)}</h3>
        <p class="hint">{tr(Key::RulesHint)}</p>
        <RulesEditor rules=w.rules form/>
        <SchedulesEditor w form/>
    }
}

/// Step 4's schedules: for a new job, zero or more schedule forms (the job page's form);
/// for an existing job, where its schedules are.
#[component]
fn SchedulesEditor(w: Wizard, form: Form) -> impl IntoView {
    let lang = use_lang();
    if !w.adds_schedules {
        return view! {
            <div class="later" data-testid="schedules-later">
                <p><strong>{tr(Key::Schedules)}</strong> " — " {tr(Key::SchedulesOnJobPageEdit)}</p>
            </div>
        }
        .into_any();
    }
    let add = move |_| {
        let key = w.key();
        let draft = w.owned(|| new_draft(key));
        w.schedules.update(|s| s.push(draft));
    };
    let rows = move || {
        w.schedules
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, draft)| {
                let body = move || {
                    if draft.saved.get() {
                        view! {
                            <p>
                                <strong>{move || schedule_text(lang.get(), &draft.settings_untracked())}</strong>
                                " — " {tr(Key::ScheduleSavedAlready)}
                            </p>
                        }
                        .into_any()
                    } else {
                        view! {
                            <ScheduleFields draft form prefix=format!("schedules[{i}].settings.")/>
                            <button type="button" class="link-button"
                                on:click=move |_| w.schedules.update(|s| s.retain(|d| d.key != draft.key))>
                                {tr(Key::RemoveSchedule)}
                            </button>
                        }
                        .into_any()
                    }
                };
                view! {
                    <fieldset class="schedule-form" data-testid="wizard-schedule">
                        <legend>{move || fill(lang.get(), Key::ScheduleN, &[("n", &(i + 1).to_string())])}</legend>
                        {body}
                    </fieldset>
                }
            })
            .collect_view()
    };
    view! {
        <h3>{tr(Key::Schedules)}</h3>
        <p class="hint">{tr(Key::SchedulesWizardHint)}</p>
        {rows}
        <button type="button" on:click=add data-testid="add-schedule">{tr(Key::AddAnotherSchedule)}</button>
    }
    .into_any()
}

/// A schedule of a new job the server refused: which (0-based), the errors at its fields
/// (`schedules[1].settings.recurrence.time`), and the server's reason.
#[derive(Debug, Clone)]
struct ScheduleFailure {
    index: usize,
    errors: FieldErrors,
    reason: String,
}

/// Creates the schedules not saved yet, in order; stops at the first the server refuses.
async fn save_schedules(job: JobId, drafts: &[ScheduleDraft]) -> Result<(), ScheduleFailure> {
    for (i, draft) in drafts.iter().enumerate() {
        if draft.saved.get_untracked() {
            continue;
        }
        let request = ScheduleRequest {
            settings: draft.settings_untracked(),
            enabled: true,
        };
        match api::create_schedule(job, &request).await {
            Ok(_) => draft.saved.set(true),
            Err(e) => return Err(schedule_failure(i, &e)),
        }
    }
    Ok(())
}

/// The server's errors for schedule `index`, moved under `schedules[index].` so they land
/// beside that schedule's inputs; the reason is the first field's message or the body's.
fn schedule_failure(index: usize, e: &ApiError) -> ScheduleFailure {
    let mut errors = FieldErrors::default();
    let mut reason = e.to_string();
    if let Some(body) = e.body() {
        reason = body.message.clone();
        for f in &body.fields {
            errors.push(format!("schedules[{index}].{}", f.field), f.message.clone());
        }
        if let (true, Some(field)) = (body.fields.is_empty(), &body.field) {
            errors.push(format!("schedules[{index}].{field}"), body.message.clone());
        }
        if let Some(first) = body.fields.first() {
            reason = first.message.clone();
        }
    }
    if errors.0.is_empty() {
        errors.push(format!("schedules[{index}]"), reason.clone());
    }
    ScheduleFailure {
        index,
        errors,
        reason,
    }
}

#[component]
fn VariablesEditor(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let databases: Vec<(ConnectionId, String)> = conns.with_value(|c| {
        c.iter()
            .filter(|c| c.kind.is_database())
            .map(|c| (c.id, c.name.clone()))
            .collect()
    });
    let databases = StoredValue::new(databases);
    let add = move |_| {
        let key = w.key();
        let row = w.owned(|| VariableRow::new(key, &browser_zone()));
        w.variables.update(|v| v.push(row));
        let i = w.variables.with_untracked(Vec::len) - 1;
        crate::forms::focus(&form.input_id(&format!("settings.variables[{i}].name")));
    };
    // Every variable as typed, read reactively so the examples follow the inputs.
    let all_variables = move || {
        let rows = w.variables.get();
        for r in &rows {
            r.name.track();
            r.kind.track();
            r.value.track();
            r.base.track();
            r.quantity.track();
            r.unit.track();
            r.direction.track();
            r.format.track();
            r.timezone.track();
        }
        w.variable_definitions(&mut FieldErrors::default())
    };
    let rows = move || {
        w.variables
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let p = move |f: &str| format!("settings.variables[{i}].{f}");
                let kind_id = form.input_id(&p("value.kind"));
                let sql_use_id = form.input_id(&p("in_sql"));
                let example = move || {
                    let name = row.name.get().trim().to_owned();
                    if row.kind.get() == "query" {
                        return view! { <p class="hint">{tr(Key::VarExampleQuery)}</p> }.into_any();
                    }
                    match example_value(&all_variables(), &name) {
                        Some(v) => view! {
                            <p class="hint example" data-testid="variable-example">
                                {tr(Key::VarExample)} " " <code>{v}</code>
                            </p>
                        }
                        .into_any(),
                        None => view! { <p class="hint">{tr(Key::VarExampleInvalid)}</p> }.into_any(),
                    }
                };
                let kind_inputs = move || match row.kind.get().as_str() {
                    "string" => row_input(form, p("value.value"), Key::VariableText, row.value, None).into_any(),
                    "query" => {
                        let conn_id = form.input_id(&p("value.connection_id"));
                        let sql_id = form.input_id(&p("value.sql"));
                        view! {
                            <div class="field">
                                <label for=conn_id.clone()>{tr(Key::VarQueryConnection)}</label>
                                <select id=conn_id on:change=move |ev| row.connection.set(event_target_value(&ev).parse().ok())>
                                    <option value="">{tr(Key::ChooseConnection)}</option>
                                    {databases.get_value().into_iter().map(|(cid, name)| view! {
                                        <option value=cid.to_string() selected=move || row.connection.get() == Some(cid)>{name}</option>
                                    }).collect_view()}
                                </select>
                                <RowError form path=p("value.connection_id") label=Key::VarQueryConnection/>
                            </div>
                            <div class="field wide">
                                <label for=sql_id.clone()>{tr(Key::VarSql)}</label>
                                <textarea id=sql_id class="code" rows="3" spellcheck="false" placeholder="SELECT max(day) FROM loaded_days"
                                    prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                                <p class="hint">{tr(Key::VarSqlHint)}</p>
                                <RowError form path=p("value.sql") label=Key::VarSql/>
                            </div>
                            {row_input(form, p("value.timeout_seconds"), Key::VarTimeout, row.timeout, None)}
                        }
                        .into_any()
                    }
                    _ => view! {
                        {row_select(form, p("value.base"), Key::VarBase, row.base, vec![
                            (TimeBase::ScheduledTime, Key::VarBaseScheduled),
                            (TimeBase::StartTime, Key::VarBaseStart),
                        ])}
                        <div class="row-inputs">
                            {row_input(form, p("value.offset.quantity"), Key::VarOffsetQuantity, row.quantity, Some(Key::VarOffsetQuantityHint))}
                            {row_select(form, p("value.offset.unit"), Key::VarOffsetUnit, row.unit, vec![
                                (OffsetUnit::Minute, Key::UnitMinute),
                                (OffsetUnit::Hour, Key::UnitHour),
                                (OffsetUnit::Day, Key::UnitDay),
                                (OffsetUnit::Week, Key::UnitWeek),
                                (OffsetUnit::Month, Key::UnitMonth),
                            ])}
                            {row_select(form, p("value.offset.direction"), Key::VarOffsetDirection, row.direction, vec![
                                (OffsetDirection::Ago, Key::DirectionAgo),
                                (OffsetDirection::Later, Key::DirectionLater),
                            ])}
                        </div>
                        {row_input(form, p("value.format"), Key::VarFormat, row.format, Some(Key::VarFormatHint))}
                        {row_input(form, p("value.timezone"), Key::VarTimezone, row.timezone, Some(Key::VarTimezoneHint))}
                    }
                    .into_any(),
                };
                view! {
                    <fieldset class="check" data-testid="variable-row">
                        <legend>{move || fill(lang.get(), Key::VariableN, &[("n", &(i + 1).to_string())])}</legend>
                        {row_input(form, p("name"), Key::VariableName, row.name, Some(Key::VariableNameHint))}
                        <div class="field">
                            <label for=kind_id.clone()>{tr(Key::VariableKind)}</label>
                            <select id=kind_id on:change=move |ev| row.kind.set(event_target_value(&ev))>
                                {[("timestamp", Key::VarKindTimestamp), ("string", Key::VarKindString), ("query", Key::VarKindQuery)]
                                    .into_iter()
                                    .map(|(k, label)| view! { <option value=k selected=move || row.kind.get() == k>{tr(label)}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        {kind_inputs}
                        <div class="field">
                            <label for=sql_use_id.clone()>{tr(Key::VarInSql)}</label>
                            <select id=sql_use_id on:change=move |ev| row.in_sql.set(match event_target_value(&ev).as_str() {
                                "identifier" => SqlUse::Identifier,
                                "raw" => SqlUse::Raw,
                                _ => SqlUse::Literal,
                            })>
                                {[("literal", SqlUse::Literal, Key::InSqlLiteral), ("identifier", SqlUse::Identifier, Key::InSqlIdentifier), ("raw", SqlUse::Raw, Key::InSqlRaw)]
                                    .into_iter()
                                    .map(|(v, u, label)| view! { <option value=v selected=move || row.in_sql.get() == u>{tr(label)}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <div aria-live="polite">{example}</div>
                        <button type="button" class="link-button" on:click=move |_| w.variables.update(|v| v.retain(|x| x.key != row.key))>{tr(Key::RemoveVariable)}</button>
                    </fieldset>
                }
            })
            .collect_view()
    };
    view! {
        <h3>{tr(Key::Variables)}</h3>
        <p class="hint">{tr(Key::VariablesHint)}</p>
        {rows}
        <button type="button" on:click=add disabled=move || { w.variables.with(Vec::len) >= hakobu_core::variables::MAX_VARIABLES }>
            {tr(Key::AddVariable)}
        </button>
    }
}

// --- step 5 -----------------------------------------------------------------------------

/// The YAML a run would execute, compiled here with `core`'s compiler (the server's own),
/// secrets shown as the `{{ env.* }}` references the server uses.
fn compiled_yaml(settings: &JobSettings, conns: &[ConnectionView]) -> Result<String, String> {
    let find = |id| conns.iter().find(|c| c.id == id);
    let (Some(source), Some(destination)) = (
        find(settings.source.connection_id),
        find(settings.destination.connection_id),
    ) else {
        return Err(String::new());
    };
    let split =
        |c: &ConnectionView, role: &str| -> Option<(Map<String, Value>, Map<String, Value>)> {
            let all = c.settings.as_ref()?;
            let mut plain = Map::new();
            let mut references = Map::new();
            for (name, value) in all {
                let secret = c.kind.field(name).is_some_and(|f| f.secret);
                if !secret {
                    plain.insert(name.clone(), value.clone());
                } else if value.get("set").and_then(Value::as_bool) == Some(true) {
                    references.insert(
                        name.clone(),
                        Value::String(format!(
                            "{{{{ env.{}_{} }}}}",
                            role.to_uppercase(),
                            name.to_uppercase()
                        )),
                    );
                }
            }
            Some((plain, references))
        };
    let (Some((sp, ss)), Some((dp, ds))) =
        (split(source, "source"), split(destination, "destination"))
    else {
        return Err(String::new());
    };
    compile(
        settings,
        &CompileConnection {
            kind: source.kind,
            settings: &sp,
            secrets: &ss,
        },
        &CompileConnection {
            kind: destination.kind,
            settings: &dp,
            secrets: &ds,
        },
        None,
    )
    .map(|c| c.to_yaml())
    .map_err(|e| e.to_string())
}

#[component]
fn ReviewStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
    teams: StoredValue<Vec<TeamView>>,
) -> impl IntoView {
    let lang = use_lang();
    let (settings, _) = conns.with_value(|c| w.settings(c));
    let yaml = settings
        .as_ref()
        .map(|s| conns.with_value(|c| compiled_yaml(s, c)))
        .unwrap_or(Err(String::new()));
    let summary = settings.clone().map(|s| {
        let source_what = if let Some(t) = &s.source.table {
            match &t.schema {
                Some(schema) => format!("{schema}.{}", t.name),
                None => t.name.clone(),
            }
        } else if let Some(q) = &s.source.query {
            q.lines().next().unwrap_or_default().to_owned()
        } else {
            s.source.files.as_ref().map(|f| f.path_prefix.clone()).unwrap_or_default()
        };
        let dest_what = if let Some(t) = &s.destination.table {
            match &t.schema {
                Some(schema) => format!("{schema}.{}", t.name),
                None => t.name.clone(),
            }
        } else {
            s.destination.files.as_ref().map(|f| f.path_prefix.clone()).unwrap_or_default()
        };
        let mode = s.destination.mode;
        let changes = s.columns.len();
        let masks = s.masks.len();
        let source_name = conn_name(conns, Some(s.source.connection_id));
        let dest_name = conn_name(conns, Some(s.destination.connection_id));
        let database_dest = s.destination.table.is_some();
        view! {
            <dl class="facts" data-testid="job-summary">
                <dt>{tr(Key::StepSource)}</dt>
                <dd>{source_name} " · " <code>{source_what}</code></dd>
                <dt>{tr(Key::StepDestination)}</dt>
                <dd>{dest_name} " · " <code>{dest_what}</code></dd>
                {database_dest.then(|| view! {
                    <dt>{tr(Key::LoadMode)}</dt>
                    <dd>{tr(load_mode_texts(mode).0)} " — " <span class="muted">{tr(load_mode_texts(mode).1)}</span></dd>
                })}
                <dt>{tr(Key::ColumnMapping)}</dt>
                <dd>{move || fill(lang.get(), Key::ChangesAndMasks, &[("changes", &changes.to_string()), ("masks", &masks.to_string())])}</dd>
                <dt>{tr(Key::TimeoutMinutes)}</dt>
                <dd>{s.timeout_minutes.to_string()}</dd>
                <dt>{tr(Key::Retries)}</dt>
                <dd>{s.retry.count.to_string()}</dd>
            </dl>
        }
    });
    let team_id = form.input_id("team_id");
    view! {
        <p class="hint">{tr(Key::ReviewLead)}</p>
        <PathInput form path="name" label=Key::JobName value=w.name hint=Key::JobNameHint required=true/>
        <PathInput form path="description" label=Key::Description value=w.description hint=Key::DescriptionHint/>
        <div class="field" class:invalid=move || form.error("team_id").is_some()>
            <label for=team_id.clone()>{tr(Key::OwnerTeam)}</label>
            <select id=team_id on:change=move |ev| w.team.set(event_target_value(&ev).parse().ok()) prop:value=move || w.team.get().map(|t| t.to_string()).unwrap_or_default()>
                {teams.get_value().into_iter().map(|t| {
                    let id = t.id;
                    view! { <option value=t.id.to_string() selected=move || w.team.get() == Some(id)>{t.name}</option> }
                }).collect_view()}
            </select>
            <FieldMessage form field="team_id" label=Key::OwnerTeam error_id="job-team_id-error".to_owned()/>
        </div>
        <h3>{tr(Key::Summary)}</h3>
        {summary}
        {w.adds_schedules.then(|| view! { <ReviewSchedules w/> })}
        <h3>{tr(Key::CompiledConfig)}</h3>
        {match yaml {
            Ok(yaml) => view! {
                <p class="hint">{tr(Key::CompiledConfigHint)}</p>
                <pre class="yaml" data-testid="compiled-yaml" tabindex="0">{yaml}</pre>
            }
            .into_any(),
            Err(e) if e.is_empty() => view! { <p class="muted">{tr(Key::CompiledAfterSave)}</p> }.into_any(),
            Err(e) => view! { <p class="form-problem">{e}</p> }.into_any(),
        }}
    }
}

/// Step 5's list of the new job's schedules in words, with the first fire time of each.
#[component]
fn ReviewSchedules(w: Wizard) -> impl IntoView {
    let lang = use_lang();
    let drafts = w.schedules.get_untracked();
    view! {
        <h3>{tr(Key::Schedules)}</h3>
        {if drafts.is_empty() {
            view! { <p class="muted" data-testid="review-schedules">{tr(Key::NoSchedules)}</p> }.into_any()
        } else {
            view! {
                <ul class="plain-list" data-testid="review-schedules">
                    {drafts.into_iter().map(|d| {
                        let settings = d.settings_untracked();
                        let next = upcoming(&settings, "", chrono::Utc::now())
                            .ok()
                            .and_then(|t| t.first().copied());
                        view! {
                            <li data-testid="review-schedule">
                                <strong>{move || schedule_text(lang.get(), &settings)}</strong>
                                {next.map(|at| view! { " · " {tr(Key::NextFire)} " " <crate::components::Time at/> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_lead_to_their_step() {
        assert_eq!(step_of("settings.source.table.name"), 1);
        assert_eq!(step_of("source.query"), 1);
        assert_eq!(step_of("settings.columns[0].to"), 2);
        assert_eq!(step_of("settings.masks[1].column"), 2);
        assert_eq!(step_of("settings.destination.merge_keys"), 3);
        assert_eq!(step_of("settings.retry.count"), 4);
        assert_eq!(step_of("name"), 5);
        assert_eq!(step_of("team_id"), 5);
        assert_eq!(step_of("schedules[0].settings.recurrence.time"), 4);
    }

    /// A schedule the server refuses has its errors beside that schedule's inputs.
    #[test]
    fn a_refused_schedule_lands_at_its_row() {
        use hakobu_core::api::error::ErrorBody;
        let body: ErrorBody = serde_json::from_value(serde_json::json!({
            "error": "validation",
            "message": "settings.recurrence.time: \"25:00\" is not a time",
            "fields": [{"field": "settings.recurrence.time", "message": "\"25:00\" is not a time"}],
        }))
        .unwrap();
        let failure = schedule_failure(1, &ApiError::Server { status: 422, body });
        assert_eq!(failure.index, 1);
        assert_eq!(
            failure.errors.0[0].field,
            "schedules[1].settings.recurrence.time"
        );
        assert_eq!(failure.reason, "\"25:00\" is not a time");
        let failure = schedule_failure(0, &ApiError::Network("offline".into()));
        assert_eq!(failure.errors.0[0].field, "schedules[0]");
    }

    #[test]
    fn constants_take_their_type() {
        assert_eq!(constant(ColumnType::Long, " 42 "), Value::from(42));
        assert_eq!(constant(ColumnType::Long, "x"), Value::String("x".into()));
        assert_eq!(constant(ColumnType::Boolean, "true"), Value::Bool(true));
        assert_eq!(
            constant(ColumnType::String, " a "),
            Value::String(" a ".into())
        );
    }
}
