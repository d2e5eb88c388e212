//! The ECS launcher: one Fargate (or Fargate Spot) task per run through `RunTask`.
//!
//! The task definition is the operator's, registered from what [`task_definition`] writes
//! (`hakobu ecs task-definition`, docs/deploy-ecs.md): the runner image's command, user
//! and an environment left to each run. Each run overrides the container's command and
//! environment (app URL, run id, run token: never a database credential) and the task's
//! cpu and memory from the job's resources. `startedBy` and a tag carry the run id, so
//! tasks can be matched to runs after an app restart, and tasks of runs that have finished
//! can be found (`ListTasks` of the definition's family) and stopped.
//!
//! A launch that ECS refused for a passing reason (throttling, a server error, no Spot
//! capacity at that moment, the API unreachable) is a [`TemporaryLaunchError`]: the run
//! goes back to the queue instead of failing.

pub use super::TaskState;
use super::{ActiveTask, LaunchSpec, Launcher, TaskTimes, TemporaryLaunchError};
use anyhow::Context;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskField, TaskOverride,
};
use futures::future::BoxFuture;
use hakobu_core::job::{CPU_SIZES, Resources};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The tag carrying the run id on every task Hakobu starts.
pub const RUN_ID_TAG: &str = "hakobu:run-id";
/// The user the runner image runs as (`USER` in runner-image/Dockerfile), stated in the
/// task definition too so that an image rebuilt without it still does not run as root.
pub const RUNNER_USER: &str = "10001:10001";
/// The runner's subcommand for a run started by a launcher (the image's entrypoint is
/// the runner binary).
pub const RUNNER_COMMAND: &str = "managed";
/// Seconds between SIGTERM and SIGKILL: Fargate's maximum, and the two minutes' notice
/// Fargate Spot gives before it reclaims a task, so an interrupted runner has the whole
/// notice to roll back and report (ECS's default is 30).
pub const STOP_TIMEOUT_SECONDS: u32 = 120;

/// What `hakobu ecs task-definition` asks for; [`task_definition`] writes the JSON.
#[derive(Debug, Clone)]
pub struct TaskDefinitionOptions {
    pub family: String,
    /// The runner image (e.g. in ECR), with its tag or digest.
    pub image: String,
    /// The container's name; the app's `HAKOBU_ECS_CONTAINER`.
    pub container: String,
    /// The role ECS itself uses to pull the image and write the logs.
    pub execution_role_arn: String,
    /// The role the runner's code gets; `None` (the advice) gives it no AWS identity.
    pub task_role_arn: Option<String>,
    pub region: String,
    pub log_group: String,
    pub log_stream_prefix: String,
    /// `awslogs-create-group`: the execution role then needs `logs:CreateLogGroup`.
    pub create_log_group: bool,
    /// The task's size when a run does not override it (every run does, from its job).
    pub cpu: f64,
    pub memory_mb: u32,
    pub stop_timeout_seconds: u32,
    /// The task's ephemeral storage in GiB (21 to 200), for S3 objects larger than what
    /// Fargate's default 20 GiB can stage; `None` keeps the default.
    pub ephemeral_storage_gib: Option<u32>,
}

impl TaskDefinitionOptions {
    /// The documented defaults around what only the operator knows.
    pub fn new(image: &str, execution_role_arn: &str, region: &str) -> TaskDefinitionOptions {
        TaskDefinitionOptions {
            family: "hakobu-runner".to_owned(),
            image: image.to_owned(),
            container: "runner".to_owned(),
            execution_role_arn: execution_role_arn.to_owned(),
            task_role_arn: None,
            region: region.to_owned(),
            log_group: "/hakobu/runner".to_owned(),
            log_stream_prefix: "run".to_owned(),
            create_log_group: false,
            cpu: 1.0,
            memory_mb: 2048,
            stop_timeout_seconds: STOP_TIMEOUT_SECONDS,
            ephemeral_storage_gib: None,
        }
    }
}

/// The runner's task definition, as `aws ecs register-task-definition --cli-input-json`
/// takes it: Fargate, `awsvpc`, the image's entrypoint with the command `managed`, the
/// image's unprivileged user, no capabilities, no environment and no secrets (the three
/// `HAKOBU_*` values come with each run's overrides), logs to CloudWatch.
///
/// The root filesystem stays writable: S3 objects are staged in the temp dir (`/tmp`), and
/// a Fargate bind mount there would belong to root with mode 0755 (the image declares no
/// `VOLUME`), which the runner's user could not write. Large objects need the task's
/// `ephemeralStorage` raised (`ephemeral_storage_gib`, docs/deploy-ecs.md).
pub fn task_definition(o: &TaskDefinitionOptions) -> anyhow::Result<Value> {
    let required = [
        ("--family", &o.family),
        ("--image", &o.image),
        ("--container", &o.container),
        ("--execution-role-arn", &o.execution_role_arn),
        ("--region", &o.region),
        ("--log-group", &o.log_group),
        ("--log-stream-prefix", &o.log_stream_prefix),
    ];
    for (option, value) in required {
        anyhow::ensure!(!value.trim().is_empty(), "{option} must not be empty");
    }
    // ECS: up to 255 letters, digits, hyphens and underscores.
    let name_ok = |s: &str| {
        s.len() <= 255
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    anyhow::ensure!(
        name_ok(&o.family),
        "--family must be letters, digits, hyphens and underscores (at most 255)"
    );
    anyhow::ensure!(
        name_ok(&o.container),
        "--container must be letters, digits, hyphens and underscores (at most 255)"
    );
    for (option, arn) in [
        ("--execution-role-arn", Some(&o.execution_role_arn)),
        ("--task-role-arn", o.task_role_arn.as_ref()),
    ] {
        if let Some(arn) = arn {
            anyhow::ensure!(
                arn.starts_with("arn:") && arn.contains(":role/"),
                "{option} must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            );
        }
    }
    anyhow::ensure!(
        CPU_SIZES.contains(&o.cpu),
        "--cpu must be one of 0.25, 0.5, 1, 2, 4, 8, 16 (Fargate's vCPU sizes)"
    );
    let choices = Resources::memory_choices(o.cpu);
    anyhow::ensure!(
        choices.contains(&o.memory_mb),
        "--memory-mb must be a memory size Fargate offers with {} vCPU: {} to {} MiB in steps of {} MiB",
        o.cpu,
        choices[0],
        choices[choices.len() - 1],
        choices.get(1).map_or(0, |second| second - choices[0])
    );
    anyhow::ensure!(
        (2..=STOP_TIMEOUT_SECONDS).contains(&o.stop_timeout_seconds),
        "--stop-timeout must be 2 to {STOP_TIMEOUT_SECONDS} seconds (Fargate's maximum)"
    );
    if let Some(gib) = o.ephemeral_storage_gib {
        anyhow::ensure!(
            (21..=200).contains(&gib),
            "--ephemeral-storage-gib must be 21 to 200 (Fargate's range; 20 GiB without it)"
        );
    }
    let mut log_options = json!({
        "awslogs-group": o.log_group,
        "awslogs-region": o.region,
        "awslogs-stream-prefix": o.log_stream_prefix,
    });
    if o.create_log_group {
        log_options["awslogs-create-group"] = json!("true");
    }
    let mut definition = json!({
        "family": o.family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": cpu_units(o.cpu),
        "memory": o.memory_mb.to_string(),
        "executionRoleArn": o.execution_role_arn,
        // The image is an x86_64 (musl) binary.
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "containerDefinitions": [{
            "name": o.container,
            "image": o.image,
            "essential": true,
            "command": [RUNNER_COMMAND],
            "user": RUNNER_USER,
            "environment": [],
            "readonlyRootFilesystem": false,
            "stopTimeout": o.stop_timeout_seconds,
            "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
            "logConfiguration": {"logDriver": "awslogs", "options": log_options},
        }],
    });
    if let Some(role) = &o.task_role_arn {
        definition["taskRoleArn"] = json!(role);
    }
    if let Some(gib) = o.ephemeral_storage_gib {
        definition["ephemeralStorage"] = json!({"sizeInGiB": gib});
    }
    Ok(definition)
}

/// The family of a task definition named as `family`, `family:revision` or its ARN.
pub fn task_family(task_definition: &str) -> &str {
    let name = task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, name)| name);
    name.split_once(':').map_or(name, |(family, _)| family)
}

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
    /// `DescribeTasks` of up to 100 tasks of the cluster.
    async fn describe(&self, tasks: &[String]) -> anyhow::Result<Vec<aws_sdk_ecs::types::Task>> {
        let described = self
            .client
            .describe_tasks()
            .cluster(&self.settings.cluster)
            .set_tasks(Some(tasks.to_vec()))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "ECS DescribeTasks failed: {}",
                    aws_sdk_ecs::error::DisplayErrorContext(e)
                )
            })?;
        Ok(described.tasks.unwrap_or_default())
    }

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
            let output = self
                .run_task_request(&spec)
                .send()
                .await
                .map_err(run_task_error)?;
            if let Some(failure) = output.failures().first() {
                let reason = failure.reason().unwrap_or("unknown reason");
                let message = format!(
                    "ECS could not start the task: {reason} {}",
                    failure.detail().unwrap_or_default()
                );
                let message = message.trim_end().to_owned();
                if capacity_is_short(reason) {
                    return Err(anyhow::Error::new(TemporaryLaunchError { message }));
                }
                anyhow::bail!(message);
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
        Box::pin(async move {
            task_state(
                &self.client,
                &self.settings.cluster,
                &self.settings.container,
                &task,
            )
            .await
        })
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
                for task in self.describe(batch).await? {
                    if let Some(arn) = task.task_arn() {
                        states.insert(
                            arn.to_owned(),
                            TaskState::from_ecs_task(&task, &self.settings.container),
                        );
                    }
                }
                for task in batch {
                    states.entry(task.clone()).or_insert(TaskState::Missing);
                }
            }
            Ok(states)
        })
    }

    fn reports_task_times(&self) -> bool {
        true
    }

    /// `DescribeTasks` in batches of 100; a stopped task's times (see [`task_times`]).
    fn task_times<'a>(
        &'a self,
        task_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<String, TaskTimes>>> {
        Box::pin(async move {
            let mut times = HashMap::new();
            for batch in task_ids.chunks(100) {
                for task in self.describe(batch).await? {
                    if let (Some(arn), Some(t)) = (task.task_arn(), task_times(&task)) {
                        times.insert(arn.to_owned(), t);
                    }
                }
            }
            Ok(times)
        })
    }

    /// `ListTasks` (desired status RUNNING) of the cluster and the runner's task definition
    /// family, then `DescribeTasks` with tags in batches of 100; a task is Hakobu's when it
    /// carries the run-id tag (or, for tasks listed without tags, a `startedBy` that is a
    /// run id). The family keeps other tasks of a shared cluster out of the listing.
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
                    .family(task_family(&self.settings.task_definition))
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

/// `RunTask`'s error in words; temporary when ECS throttled the call, failed on its side
/// or could not be reached (the SDK has already retried it a few times by then).
fn run_task_error(
    e: SdkError<
        aws_sdk_ecs::operation::run_task::RunTaskError,
        aws_sdk_ecs::config::http::HttpResponse,
    >,
) -> anyhow::Error {
    let temporary = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ResponseError(context) => {
            let status = context.raw().status().as_u16();
            status == 429 || status >= 500
        }
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let error = context.err();
            status == 429
                || status >= 500
                || matches!(
                    error.code(),
                    Some(
                        "ThrottlingException"
                            | "ServerException"
                            | "ServiceUnavailableException"
                            | "RequestLimitExceeded"
                            | "TooManyRequestsException"
                    )
                )
                || error.message().is_some_and(|m| m.contains("Rate exceeded"))
        }
        _ => false,
    };
    let message = format!(
        "ECS RunTask failed: {}",
        aws_sdk_ecs::error::DisplayErrorContext(e)
    );
    if temporary {
        anyhow::Error::new(TemporaryLaunchError { message })
    } else {
        anyhow::anyhow!(message)
    }
}

/// Whether a `RunTask` failure says capacity was short at that moment: Fargate (Spot)
/// "Capacity is unavailable at this time", or `RESOURCE:CPU`, `RESOURCE:MEMORY`,
/// `RESOURCE:ENI` and the like. A missing task definition or a bad subnet is not.
pub fn capacity_is_short(reason: &str) -> bool {
    reason.starts_with("RESOURCE:")
        || reason
            .to_ascii_lowercase()
            .contains("capacity is unavailable")
}

/// What ECS says of a task, as a run state: its end is read from the runner's container
/// (`container`, the task definition's name for it).
pub async fn task_state(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    container: &str,
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
    Ok(TaskState::from_ecs_task(t, container))
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

    /// A described task's state, its exit code and reason taken from the runner's own
    /// container (named `container`; the first one when none is), not from whichever
    /// container ECS lists first.
    pub fn from_ecs_task(task: &aws_sdk_ecs::types::Task, container: &str) -> TaskState {
        let runner = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(container))
            .or_else(|| task.containers().first());
        let reason = stop_reason(task, runner);
        TaskState::from_ecs(
            task.last_status().unwrap_or_default(),
            runner.and_then(|c| c.exit_code()),
            reason.as_deref(),
        )
    }
}

/// When a stopped task ran, as Fargate bills it: from the start of its image pull (or its
/// start, or its creation, whichever ECS recorded first) to its stop. `None` while it has
/// not stopped. (moto's ECS records none of these times; the mapping is tested on tasks
/// built as DescribeTasks returns them.)
pub fn task_times(task: &aws_sdk_ecs::types::Task) -> Option<TaskTimes> {
    let at = |t: &aws_sdk_ecs::primitives::DateTime| {
        chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
    };
    let started = task
        .pull_started_at()
        .or(task.started_at())
        .or(task.created_at())
        .and_then(at)?;
    let stopped = task
        .stopped_at()
        .or(task.execution_stopped_at())
        .and_then(at)?;
    Some(TaskTimes {
        started,
        stopped: stopped.max(started),
    })
}

/// Why a task stopped, most telling first: the runner container's own reason (e.g.
/// "OutOfMemoryError: Container killed due to memory usage"), then the task's stop code
/// and reason (`SpotInterruption: Your Spot Task was interrupted.`, `TaskFailedToStart:
/// CannotPullContainerError: ...`, `EssentialContainerExited: Essential container in task
/// exited`). `None` when ECS said nothing.
fn stop_reason(
    task: &aws_sdk_ecs::types::Task,
    runner: Option<&aws_sdk_ecs::types::Container>,
) -> Option<String> {
    fn present(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    let container = present(runner.and_then(|c| c.reason()));
    let stopped = present(task.stopped_reason());
    let code = task.stop_code().map(|c| c.as_str());
    let task_part = match (code, stopped) {
        (Some(code), Some(reason)) => Some(format!("{code}: {reason}")),
        (Some(code), None) => Some(code.to_owned()),
        (None, Some(reason)) => Some(reason.to_owned()),
        (None, None) => None,
    };
    match (container, task_part) {
        (Some(container), Some(task)) => Some(format!("{container} ({task})")),
        (Some(container), None) => Some(container.to_owned()),
        (None, task) => task,
    }
}
