//! The ECS launcher: one Fargate (or Fargate Spot) task per run through `RunTask`.
//!
//! The task definition is the operator's (see docs/deploy-ecs.md); each run overrides the
//! container's command and environment (app URL, run id, run token: never a database
//! credential) and the task's cpu and memory from the job's resources. `startedBy` and a
//! tag carry the run id, so tasks can be matched to runs after an app restart, and tasks
//! of runs that have finished can be found (`ListTasks`) and stopped.

pub use super::TaskState;
use super::{ActiveTask, LaunchSpec, Launcher};
use anyhow::Context;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskField, TaskOverride,
};
use futures::future::BoxFuture;
use std::collections::HashMap;

/// The tag carrying the run id on every task Hakobu starts.
pub const RUN_ID_TAG: &str = "hakobu:run-id";

/// Where and how runner tasks start.
#[derive(Debug, Clone)]
pub struct EcsSettings {
    pub cluster: String,
    /// Family or family:revision or ARN of the runner's task definition.
    pub task_definition: String,
    /// Name of the runner container in the task definition.
    pub container: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    /// Fargate Spot instead of on-demand Fargate.
    pub spot: bool,
    /// An endpoint URL instead of AWS's (tests against a local moto server).
    pub endpoint: Option<String>,
}

impl EcsSettings {
    pub fn from_env() -> anyhow::Result<EcsSettings> {
        let var = |name: &str| {
            std::env::var(name)
                .with_context(|| format!("{name} must be set for HAKOBU_LAUNCHER=ecs"))
        };
        let list = |name: &str| -> anyhow::Result<Vec<String>> {
            Ok(var(name)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        };
        Ok(EcsSettings {
            cluster: var("HAKOBU_ECS_CLUSTER")?,
            task_definition: var("HAKOBU_ECS_TASK_DEFINITION")?,
            container: std::env::var("HAKOBU_ECS_CONTAINER")
                .unwrap_or_else(|_| "runner".to_owned()),
            subnets: list("HAKOBU_ECS_SUBNETS")?,
            security_groups: list("HAKOBU_ECS_SECURITY_GROUPS")?,
            assign_public_ip: std::env::var("HAKOBU_ECS_ASSIGN_PUBLIC_IP")
                .is_ok_and(|v| v == "true"),
            spot: std::env::var("HAKOBU_ECS_CAPACITY").is_ok_and(|v| v == "fargate_spot"),
            endpoint: std::env::var("HAKOBU_ECS_ENDPOINT")
                .ok()
                .filter(|s| !s.is_empty()),
        })
    }
}

pub struct EcsLauncher {
    client: aws_sdk_ecs::Client,
    settings: EcsSettings,
}

/// Fargate's cpu units for a vCPU count (0.25 -> 256).
pub fn cpu_units(cpu: f64) -> String {
    ((cpu * 1024.0).round() as i64).to_string()
}

impl EcsLauncher {
    /// Credentials and region come from the usual AWS sources (task role, environment).
    pub async fn new(settings: EcsSettings) -> EcsLauncher {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        EcsLauncher {
            client: aws_sdk_ecs::Client::new(&config),
            settings,
        }
    }

    /// With a given SDK client (tests against moto with static credentials).
    pub fn with_client(settings: EcsSettings, client: aws_sdk_ecs::Client) -> EcsLauncher {
        EcsLauncher { client, settings }
    }

    pub fn client(&self) -> &aws_sdk_ecs::Client {
        &self.client
    }

    /// The `RunTask` request for a run, built separately so it can be checked field by field.
    pub fn run_task_request(
        &self,
        spec: &LaunchSpec,
    ) -> aws_sdk_ecs::operation::run_task::builders::RunTaskFluentBuilder {
        let s = &self.settings;
        let env = |name: &str, value: &str| KeyValuePair::builder().name(name).value(value).build();
        let container = ContainerOverride::builder()
            .name(&s.container)
            .command("managed")
            .environment(env("HAKOBU_APP_URL", &spec.app_url))
            .environment(env("HAKOBU_RUN_ID", &spec.run_id.to_string()))
            .environment(env("HAKOBU_RUN_TOKEN", &spec.run_token))
            .build();
        let overrides = TaskOverride::builder()
            .container_overrides(container)
            .cpu(cpu_units(spec.cpu))
            .memory(spec.memory_mb.to_string())
            .build();
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(s.subnets.clone()))
                    .set_security_groups(Some(s.security_groups.clone()))
                    .assign_public_ip(if s.assign_public_ip {
                        AssignPublicIp::Enabled
                    } else {
                        AssignPublicIp::Disabled
                    })
                    .build()
                    .expect("subnets are set"),
            )
            .build();
        let mut request = self
            .client
            .run_task()
            .cluster(&s.cluster)
            .task_definition(&s.task_definition)
            .count(1)
            .network_configuration(network)
            .overrides(overrides)
            .started_by(spec.run_id.to_string())
            .tags(
                Tag::builder()
                    .key(RUN_ID_TAG)
                    .value(spec.run_id.to_string())
                    .build(),
            );
        request = if s.spot {
            request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .expect("capacity provider is set"),
            )
        } else {
            request.launch_type(LaunchType::Fargate)
        };
        request
    }
}

impl Launcher for EcsLauncher {
    fn name(&self) -> &'static str {
        "ecs"
    }

    fn runner_image(&self) -> String {
        format!("task definition {}", self.settings.task_definition)
    }

    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move {
            let output = self.run_task_request(&spec).send().await.map_err(|e| {
                anyhow::anyhow!(
                    "ECS RunTask failed: {}",
                    aws_sdk_ecs::error::DisplayErrorContext(e)
                )
            })?;
            if let Some(failure) = output.failures().first() {
                anyhow::bail!(
                    "ECS could not start the task: {} {}",
                    failure.reason().unwrap_or("unknown reason"),
                    failure.detail().unwrap_or_default()
                );
            }
            output
                .tasks()
                .first()
                .and_then(|t| t.task_arn())
                .map(str::to_owned)
                .context("ECS RunTask answered no task")
        })
    }

    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        let task = task_id.to_owned();
        Box::pin(async move {
            self.client
                .stop_task()
                .cluster(&self.settings.cluster)
                .task(&task)
                .reason("Stopped by Hakobu (cancelled or timed out)")
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "ECS StopTask failed: {}",
                        aws_sdk_ecs::error::DisplayErrorContext(e)
                    )
                })?;
            Ok(())
        })
    }

    fn state(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<TaskState>> {
        let task = task_id.to_owned();
        Box::pin(async move { task_state(&self.client, &self.settings.cluster, &task).await })
    }

    /// `DescribeTasks` with up to 100 tasks a call; a task ECS does not know any more is
    /// `Missing`.
    fn states<'a>(
        &'a self,
        task_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<String, TaskState>>> {
        Box::pin(async move {
            let mut states = HashMap::with_capacity(task_ids.len());
            for batch in task_ids.chunks(100) {
                let described = self
                    .client
                    .describe_tasks()
                    .cluster(&self.settings.cluster)
                    .set_tasks(Some(batch.to_vec()))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "ECS DescribeTasks failed: {}",
                            aws_sdk_ecs::error::DisplayErrorContext(e)
                        )
                    })?;
                for task in described.tasks() {
                    if let Some(arn) = task.task_arn() {
                        states.insert(arn.to_owned(), ecs_task_state(task));
                    }
                }
                for task in batch {
                    states.entry(task.clone()).or_insert(TaskState::Missing);
                }
            }
            Ok(states)
        })
    }

    /// `ListTasks` (desired status RUNNING) of the cluster, then `DescribeTasks` with tags
    /// in batches of 100; a task is Hakobu's when it carries the run-id tag (or, for tasks
    /// listed without tags, a `startedBy` that is a run id).
    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        Box::pin(async move {
            let cluster = &self.settings.cluster;
            let mut arns = Vec::new();
            let mut next_token = None;
            loop {
                let page = self
                    .client
                    .list_tasks()
                    .cluster(cluster)
                    .desired_status(DesiredStatus::Running)
                    .max_results(100)
                    .set_next_token(next_token)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "ECS ListTasks failed: {}",
                            aws_sdk_ecs::error::DisplayErrorContext(e)
                        )
                    })?;
                arns.extend(page.task_arns().iter().cloned());
                next_token = page.next_token().map(str::to_owned);
                if next_token.is_none() {
                    break;
                }
            }
            let mut active = Vec::new();
            for batch in arns.chunks(100) {
                let described = self
                    .client
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(batch.to_vec()))
                    .include(TaskField::Tags)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "ECS DescribeTasks failed: {}",
                            aws_sdk_ecs::error::DisplayErrorContext(e)
                        )
                    })?;
                for task in described.tasks() {
                    let state =
                        TaskState::from_ecs(task.last_status().unwrap_or_default(), None, None);
                    let (Some(arn), false) = (task.task_arn(), state.has_ended()) else {
                        continue;
                    };
                    let tagged = task
                        .tags()
                        .iter()
                        .find(|t| t.key() == Some(RUN_ID_TAG))
                        .and_then(|t| t.value());
                    let mark = match tagged {
                        Some(run) => Some(run),
                        None if task.tags().is_empty() => task.started_by(),
                        None => None,
                    };
                    if let Some(mark) = mark {
                        active.push(ActiveTask {
                            task_id: arn.to_owned(),
                            run_id: mark.parse().ok(),
                        });
                    }
                }
            }
            Ok(active)
        })
    }
}

/// What ECS says of a task, as a run state: `None` while it runs, otherwise its end.
pub async fn task_state(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    task: &str,
) -> anyhow::Result<TaskState> {
    let output = client
        .describe_tasks()
        .cluster(cluster)
        .tasks(task)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "ECS DescribeTasks failed: {}",
                aws_sdk_ecs::error::DisplayErrorContext(e)
            )
        })?;
    let Some(t) = output.tasks().first() else {
        // Real ECS reports MISSING in failures; moto answers nothing. Both mean gone.
        return Ok(TaskState::Missing);
    };
    Ok(ecs_task_state(t))
}

fn ecs_task_state(task: &aws_sdk_ecs::types::Task) -> TaskState {
    TaskState::from_ecs(
        task.last_status().unwrap_or_default(),
        task.containers().first().and_then(|c| c.exit_code()),
        task.stopped_reason(),
    )
}

impl TaskState {
    /// ECS's task lifecycle: PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING,
    /// STOPPING, DEPROVISIONING, STOPPED (then DELETED).
    pub fn from_ecs(last_status: &str, exit_code: Option<i32>, reason: Option<&str>) -> TaskState {
        match last_status {
            "RUNNING" => TaskState::Running,
            "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" => TaskState::Stopping,
            "STOPPED" | "DELETED" => TaskState::Stopped {
                exit_code,
                reason: reason.map(str::to_owned),
            },
            _ => TaskState::Starting,
        }
    }
}
