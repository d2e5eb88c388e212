//! Applying files: each file is read into the request the create and update endpoints
//! take, its document compared with the object's current one (the plan), and the changes
//! made through the same checks and services those endpoints use. The caller runs this in
//! one transaction and rolls it back for a dry run, so a dry run meets every check too.

use super::snapshot::{
    IdNames, JobDoc, Kind, Snapshot, TASK_REFERENCES, TeamState, WorkflowDoc, connection_doc,
    destination_doc, job_doc, parse_secret_ref, paths, rule_doc, schedule_doc, secret_name,
    secret_ref, settings_with_names, spec_with_names, stored_rule, team_doc, workflow_doc,
};
use crate::audit::{self, Actor};
use crate::error::{ApiError, is_unique_violation};
use crate::extract::Auth;
use crate::models::connection::{Connection, ConnectionChangeset, NewConnection};
use crate::models::destination::{Destination, DestinationChangeset, NewDestination};
use crate::models::job::Job;
use crate::models::notification_rule::{NewNotificationRule, NotificationRule};
use crate::models::schedule::{NewSchedule, ScheduleRow};
use crate::models::team::{Team, TeamMember};
use crate::models::workflow::{NewWorkflow, Workflow, WorkflowChangeset, WorkflowRun};
use crate::notify::deliver::public_settings;
use crate::routes::connections::{NO_SECRET_KEY, drop_inapplicable, split_secrets};
use crate::routes::destinations::{confirmation, name_conflict, require_mail, split};
use crate::routes::workflows::{check_references, load_workflow};
use crate::secrets::SecretSlot;
use crate::services::access::{check_operator_rules, check_shares, require_team_editor};
use crate::services::jobs::{insert_job, update_job};
use crate::state::AppState;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use hakobu_core::api::config::{
    ApplyRequest, ApplyResponse, MAX_FILE_BYTES, MAX_FILES, PlanAction, PlanEntry,
};
use hakobu_core::api::connections::CreateConnectionRequest;
use hakobu_core::api::jobs::{
    CreateJobRequest, RevisionChange, UpdateJobRequest, json_diff, validate_job_text,
};
use hakobu_core::api::notifications::{
    DestinationKind, DestinationRequest, DestinationSettings, RuleRequest,
};
use hakobu_core::api::org::{TeamGrant, TeamNameRequest};
use hakobu_core::api::schedules::ScheduleRequest;
use hakobu_core::api::workflows::SaveWorkflowRequest;
use hakobu_core::authz::{Action, TeamRole};
use hakobu_core::connection::{
    ConnectionKind, changed_binding_fields, field_applies, validate_settings,
};
use hakobu_core::ids::{ConnectionId, DestinationId, JobId, ScheduleId, TeamId, WorkflowId};
use hakobu_core::job::JobSettings;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldError, FieldErrors, normalize_email};
use hakobu_core::workflow::{WorkflowRunStatus, WorkflowSpec};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Ids by kind and name (the id as JSON writes it).
type NameIds = HashMap<Kind, HashMap<String, String>>;

/// Most schedules one job may have (as `POST /api/jobs/{id}/schedules`).
const MAX_SCHEDULES_PER_JOB: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamFile {
    name: String,
    #[serde(default)]
    members: Vec<MemberEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberEntry {
    email: String,
    role: TeamRole,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareEntry {
    team: String,
    role: TeamRole,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionFile {
    name: String,
    kind: ConnectionKind,
    team: String,
    #[serde(default)]
    settings: Map<String, Value>,
    #[serde(default)]
    shares: Vec<ShareEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationFile {
    name: String,
    settings: DestinationSettings,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
    team: String,
    settings: Value,
    #[serde(default)]
    schedules: Vec<ScheduleRequest>,
    #[serde(default)]
    notification_rules: Vec<Map<String, Value>>,
    #[serde(default)]
    shares: Vec<ShareEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowFile {
    name: String,
    #[serde(default)]
    description: String,
    team: String,
    /// The workflow's spec, its tasks' jobs and destinations by name.
    spec: Value,
    #[serde(default)]
    schedules: Vec<ScheduleRequest>,
    #[serde(default)]
    notification_rules: Vec<Map<String, Value>>,
}

/// What one file asks for, read and checked enough to compare. One per file and short
/// lived, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Body {
    Team {
        members: Vec<(String, TeamRole)>,
    },
    Destination {
        id: DestinationId,
        /// Secret values given in the request; `None` keeps the stored one.
        settings: DestinationSettings,
    },
    Connection {
        id: ConnectionId,
        kind: ConnectionKind,
        team: String,
        plain: Map<String, Value>,
        /// Secret fields the file names, with the value given (`None`: keep the stored one).
        secrets: BTreeMap<String, Option<String>>,
        shares: Vec<(String, TeamRole)>,
    },
    Job {
        file: JobFile,
        settings: Option<JobSettings>,
        rules: Vec<RuleRequest>,
        shares: Vec<(String, TeamRole)>,
    },
    Workflow {
        file: WorkflowFile,
        /// The spec as its document shows it: objects by name.
        spec: Value,
        rules: Vec<RuleRequest>,
    },
}

struct Desired {
    kind: Kind,
    file: String,
    name: String,
    body: Body,
    doc: Value,
    /// Fields whose secret gets a new value (never the value itself).
    secret_changes: Vec<String>,
}

/// Field paths as files spell them: objects by name, not by id.
fn file_field(file: &str, field: &str) -> String {
    let field = field
        .replace("connection_id", "connection")
        .replace("destination_id", "destination")
        .replace("job_id", "job")
        .replace("team_id", "team");
    if field.is_empty() || field == "." {
        file.to_owned()
    } else {
        format!("{file}: {field}")
    }
}

/// An error of one object, said with its file.
pub fn in_file(file: &str, e: ApiError) -> ApiError {
    match e {
        ApiError::Validation(mut errors) => {
            for f in &mut errors.0 {
                f.field = file_field(file, &f.field);
            }
            ApiError::Validation(errors)
        }
        ApiError::Conflict { message, field } | ApiError::BadRequest { message, field } => {
            ApiError::Validation(FieldErrors(vec![FieldError::said(
                file_field(file, field.as_deref().unwrap_or_default()),
                message,
            )]))
        }
        ApiError::Forbidden(text) | ApiError::NotFound(text) => {
            ApiError::Validation(FieldErrors(vec![FieldError::said(file.to_owned(), text)]))
        }
        other => other,
    }
}

fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ApiError> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        ApiError::field(
            &file_field(file, &e.path().to_string()),
            e.inner().to_string(),
        )
    })
}

fn from_value<T: DeserializeOwned>(file: &str, prefix: &str, v: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            prefix.to_owned()
        } else {
            format!("{prefix}.{path}")
        };
        ApiError::field(&file_field(file, &field), e.inner().to_string())
    })
}

/// Collects a file's errors; other errors (the database) end the request.
fn collect(errors: &mut FieldErrors, e: ApiError) -> Result<(), ApiError> {
    match e {
        ApiError::Validation(found) => {
            errors.0.extend(found.0);
            Ok(())
        }
        other => Err(other),
    }
}

const NO_VALUE_HINT: &str =
    "give its value with the request (the CLI reads the environment variable HAKOBU_SECRET_<NAME>)";

/// The organization's names, with the objects the files create.
struct Names<'a> {
    snap: &'a Snapshot,
    teams: BTreeSet<String>,
    connections: HashMap<String, ConnectionId>,
    destinations: HashMap<String, DestinationId>,
    /// The organization's jobs, and the files' new ones (an id to check them with until
    /// they exist).
    jobs: HashMap<String, JobId>,
    workflows: HashMap<String, WorkflowId>,
}

impl Names<'_> {
    /// Ids by kind and name, for the names a workflow's tasks use.
    fn ids(&self) -> NameIds {
        let mut out = NameIds::new();
        let mut add = |kind: Kind, pairs: Vec<(String, String)>| {
            out.entry(kind).or_default().extend(pairs);
        };
        add(
            Kind::Connection,
            self.connections
                .iter()
                .map(|(n, id)| (n.clone(), id.to_string()))
                .collect(),
        );
        add(
            Kind::Destination,
            self.destinations
                .iter()
                .map(|(n, id)| (n.clone(), id.to_string()))
                .collect(),
        );
        add(
            Kind::Job,
            self.jobs
                .iter()
                .map(|(n, id)| (n.clone(), id.to_string()))
                .collect(),
        );
        add(
            Kind::Workflow,
            self.workflows
                .iter()
                .map(|(n, id)| (n.clone(), id.to_string()))
                .collect(),
        );
        out
    }

    fn check_team(&self, errors: &mut FieldErrors, field: String, team: &str) {
        if !self.snap.teams.contains_key(team) && !self.teams.contains(team) {
            errors.push(
                field,
                format!("there is no team named {team:?} in this organization"),
            );
        }
    }

    fn shares(
        &self,
        errors: &mut FieldErrors,
        file: &str,
        shares: &[ShareEntry],
    ) -> Vec<(String, TeamRole)> {
        for (i, s) in shares.iter().enumerate() {
            self.check_team(
                errors,
                file_field(file, &format!("shares[{i}].team")),
                s.team.trim(),
            );
        }
        shares
            .iter()
            .map(|s| (s.team.trim().to_owned(), s.role))
            .collect()
    }
}

/// Answers the plan, and unless nothing changes, carries it out. Returns the plan and the
/// email destinations to send a confirmation link to once committed.
pub async fn run(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    request: &ApplyRequest,
) -> Result<(ApplyResponse, Vec<(Destination, String)>), ApiError> {
    let mut errors = FieldErrors::default();
    if request.files.len() > MAX_FILES {
        return Err(ApiError::field(
            "files",
            format!("at most {MAX_FILES} files at once"),
        ));
    }
    // Read every file.
    let mut read: Vec<(Kind, String, ReadFile)> = Vec::new();
    for (path, text) in &request.files {
        let kind = path
            .split_once('/')
            .filter(|(_, rest)| {
                !rest.contains('/') && (rest.ends_with(".yml") || rest.ends_with(".yaml"))
            })
            .and_then(|(dir, _)| Kind::from_dir(dir));
        let Some(kind) = kind else {
            errors.push(
                path.clone(),
                "is not a file of config as code: expected teams/, destinations/, connections/, jobs/ or workflows/<name>.yml",
            );
            continue;
        };
        if text.len() > MAX_FILE_BYTES {
            errors.push(
                path.clone(),
                format!("is larger than {MAX_FILE_BYTES} bytes"),
            );
            continue;
        }
        let parsed = match kind {
            Kind::Team => parse(path, text).map(ReadFile::Team),
            Kind::Destination => parse(path, text).map(ReadFile::Destination),
            Kind::Connection => parse(path, text).map(ReadFile::Connection),
            Kind::Job => parse(path, text).map(ReadFile::Job),
            Kind::Workflow => parse(path, text).map(ReadFile::Workflow),
        };
        match parsed {
            Ok(f) => read.push((kind, path.clone(), f)),
            Err(e) => collect(&mut errors, e)?,
        }
    }
    // One file per name and kind.
    let mut seen: HashMap<(Kind, String), String> = HashMap::new();
    read.retain(|(kind, path, f)| {
        let name = f.name().trim().to_owned();
        if let Some(other) = seen.get(&(*kind, name.clone())) {
            errors.push(
                file_field(path, "name"),
                format!("{other} describes this {} already", kind.label()),
            );
            false
        } else {
            seen.insert((*kind, name), path.clone());
            true
        }
    });
    let snap = Snapshot::load(conn, auth.organization_id).await?;
    let mut names = Names {
        snap: &snap,
        teams: BTreeSet::new(),
        connections: snap
            .connections
            .iter()
            .map(|(n, (c, _))| (n.clone(), c.id))
            .collect(),
        destinations: snap
            .destinations
            .iter()
            .map(|(n, d)| (n.clone(), d.id))
            .collect(),
        jobs: snap
            .jobs
            .iter()
            .map(|(n, j)| (n.clone(), j.job.id))
            .collect(),
        workflows: snap
            .workflows
            .iter()
            .map(|(n, w)| (n.clone(), w.workflow.id))
            .collect(),
    };
    for (kind, _, f) in &read {
        let name = f.name().trim().to_owned();
        match kind {
            Kind::Team => {
                names.teams.insert(name);
            }
            Kind::Connection => {
                names.connections.entry(name).or_default(); // a fresh id (`Default` is `new`)
            }
            Kind::Destination => {
                names.destinations.entry(name).or_default();
            }
            Kind::Job => {
                names.jobs.entry(name).or_default();
            }
            Kind::Workflow => {
                names.workflows.entry(name).or_default();
            }
        }
    }
    let secret_box = state.secrets.as_ref();
    let mut desired = Vec::new();
    for (kind, file, f) in read {
        match desire(
            &names,
            secret_box,
            auth,
            request,
            kind,
            &file,
            f,
            &mut errors,
        )? {
            Some(d) => desired.push(d),
            None => continue,
        }
    }
    // The plan.
    let present: BTreeSet<Kind> = desired.iter().map(|d| d.kind).collect();
    let mut entries = Vec::new();
    for d in &desired {
        let before = snap.doc(d.kind, &d.name)?;
        let mut changes = Vec::new();
        json_diff(
            "",
            before.as_ref().map(compared).as_ref(),
            Some(&compared(&d.doc)),
            &mut changes,
        );
        for field in &d.secret_changes {
            changes.push(RevisionChange {
                path: format!("settings.{field}"),
                before: Some(json!("(secret)")),
                after: Some(json!("(new secret)")),
            });
        }
        let action = match (&before, changes.is_empty()) {
            (None, _) => PlanAction::Create,
            (Some(_), true) => PlanAction::Unchanged,
            (Some(_), false) => PlanAction::Change,
        };
        entries.push(PlanEntry {
            kind: d.kind.label().to_owned(),
            name: d.name.clone(),
            file: d.file.clone(),
            action,
            changes: if action == PlanAction::Change {
                changes
            } else {
                Vec::new()
            },
        });
    }
    let mut deletions: Vec<(Kind, String)> = Vec::new();
    if request.prune {
        for kind in present.iter().copied() {
            let wanted: BTreeSet<&str> = desired
                .iter()
                .filter(|d| d.kind == kind)
                .map(|d| d.name.as_str())
                .collect();
            for (name, file) in paths(kind, snap.names(kind)) {
                if !wanted.contains(name.as_str()) {
                    entries.push(PlanEntry {
                        kind: kind.label().to_owned(),
                        name: name.clone(),
                        file,
                        action: PlanAction::Delete,
                        changes: Vec::new(),
                    });
                    deletions.push((kind, name));
                }
            }
        }
    }
    check_team_deletions(&snap, &desired, &deletions, &mut errors);
    check_job_deletions(&snap, &desired, &deletions, &mut errors)?;
    errors.into_result()?;
    let rank = |kind: &str| {
        Kind::ALL
            .iter()
            .position(|k| k.label() == kind)
            .unwrap_or(0)
    };
    entries.sort_by(|a, b| (rank(&a.kind), &a.name).cmp(&(rank(&b.kind), &b.name)));
    let changing = entries.iter().any(|e| e.action != PlanAction::Unchanged);
    if !changing {
        return Ok((
            ApplyResponse {
                entries,
                applied: false,
            },
            Vec::new(),
        ));
    }

    // Carry it out: creations and changes in dependency order, then deletions backwards.
    let mut confirmations = Vec::new();
    let mut team_ids: HashMap<String, TeamId> =
        snap.teams.iter().map(|(n, t)| (n.clone(), t.id)).collect();
    let mut ids = names.ids();
    for kind in Kind::ALL {
        if kind == Kind::Workflow {
            // The jobs this apply created have their ids now.
            let jobs = Job::search(conn, auth.organization_id, None, None).await?;
            ids.insert(
                Kind::Job,
                jobs.into_iter()
                    .map(|j| (j.name, j.id.to_string()))
                    .collect(),
            );
        }
        for d in desired.iter().filter(|d| d.kind == kind) {
            let action = entries
                .iter()
                .find(|e| e.kind == kind.label() && e.name == d.name)
                .map_or(PlanAction::Unchanged, |e| e.action);
            if action == PlanAction::Unchanged {
                continue;
            }
            let done = match &d.body {
                Body::Team { members } => {
                    execute_team(
                        conn,
                        auth,
                        &snap,
                        &d.name,
                        members,
                        snap.teams.get(&d.name),
                        &mut team_ids,
                    )
                    .await
                }
                Body::Destination { id, settings } => execute_destination(
                    conn,
                    state,
                    auth,
                    &d.name,
                    *id,
                    settings,
                    snap.destinations.get(&d.name),
                )
                .await
                .map(|c| confirmations.extend(c)),
                Body::Connection {
                    id,
                    kind,
                    team,
                    plain,
                    secrets,
                    shares,
                } => {
                    let c = ConnectionChange {
                        id: *id,
                        kind: *kind,
                        team,
                        plain,
                        secrets,
                        shares,
                    };
                    execute_connection(
                        conn,
                        state,
                        auth,
                        &d.name,
                        &c,
                        snap.connections.get(&d.name),
                        &team_ids,
                    )
                    .await
                }
                Body::Job {
                    file,
                    settings,
                    rules,
                    shares,
                } => {
                    let Some(settings) = settings else { continue };
                    execute_job(
                        conn, state, auth, &snap, file, settings, rules, shares, &team_ids, &names,
                    )
                    .await
                }
                Body::Workflow { file, spec, rules } => {
                    let w = WorkflowChange { file, spec, rules };
                    execute_workflow(conn, state, auth, &snap, w, &team_ids, &ids).await
                }
            };
            done.map_err(|e| in_file(&d.file, e))?;
        }
    }
    for kind in Kind::ALL.into_iter().rev() {
        for (_, name) in deletions.iter().filter(|(k, _)| *k == kind) {
            let file = entries
                .iter()
                .find(|e| e.kind == kind.label() && &e.name == name)
                .map(|e| e.file.clone())
                .unwrap_or_default();
            execute_delete(conn, auth, &snap, kind, name)
                .await
                .map_err(|e| in_file(&file, e))?;
        }
    }
    let summary: Vec<Value> = entries
        .iter()
        .filter(|e| e.action != PlanAction::Unchanged)
        .map(|e| {
            json!({"kind": e.kind, "name": e.name, "action": e.action,
                   "changed": e.changes.iter().map(|c| c.path.clone()).collect::<Vec<_>>()})
        })
        .collect();
    audit::record(
        conn,
        &Actor::from(auth),
        "config.apply",
        "organization",
        auth.organization_id,
        json!({"prune": request.prune, "files": request.files.len(), "changes": summary}),
    )
    .await?;
    Ok((
        ApplyResponse {
            entries,
            applied: true,
        },
        confirmations,
    ))
}

enum ReadFile {
    Team(TeamFile),
    Destination(DestinationFile),
    Connection(ConnectionFile),
    Job(JobFile),
    Workflow(WorkflowFile),
}

impl ReadFile {
    fn name(&self) -> &str {
        match self {
            ReadFile::Team(f) => &f.name,
            ReadFile::Destination(f) => &f.name,
            ReadFile::Connection(f) => &f.name,
            ReadFile::Job(f) => &f.name,
            ReadFile::Workflow(f) => &f.name,
        }
    }
}

/// A document as the plan compares it: a workflow's tasks by name
/// (`spec.tasks[load].action.seconds`), so a changed task shows its changed fields rather
/// than the whole list, with their order as `spec.task_order`.
fn compared(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let Some(tasks) = doc
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .and_then(|spec| spec.remove("tasks"))
    else {
        return doc;
    };
    let Value::Array(tasks) = tasks else {
        return doc;
    };
    let Some(top) = doc.as_object_mut() else {
        return doc;
    };
    let mut order = Vec::new();
    for task in tasks {
        let name = task["name"].as_str().unwrap_or_default().to_owned();
        order.push(Value::String(name.clone()));
        top.insert(format!("spec.tasks[{name}]"), task);
    }
    top.insert("spec.task_order".into(), Value::Array(order));
    doc
}

/// A job to delete must not be run by a workflow that stays (as the file has it, or as it
/// is when no file names it).
fn check_job_deletions(
    snap: &Snapshot,
    desired: &[Desired],
    deletions: &[(Kind, String)],
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let deleted = |kind: Kind, name: &str| deletions.iter().any(|(k, n)| *k == kind && n == name);
    let mut staying: Vec<(String, Value)> = desired
        .iter()
        .filter(|d| d.kind == Kind::Workflow)
        .map(|d| (d.name.clone(), d.doc.clone()))
        .collect();
    for name in snap.workflows.keys() {
        if !deleted(Kind::Workflow, name)
            && !staying.iter().any(|(n, _)| n == name)
            && let Some(doc) = snap.doc(Kind::Workflow, name)?
        {
            staying.push((name.clone(), doc));
        }
    }
    let job_files = paths(Kind::Job, snap.names(Kind::Job));
    for (_, job) in deletions.iter().filter(|(k, _)| *k == Kind::Job) {
        let users: Vec<&str> = staying
            .iter()
            .filter(|(_, doc)| {
                doc["spec"]["tasks"]
                    .as_array()
                    .is_some_and(|tasks| tasks.iter().any(|t| t["action"]["job"] == *job))
            })
            .map(|(n, _)| n.as_str())
            .collect();
        if !users.is_empty() {
            errors.push(
                job_files.get(job).cloned().unwrap_or_default(),
                format!(
                    "job {job:?} cannot be deleted: workflows still run it: {}; change or delete them too",
                    users.join(", ")
                ),
            );
        }
    }
    Ok(())
}

/// A team to delete must not own what stays (its connections and jobs would go with it).
fn check_team_deletions(
    snap: &Snapshot,
    desired: &[Desired],
    deletions: &[(Kind, String)],
    errors: &mut FieldErrors,
) {
    let deleted = |kind: Kind, name: &str| deletions.iter().any(|(k, n)| *k == kind && n == name);
    for (_, team) in deletions.iter().filter(|(k, _)| *k == Kind::Team) {
        let Some(t) = snap.teams.get(team) else {
            continue;
        };
        let owns = snap
            .connections
            .values()
            .filter(|(c, _)| c.team_id == t.id && !deleted(Kind::Connection, &c.name))
            .map(|(c, _)| c.name.clone())
            .chain(
                snap.jobs
                    .values()
                    .filter(|j| j.job.team_id == t.id && !deleted(Kind::Job, &j.job.name))
                    .map(|j| j.job.name.clone()),
            )
            .chain(
                snap.workflows
                    .values()
                    .filter(|w| {
                        w.workflow.team_id == t.id && !deleted(Kind::Workflow, &w.workflow.name)
                    })
                    .map(|w| w.workflow.name.clone()),
            )
            .chain(desired.iter().filter_map(|d| match &d.body {
                Body::Connection { team: owner, .. } if owner == team => Some(d.name.clone()),
                Body::Job { file, .. } if file.team.trim() == team => Some(d.name.clone()),
                Body::Workflow { file, .. } if file.team.trim() == team => Some(d.name.clone()),
                _ => None,
            }))
            .collect::<BTreeSet<_>>();
        if !owns.is_empty() {
            let file = paths(Kind::Team, snap.names(Kind::Team))
                .remove(team)
                .unwrap_or_default();
            errors.push(
                file,
                format!(
                    "team {team:?} cannot be deleted: it still owns {}",
                    owns.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

/// Reads one file into what it asks for and its document; problems go to `errors`.
#[allow(clippy::too_many_arguments)]
fn desire(
    names: &Names<'_>,
    secret_box: Option<&crate::secrets::SecretBox>,
    auth: &Auth,
    request: &ApplyRequest,
    kind: Kind,
    file: &str,
    f: ReadFile,
    errors: &mut FieldErrors,
) -> Result<Option<Desired>, ApiError> {
    let snap = names.snap;
    let org = auth.organization_id;
    let before = errors.0.len();
    let field = |f: &str| file_field(file, f);
    // The stored secret compared with the given value: `Some(true)` when they differ.
    let differs =
        |stored: Option<&Value>, slot: SecretSlot, given: &str| -> Result<bool, ApiError> {
            let Some(stored) = stored.and_then(Value::as_str) else {
                return Ok(false);
            };
            let secret_box =
                secret_box.ok_or_else(|| ApiError::Unavailable(NO_SECRET_KEY.into()))?;
            Ok(secret_box.decrypt(stored, &slot)? != given)
        };
    let (name, body, doc, secret_changes) = match f {
        ReadFile::Team(t) => {
            let name = t.name.trim().to_owned();
            if let Err(e) = (TeamNameRequest { name: name.clone() }).validate() {
                collect(errors, in_file(file, ApiError::Validation(e)))?;
            }
            let mut members = Vec::new();
            for (i, m) in t.members.iter().enumerate() {
                let email = normalize_email(&m.email);
                if !snap.users.contains_key(&email) {
                    errors.push(
                        field(&format!("members[{i}].email")),
                        "is not a member of this organization (invite them first)",
                    );
                } else if members.iter().any(|(e, _)| *e == email) {
                    errors.push_message(
                        field(&format!("members[{i}].email")),
                        MessageCode::ListedTwice,
                    );
                }
                members.push((email, m.role));
            }
            let doc = team_doc(&name, &members);
            (name, Body::Team { members }, doc, Vec::new())
        }
        ReadFile::Destination(d) => {
            let name = d.name.trim().to_owned();
            let existing = snap.destinations.get(&name);
            let id = names
                .destinations
                .get(&name)
                .copied()
                .unwrap_or_else(DestinationId::new);
            if let Some(e) = existing
                && e.kind != d.settings.kind()
            {
                errors.push(
                    field("settings.kind"),
                    format!(
                        "cannot change from {} to {}: give the new destination another name",
                        e.kind,
                        d.settings.kind()
                    ),
                );
            }
            let mut changed = Vec::new();
            // One secret of the file: its reference checked, its value looked up.
            let mut secret = |path: &str,
                              stored_at: &[&str],
                              slot_field: &str,
                              text: Option<&String>|
             -> Result<(Option<String>, String), ApiError> {
                let reference = secret_ref(&secret_name(
                    Kind::Destination,
                    &name,
                    slot_field.replace("headers.", "header_").as_str(),
                ));
                let Some(found) = text.and_then(|t| parse_secret_ref(t)) else {
                    errors.push(field(path), "write a secret as ${secret:NAME} and give its value when applying; a file never holds it");
                    return Ok((None, reference));
                };
                let given = request.secrets.get(found).cloned();
                let stored =
                    existing.and_then(|e| stored_at.iter().try_fold(&e.secrets, |v, k| v.get(*k)));
                match &given {
                    None if stored.is_none() => errors.push(
                        field(path),
                        format!("secret {found} has no value: {NO_VALUE_HINT}"),
                    ),
                    Some(v)
                        if differs(stored, SecretSlot::destination(org, id, slot_field), v)? =>
                    {
                        changed.push(path.trim_start_matches("settings.").to_owned());
                    }
                    _ => {}
                }
                Ok((given, reference))
            };
            let (with_values, shown) = match &d.settings {
                DestinationSettings::Slack { webhook_url } => {
                    let (given, reference) = secret(
                        "settings.webhook_url",
                        &["webhook_url"],
                        "webhook_url",
                        webhook_url.as_ref(),
                    )?;
                    (
                        DestinationSettings::Slack { webhook_url: given },
                        DestinationSettings::Slack {
                            webhook_url: Some(reference),
                        },
                    )
                }
                DestinationSettings::Email { address } => {
                    let s = DestinationSettings::Email {
                        address: normalize_email(address),
                    };
                    (s.clone(), s)
                }
                DestinationSettings::Webhook { url, headers } => {
                    let mut given_headers = Vec::new();
                    let mut shown_headers = Vec::new();
                    for (i, h) in headers.iter().enumerate() {
                        if h.secret {
                            let (given, reference) = secret(
                                &format!("settings.headers[{i}].value"),
                                &["headers", &h.name],
                                &format!("headers.{}", h.name),
                                h.value.as_ref(),
                            )?;
                            given_headers.push(hakobu_core::api::notifications::WebhookHeader {
                                value: given,
                                ..h.clone()
                            });
                            shown_headers.push(hakobu_core::api::notifications::WebhookHeader {
                                value: Some(reference),
                                ..h.clone()
                            });
                        } else {
                            given_headers.push(h.clone());
                            shown_headers.push(h.clone());
                        }
                    }
                    (
                        DestinationSettings::Webhook {
                            url: url.clone(),
                            headers: given_headers,
                        },
                        DestinationSettings::Webhook {
                            url: url.clone(),
                            headers: shown_headers,
                        },
                    )
                }
            };
            let doc = destination_doc(&name, &shown)?;
            (
                name,
                Body::Destination {
                    id,
                    settings: with_values,
                },
                doc,
                changed,
            )
        }
        ReadFile::Connection(c) => {
            let name = c.name.trim().to_owned();
            let team = c.team.trim().to_owned();
            names.check_team(errors, field("team"), &team);
            let existing = snap.connections.get(&name).map(|(c, _)| c);
            if let Some(e) = existing
                && e.kind != c.kind
            {
                errors.push(
                    field("kind"),
                    format!(
                        "cannot change from {} to {}: give the new connection another name",
                        e.kind, c.kind
                    ),
                );
            }
            let id = names
                .connections
                .get(&name)
                .copied()
                .unwrap_or_else(ConnectionId::new);
            let mut plain_given = Map::new();
            let mut secrets = BTreeMap::new();
            let mut changed = Vec::new();
            for (key, value) in &c.settings {
                if !c.kind.field(key).is_some_and(|s| s.secret) {
                    plain_given.insert(key.clone(), value.clone());
                    continue;
                }
                let Some(found) = value.as_str().and_then(parse_secret_ref) else {
                    errors.push(
                        field(&format!("settings.{key}")),
                        "write a secret as ${secret:NAME} and give its value when applying; a file never holds it",
                    );
                    continue;
                };
                let given = request.secrets.get(found).cloned();
                let stored = existing.and_then(|e| e.secrets.get(key));
                match &given {
                    None if stored.is_none() => errors.push(
                        field(&format!("settings.{key}")),
                        format!("secret {found} has no value: {NO_VALUE_HINT}"),
                    ),
                    Some(v) if differs(stored, SecretSlot::connection(org, id, key), v)? => {
                        changed.push(key.clone());
                    }
                    _ => {}
                }
                secrets.insert(key.clone(), given);
            }
            // The same normalization as the create and update endpoints: trimmed values,
            // blanks and settings that mean nothing with the others left out.
            let (mut plain, _) = split_secrets(c.kind, &plain_given);
            let mut no_secrets = Map::new();
            drop_inapplicable(c.kind, &mut plain, &mut no_secrets);
            let basis = plain.clone();
            secrets.retain(|k, _| field_applies(c.kind, &basis, k));
            changed.retain(|k| secrets.contains_key(k));
            let mut shown = plain.clone();
            for key in secrets.keys() {
                shown.insert(
                    key.clone(),
                    Value::String(secret_ref(&secret_name(Kind::Connection, &name, key))),
                );
            }
            let shares = names.shares(errors, file, &c.shares);
            let doc = connection_doc(&name, c.kind, &team, shown, &shares);
            (
                name,
                Body::Connection {
                    id,
                    kind: c.kind,
                    team,
                    plain,
                    secrets,
                    shares,
                },
                doc,
                changed,
            )
        }
        ReadFile::Job(j) => {
            let name = j.name.trim().to_owned();
            let team = j.team.trim().to_owned();
            names.check_team(errors, field("team"), &team);
            if let Some(e) = snap.jobs.get(&name)
                && snap.team_names.get(&e.job.team_id) != Some(&team)
            {
                errors.push(field("team"), "a job stays with the team it was created in: give a job of another team another name");
            }
            let mut settings_value = j.settings.clone();
            with_ids(
                &mut settings_value,
                "settings",
                &names.connections,
                &mut |path, text| errors.push(field(&path), text),
            );
            let settings: Option<JobSettings> = match from_value(file, "settings", settings_value) {
                Ok(s) => Some(s),
                Err(e) => {
                    collect(errors, e)?;
                    None
                }
            };
            let schedules = read_schedules(file, &j.schedules, "job", errors)?;
            let (rules, rule_docs) = read_rules(names, file, &j.notification_rules, false, errors)?;
            let shares = names.shares(errors, file, &j.shares);
            let mut connection_names: HashMap<ConnectionId, String> = names
                .connections
                .iter()
                .map(|(n, id)| (*id, n.clone()))
                .collect();
            connection_names.extend(snap.connection_names.iter().map(|(id, n)| (*id, n.clone())));
            let doc = match &settings {
                Some(s) => job_doc(JobDoc {
                    name: &name,
                    description: j.description.trim(),
                    labels: &j.labels,
                    enabled: j.enabled,
                    team: &team,
                    settings: settings_with_names(s, &connection_names)?,
                    schedules,
                    rules: rule_docs,
                    shares: &shares,
                }),
                None => Value::Null,
            };
            (
                name,
                Body::Job {
                    file: j,
                    settings,
                    rules,
                    shares,
                },
                doc,
                Vec::new(),
            )
        }
        ReadFile::Workflow(w) => {
            let name = w.name.trim().to_owned();
            let team = w.team.trim().to_owned();
            names.check_team(errors, field("team"), &team);
            if let Some(e) = snap.workflows.get(&name)
                && snap.team_names.get(&e.workflow.team_id) != Some(&team)
            {
                errors.push(field("team"), "a workflow stays with the team it was created in: give a workflow of another team another name");
            }
            let ids = names.ids();
            let mut spec_value = w.spec.clone();
            let unresolved = errors.0.len();
            spec_with_ids(&mut spec_value, "spec", &ids, &mut |path, text| {
                errors.push(field(&path), text)
            });
            // A name that resolves nowhere is said once, not again as a missing id.
            let spec: Option<WorkflowSpec> = if errors.0.len() > unresolved {
                None
            } else {
                match from_value(file, "spec", spec_value) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        collect(errors, e)?;
                        None
                    }
                }
            };
            let schedules = read_schedules(file, &w.schedules, "workflow", errors)?;
            let (rules, rule_docs) = read_rules(names, file, &w.notification_rules, true, errors)?;
            let doc = match spec {
                Some(spec) => {
                    let request = SaveWorkflowRequest {
                        name: name.clone(),
                        description: w.description.trim().to_owned(),
                        team_id: TeamId::new(),
                        spec,
                    };
                    if let Err(e) = request.validate() {
                        collect(errors, in_file(file, ApiError::Validation(e)))?;
                    }
                    // Ids back to names: the document as export would write it.
                    let id_names: IdNames = ids
                        .iter()
                        .map(|(kind, m)| {
                            (
                                *kind,
                                m.iter().map(|(n, id)| (id.clone(), n.clone())).collect(),
                            )
                        })
                        .collect();
                    workflow_doc(WorkflowDoc {
                        name: &name,
                        description: &request.description,
                        team: &team,
                        spec: spec_with_names(&request.spec, &id_names)?,
                        schedules,
                        rules: rule_docs,
                    })
                }
                None => Value::Null,
            };
            let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
            (
                name,
                Body::Workflow {
                    file: w,
                    spec,
                    rules,
                },
                doc,
                Vec::new(),
            )
        }
    };
    if errors.0.len() > before {
        return Ok(None);
    }
    Ok(Some(Desired {
        kind,
        file: file.to_owned(),
        name,
        body,
        doc,
        secret_changes,
    }))
}

/// A file's schedules as their documents; problems go to `errors`.
fn read_schedules(
    file: &str,
    given: &[ScheduleRequest],
    what: &str,
    errors: &mut FieldErrors,
) -> Result<Vec<Value>, ApiError> {
    let field = |f: &str| file_field(file, f);
    if given.len() > MAX_SCHEDULES_PER_JOB {
        errors.push(
            field("schedules"),
            format!("a {what} can have at most {MAX_SCHEDULES_PER_JOB} schedules"),
        );
    }
    let mut schedules = Vec::new();
    for (i, s) in given.iter().enumerate() {
        if let Err(e) = s.validate() {
            collect(
                errors,
                in_file(
                    file,
                    ApiError::Validation(prefixed(e, &format!("schedules[{i}]"))),
                ),
            )?;
        }
        schedules.push(schedule_doc(&s.settings, s.enabled)?);
    }
    Ok(schedules)
}

/// A file's notification rules with their destinations' ids, and their documents; a
/// workflow's rules are for its success or failure only. Problems go to `errors`.
fn read_rules(
    names: &Names<'_>,
    file: &str,
    given: &[Map<String, Value>],
    workflow: bool,
    errors: &mut FieldErrors,
) -> Result<(Vec<RuleRequest>, Vec<Value>), ApiError> {
    let field = |f: &str| file_field(file, f);
    let mut rules = Vec::new();
    let mut rule_docs = Vec::new();
    for (i, r) in given.iter().enumerate() {
        let mut r = r.clone();
        let destination = match r.remove("destination") {
            Some(Value::String(d)) => d,
            _ => {
                errors.push(
                    field(&format!("notification_rules[{i}].destination")),
                    "name the destination",
                );
                continue;
            }
        };
        let Some(id) = names.destinations.get(destination.trim()) else {
            errors.push(
                field(&format!("notification_rules[{i}].destination")),
                format!("there is no notification destination named {destination:?} in this organization"),
            );
            continue;
        };
        r.insert("destination_id".into(), json!(id));
        match from_value::<RuleRequest>(file, &format!("notification_rules[{i}]"), Value::Object(r))
        {
            Ok(rule) => {
                let mut checked = rule.validate().into_result();
                if checked.is_ok() && workflow {
                    checked = match crate::routes::notification_rules::workflow_event(&rule) {
                        Err(ApiError::Validation(e)) => Err(e),
                        _ => Ok(()),
                    };
                }
                if let Err(e) = checked {
                    collect(
                        errors,
                        in_file(
                            file,
                            ApiError::Validation(prefixed(e, &format!("notification_rules[{i}]"))),
                        ),
                    )?;
                }
                rule_docs.push(rule_doc(&rule, destination.trim())?);
                rules.push(rule);
            }
            Err(e) => collect(errors, e)?,
        }
    }
    Ok((rules, rule_docs))
}

fn prefixed(mut e: FieldErrors, prefix: &str) -> FieldErrors {
    for f in &mut e.0 {
        f.field = if f.field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", f.field)
        };
    }
    e
}

/// The inverse of [`spec_with_names`]: in each task's action, the name under a key of
/// [`TASK_REFERENCES`] becomes the id of that object (`ids`: by kind and name); a name no
/// object of this organization has, or an id written in the file, is an error at its field.
fn spec_with_ids(
    spec: &mut Value,
    path: &str,
    ids: &NameIds,
    error: &mut dyn FnMut(String, String),
) {
    let Some(tasks) = spec.get_mut("tasks").and_then(Value::as_array_mut) else {
        return;
    };
    for (i, task) in tasks.iter_mut().enumerate() {
        let Some(action) = task.get_mut("action").and_then(Value::as_object_mut) else {
            continue;
        };
        for (id_key, name_key, kind) in TASK_REFERENCES {
            let at = |key: &str| format!("{path}.tasks[{i}].action.{key}");
            if action.contains_key(id_key) {
                error(
                    at(id_key),
                    format!(
                        "name the {} with {name_key}: <name>; a file holds no ids",
                        kind.label()
                    ),
                );
                continue;
            }
            let Some(given) = action.get(name_key) else {
                continue;
            };
            let Some(name) = given.as_str().map(str::trim) else {
                error(at(name_key), format!("the name of a {}", kind.label()));
                continue;
            };
            match ids.get(&kind).and_then(|m| m.get(name)) {
                Some(id) => {
                    let id = Value::String(id.clone());
                    action.remove(name_key);
                    action.insert(id_key.into(), id);
                }
                None => error(
                    at(name_key),
                    format!(
                        "there is no {} named {name:?} in this organization",
                        kind.label()
                    ),
                ),
            }
        }
    }
}

/// The inverse of `settings_with_names`: each `connection: <name>` becomes
/// `connection_id: <id>`, a name of no connection of this organization an error.
fn with_ids(
    v: &mut Value,
    path: &str,
    ids: &HashMap<String, ConnectionId>,
    error: &mut dyn FnMut(String, String),
) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(name)) = m.get("connection") {
                let name = name.trim().to_owned();
                match ids.get(&name) {
                    Some(id) => {
                        m.remove("connection");
                        m.insert("connection_id".into(), json!(id));
                    }
                    None => error(
                        format!("{path}.connection"),
                        format!("there is no connection named {name:?} in this organization"),
                    ),
                }
            }
            for (k, v) in m.iter_mut() {
                with_ids(v, &format!("{path}.{k}"), ids, error);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                with_ids(v, &format!("{path}[{i}]"), ids, error);
            }
        }
        _ => {}
    }
}

async fn execute_team(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    snap: &Snapshot,
    name: &str,
    members: &[(String, TeamRole)],
    existing: Option<&TeamState>,
    team_ids: &mut HashMap<String, TeamId>,
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let id = match existing {
        Some(t) => t.id,
        None => {
            let team = Team::insert(conn, org, name).await.map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict("name", MessageCode::DuplicateTeam)
                } else {
                    e.into()
                }
            })?;
            audit::record(
                conn,
                &Actor::from(auth),
                "team.create",
                "team",
                team.id,
                json!({"name": team.name}),
            )
            .await?;
            team_ids.insert(name.to_owned(), team.id);
            team.id
        }
    };
    for (email, role) in members {
        let user = snap.users[email];
        let before = existing
            .and_then(|t| t.members.iter().find(|(_, u, _)| *u == user))
            .map(|(_, _, r)| *r);
        if before != Some(*role) {
            TeamMember::upsert(conn, org, id, user, *role).await?;
            audit::record(
                conn,
                &Actor::from(auth),
                "team.member.put",
                "team",
                id,
                json!({"team": name, "email": email, "role": role, "before": before}),
            )
            .await?;
        }
    }
    for (email, user, role) in existing.map(|t| t.members.as_slice()).unwrap_or_default() {
        if !members.iter().any(|(e, _)| e == email) {
            TeamMember::remove(conn, org, id, *user).await?;
            audit::record(
                conn,
                &Actor::from(auth),
                "team.member.remove",
                "team",
                id,
                json!({"team": name, "email": email, "role": role}),
            )
            .await?;
        }
    }
    Ok(())
}

async fn execute_destination(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    name: &str,
    id: DestinationId,
    settings: &DestinationSettings,
    existing: Option<&Destination>,
) -> Result<Option<(Destination, String)>, ApiError> {
    let request = DestinationRequest {
        name: name.to_owned(),
        settings: settings.clone(),
    };
    request.validate(existing.is_none()).into_result()?;
    let kind = settings.kind();
    let (token, digest, expires) = confirmation();
    let Some(before) = existing else {
        require_mail(state, kind)?;
        let (plain, sealed) = split(state, (auth.organization_id, id), settings, None)?;
        let email = kind == DestinationKind::Email;
        let d = Destination::insert(
            conn,
            NewDestination {
                id,
                organization_id: auth.organization_id,
                name,
                kind,
                settings: plain,
                secrets: sealed,
                confirmed_at: (!email).then(Utc::now),
                confirm_token_hash: email.then_some(digest.as_slice()),
                confirm_expires_at: email.then_some(expires),
                created_by: Some(auth.user_id),
            },
        )
        .await
        .map_err(name_conflict)?;
        audit::record(
            conn,
            &Actor::from(auth),
            "destination.create",
            "destination",
            d.id,
            json!({"name": d.name, "kind": d.kind, "settings": public_settings(&d)}),
        )
        .await?;
        return Ok(email.then_some((d, token)));
    };
    let (plain, sealed) = split(
        state,
        (before.organization_id, before.id),
        settings,
        Some(before),
    )?;
    let reconfirm =
        before.kind == DestinationKind::Email && before.settings["address"] != plain["address"];
    if reconfirm {
        require_mail(state, before.kind)?;
    }
    let (confirmed_at, hash, until) = if reconfirm {
        (None, Some(digest.as_slice()), Some(expires))
    } else {
        (
            before.confirmed_at,
            before.confirm_token_hash.as_deref(),
            before.confirm_expires_at,
        )
    };
    let d = Destination::update(
        conn,
        auth.organization_id,
        before.id,
        DestinationChangeset {
            name,
            settings: plain,
            secrets: sealed,
            confirmed_at,
            confirm_token_hash: hash,
            confirm_expires_at: until,
            updated_at: Utc::now(),
        },
    )
    .await
    .map_err(name_conflict)?
    .ok_or_else(|| ApiError::not_found("destination"))?;
    audit::record(
        conn,
        &Actor::from(auth),
        "destination.update",
        "destination",
        d.id,
        json!({"before": {"name": before.name, "settings": public_settings(before)},
               "after": {"name": d.name, "settings": public_settings(&d)}}),
    )
    .await?;
    Ok(reconfirm.then_some((d, token)))
}

struct ConnectionChange<'a> {
    id: ConnectionId,
    kind: ConnectionKind,
    team: &'a str,
    plain: &'a Map<String, Value>,
    secrets: &'a BTreeMap<String, Option<String>>,
    shares: &'a [(String, TeamRole)],
}

fn grants(shares: &[(String, TeamRole)], team_ids: &HashMap<String, TeamId>) -> Vec<TeamGrant> {
    shares
        .iter()
        .filter_map(|(team, role)| {
            team_ids.get(team).map(|t| TeamGrant {
                team_id: *t,
                role: *role,
            })
        })
        .collect()
}

async fn execute_connection(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    name: &str,
    c: &ConnectionChange<'_>,
    existing: Option<&(Connection, Vec<(TeamId, TeamRole)>)>,
    team_ids: &HashMap<String, TeamId>,
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let secret_box = state
        .secrets
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable(NO_SECRET_KEY.into()))?;
    let team_id = *team_ids
        .get(c.team)
        .ok_or_else(|| ApiError::field("team", "is not a team of this organization"))?;
    require_team_editor(conn, auth, team_id, "team_id").await?;
    let seal = |field: &str, value: &str| -> Result<Value, ApiError> {
        Ok(Value::String(secret_box.encrypt(
            value,
            &SecretSlot::connection(org, c.id, field),
        )?))
    };
    let saved = match existing {
        None => {
            // The create endpoint's request, with the secrets' values in place.
            let mut settings = c.plain.clone();
            for (field, value) in c.secrets {
                settings.insert(field.clone(), json!(value));
            }
            let request = CreateConnectionRequest {
                name: name.to_owned(),
                kind: c.kind,
                team_id,
                settings,
            };
            request.validate()?;
            check_operator_rules(state, org, c.kind, &request.settings)?;
            let (mut plain, secrets) = split_secrets(c.kind, &request.settings);
            let mut sealed = Map::new();
            for (field, value) in &secrets {
                if let Some(value) = value {
                    sealed.insert(field.clone(), seal(field, value)?);
                }
            }
            drop_inapplicable(c.kind, &mut plain, &mut sealed);
            let created = Connection::insert(
                conn,
                NewConnection {
                    id: c.id,
                    organization_id: org,
                    team_id,
                    name,
                    kind: c.kind,
                    settings: Value::Object(plain.clone()),
                    secrets: Value::Object(sealed),
                    created_by: Some(auth.user_id),
                },
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict("name", "A connection with this name already exists.")
                } else {
                    e.into()
                }
            })?;
            audit::record(
                conn,
                &Actor::from(auth),
                "connection.create",
                "connection",
                created.id,
                json!({"name": created.name, "kind": created.kind, "team_id": created.team_id,
                       "settings": plain, "secrets_set": created.secret_names()}),
            )
            .await?;
            created
        }
        Some((before, _)) => {
            // The update endpoint's rules: a secret not given again is kept, unless what
            // it is bound to (host, user, ...) changed.
            let mut plain = c.plain.clone();
            let mut sealed = Map::new();
            let mut errors = FieldErrors::default();
            let before_plain = before.settings.as_object().cloned().unwrap_or_default();
            let changed = changed_binding_fields(c.kind, &before_plain, &plain);
            for (field, value) in c.secrets {
                match value {
                    Some(v) => {
                        sealed.insert(field.clone(), seal(field, v)?);
                    }
                    None => match (changed.first(), before.secrets.get(field)) {
                        (Some(first), _) => errors.push_message(
                            format!("settings.{field}"),
                            MessageCode::SecretReenter.with("changed", first),
                        ),
                        (None, Some(stored)) => {
                            sealed.insert(field.clone(), stored.clone());
                        }
                        (None, None) => {
                            errors.push_message(format!("settings.{field}"), MessageCode::Required)
                        }
                    },
                }
            }
            drop_inapplicable(c.kind, &mut plain, &mut sealed);
            let on_file: Vec<&str> = sealed.keys().map(String::as_str).collect();
            errors
                .0
                .extend(validate_settings(c.kind, &plain, &on_file, "settings").0);
            errors.into_result()?;
            check_operator_rules(state, org, c.kind, &plain)?;
            let updated = Connection::update(
                conn,
                org,
                before.id,
                ConnectionChangeset {
                    name,
                    team_id,
                    settings: Value::Object(plain),
                    secrets: Value::Object(sealed),
                    updated_at: Utc::now(),
                },
            )
            .await?
            .ok_or_else(|| ApiError::not_found("connection"))?;
            audit::record(conn, &Actor::from(auth), "connection.update", "connection", before.id, json!({
                "before": {"name": before.name, "team_id": before.team_id, "settings": before.settings},
                "after": {"name": updated.name, "team_id": updated.team_id, "settings": updated.settings},
                "secrets_changed": c.secrets.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k).collect::<Vec<_>>(),
            })).await?;
            updated
        }
    };
    let shares = check_shares(conn, auth, team_id, &grants(c.shares, team_ids)).await?;
    if existing.is_none_or(|(_, before)| {
        let mut a = before.clone();
        let mut b = shares.clone();
        a.sort();
        b.sort();
        a != b
    }) {
        Connection::set_shares(conn, org, saved.id, &shares).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn execute_job(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    snap: &Snapshot,
    file: &JobFile,
    settings: &JobSettings,
    rules: &[RuleRequest],
    shares: &[(String, TeamRole)],
    team_ids: &HashMap<String, TeamId>,
    _names: &Names<'_>,
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let name = file.name.trim();
    let team_id = *team_ids
        .get(file.team.trim())
        .ok_or_else(|| ApiError::field("team", "is not a team of this organization"))?;
    let mut errors = FieldErrors::default();
    validate_job_text(
        &mut errors,
        Some(name),
        Some(&file.description),
        Some(&file.labels),
    );
    errors.into_result()?;
    let existing = snap.jobs.get(name);
    let (job_id, before_schedules, before_rules, before_shares): (
        JobId,
        &[ScheduleRow],
        &[NotificationRule],
        _,
    ) = match existing {
        None => {
            require_team_editor(conn, auth, team_id, "team_id").await?;
            let request = CreateJobRequest {
                name: name.to_owned(),
                description: file.description.trim().to_owned(),
                labels: file.labels.clone(),
                team_id,
                enabled: file.enabled,
                settings: settings.clone(),
            };
            let job = insert_job(
                conn,
                state,
                auth,
                &request,
                "job.create",
                json!({"via": "config.apply"}),
            )
            .await?;
            (job.id, &[][..], &[][..], None)
        }
        Some(j) => {
            let request = UpdateJobRequest {
                name: None,
                description: Some(file.description.trim().to_owned()),
                labels: Some(file.labels.clone()),
                enabled: Some(file.enabled),
                settings: Some(settings.clone()),
            };
            update_job(conn, state, auth, j.job.id, &request).await?;
            (
                j.job.id,
                j.schedules.as_slice(),
                j.rules.as_slice(),
                Some(&j.shares),
            )
        }
    };
    // Shares.
    let wanted = check_shares(conn, auth, team_id, &grants(shares, team_ids)).await?;
    if before_shares.is_none_or(|before| {
        let mut a = before.clone();
        let mut b = wanted.clone();
        a.sort();
        b.sort();
        a != b
    }) {
        Job::set_shares(conn, org, job_id, &wanted).await?;
    }
    sync_schedules(
        conn,
        state,
        auth,
        Owner::Job(job_id, name),
        before_schedules,
        &file.schedules,
    )
    .await?;
    sync_rules(conn, auth, Owner::Job(job_id, name), before_rules, rules).await?;
    Ok(())
}

/// What a file's schedules and notification rules belong to: a job or a workflow, with
/// its name for the audit entries.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Job(JobId, &'a str),
    Workflow(WorkflowId, &'a str),
}

impl Owner<'_> {
    fn job_id(self) -> Option<JobId> {
        match self {
            Owner::Job(id, _) => Some(id),
            Owner::Workflow(..) => None,
        }
    }

    fn workflow_id(self) -> Option<WorkflowId> {
        match self {
            Owner::Job(..) => None,
            Owner::Workflow(id, _) => Some(id),
        }
    }

    /// An audit entry's details: the owner's id and name, then `extra`.
    fn audit(self, extra: Value) -> Value {
        let mut details = match self {
            Owner::Job(id, name) => json!({"job_id": id, "job_name": name}),
            Owner::Workflow(id, name) => json!({"workflow_id": id, "workflow_name": name}),
        };
        if let (Some(d), Value::Object(extra)) = (details.as_object_mut(), extra) {
            d.extend(extra);
        }
        details
    }
}

/// Schedules: those equal to one in the file stay as they are (their next fire time and
/// failure count too); the others go, the file's new ones are added.
async fn sync_schedules(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    owner: Owner<'_>,
    before: &[ScheduleRow],
    wanted: &[ScheduleRequest],
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let mut kept = vec![false; wanted.len()];
    for row in before {
        let same = wanted.iter().enumerate().find(|(i, s)| {
            !kept[*i]
                && s.enabled == row.enabled
                && serde_json::to_value(&s.settings).ok().as_ref() == Some(&row.settings)
        });
        match same {
            Some((i, _)) => kept[i] = true,
            None => {
                ScheduleRow::delete(conn, org, row.id).await?;
                audit::record(
                    conn,
                    &Actor::from(auth),
                    "schedule.delete",
                    "schedule",
                    row.id,
                    owner.audit(json!({"settings": row.settings})),
                )
                .await?;
            }
        }
    }
    let added = kept.iter().filter(|k| !**k).count();
    if added > 0 {
        crate::services::quotas::ensure_room(
            conn,
            &state.settings.quotas,
            org,
            crate::services::quotas::Counted::Schedules,
            added as i64,
        )
        .await?;
    }
    for (i, request) in wanted.iter().enumerate().filter(|(i, _)| !kept[*i]) {
        let schedule = request
            .validate()
            .map_err(|e| ApiError::Validation(prefixed(e, &format!("schedules[{i}]"))))?;
        let row = ScheduleRow::insert(
            conn,
            NewSchedule {
                id: ScheduleId::new(),
                organization_id: org,
                job_id: owner.job_id(),
                workflow_id: owner.workflow_id(),
                settings: serde_json::to_value(&request.settings).map_err(anyhow::Error::from)?,
                enabled: request.enabled,
                next_fire_at: request
                    .enabled
                    .then(|| schedule.next_after(Utc::now()))
                    .flatten(),
                created_by: Some(auth.user_id),
            },
        )
        .await?;
        audit::record(
            conn,
            &Actor::from(auth),
            "schedule.create",
            "schedule",
            row.id,
            owner.audit(json!({"settings": request.settings, "enabled": request.enabled})),
        )
        .await?;
    }
    Ok(())
}

/// Notification rules, the way of [`sync_schedules`].
async fn sync_rules(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    owner: Owner<'_>,
    before: &[NotificationRule],
    wanted: &[RuleRequest],
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let mut kept = vec![false; wanted.len()];
    for row in before {
        let stored = stored_rule(row);
        match wanted
            .iter()
            .enumerate()
            .find(|(i, r)| !kept[*i] && **r == stored)
        {
            Some((i, _)) => kept[i] = true,
            None => {
                NotificationRule::delete(conn, org, row.id).await?;
                audit::record(
                    conn,
                    &Actor::from(auth),
                    "notification_rule.delete",
                    "notification_rule",
                    row.id,
                    owner.audit(json!({"rule": row.view()})),
                )
                .await?;
            }
        }
    }
    for (i, rule) in wanted.iter().enumerate().filter(|(i, _)| !kept[*i]) {
        let mut checked = crate::routes::notification_rules::validate(conn, auth, rule).await;
        if checked.is_ok() && owner.workflow_id().is_some() {
            checked = crate::routes::notification_rules::workflow_event(rule);
        }
        checked.map_err(|e| match e {
            ApiError::Validation(e) => {
                ApiError::Validation(prefixed(e, &format!("notification_rules[{i}]")))
            }
            other => other,
        })?;
        let row = NotificationRule::insert(
            conn,
            NewNotificationRule {
                id: hakobu_core::ids::NotificationRuleId::new(),
                organization_id: org,
                job_id: owner.job_id(),
                workflow_id: owner.workflow_id(),
                destination_id: rule.destination_id,
                event: rule.event,
                threshold: rule.threshold,
                subject: rule.subject.as_deref(),
                template: rule.template.as_deref(),
                mentions: json!(rule.mentions),
                enabled: rule.enabled,
            },
        )
        .await?;
        audit::record(
            conn,
            &Actor::from(auth),
            "notification_rule.create",
            "notification_rule",
            row.id,
            owner.audit(json!({"rule": row.view()})),
        )
        .await?;
    }
    Ok(())
}

/// What one workflow file asks for, read and checked.
struct WorkflowChange<'a> {
    file: &'a WorkflowFile,
    /// The spec with names (as its document shows it).
    spec: &'a Value,
    rules: &'a [RuleRequest],
}

/// Creates or changes a workflow through the checks of `POST`/`PUT /api/workflows`: the
/// caller edits the team (or the workflow) and may run every job it runs. Names in the
/// spec become the ids of `ids` (which know the jobs this apply just created).
async fn execute_workflow(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    snap: &Snapshot,
    w: WorkflowChange<'_>,
    team_ids: &HashMap<String, TeamId>,
    ids: &NameIds,
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let name = w.file.name.trim();
    let team_id = *team_ids
        .get(w.file.team.trim())
        .ok_or_else(|| ApiError::field("team", "is not a team of this organization"))?;
    let mut spec_value = w.spec.clone();
    let mut errors = FieldErrors::default();
    spec_with_ids(&mut spec_value, "spec", ids, &mut |path, text| {
        errors.push(path, text)
    });
    errors.into_result()?;
    let spec: WorkflowSpec =
        serde_json::from_value(spec_value).map_err(|e| ApiError::field("spec", e.to_string()))?;
    let request = SaveWorkflowRequest {
        name: name.to_owned(),
        description: w.file.description.trim().to_owned(),
        team_id,
        spec,
    };
    request.validate()?;
    let spec_json = serde_json::to_value(&request.spec).map_err(anyhow::Error::from)?;
    let (id, before_schedules, before_rules): (WorkflowId, &[ScheduleRow], &[NotificationRule]) =
        match snap.workflows.get(name) {
            None => {
                require_team_editor(conn, auth, team_id, "team_id").await?;
                check_references(conn, auth, &request.spec, "spec.")
                    .await?
                    .into_result()?;
                let id = ids
                    .get(&Kind::Workflow)
                    .and_then(|m| m.get(name))
                    .and_then(|id| id.parse().ok())
                    .unwrap_or_default(); // `Default` is a fresh id
                let workflow = Workflow::insert(
                    conn,
                    NewWorkflow {
                        id,
                        organization_id: org,
                        team_id,
                        name,
                        description: &request.description,
                        spec: spec_json,
                        created_by: Some(auth.user_id),
                    },
                )
                .await
                .map_err(crate::services::jobs::name_conflict)?;
                audit::record(
                    conn,
                    &Actor::from(auth),
                    "workflow.create",
                    "workflow",
                    workflow.id,
                    json!({"name": workflow.name, "tasks": request.spec.tasks.len(), "via": "config.apply"}),
                )
                .await?;
                (workflow.id, &[][..], &[][..])
            }
            Some(existing) => {
                let before = load_workflow(
                    conn,
                    auth,
                    existing.workflow.id,
                    Action::EditResource,
                    "change this workflow",
                )
                .await?;
                check_references(conn, auth, &request.spec, "spec.")
                    .await?
                    .into_result()?;
                if before.description != request.description || before.spec != spec_json {
                    Workflow::update(
                        conn,
                        org,
                        before.id,
                        WorkflowChangeset {
                            name,
                            description: &request.description,
                            spec: spec_json,
                            updated_at: Utc::now(),
                        },
                    )
                    .await
                    .map_err(crate::services::jobs::name_conflict)?
                    .ok_or_else(|| ApiError::not_found("workflow"))?;
                    audit::record(
                        conn,
                        &Actor::from(auth),
                        "workflow.update",
                        "workflow",
                        before.id,
                        json!({"name": name, "tasks": request.spec.tasks.len(), "via": "config.apply"}),
                    )
                    .await?;
                }
                (
                    before.id,
                    existing.schedules.as_slice(),
                    existing.rules.as_slice(),
                )
            }
        };
    let owner = Owner::Workflow(id, name);
    sync_schedules(
        conn,
        state,
        auth,
        owner,
        before_schedules,
        &w.file.schedules,
    )
    .await?;
    sync_rules(conn, auth, owner, before_rules, w.rules).await?;
    Ok(())
}

async fn execute_delete(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    snap: &Snapshot,
    kind: Kind,
    name: &str,
) -> Result<(), ApiError> {
    let org = auth.organization_id;
    let actor = Actor::from(auth);
    match kind {
        Kind::Workflow => {
            let w = &snap.workflows[name].workflow;
            let running = WorkflowRun::for_workflow(conn, org, w.id, 1000)
                .await?
                .iter()
                .any(|r| r.status == WorkflowRunStatus::Running);
            if running {
                return Err(ApiError::field(
                    "name",
                    "this workflow has a run in progress: cancel it first",
                ));
            }
            Workflow::delete(conn, org, w.id).await?;
            audit::record(
                conn,
                &actor,
                "workflow.delete",
                "workflow",
                w.id,
                json!({"name": w.name}),
            )
            .await?;
        }
        Kind::Job => {
            let j = &snap.jobs[name].job;
            Job::delete(conn, org, j.id).await?;
            audit::record(
                conn,
                &actor,
                "job.delete",
                "job",
                j.id,
                json!({"name": j.name, "revision": j.revision}),
            )
            .await?;
        }
        Kind::Connection => {
            let (c, _) = &snap.connections[name];
            let users = Connection::used_by(conn, org, c.id).await?;
            if !users.is_empty() {
                let names: Vec<&str> = users.iter().map(|(_, n)| n.as_str()).collect();
                return Err(ApiError::field(
                    "name",
                    format!(
                        "jobs still use this connection: {}; change or delete them too",
                        names.join(", ")
                    ),
                ));
            }
            Connection::delete(conn, org, c.id).await?;
            audit::record(
                conn,
                &actor,
                "connection.delete",
                "connection",
                c.id,
                json!({"name": c.name, "kind": c.kind}),
            )
            .await?;
        }
        Kind::Destination => {
            let d = &snap.destinations[name];
            Destination::delete(conn, org, d.id).await?;
            audit::record(
                conn,
                &actor,
                "destination.delete",
                "destination",
                d.id,
                json!({"name": d.name, "kind": d.kind}),
            )
            .await?;
        }
        Kind::Team => {
            let t = &snap.teams[name];
            Team::delete(conn, org, t.id).await?;
            audit::record(
                conn,
                &actor,
                "team.delete",
                "team",
                t.id,
                json!({"name": name}),
            )
            .await?;
        }
    }
    Ok(())
}
