//! Runs as several pages show them: a run's status as a badge, how long it took in words,
//! and the table of runs (the runs list, the dashboard and the job page show the same one).

use crate::components::Time;
use crate::format;
use crate::i18n::{Key, Lang, fill, tr, use_lang};
use hakobu_core::api::runs::{RunStatus, RunView};
use hakobu_core::ids::JobId;
use leptos::prelude::*;
use leptos_router::components::A;

/// A run's status in words.
pub fn status_key(status: RunStatus) -> Key {
    match status {
        RunStatus::Queued => Key::StatusQueued,
        RunStatus::Starting => Key::StatusStarting,
        RunStatus::Running => Key::StatusRunning,
        RunStatus::Succeeded => Key::StatusSucceeded,
        RunStatus::Failed => Key::StatusFailed,
        RunStatus::Cancelled => Key::StatusCancelled,
        RunStatus::TimedOut => Key::StatusTimedOut,
    }
}

/// The status in words, with the machine word for tests and filters in `data-status`.
#[component]
pub fn RunStatusBadge(status: RunStatus) -> impl IntoView {
    view! {
        <span class=format!("run-status run-status-{}", status.as_str()) data-status=status.as_str()>
            {tr(status_key(status))}
        </span>
    }
}

/// Seconds between start and end; none for a run that has not ended.
pub fn run_duration_seconds(run: &RunView) -> Option<f64> {
    let start = run.started_at?;
    let end = run.finished_at?;
    Some(((end - start).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// `75.0` -> "1 min 15 s" / "1 分 15 秒".
pub fn duration_text(lang: Lang, seconds: f64) -> String {
    let total = seconds.round() as i64;
    if seconds < 10.0 {
        return fill(
            lang,
            Key::DurationSeconds,
            &[("s", &format!("{seconds:.1}"))],
        );
    }
    if total < 60 {
        return fill(lang, Key::DurationSeconds, &[("s", &total.to_string())]);
    }
    if total < 3600 {
        return fill(
            lang,
            Key::DurationMinutes,
            &[
                ("m", &(total / 60).to_string()),
                ("s", &(total % 60).to_string()),
            ],
        );
    }
    fill(
        lang,
        Key::DurationHours,
        &[
            ("h", &(total / 3600).to_string()),
            ("m", &(total % 3600 / 60).to_string()),
        ],
    )
}

/// A table of runs, newest first.
#[component]
pub fn RunsTable(
    runs: Vec<RunView>,
    #[prop(optional)] job_names: Option<Vec<(JobId, String)>>,
) -> impl IntoView {
    let lang = use_lang();
    let show_job = job_names.is_some();
    let job_names = StoredValue::new(job_names.unwrap_or_default());
    view! {
        <div class="table-wrap">
            <table data-testid="runs-table">
                <thead>
                    <tr>
                        <th scope="col">{tr(Key::Run)}</th>
                        {show_job.then(|| view! { <th scope="col">{tr(Key::Job)}</th> })}
                        <th scope="col">{tr(Key::Status)}</th>
                        <th scope="col">{tr(Key::Queued)}</th>
                        <th scope="col">{tr(Key::Duration)}</th>
                        <th scope="col">{tr(Key::RowsWritten)}</th>
                    </tr>
                </thead>
                <tbody>
                    {runs
                        .into_iter()
                        .map(|r| {
                            let job_name = job_names.with_value(|n| n.iter().find(|(id, _)| *id == r.job_id).map(|(_, n)| n.clone()).unwrap_or_default());
                            let seconds = run_duration_seconds(&r);
                            let rows = r.rows_written;
                            let short = r.id.to_string().chars().take(8).collect::<String>();
                            view! {
                                <tr data-testid="run-row">
                                    <td><A href=format!("/runs/{}", r.id)><code>{short}</code></A></td>
                                    {show_job.then(|| view! { <td><A href=format!("/jobs/{}", r.job_id)>{job_name}</A></td> })}
                                    <td><RunStatusBadge status=r.status/></td>
                                    <td><Time at=r.queued_at/></td>
                                    <td>{move || seconds.map(|s| duration_text(lang.get(), s)).unwrap_or_else(|| "—".to_owned())}</td>
                                    <td>{move || format::number(lang.get(), rows)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(Lang::En, 2.345), "2.3 s");
        assert_eq!(duration_text(Lang::En, 42.0), "42 s");
        assert_eq!(duration_text(Lang::En, 75.0), "1 min 15 s");
        assert_eq!(duration_text(Lang::En, 3725.0), "1 h 2 min");
        assert_eq!(duration_text(Lang::Ja, 75.0), "1 分 15 秒");
    }
}
