//! The organization as it is, and each object as the document its file holds. Export
//! writes these documents; apply builds the same documents from the files it is given, so
//! comparing two of them is the plan. Every list is sorted and every map is a
//! `serde_json::Map` (sorted keys), so one state always gives the same bytes.

use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::models::destination::Destination;
use crate::models::job::Job;
use crate::models::notification_rule::NotificationRule;
use crate::models::schedule::ScheduleRow;
use crate::models::team::{Team, TeamMember};
use crate::models::user::User;
use crate::models::workflow::Workflow;
use crate::services::jobs::parse_settings;
use diesel_async::AsyncPgConnection;
use hakobu_core::api::notifications::{
    DestinationKind, DestinationSettings, RuleRequest, WebhookHeader,
};
use hakobu_core::api::schedules::ScheduleRequest;
use hakobu_core::authz::TeamRole;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::{ConnectionId, DestinationId, OrganizationId, TeamId, UserId};
use hakobu_core::job::JobSettings;
use hakobu_core::schedule::ScheduleSettings;
use hakobu_core::workflow::WorkflowSpec;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The kinds of files, in the order apply creates and changes them (deletions go the other
/// way): a workflow names jobs, destinations and teams; a job names connections, teams
/// and destinations; a connection names teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Team,
    Destination,
    Connection,
    Job,
    Workflow,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Team,
        Kind::Destination,
        Kind::Connection,
        Kind::Job,
        Kind::Workflow,
    ];

    pub fn dir(self) -> &'static str {
        match self {
            Kind::Team => "teams",
            Kind::Destination => "destinations",
            Kind::Connection => "connections",
            Kind::Job => "jobs",
            Kind::Workflow => "workflows",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Team => "team",
            Kind::Destination => "destination",
            Kind::Connection => "connection",
            Kind::Job => "job",
            Kind::Workflow => "workflow",
        }
    }

    pub fn from_dir(dir: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.dir() == dir)
    }
}

/// `${secret:NAME}`: how a file says "the value of secret NAME, given at apply time".
pub fn secret_ref(name: &str) -> String {
    format!("${{secret:{name}}}")
}

/// The NAME of a `${secret:NAME}` reference (letters, digits and `_`).
pub fn parse_secret_ref(text: &str) -> Option<&str> {
    let name = text.strip_prefix("${secret:")?.strip_suffix('}')?;
    (!name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some(name)
}

/// The reference export writes for a secret field: `CONNECTION_WAREHOUSE_PASSWORD`.
/// Apply accepts any name; this one is only the default.
pub fn secret_name(kind: Kind, object: &str, field: &str) -> String {
    let mut out = String::new();
    for part in [kind.label(), object, field] {
        if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_uppercase());
            } else if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// File paths of the objects of one kind, by name: the name in lower case, what is
/// neither a letter nor a digit as `-`; names that give the same path get `-2`, `-3`, in
/// name order.
pub fn paths(kind: Kind, names: impl IntoIterator<Item = String>) -> BTreeMap<String, String> {
    let names: BTreeSet<String> = names.into_iter().collect();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for name in names {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_matches('-');
        let slug = if slug.is_empty() { "unnamed" } else { slug };
        let mut path = format!("{}/{slug}.yml", kind.dir());
        let mut n = 2;
        while !taken.insert(path.clone()) {
            path = format!("{}/{slug}-{n}.yml", kind.dir());
            n += 1;
        }
        out.insert(name, path);
    }
    out
}

/// `[{team, role}]` by team name.
pub fn shares_doc(shares: &[(String, TeamRole)]) -> Value {
    let mut sorted: Vec<&(String, TeamRole)> = shares.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(
        sorted
            .iter()
            .map(|(team, role)| json!({"team": team, "role": role}))
            .collect(),
    )
}

pub fn team_doc(name: &str, members: &[(String, TeamRole)]) -> Value {
    let mut sorted: Vec<&(String, TeamRole)> = members.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "name": name,
        "members": sorted.iter().map(|(email, role)| json!({"email": email, "role": role})).collect::<Vec<_>>(),
    })
}

/// `settings` holds plain values and, for secrets, their references.
pub fn connection_doc(
    name: &str,
    kind: ConnectionKind,
    team: &str,
    settings: Map<String, Value>,
    shares: &[(String, TeamRole)],
) -> Value {
    json!({"name": name, "kind": kind, "team": team, "settings": settings, "shares": shares_doc(shares)})
}

/// A destination's settings as a file holds them: secret values as references.
pub fn destination_doc(name: &str, settings: &DestinationSettings) -> Result<Value, ApiError> {
    Ok(json!({"name": name, "settings": to_value(settings)?}))
}

/// Schedules and rules are sorted by their own text: they have no names, so a list in
/// another order is the same list.
fn sorted_by_text(mut items: Vec<Value>) -> Value {
    items.sort_by_cached_key(|v| v.to_string());
    Value::Array(items)
}

pub struct JobDoc<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub labels: &'a [String],
    pub enabled: bool,
    pub team: &'a str,
    /// Settings with connection names (see [`settings_with_names`]).
    pub settings: Value,
    pub schedules: Vec<Value>,
    pub rules: Vec<Value>,
    pub shares: &'a [(String, TeamRole)],
}

pub fn job_doc(j: JobDoc<'_>) -> Value {
    json!({
        "name": j.name,
        "description": j.description,
        "labels": j.labels,
        "enabled": j.enabled,
        "team": j.team,
        "settings": j.settings,
        "schedules": sorted_by_text(j.schedules),
        "notification_rules": sorted_by_text(j.rules),
        "shares": shares_doc(j.shares),
    })
}

pub fn schedule_doc(settings: &ScheduleSettings, enabled: bool) -> Result<Value, ApiError> {
    to_value(&ScheduleRequest {
        settings: settings.clone(),
        enabled,
    })
}

/// A rule with its destination by name; empty values left out.
pub fn rule_doc(rule: &RuleRequest, destination: &str) -> Result<Value, ApiError> {
    let mut v = to_value(rule)?;
    if let Value::Object(m) = &mut v {
        m.remove("destination_id");
        m.retain(|_, v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
        m.insert("destination".into(), Value::String(destination.to_owned()));
    }
    Ok(v)
}

pub fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.into()))
}

/// Job settings with each `connection_id` (source, destination, checks, query variables)
/// written as `connection: <name>`.
pub fn settings_with_names(
    settings: &JobSettings,
    names: &HashMap<ConnectionId, String>,
) -> Result<Value, ApiError> {
    fn walk(v: &mut Value, names: &HashMap<String, &String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(id)) = m.get("connection_id")
                    && let Some(name) = names.get(id)
                {
                    let name = (*name).clone();
                    m.remove("connection_id");
                    m.insert("connection".into(), Value::String(name));
                }
                m.values_mut().for_each(|v| walk(v, names));
            }
            Value::Array(a) => a.iter_mut().for_each(|v| walk(v, names)),
            _ => {}
        }
    }
    let by_text: HashMap<String, &String> =
        names.iter().map(|(id, n)| (id.to_string(), n)).collect();
    let mut v = to_value(settings)?;
    walk(&mut v, &by_text);
    Ok(v)
}

/// The fields of a workflow task's `action` that hold another object's id, the key a file
/// writes that object's name under instead, and the object's kind. A task kind that refers
/// to another object (a connection, another workflow) adds its line here: export and
/// apply both go by this list, and every other field of an action is written as it is.
pub const TASK_REFERENCES: [(&str, &str, Kind); 4] = [
    ("job_id", "job", Kind::Job),
    ("destination_id", "destination", Kind::Destination),
    ("workflow_id", "workflow", Kind::Workflow),
    ("connection_id", "connection", Kind::Connection),
];

/// Objects' names by kind and id (the id as JSON writes it).
pub type IdNames = HashMap<Kind, HashMap<String, String>>;

/// A workflow's spec with each id of [`TASK_REFERENCES`] written as the object's name
/// (an id no object has stays as it is, under its id key).
pub fn spec_with_names(spec: &WorkflowSpec, names: &IdNames) -> Result<Value, ApiError> {
    let mut v = to_value(spec)?;
    if let Some(tasks) = v.get_mut("tasks").and_then(Value::as_array_mut) {
        for action in tasks
            .iter_mut()
            .filter_map(|t| t.get_mut("action").and_then(Value::as_object_mut))
        {
            for (id_key, name_key, kind) in TASK_REFERENCES {
                let name = action
                    .get(id_key)
                    .and_then(Value::as_str)
                    .and_then(|id| names.get(&kind)?.get(id))
                    .cloned();
                if let Some(name) = name {
                    action.remove(id_key);
                    action.insert(name_key.into(), Value::String(name));
                }
            }
        }
    }
    Ok(v)
}

pub struct WorkflowDoc<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub team: &'a str,
    /// The spec with names (see [`spec_with_names`]).
    pub spec: Value,
    pub schedules: Vec<Value>,
    pub rules: Vec<Value>,
}

pub fn workflow_doc(w: WorkflowDoc<'_>) -> Value {
    json!({
        "name": w.name,
        "description": w.description,
        "team": w.team,
        "spec": w.spec,
        "schedules": sorted_by_text(w.schedules),
        "notification_rules": sorted_by_text(w.rules),
    })
}

pub struct TeamState {
    pub id: TeamId,
    /// Email, user and role.
    pub members: Vec<(String, UserId, TeamRole)>,
}

pub struct JobState {
    pub job: Job,
    pub shares: Vec<(TeamId, TeamRole)>,
    pub schedules: Vec<ScheduleRow>,
    pub rules: Vec<NotificationRule>,
}

pub struct WorkflowState {
    pub workflow: Workflow,
    pub schedules: Vec<ScheduleRow>,
    pub rules: Vec<NotificationRule>,
}

/// Everything of one organization that config as code covers, by name.
pub struct Snapshot {
    pub teams: BTreeMap<String, TeamState>,
    /// The organization's people by email.
    pub users: HashMap<String, UserId>,
    pub connections: BTreeMap<String, (Connection, Vec<(TeamId, TeamRole)>)>,
    pub destinations: BTreeMap<String, Destination>,
    pub jobs: BTreeMap<String, JobState>,
    pub workflows: BTreeMap<String, WorkflowState>,
    pub team_names: HashMap<TeamId, String>,
    pub connection_names: HashMap<ConnectionId, String>,
    pub destination_names: HashMap<DestinationId, String>,
}

impl Snapshot {
    pub async fn load(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> Result<Snapshot, ApiError> {
        let mut teams = BTreeMap::new();
        let mut team_names = HashMap::new();
        for t in Team::list_with_counts(conn, org, None).await? {
            let members = TeamMember::list(conn, org, t.id)
                .await?
                .into_iter()
                .map(|m| (m.email, m.user_id, m.role))
                .collect();
            team_names.insert(t.id, t.name.clone());
            teams.insert(t.name, TeamState { id: t.id, members });
        }
        let users = User::list(conn, org)
            .await?
            .into_iter()
            .map(|u| (u.email, u.id))
            .collect();
        let mut all_shares = Connection::all_shares(conn, org).await?;
        let mut connections = BTreeMap::new();
        let mut connection_names = HashMap::new();
        for c in Connection::list(conn, org).await? {
            connection_names.insert(c.id, c.name.clone());
            let shares = all_shares.remove(&c.id).unwrap_or_default();
            connections.insert(c.name.clone(), (c, shares));
        }
        let mut destinations = BTreeMap::new();
        let mut destination_names = HashMap::new();
        for d in Destination::list(conn, org).await? {
            destination_names.insert(d.id, d.name.clone());
            destinations.insert(d.name.clone(), d);
        }
        let mut job_shares = Job::all_shares(conn, org).await?;
        let mut jobs = BTreeMap::new();
        for job in Job::search(conn, org, None, None).await? {
            let schedules = ScheduleRow::for_job(conn, org, job.id).await?;
            let rules = NotificationRule::list(conn, org, Some(job.id)).await?;
            let shares = job_shares.remove(&job.id).unwrap_or_default();
            jobs.insert(
                job.name.clone(),
                JobState {
                    job,
                    shares,
                    schedules,
                    rules,
                },
            );
        }
        let mut workflows = BTreeMap::new();
        for workflow in Workflow::list(conn, org).await? {
            let schedules = ScheduleRow::for_workflow(conn, org, workflow.id).await?;
            let rules = NotificationRule::for_workflow(conn, org, workflow.id).await?;
            workflows.insert(
                workflow.name.clone(),
                WorkflowState {
                    workflow,
                    schedules,
                    rules,
                },
            );
        }
        Ok(Snapshot {
            teams,
            users,
            connections,
            destinations,
            jobs,
            workflows,
            team_names,
            connection_names,
            destination_names,
        })
    }

    fn team_name(&self, id: TeamId) -> String {
        self.team_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn named_shares(&self, shares: &[(TeamId, TeamRole)]) -> Vec<(String, TeamRole)> {
        shares
            .iter()
            .map(|(t, r)| (self.team_name(*t), *r))
            .collect()
    }

    pub fn names(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Team => self.teams.keys().cloned().collect(),
            Kind::Destination => self.destinations.keys().cloned().collect(),
            Kind::Connection => self.connections.keys().cloned().collect(),
            Kind::Job => self.jobs.keys().cloned().collect(),
            Kind::Workflow => self.workflows.keys().cloned().collect(),
        }
    }

    /// Every object's name by kind and id.
    pub fn id_names(&self) -> IdNames {
        let mut out = IdNames::new();
        let mut add = |kind: Kind, id: String, name: &String| {
            out.entry(kind).or_default().insert(id, name.clone());
        };
        for (id, name) in &self.connection_names {
            add(Kind::Connection, id.to_string(), name);
        }
        for (id, name) in &self.destination_names {
            add(Kind::Destination, id.to_string(), name);
        }
        for (name, t) in &self.teams {
            add(Kind::Team, t.id.to_string(), name);
        }
        for (name, j) in &self.jobs {
            add(Kind::Job, j.job.id.to_string(), name);
        }
        for (name, w) in &self.workflows {
            add(Kind::Workflow, w.workflow.id.to_string(), name);
        }
        out
    }

    /// The document of the named object as export writes it.
    pub fn doc(&self, kind: Kind, name: &str) -> Result<Option<Value>, ApiError> {
        Ok(match kind {
            Kind::Team => self.teams.get(name).map(|t| {
                let members: Vec<(String, TeamRole)> =
                    t.members.iter().map(|(e, _, r)| (e.clone(), *r)).collect();
                team_doc(name, &members)
            }),
            Kind::Connection => self
                .connections
                .get(name)
                .map(|(c, shares)| self.connection(c, shares)),
            Kind::Destination => match self.destinations.get(name) {
                Some(d) => Some(destination_doc(name, &stored_destination_settings(d))?),
                None => None,
            },
            Kind::Job => match self.jobs.get(name) {
                Some(j) => Some(self.job(j)?),
                None => None,
            },
            Kind::Workflow => match self.workflows.get(name) {
                Some(w) => Some(self.workflow(w)?),
                None => None,
            },
        })
    }

    fn connection(&self, c: &Connection, shares: &[(TeamId, TeamRole)]) -> Value {
        let mut settings = c.settings.as_object().cloned().unwrap_or_default();
        for field in c.secret_names() {
            settings.insert(
                field.to_owned(),
                Value::String(secret_ref(&secret_name(Kind::Connection, &c.name, field))),
            );
        }
        connection_doc(
            &c.name,
            c.kind,
            &self.team_name(c.team_id),
            settings,
            &self.named_shares(shares),
        )
    }

    fn schedule_docs(&self, rows: &[ScheduleRow]) -> Result<Vec<Value>, ApiError> {
        rows.iter()
            .map(|s| {
                let settings: ScheduleSettings = serde_json::from_value(s.settings.clone())
                    .map_err(|e| ApiError::Internal(anyhow::anyhow!("schedule {}: {e}", s.id)))?;
                schedule_doc(&settings, s.enabled)
            })
            .collect()
    }

    fn rule_docs(&self, rows: &[NotificationRule]) -> Result<Vec<Value>, ApiError> {
        rows.iter()
            .map(|r| {
                let name = self
                    .destination_names
                    .get(&r.destination_id)
                    .cloned()
                    .unwrap_or_else(|| r.destination_id.to_string());
                rule_doc(&stored_rule(r), &name)
            })
            .collect()
    }

    fn workflow(&self, w: &WorkflowState) -> Result<Value, ApiError> {
        let spec: WorkflowSpec = serde_json::from_value(w.workflow.spec.clone())
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("workflow {}: {e}", w.workflow.id)))?;
        Ok(workflow_doc(WorkflowDoc {
            name: &w.workflow.name,
            description: &w.workflow.description,
            team: &self.team_name(w.workflow.team_id),
            spec: spec_with_names(&spec, &self.id_names())?,
            schedules: self.schedule_docs(&w.schedules)?,
            rules: self.rule_docs(&w.rules)?,
        }))
    }

    fn job(&self, j: &JobState) -> Result<Value, ApiError> {
        let settings = settings_with_names(&parse_settings(&j.job)?, &self.connection_names)?;
        let schedules = self.schedule_docs(&j.schedules)?;
        let rules = self.rule_docs(&j.rules)?;
        Ok(job_doc(JobDoc {
            name: &j.job.name,
            description: &j.job.description,
            labels: &j.job.labels,
            enabled: j.job.enabled,
            team: &self.team_name(j.job.team_id),
            settings,
            schedules,
            rules,
            shares: &self.named_shares(&j.shares),
        }))
    }

    /// Every object as its file: path -> YAML.
    pub fn files(&self) -> Result<BTreeMap<String, String>, ApiError> {
        let mut files = BTreeMap::new();
        for kind in Kind::ALL {
            for (name, path) in paths(kind, self.names(kind)) {
                if let Some(doc) = self.doc(kind, &name)? {
                    files.insert(path, to_yaml(&doc)?);
                }
            }
        }
        Ok(files)
    }
}

pub fn to_yaml(doc: &Value) -> Result<String, ApiError> {
    serde_norway::to_string(doc).map_err(|e| ApiError::Internal(e.into()))
}

/// A stored rule as the request that would make it.
pub fn stored_rule(r: &NotificationRule) -> RuleRequest {
    RuleRequest {
        destination_id: r.destination_id,
        event: r.event,
        threshold: r.threshold,
        subject: r.subject.clone(),
        template: r.template.clone(),
        mentions: r.mentions(),
        enabled: r.enabled,
    }
}

/// A stored destination's settings with its secrets as references.
pub fn stored_destination_settings(d: &Destination) -> DestinationSettings {
    let reference = |field: &str| secret_ref(&secret_name(Kind::Destination, &d.name, field));
    match d.kind {
        DestinationKind::Slack => DestinationSettings::Slack {
            webhook_url: Some(reference("webhook_url")),
        },
        DestinationKind::Email => DestinationSettings::Email {
            address: d.settings["address"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        },
        DestinationKind::Webhook => DestinationSettings::Webhook {
            url: d.settings["url"].as_str().unwrap_or_default().to_owned(),
            headers: d.settings["headers"]
                .as_array()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            let name = h["name"].as_str().unwrap_or_default().to_owned();
                            let secret = h["secret"].as_bool().unwrap_or(false);
                            WebhookHeader {
                                value: Some(if secret {
                                    reference(&format!("header_{name}"))
                                } else {
                                    h["value"].as_str().unwrap_or_default().to_owned()
                                }),
                                name,
                                secret,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
    }
}
