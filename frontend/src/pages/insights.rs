//! Insights: how the runs of the jobs the reader can see went over a period (the last 7,
//! 30, 90 or 365 days, in the browser's time zone): outcomes per day drawn as stacked
//! bars, failure rate, durations and queue waits, rows moved, the slowest and the most
//! failing jobs, and what the runners used per month with its estimated price and a CSV
//! of every run's usage. The app computes every figure (`GET /api/insights`); the page
//! only draws.

use crate::api;
use crate::components::{LoadError, Loading};
use crate::format;
use crate::i18n::{Key, Lang, fill, tr, use_lang};
use crate::widgets::runs::duration_text;
use hakobu_core::api::insights::{DayOutcomes, Insights, JobFigures, RunFigures};
use hakobu_core::usage::UnitPrices;
use leptos::prelude::*;
use leptos_router::components::A;

/// The periods offered, in days.
const PERIODS: [i64; 4] = [7, 30, 90, 365];

#[component]
pub fn InsightsPage() -> impl IntoView {
    crate::components::page_title(Key::NavInsights);
    let lang = use_lang();
    let days = RwSignal::new(30_i64);
    let zone = format::time_zone(lang.get_untracked()).0;
    let query = Memo::new(move |_| api::period_query(days.get(), &zone));
    let data = LocalResource::new(move || {
        let q = query.get();
        async move { api::insights(&q).await }
    });
    let periods = PERIODS
        .iter()
        .map(|&n| {
            let label = move || fill(lang.get(), Key::InsightsLastDays, &[("n", &n.to_string())]);
            view! { <option value=n.to_string() selected=move || days.get() == n>{label}</option> }
        })
        .collect_view();
    let body = move || match data.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || data.refetch()/> }.into_any(),
        Some(Ok(insights)) => view! { <InsightsBody insights query=query.get()/> }.into_any(),
    };
    view! {
        <h1>{tr(Key::NavInsights)}</h1>
        <p class="lead">{tr(Key::InsightsLead)}</p>
        <div class="field inline">
            <label for="insights-period">{tr(Key::InsightsPeriod)}</label>
            <select id="insights-period" data-testid="insights-period" on:change=move |ev| {
                if let Ok(n) = event_target_value(&ev).parse() {
                    days.set(n);
                }
            }>{periods}</select>
        </div>
        {body}
    }
}

#[component]
fn InsightsBody(insights: Insights, query: String) -> impl IntoView {
    let lang = use_lang();
    let t = insights.totals.clone();
    let prices = insights.prices.clone();
    let percent = move |f: &RunFigures| {
        f.failure_rate()
            .map(|r| format!("{:.1}%", r * 100.0))
            .unwrap_or_else(|| "—".into())
    };
    let pair = move |lang: Lang, a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{} / {}", duration_text(lang, a), duration_text(lang, b)),
        _ => "—".into(),
    };
    let figures = {
        let (t, prices) = (t.clone(), prices.clone());
        move || {
            let lang = lang.get();
            view! {
                <dl class="figures" data-testid="insights-figures">
                    <div><dt>{tr(Key::InsightsRunsEnded)}</dt><dd data-testid="insights-runs">{format::number(lang, t.runs)}</dd></div>
                    <div><dt>{tr(Key::InsightsFailureRate)}</dt><dd data-testid="insights-failure-rate">{percent(&t)}</dd></div>
                    <div><dt>{tr(Key::InsightsRowsWritten)}</dt><dd>{format::number(lang, t.rows_written)}</dd></div>
                    <div><dt>{tr(Key::InsightsDuration)}</dt><dd>{pair(lang, t.duration_p50_seconds, t.duration_p95_seconds)}</dd></div>
                    <div><dt>{tr(Key::InsightsQueueWait)}</dt><dd>{pair(lang, t.queue_wait_p50_seconds, t.queue_wait_p95_seconds)}</dd></div>
                    <div><dt>{tr(Key::InsightsCost)}</dt><dd data-testid="insights-cost">{money(t.usage.price, &prices)}</dd></div>
                </dl>
            }
        }
    };
    let no_runs = t.runs == 0;
    let csv = format!("/api/usage.csv?{query}");
    let price_note = {
        let prices = prices.clone();
        move || {
            fill(
                lang.get(),
                Key::InsightsPrices,
                &[
                    ("vcpu", &money(prices.per_vcpu_hour, &prices)),
                    ("gb", &money(prices.per_gb_hour, &prices)),
                    ("source", &price_source(lang.get(), &prices)),
                ],
            )
        }
    };
    view! {
        {figures}
        <h2>{tr(Key::InsightsPerDay)}</h2>
        {if no_runs {
            view! { <p class="empty" data-testid="insights-empty">{tr(Key::InsightsNoRuns)}</p> }.into_any()
        } else {
            view! { <OutcomeChart days=insights.days.clone()/> }.into_any()
        }}
        <JobLists jobs=insights.jobs.clone() prices=prices.clone()/>
        <h2>{tr(Key::InsightsMonths)}</h2>
        <table class="table" data-testid="insights-months">
            <thead><tr>
                <th>{tr(Key::InsightsMonth)}</th>
                <th class="num">{tr(Key::InsightsRuns)}</th>
                <th class="num">{tr(Key::InsightsVcpuHours)}</th>
                <th class="num">{tr(Key::InsightsGbHours)}</th>
                <th class="num">{tr(Key::InsightsCost)}</th>
            </tr></thead>
            <tbody>
                {insights.months.iter().map(|m| {
                    let prices = prices.clone();
                    let m = m.clone();
                    view! { <tr>
                        <td>{m.month.clone()}</td>
                        <td class="num">{move || format::number(lang.get(), m.runs)}</td>
                        <td class="num">{format!("{:.2}", m.usage.vcpu_seconds / 3600.0)}</td>
                        <td class="num">{format!("{:.2}", m.usage.gb_seconds / 3600.0)}</td>
                        <td class="num">{money(m.usage.price, &prices)}</td>
                    </tr> }
                }).collect_view()}
            </tbody>
        </table>
        <p class="hint">{price_note}</p>
        <p><a href=csv download="" data-testid="insights-csv">{tr(Key::InsightsDownloadCsv)}</a></p>
    }
}

/// Where the unit prices come from, in the reader's language.
fn price_source(lang: Lang, prices: &UnitPrices) -> String {
    match (&prices.fargate_list, &prices.unlisted_region) {
        (None, _) => Key::PricesOperator.text(lang).to_owned(),
        (Some(region), None) => fill(lang, Key::PricesFargate, &[("region", region)]),
        (Some(region), Some(asked)) => fill(
            lang,
            Key::PricesFargateUnlisted,
            &[("region", region), ("asked", asked)],
        ),
    }
}

/// An estimated amount: four decimals below 1 (a run costs fractions of a cent), two above.
fn money(amount: f64, prices: &UnitPrices) -> String {
    if amount < 1.0 {
        format!("{amount:.4} {}", prices.currency)
    } else {
        format!("{amount:.2} {}", prices.currency)
    }
}

/// Runs per day as stacked bars: succeeded at the bottom, then failed, then cancelled;
/// the figure's caption lists each day's counts for screen readers.
#[component]
fn OutcomeChart(days: Vec<DayOutcomes>) -> impl IntoView {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const PAD: f64 = 16.0;
    let lang = use_lang();
    let max = days
        .iter()
        .map(|d| d.succeeded + d.failed + d.cancelled)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = (W - 2.0 * PAD) / days.len().max(1) as f64;
    let bar = (step * 0.7).max(1.0);
    let height = move |n: i64| (H - 2.0 * PAD) * n as f64 / max;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = PAD + step * i as f64 + (step - bar) / 2.0;
            let mut y = H - PAD;
            let mut segment = |n: i64, class: &'static str| {
                let h = height(n);
                y -= h;
                (n > 0).then(|| view! {
                    <rect class=class x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{bar:.1}") height=format!("{h:.1}")/>
                })
            };
            let ok = segment(d.succeeded, "bar");
            let failed = segment(d.failed, "bar bar-failed");
            let cancelled = segment(d.cancelled, "bar bar-cancelled");
            view! { {ok}{failed}{cancelled} }
        })
        .collect_view();
    let summary = {
        let days = days.clone();
        move || {
            let lang = lang.get();
            days.iter()
                .filter(|d| d.succeeded + d.failed + d.cancelled > 0)
                .map(|d| {
                    fill(
                        lang,
                        Key::InsightsChartSummary,
                        &[
                            ("day", &d.day.to_string()),
                            ("ok", &d.succeeded.to_string()),
                            ("failed", &d.failed.to_string()),
                            ("cancelled", &d.cancelled.to_string()),
                        ],
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let first = days.first().map(|d| d.day.to_string()).unwrap_or_default();
    let last = days.last().map(|d| d.day.to_string()).unwrap_or_default();
    view! {
        <figure class="chart" data-testid="insights-chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-labelledby="insights-chart-caption" preserveAspectRatio="none">
                <line class="axis" x1=PAD.to_string() y1=(H - PAD).to_string() x2=(W - PAD).to_string() y2=(H - PAD).to_string()/>
                {bars}
                <text class="axis-label" x="2" y="12">{max.to_string()}</text>
                <text class="axis-label" x=PAD.to_string() y=(H - 2.0).to_string()>{first}</text>
                <text class="axis-label" x=(W - PAD).to_string() y=(H - 2.0).to_string() text-anchor="end">{last}</text>
            </svg>
            <figcaption id="insights-chart-caption">
                <span class="legend-bar"></span> {tr(Key::StatusSucceeded)} " "
                <span class="legend-bar legend-failed"></span> {tr(Key::StatusFailed)} " "
                <span class="legend-bar legend-cancelled"></span> {tr(Key::StatusCancelled)}
                <span class="visually-hidden">": " {summary}</span>
            </figcaption>
        </figure>
    }
}

/// The per-job table (with each job's p95 drawn as a bar against the slowest), and the
/// five slowest and five most failing jobs.
#[component]
fn JobLists(jobs: Vec<JobFigures>, prices: UnitPrices) -> impl IntoView {
    let lang = use_lang();
    let slowest_p95 = jobs
        .iter()
        .filter_map(|j| j.figures.duration_p95_seconds)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let mut slowest: Vec<&JobFigures> = jobs
        .iter()
        .filter(|j| j.figures.duration_p95_seconds.is_some())
        .collect();
    slowest.sort_by(|a, b| {
        b.figures
            .duration_p95_seconds
            .partial_cmp(&a.figures.duration_p95_seconds)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut failing: Vec<&JobFigures> = jobs.iter().filter(|j| j.figures.failed > 0).collect();
    failing.sort_by_key(|j| std::cmp::Reverse(j.figures.failed));
    let link = |j: &JobFigures| {
        let href = format!("/jobs/{}", j.job_id);
        let name = j.job_name.clone();
        view! { <A href=href>{name}</A> }
    };
    let slowest_list = slowest
        .iter()
        .take(5)
        .map(|j| {
            let p95 = j.figures.duration_p95_seconds.unwrap_or(0.0);
            view! { <li>{link(j)} " — " {move || duration_text(lang.get(), p95)}</li> }
        })
        .collect_view();
    let failing_list = if failing.is_empty() {
        view! { <p class="empty">{tr(Key::InsightsNoFailures)}</p> }.into_any()
    } else {
        let items = failing
            .iter()
            .take(5)
            .map(|j| {
                let (failed, runs) = (j.figures.failed, j.figures.runs);
                view! { <li>{link(j)} " — " {format!("{failed} / {runs}")}</li> }
            })
            .collect_view();
        view! { <ol data-testid="insights-most-failing">{items}</ol> }.into_any()
    };
    let rows = jobs
        .iter()
        .map(|j| {
            let f = j.figures.clone();
            let p95 = f.duration_p95_seconds.unwrap_or(0.0);
            let width = format!("{:.1}", 100.0 * p95 / slowest_p95);
            let prices = prices.clone();
            let rate = f
                .failure_rate()
                .map(|r| format!("{:.1}%", r * 100.0))
                .unwrap_or_default();
            view! {
                <tr data-testid="insights-job">
                    <td>{link(j)}</td>
                    <td class="num">{f.runs}</td>
                    <td class="num">{f.failed} " (" {rate} ")"</td>
                    <td class="num">{move || f.duration_p50_seconds.map(|s| duration_text(lang.get(), s)).unwrap_or_default()}</td>
                    <td class="num">
                        // An SVG bar, not a `style` width: the page's CSP allows no inline styles.
                        <svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">
                            <rect width=width height="8"/>
                        </svg>
                        {move || f.duration_p95_seconds.map(|s| duration_text(lang.get(), s)).unwrap_or_default()}
                    </td>
                    <td class="num">{move || format::number(lang.get(), f.rows_written)}</td>
                    <td class="num">{money(f.usage.price, &prices)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="columns">
            <section>
                <h2>{tr(Key::InsightsSlowest)}</h2>
                <ol data-testid="insights-slowest">{slowest_list}</ol>
            </section>
            <section>
                <h2>{tr(Key::InsightsMostFailing)}</h2>
                {failing_list}
            </section>
        </div>
        <h2>{tr(Key::InsightsJobs)}</h2>
        <table class="table" data-testid="insights-jobs">
            <thead><tr>
                <th>{tr(Key::NavJobs)}</th>
                <th class="num">{tr(Key::InsightsRuns)}</th>
                <th class="num">{tr(Key::InsightsFailures)}</th>
                <th class="num">{tr(Key::InsightsMedian)}</th>
                <th class="num">{tr(Key::InsightsP95)}</th>
                <th class="num">{tr(Key::InsightsRowsWritten)}</th>
                <th class="num">{tr(Key::InsightsCost)}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
