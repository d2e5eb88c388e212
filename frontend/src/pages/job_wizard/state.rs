//! What the wizard holds while it is open: everything typed, step by step, as signals, and
//! the conversions between that and a job's settings ([`Wizard::new`] reads a saved job,
//! [`Wizard::settings`] builds the `JobSettings` that `core` checks and the server saves).

use crate::forms::split_list;
use crate::widgets::checks::CheckList;
use crate::widgets::notification_rules::RuleSet;
use crate::widgets::schedule_form::ScheduleDraft;
use crate::widgets::variables::VariableList;
use hakobu_core::api::connections::{ConnectionView, GuessResponse, PreviewResponse};
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::notifications::RuleView;
use hakobu_core::api::schedules::ScheduleRequest;
use hakobu_core::config::{ColumnType, Mode};
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::{ConnectionId, TeamId};
use hakobu_core::job::{
    ColumnChange, ConnectionInfo, DestinationSettings, FileColumn, FileDestination, FileFormat,
    FileSource, JobKind, JobSettings, MaskMethod, MaskRule, OverlapPolicy, Resources, RetryPolicy,
    SourceSettings, TableRef,
};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldError, FieldErrors};
use hakobu_core::variables::Variable;
use leptos::prelude::*;
use serde_json::Value;

/// Where rows come from, as the first step offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceMode {
    Table,
    Query,
    Files,
}

/// One source column and what happens to it on the way.
#[derive(Debug, Clone)]
pub(super) struct ColumnPlan {
    pub(super) name: String,
    pub(super) type_: String,
    pub(super) keep: RwSignal<bool>,
    pub(super) rename: RwSignal<String>,
    pub(super) cast: RwSignal<String>,
    pub(super) mask: RwSignal<String>,
}

/// A column added with the same value in every row.
#[derive(Debug, Clone, Copy)]
pub(super) struct AddedColumn {
    pub(super) key: u64,
    pub(super) name: RwSignal<String>,
    pub(super) type_: RwSignal<String>,
    pub(super) value: RwSignal<String>,
}

/// A column of a file source.
#[derive(Debug, Clone, Copy)]
pub(super) struct FileColumnRow {
    pub(super) key: u64,
    pub(super) name: RwSignal<String>,
    pub(super) type_: RwSignal<String>,
    /// A timestamp's format (empty: the usual forms).
    pub(super) format: RwSignal<String>,
}

/// Everything typed into the wizard.
#[derive(Clone, Copy)]
pub(super) struct Wizard {
    /// The wizard's owner: rows and column plans are created under it, so they live as
    /// long as the wizard, not as long as the step that created them.
    owner: StoredValue<Owner>,
    pub(super) step: RwSignal<usize>,
    pub(super) reached: RwSignal<usize>,
    next_key: StoredValue<u64>,
    // 1: source
    pub(super) source: RwSignal<Option<ConnectionId>>,
    pub(super) source_mode: RwSignal<SourceMode>,
    pub(super) source_schema: RwSignal<String>,
    pub(super) source_table: RwSignal<String>,
    pub(super) source_query: RwSignal<String>,
    pub(super) source_filter: RwSignal<String>,
    pub(super) incremental: RwSignal<bool>,
    incremental_columns: StoredValue<Vec<String>>,
    pub(super) file_prefix: RwSignal<String>,
    pub(super) file_pattern: RwSignal<String>,
    pub(super) file_format: RwSignal<FileFormat>,
    pub(super) file_gzip: RwSignal<bool>,
    pub(super) file_header: RwSignal<bool>,
    pub(super) file_delimiter: RwSignal<String>,
    pub(super) file_columns: RwSignal<Vec<FileColumnRow>>,
    /// CSV settings a guess finds and the form carries without inputs of its own.
    pub(super) file_quote: RwSignal<Option<String>>,
    pub(super) file_skip_lines: RwSignal<u32>,
    /// The first rows of the file the last guess read, read with its settings.
    pub(super) file_preview: RwSignal<Option<PreviewResponse>>,
    // 2: columns
    pub(super) plans: RwSignal<Vec<ColumnPlan>>,
    /// Changes and masks of a saved job not (yet) matched to previewed columns; kept as
    /// they are until the preview shows the columns.
    pub(super) kept_changes: RwSignal<Vec<ColumnChange>>,
    pub(super) kept_masks: RwSignal<Vec<MaskRule>>,
    pub(super) added: RwSignal<Vec<AddedColumn>>,
    // 3: destination
    pub(super) destination: RwSignal<Option<ConnectionId>>,
    pub(super) dest_schema: RwSignal<String>,
    pub(super) dest_table: RwSignal<String>,
    pub(super) mode: RwSignal<Mode>,
    pub(super) merge_keys: RwSignal<String>,
    pub(super) dest_prefix: RwSignal<String>,
    pub(super) dest_format: RwSignal<FileFormat>,
    pub(super) dest_gzip: RwSignal<bool>,
    pub(super) dest_header: RwSignal<bool>,
    pub(super) dest_delimiter: RwSignal<String>,
    // 4: run settings
    pub(super) timeout: RwSignal<String>,
    pub(super) retries: RwSignal<String>,
    pub(super) backoff: RwSignal<String>,
    pub(super) overlap: RwSignal<OverlapPolicy>,
    /// At most this many runs at once when runs may overlap; empty: no job limit.
    pub(super) max_concurrent_runs: RwSignal<String>,
    pub(super) resources: RwSignal<Resources>,
    pub(super) checks: CheckList,
    pub(super) variables: VariableList,
    /// The job's notification rules as typed (the same editor as the job page's).
    pub(super) rules: RuleSet,
    /// Schedules to create with a new job (an existing job's are on its page).
    pub(super) schedules: RwSignal<Vec<ScheduleDraft>>,
    pub(super) adds_schedules: bool,
    // 5: the job itself
    pub(super) name: RwSignal<String>,
    pub(super) description: RwSignal<String>,
    pub(super) team: RwSignal<Option<TeamId>>,
}

/// A signal holding `s`, for a text input.
pub(super) fn text(s: &str) -> RwSignal<String> {
    RwSignal::new(s.to_owned())
}

impl Wizard {
    /// What `core` finds wrong with the schedules not saved yet, at
    /// `schedules[i].settings.*` (untracked: read when a step is checked).
    pub(super) fn schedule_errors(&self) -> FieldErrors {
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

    pub(super) fn new(job: Option<&JobView>, rules: &[RuleView], team: Option<TeamId>) -> Self {
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
            file_quote: RwSignal::new(files.and_then(|f| f.quote.clone())),
            file_skip_lines: RwSignal::new(files.map_or(0, |f| f.skip_header_lines)),
            file_preview: RwSignal::new(None),
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
            max_concurrent_runs: RwSignal::new(
                settings
                    .and_then(|s| s.max_concurrent_runs)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ),
            resources: RwSignal::new(settings.map(|s| s.resources).unwrap_or_default()),
            checks: CheckList::new("settings.checks"),
            variables: VariableList::new("settings.variables", true),
            rules: RuleSet::new(rules),
            schedules: RwSignal::new(Vec::new()),
            adds_schedules: job.is_none(),
            name: text(job.map_or("", |j| &j.name)),
            description: text(job.map_or("", |j| &j.description)),
            team: RwSignal::new(job.map(|j| j.team_id).or(team)),
        };
        if let Some(settings) = settings {
            w.checks.load(&settings.checks);
            w.variables.load(&settings.variables);
        }
        if let Some(files) = files {
            let rows = files
                .columns
                .iter()
                .map(|c| FileColumnRow {
                    key: w.key(),
                    name: text(&c.name),
                    type_: text(c.type_.as_str()),
                    format: text(c.format.as_deref().unwrap_or("")),
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
    pub(super) fn owned<T>(&self, f: impl FnOnce() -> T) -> T {
        self.owner.with_value(|o| o.with(f))
    }

    pub(super) fn key(&self) -> u64 {
        let k = self.next_key.get_value();
        self.next_key.set_value(k + 1);
        k
    }

    /// Lays out the columns a preview (or the file source) shows, and carries over what a
    /// saved job does to them.
    pub(super) fn load_columns(&self, columns: Vec<(String, String)>) {
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
    pub(super) fn settings(
        &self,
        connections: &[ConnectionView],
    ) -> (Option<JobSettings>, FieldErrors) {
        let mut errors = FieldErrors::default();
        let source = self.source.get_untracked();
        let destination = self.destination.get_untracked();
        if source.is_none() {
            errors.push_message("settings.source.connection_id", MessageCode::Required);
        }
        if destination.is_none() {
            errors.push_message("settings.destination.connection_id", MessageCode::Required);
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
        // A warehouse destination takes a table and a mode, like a database.
        let database_destination =
            destination_kind.is_none_or(|k| k.is_database() || k.is_warehouse());
        let settings = JobSettings {
            kind: JobKind::Transfer,
            source: SourceSettings {
                connection_id: source,
                table: table.clone(),
                query,
                statements: None,
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
                delete_where: None,
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
            resources: self.resources.get_untracked(),
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
            // Only with overlapping runs; not a number: 0, out of range on purpose, so
            // core's validator says what is expected beside the field.
            max_concurrent_runs: match self.max_concurrent_runs.get_untracked().trim() {
                "" => None,
                _ if self.overlap.get_untracked() != OverlapPolicy::Allow => None,
                n => Some(n.parse().unwrap_or(0)),
            },
            checks: self.checks.definitions(&mut errors),
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

    pub(super) fn variable_definitions(&self, errors: &mut FieldErrors) -> Vec<Variable> {
        self.variables.definitions(errors)
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
            quote: self.file_quote.get_untracked(),
            skip_header_lines: self.file_skip_lines.get_untracked(),
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
                    format: Some(c.format.get_untracked().trim().to_owned())
                        .filter(|f| !f.is_empty()),
                })
                .collect(),
        }
    }

    /// Fills the file settings and columns with what a guess found (the analyst adjusts
    /// them from there), and keeps its preview to show.
    pub(super) fn apply_guess(&self, guess: &GuessResponse) {
        let g = &guess.source;
        self.file_format.set(g.format);
        self.file_gzip.set(g.gzip);
        self.file_header.set(g.header_line);
        self.file_delimiter.set(g.delimiter.clone());
        self.file_quote.set(g.quote.clone());
        self.file_skip_lines.set(g.skip_header_lines);
        let rows = g
            .columns
            .iter()
            .map(|c| {
                let key = self.key();
                self.owned(|| FileColumnRow {
                    key,
                    name: text(&c.name),
                    type_: text(c.type_.as_str()),
                    format: text(c.format.as_deref().unwrap_or("")),
                })
            })
            .collect();
        self.file_columns.set(rows);
        self.file_preview.set(guess.preview.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

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
