//! Turning an event into a message: Liquid templates with default texts per event, Slack
//! Block Kit, the webhook's JSON body, and email subject and body.
//!
//! Templates see `job_name`, `status`, `rows`, `duration`, `duration_seconds`, `run_url`,
//! `error`, `threshold`, `checks` (one line per check that did not pass), `schedule`,
//! `event` and `variables.NAME` (the run's variable values), which can also be written as
//! the job settings' `$NAME$` (`$$` is a dollar sign). An unknown name is an error (Liquid
//! is strict), caught when the rule is saved.
//!
//! Templates are rendered by the engine's bounded renderer
//! ([`hakobu_engine::template::render_bounded`]), so a rule's template cannot loop, write or
//! build values past the limits of `hakobu_engine::limits`; a render takes at most a couple
//! of seconds of one blocking thread, never an async worker's time (see [`message_async`]).

use super::{CheckLine, EventContext};
use hakobu_core::api::notifications::NotificationEventKind;
use hakobu_core::ids::NotificationEventId;
use hakobu_core::job::checks::CheckOutcome;
use hakobu_engine::template::{TemplateError, render_bounded};
use serde_json::{Value, json};

/// The default message of each event.
pub fn default_template(event: NotificationEventKind) -> &'static str {
    match event {
        NotificationEventKind::Success => {
            "{{ job_name }} succeeded: {{ rows }} rows in {{ duration }}."
        }
        NotificationEventKind::Failure => {
            "{{ job_name }} {{ status }} after {{ duration }}: {{ error }}"
        }
        NotificationEventKind::RowsBelow => {
            "{{ job_name }} loaded only {{ rows }} rows, fewer than the {{ threshold }} expected."
        }
        NotificationEventKind::RowsAbove => {
            "{{ job_name }} loaded {{ rows }} rows, more than the {{ threshold }} expected."
        }
        NotificationEventKind::DurationOver => {
            "{{ job_name }} has been running for {{ duration }}, longer than {{ threshold_duration }}."
        }
        NotificationEventKind::CheckFailed => {
            "{{ job_name }}: a data check failed after the load ({{ status }}).\n{{ checks }}"
        }
        NotificationEventKind::CheckWarned => {
            "{{ job_name }}: a data check warned after the load.\n{{ checks }}"
        }
        NotificationEventKind::ScheduleDisabled => "{{ job_name }}: {{ error }}",
    }
}

/// The default email subject.
/// The default message of a workflow run's success (its failure uses the failure default,
/// whose `error` names the tasks that did not succeed).
pub const WORKFLOW_SUCCESS: &str = "{{ job_name }} succeeded in {{ duration }}.";

pub const DEFAULT_SUBJECT: &str = "[Hakobu] {{ job_name }}: {{ status }}";

/// `4 s`, `2 min 5 s`, `1 h 3 min`.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => {
            let (m, s) = (s / 60, s % 60);
            if s == 0 {
                format!("{m} min")
            } else {
                format!("{m} min {s} s")
            }
        }
        _ => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {m} min")
            }
        }
    }
}

fn check_lines(checks: &[CheckLine]) -> String {
    checks
        .iter()
        .filter(|c| c.outcome != CheckOutcome::Passed)
        .map(|c| {
            let actual = c.actual.as_deref().unwrap_or("NULL");
            let why = c
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            format!(
                "- {} {}: got {actual}, expected {} {}{why}",
                c.name, c.outcome, c.operator, c.expected
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The link to the run (a job run or a workflow run; the job, for events without a run).
pub fn run_url(context: &EventContext, public_url: &str) -> String {
    if let Some(run) = context.workflow_run_id {
        return format!("{public_url}/workflow-runs/{run}");
    }
    match (context.run_id, context.job_id) {
        (Some(run), _) => format!("{public_url}/runs/{run}"),
        (None, Some(job)) => format!("{public_url}/jobs/{job}"),
        (None, None) => public_url.to_owned(),
    }
}

/// The run's values, with the built-ins a run of a job without variables has too.
fn variables_with_built_ins(context: &EventContext) -> serde_json::Map<String, Value> {
    let mut all = serde_json::Map::new();
    all.insert("job_name".into(), json!(context.job_name));
    if let Some(run) = context.run_id {
        all.insert("run_id".into(), json!(run));
    }
    all.extend(context.variables.clone());
    all
}

fn globals(context: &EventContext, public_url: &str) -> liquid::Object {
    let threshold_duration = context.threshold.map(human_duration).unwrap_or_default();
    let value = json!({
        "event": context.event.map(|e| e.as_str()).unwrap_or(""),
        "job_name": context.job_name,
        "status": context.status,
        "rows": context.rows,
        "duration": human_duration(context.duration_seconds),
        "duration_seconds": context.duration_seconds,
        "run_url": run_url(context, public_url),
        "error": context.error,
        "threshold": context.threshold.unwrap_or(0),
        "threshold_duration": threshold_duration,
        "checks": check_lines(&context.checks),
        "schedule": context.schedule.clone().unwrap_or_default(),
        "variables": Value::Object(variables_with_built_ins(context)),
    });
    liquid::to_object(&value).unwrap_or_default()
}

/// Renders `template` for the event within the engine's template limits.
pub fn render(
    template: &str,
    context: &EventContext,
    public_url: &str,
) -> Result<String, TemplateError> {
    render_bounded(
        &dollar_placeholders_to_liquid(template),
        &globals(context, public_url),
        &[],
    )
}

/// `$name$` becomes `{{ variables.name }}` so a value is rendered as data and can never
/// inject template code; `$$` is a dollar sign. A `$` that starts no placeholder (`$5`)
/// stays as written, since message text is not a setting that must be exact.
fn dollar_placeholders_to_liquid(template: &str) -> std::borrow::Cow<'_, str> {
    if !template.contains('$') {
        return template.into();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        if is_name && after[name_len..].starts_with('$') {
            out.push_str("{{ variables.");
            out.push_str(name);
            out.push_str(" }}");
            rest = &after[name_len + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out.into()
}

/// Renders the rule's template, falling back to the event's default (with a note) when
/// the saved template cannot render, so a broken template never swallows an alert.
pub fn message(template: Option<&str>, context: &EventContext, public_url: &str) -> String {
    let event = context.event.unwrap_or(NotificationEventKind::Failure);
    // A workflow run writes no rows of its own: its success says so without them.
    let default = match (context.workflow_run_id, event) {
        (Some(_), NotificationEventKind::Success) => WORKFLOW_SUCCESS,
        _ => default_template(event),
    };
    match render(template.unwrap_or(default), context, public_url) {
        Ok(text) => text,
        Err(e) => {
            let text = render(default, context, public_url)
                .unwrap_or_else(|_| format!("{}: {}", context.job_name, context.status));
            format!("{text}\n(The rule's template could not be used: {e})")
        }
    }
}

/// [`message`] on a blocking thread: a template may take up to the render time limit,
/// which must not hold up the async workers delivering other messages.
pub async fn message_async(
    template: Option<&str>,
    context: &EventContext,
    public_url: &str,
) -> String {
    let (template, job_context, url) = (
        template.map(str::to_owned),
        context.clone(),
        public_url.to_owned(),
    );
    tokio::task::spawn_blocking(move || message(template.as_deref(), &job_context, &url))
        .await
        .unwrap_or_else(|_| format!("{}: {}", context.job_name, context.status))
}

/// [`render`] on a blocking thread, for the same reason as [`message_async`].
pub async fn render_async(
    template: &str,
    context: &EventContext,
    public_url: &str,
) -> Result<String, TemplateError> {
    let (template, context, url) = (template.to_owned(), context.clone(), public_url.to_owned());
    tokio::task::spawn_blocking(move || render(&template, &context, &url))
        .await
        .unwrap_or_else(|_| Err(TemplateError::Invalid("the template engine failed".into())))
}

/// Checks a template when a rule is saved: it must parse and render with sample values.
/// Variables it names (`variables.x`) get a sample value, since they are known only per run.
/// A template that reaches a limit with the sample values is refused here, at save.
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    let mut sample = sample_context(NotificationEventKind::Failure);
    let liquid = dollar_placeholders_to_liquid(template);
    let mut rest: &str = &liquid;
    while let Some(at) = rest.find("variables.") {
        rest = &rest[at + "variables.".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            sample.variables.insert(name, json!("sample"));
        }
    }
    render(template, &sample, "https://hakobu.example").map(|_| ())
}

/// The values a test send uses.
pub fn sample_context(event: NotificationEventKind) -> EventContext {
    EventContext {
        event: Some(event),
        job_name: "Sample job".to_owned(),
        status: "failed".to_owned(),
        rows: 1234,
        duration_seconds: 95,
        error: "This is a test message from Hakobu; no run failed.".to_owned(),
        threshold: event.needs_threshold().then_some(1000),
        checks: vec![CheckLine {
            name: "no negative amounts".to_owned(),
            outcome: CheckOutcome::Failed,
            actual: Some("3".to_owned()),
            operator: "=".to_owned(),
            expected: "0".to_owned(),
            message: None,
        }],
        ..Default::default()
    }
}

/// Slack Block Kit: the message with optional mentions, and a button to the run.
pub fn slack_payload(text: &str, mentions: &[String], url: &str) -> Value {
    let mentions: Vec<String> = mentions
        .iter()
        .map(|m| match m.as_str() {
            "here" | "channel" => format!("<!{m}>"),
            id if id.starts_with('S') => format!("<!subteam^{id}>"),
            id => format!("<@{id}>"),
        })
        .collect();
    let body = if mentions.is_empty() {
        slack_escape(text)
    } else {
        format!("{} {}", mentions.join(" "), slack_escape(text))
    };
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open in Hakobu"}, "url": url}
            ]}
        ]
    })
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The generic webhook's JSON body.
pub fn webhook_payload(
    id: NotificationEventId,
    context: &EventContext,
    text: &str,
    url: &str,
) -> Value {
    json!({
        "id": id,
        "event": context.event,
        "organization_id": context.organization_id,
        "job_id": context.job_id,
        "job_name": context.job_name,
        "run_id": context.run_id,
        "workflow_id": context.workflow_id,
        "workflow_run_id": context.workflow_run_id,
        "status": context.status,
        "rows": context.rows,
        "duration_seconds": context.duration_seconds,
        "error": (!context.error.is_empty()).then_some(&context.error),
        "threshold": context.threshold,
        "checks": context.checks,
        "schedule": context.schedule,
        "variables": context.variables,
        "run_url": url,
        "message": text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_runs_read_as_workflows() {
        let run = hakobu_core::ids::WorkflowRunId::new();
        let c = |event, status: &str, error: &str| EventContext {
            event: Some(event),
            job_name: "Nightly".to_owned(),
            status: status.to_owned(),
            duration_seconds: 65,
            error: error.to_owned(),
            workflow_run_id: Some(run),
            ..Default::default()
        };
        let ok = c(NotificationEventKind::Success, "succeeded", "");
        assert_eq!(
            message(None, &ok, "https://h.example"),
            "Nightly succeeded in 1 min 5 s."
        );
        assert_eq!(
            run_url(&ok, "https://h.example"),
            format!("https://h.example/workflow-runs/{run}")
        );
        let failed = c(
            NotificationEventKind::Failure,
            "failed",
            "One task did not succeed: mart.",
        );
        assert_eq!(
            message(None, &failed, "https://h.example"),
            "Nightly failed after 1 min 5 s: One task did not succeed: mart."
        );
    }

    #[test]
    fn default_templates_render_every_event() {
        for event in NotificationEventKind::ALL {
            let text = message(None, &sample_context(event), "https://h.example");
            assert!(text.contains("Sample job"), "{event}: {text}");
            assert!(!text.contains("could not be used"), "{event}: {text}");
        }
    }

    #[test]
    fn templates_see_the_values_and_bad_ones_fall_back() {
        let mut c = sample_context(NotificationEventKind::Success);
        c.variables.insert("date".into(), json!("2026-11-21"));
        let t = "{{ job_name }} {{ rows }} {{ duration }} {{ variables.date }} {{ run_url }}";
        assert_eq!(
            render(t, &c, "https://h.example").unwrap(),
            "Sample job 1234 1 min 35 s 2026-11-21 https://h.example"
        );
        assert!(check_template("{{ job_nme }}").is_err());
        assert!(check_template("{{ variables.any_name }} {{ status }}").is_ok());
        assert!(check_template("{% if %}").is_err());
        let fallback = message(Some("{{ nope }}"), &c, "https://h.example");
        assert!(fallback.contains("could not be used"), "{fallback}");
    }

    #[test]
    fn a_runaway_template_is_refused_at_save_and_falls_back_when_sent() {
        let runaway = "{% for i in (1..10000000000) %}x{% endfor %}";
        assert_eq!(
            check_template(runaway).unwrap_err().limit(),
            Some(hakobu_engine::template::Limit::LoopIterations)
        );
        let c = sample_context(NotificationEventKind::Failure);
        let text = message(Some(runaway), &c, "https://h.example");
        assert!(text.starts_with("Sample job failed after"), "{text}");
        assert!(
            text.contains("templates are limited to 100000 loop iterations"),
            "{text}"
        );
    }

    #[test]
    fn dollar_placeholders_render_as_data() {
        let mut c = sample_context(NotificationEventKind::Success);
        c.variables.insert("date".into(), json!("2026-11-21"));
        c.variables.insert("evil".into(), json!("{{ error }}"));
        assert_eq!(
            render("$date$: $$5 and $5, $evil$ $nope", &c, "https://h").unwrap(),
            "2026-11-21: $5 and $5, {{ error }} $nope"
        );
        assert!(check_template("loaded $date$ for $job_name$").is_ok());
        assert!(render("$missing$", &c, "https://h").is_err());
    }

    #[test]
    fn slack_blocks_mention_and_link() {
        let p = slack_payload(
            "a < b",
            &["U024BE7LH".into(), "here".into()],
            "https://h/runs/1",
        );
        assert_eq!(
            p["blocks"][0]["text"]["text"],
            "<@U024BE7LH> <!here> a &lt; b"
        );
        assert_eq!(p["blocks"][1]["elements"][0]["url"], "https://h/runs/1");
        assert_eq!(p["text"], "a < b");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(4), "4 s");
        assert_eq!(human_duration(125), "2 min 5 s");
        assert_eq!(human_duration(3600), "1 h");
        assert_eq!(human_duration(3780), "1 h 3 min");
    }
}
