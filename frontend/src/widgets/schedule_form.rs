//! The schedule form shared by the job page ("Add a schedule") and step 4 of the job
//! wizard: a preset (every day, week, month, hour, or a cron expression), its time fields,
//! the IANA zone (the browser's by default), and the next fire times as you type, computed
//! by `core`'s `ScheduleSettings::validate` and `fire_times`, the scheduler's own code, so
//! what the form shows is what the server will do. Errors of that validation show beside
//! their fields while typing, and server errors land beside the same fields. Also the
//! schedules panel of the job page and the workflow page: the list, delete, and the form.

use crate::api::{self, ApiError};
use crate::components::{
    ActionErrorNotice, ConfirmButton, FormProblem, LoadError, Loading, MaybeTime, Submit, Time,
};
use crate::format;
use crate::forms::Form;
use crate::i18n::{Key, Lang, fill, tr, translate, use_lang};
use chrono::{DateTime, Utc};
use hakobu_core::api::schedules::{ScheduleRequest, UPCOMING};
use hakobu_core::ids::{JobId, WorkflowId};
use hakobu_core::schedule::{CatchUp, Recurrence, ScheduleSettings, ShortMonth, Weekday};
use hakobu_core::validation::FieldErrors;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The kinds of schedule the form offers, in the order of its select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    Daily,
    Weekly,
    Monthly,
    Hourly,
    Cron,
}

impl Preset {
    pub(crate) const ALL: [Preset; 5] = [
        Preset::Daily,
        Preset::Weekly,
        Preset::Monthly,
        Preset::Hourly,
        Preset::Cron,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Preset::Daily => "daily",
            Preset::Weekly => "weekly",
            Preset::Monthly => "monthly",
            Preset::Hourly => "hourly",
            Preset::Cron => "cron",
        }
    }

    fn parse(s: &str) -> Preset {
        Preset::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .unwrap_or(Preset::Daily)
    }

    fn label(self) -> Key {
        match self {
            Preset::Daily => Key::ScheduleDaily,
            Preset::Weekly => Key::ScheduleWeekly,
            Preset::Monthly => Key::ScheduleMonthly,
            Preset::Hourly => Key::ScheduleHourly,
            Preset::Cron => Key::ScheduleCron,
        }
    }
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// What the form's inputs hold, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScheduleInputs {
    pub preset: Preset,
    pub time: String,
    pub minute: String,
    pub weekdays: Vec<Weekday>,
    pub day: String,
    pub expression: String,
    pub timezone: String,
}

impl ScheduleInputs {
    /// The settings the inputs describe. A minute or day that is not a number becomes an
    /// out-of-range one on purpose, so `validate` names the field.
    pub(crate) fn settings(&self) -> ScheduleSettings {
        let time = self.time.trim().to_owned();
        let recurrence = match self.preset {
            Preset::Hourly => Recurrence::Hourly {
                minute: self.minute.trim().parse().unwrap_or(u8::MAX),
            },
            Preset::Daily => Recurrence::Daily { time },
            Preset::Weekly => Recurrence::Weekly {
                // In the week's order whatever order they were ticked in.
                weekdays: WEEKDAYS
                    .into_iter()
                    .filter(|d| self.weekdays.contains(d))
                    .collect(),
                time,
            },
            Preset::Monthly => Recurrence::Monthly {
                day: self.day.trim().parse().unwrap_or(0),
                time,
                short_month: ShortMonth::Skip,
            },
            Preset::Cron => Recurrence::Cron {
                expression: self.expression.trim().to_owned(),
            },
        };
        ScheduleSettings {
            recurrence,
            timezone: self.timezone.trim().to_owned(),
            catch_up: CatchUp::default(),
            max_consecutive_failures: hakobu_core::schedule::DEFAULT_MAX_CONSECUTIVE_FAILURES,
        }
    }
}

/// The next fire times after `now` (as many as the server lists), or the problems with
/// their fields under `prefix`.
pub(crate) fn upcoming(
    settings: &ScheduleSettings,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, FieldErrors> {
    settings
        .validate(prefix)
        .map(|s| s.fire_times(now, None, UPCOMING))
}

/// One schedule being typed: a signal per input.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleDraft {
    /// Tells rows apart when one is removed (the wizard lists several).
    pub key: u64,
    preset: RwSignal<Preset>,
    time: RwSignal<String>,
    minute: RwSignal<String>,
    weekdays: RwSignal<Vec<Weekday>>,
    day: RwSignal<String>,
    expression: RwSignal<String>,
    timezone: RwSignal<String>,
    /// Set once the server has it: the wizard's next save does not post it again.
    pub saved: RwSignal<bool>,
}

impl ScheduleDraft {
    /// Every day at 02:00 in `timezone` (the browser's zone, usually).
    pub(crate) fn new(key: u64, timezone: String) -> Self {
        ScheduleDraft {
            key,
            preset: RwSignal::new(Preset::Daily),
            time: RwSignal::new("02:00".to_owned()),
            minute: RwSignal::new("0".to_owned()),
            weekdays: RwSignal::new(vec![Weekday::Monday]),
            day: RwSignal::new("1".to_owned()),
            expression: RwSignal::new("0 2 * * *".to_owned()),
            timezone: RwSignal::new(timezone),
            saved: RwSignal::new(false),
        }
    }

    /// The inputs (reactive: a closure calling it re-runs as the user types).
    pub(crate) fn inputs(&self) -> ScheduleInputs {
        ScheduleInputs {
            preset: self.preset.get(),
            time: self.time.get(),
            minute: self.minute.get(),
            weekdays: self.weekdays.get(),
            day: self.day.get(),
            expression: self.expression.get(),
            timezone: self.timezone.get(),
        }
    }

    pub(crate) fn settings(&self) -> ScheduleSettings {
        self.inputs().settings()
    }

    pub(crate) fn settings_untracked(&self) -> ScheduleSettings {
        untrack(|| self.settings())
    }
}

/// The schedule in words with its zone: "Every day at 02:30 (Asia/Tokyo)".
pub(crate) fn schedule_text(lang: Lang, settings: &ScheduleSettings) -> String {
    format!(
        "{} ({})",
        recurrence_text(lang, &settings.recurrence),
        settings.timezone
    )
}

/// A schedule's recurrence in words.
pub(crate) fn recurrence_text(lang: Lang, r: &Recurrence) -> String {
    match r {
        Recurrence::Hourly { minute } => {
            fill(lang, Key::EveryHourAt, &[("minute", &minute.to_string())])
        }
        Recurrence::Daily { time } => fill(lang, Key::EveryDayAt, &[("time", time)]),
        Recurrence::Weekly { weekdays, time } => {
            let days: Vec<&str> = weekdays.iter().map(|d| weekday_name(lang, *d)).collect();
            fill(
                lang,
                Key::EveryWeekAt,
                &[("days", &days.join(", ")), ("time", time)],
            )
        }
        Recurrence::Monthly { day, time, .. } => fill(
            lang,
            Key::EveryMonthAt,
            &[("day", &day.to_string()), ("time", time)],
        ),
        Recurrence::Cron { expression } => fill(lang, Key::CronAt, &[("expression", expression)]),
    }
}

fn weekday_key(d: Weekday) -> Key {
    match d {
        Weekday::Monday => Key::Monday,
        Weekday::Tuesday => Key::Tuesday,
        Weekday::Wednesday => Key::Wednesday,
        Weekday::Thursday => Key::Thursday,
        Weekday::Friday => Key::Friday,
        Weekday::Saturday => Key::Saturday,
        Weekday::Sunday => Key::Sunday,
    }
}

fn weekday_name(lang: Lang, d: Weekday) -> &'static str {
    weekday_key(d).text(lang)
}

/// A draft in the browser's zone.
pub(crate) fn new_draft(key: u64) -> ScheduleDraft {
    let lang = use_lang();
    ScheduleDraft::new(key, format::time_zone(lang.get_untracked()).0)
}

/// The inputs of one schedule and its next fire times. Field paths are `prefix` +
/// `recurrence.time` etc. (`settings.` on the job page, `schedules[0].settings.` in the
/// wizard), the paths of `core`'s validation and of the server's errors.
#[component]
pub fn ScheduleFields(draft: ScheduleDraft, form: Form, prefix: String) -> impl IntoView {
    let lang = use_lang();
    // Checked as the user types; the same errors `validate()` gives before sending.
    let check = {
        let prefix = prefix.clone();
        Memo::new(move |_| upcoming(&draft.settings(), &prefix, Utc::now()))
    };
    let path = {
        let prefix = prefix.clone();
        move |f: &str| format!("{prefix}{f}")
    };
    let kind_id = form.input_id(&path("recurrence.kind"));
    let weekdays_path = path("recurrence.weekdays");
    let input = move |field: &str, label: Key, value: RwSignal<String>, hint: Option<Key>| {
        // The time zone is picked from the IANA names (the browser filters as one types).
        let suggestions = (field == "timezone").then_some(TIME_ZONE_LIST);
        view! { <ScheduleInput form check path=path(field) label value hint suggestions/> }
    };
    // Built again each time "every week" is chosen.
    let weekdays = move || {
        let p = weekdays_path.clone();
        let base = form.input_id(&p);
        let error = move || {
            check
                .with(|c| {
                    c.as_ref()
                        .err()
                        .and_then(|e| e.0.iter().find(|e| e.field == p).cloned())
                })
                .or_else(|| form.error(&p))
        };
        view! {
            <fieldset class="choices weekdays" id=base.clone()>
                <legend>{tr(Key::ScheduleWeekdays)}</legend>
                {WEEKDAYS.into_iter().map(|d| {
                    let id = format!("{base}-{}", format!("{d:?}").to_lowercase());
                    view! {
                        <div class="choice">
                            <input type="checkbox" id=id.clone()
                                prop:checked=move || draft.weekdays.with(|w| w.contains(&d))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    draft.weekdays.update(|w| {
                                        w.retain(|x| *x != d);
                                        if on { w.push(d); }
                                    });
                                }/>
                            <label for=id>{tr(weekday_key(d))}</label>
                        </div>
                    }
                }).collect_view()}
                {move || error().map(|e| view! {
                    <p class="field-error">{translate(lang.get(), Some(Key::ScheduleWeekdays.text(lang.get())), &e.text())}</p>
                })}
            </fieldset>
        }
    };
    let zone_input = input.clone();
    view! {
        <div class="field">
            <label for=kind_id.clone()>{tr(Key::ScheduleKind)}</label>
            <select id=kind_id on:change=move |ev| draft.preset.set(Preset::parse(&event_target_value(&ev))) prop:value=move || draft.preset.get().as_str()>
                {Preset::ALL.into_iter().map(|p| view! {
                    <option value=p.as_str() selected=move || draft.preset.get() == p>{tr(p.label())}</option>
                }).collect_view()}
            </select>
        </div>
        {move || match draft.preset.get() {
            Preset::Hourly => input("recurrence.minute", Key::ScheduleMinute, draft.minute, None).into_any(),
            Preset::Cron => input("recurrence.expression", Key::ScheduleExpression, draft.expression, Some(Key::ScheduleExpressionHint)).into_any(),
            Preset::Daily => input("recurrence.time", Key::ScheduleTime, draft.time, Some(Key::ScheduleTimeHint)).into_any(),
            Preset::Weekly => view! {
                {weekdays()}
                {input("recurrence.time", Key::ScheduleTime, draft.time, Some(Key::ScheduleTimeHint))}
            }
            .into_any(),
            Preset::Monthly => view! {
                {input("recurrence.day", Key::ScheduleDayOfMonth, draft.day, Some(Key::ScheduleDayOfMonthHint))}
                {input("recurrence.time", Key::ScheduleTime, draft.time, Some(Key::ScheduleTimeHint))}
            }
            .into_any(),
        }}
        {zone_input("timezone", Key::ScheduleTimezone, draft.timezone, Some(Key::ScheduleTimezoneHint))}
        <div class="upcoming" aria-live="polite" data-testid="upcoming">
            <p class="hint">{tr(Key::NextFireTimes)}</p>
            {move || match check.get() {
                Ok(times) if !times.is_empty() => view! {
                    <ol class="plain-list">{times.into_iter().map(|t| view! { <li><Time at=t/></li> }).collect_view()}</ol>
                }
                .into_any(),
                Ok(_) => view! { <p class="muted">{tr(Key::NeverFires)}</p> }.into_any(),
                Err(_) => view! { <p class="muted">{tr(Key::ScheduleFixFields)}</p> }.into_any(),
            }}
        </div>
    }
}

/// What a schedule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleTarget {
    Job(JobId),
    Workflow(WorkflowId),
}

/// A job's or a workflow's schedules with their next fire time, and a form to add one that
/// shows the next fire times as you type (computed by `core`'s scheduler code, the
/// server's own). The job page and the workflow page show it.
#[component]
pub fn SchedulesPanel(
    target: ScheduleTarget,
    /// The policy's `EditResource` on it, which the server asks of every change.
    can_edit: bool,
    /// A line under the title (the workflow page says what a fire time does while a run
    /// is going).
    #[prop(optional, into)]
    note: Option<Signal<String>>,
) -> impl IntoView {
    let lang = use_lang();
    let schedules = LocalResource::new(move || async move {
        match target {
            ScheduleTarget::Job(job) => api::job_schedules(job).await,
            ScheduleTarget::Workflow(w) => api::workflow_schedules(w).await,
        }
    });
    let action_error = RwSignal::new(None::<ApiError>);
    let form = Form::new("schedule", &["settings", "enabled"]);
    // The form shared with the wizard's step 4 (`schedule_form`), with the next 10 fire
    // times as you type.
    let draft = new_draft(0);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = ScheduleRequest {
            settings: draft.settings_untracked(),
            enabled: true,
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            let created = match target {
                ScheduleTarget::Job(job) => api::create_schedule(job, &request).await,
                ScheduleTarget::Workflow(w) => api::create_workflow_schedule(w, &request).await,
            };
            match created {
                Ok(_) => {
                    form.done();
                    schedules.refetch();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let list = move || {
        match schedules.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || schedules.refetch()/> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! { <p class="muted">{tr(Key::NoSchedules)}</p> }.into_any(),
        Some(Ok(list)) => view! {
            <ul class="plain-list" data-testid="schedules">
                {list
                    .into_iter()
                    .map(|s| {
                        let id = s.id;
                        let recurrence = s.settings.recurrence.clone();
                        let zone = s.settings.timezone.clone();
                        let delete = move |()| {
                            spawn_local(async move {
                                match api::delete_schedule(id).await {
                                    Ok(()) => schedules.refetch(),
                                    Err(e) => action_error.set(Some(e)),
                                }
                            });
                        };
                        view! {
                            <li data-testid="schedule">
                                <strong>{move || recurrence_text(lang.get(), &recurrence)}</strong>
                                " (" {zone} ") · " {tr(Key::NextFire)} " "
                                <MaybeTime at=s.next_fire_at none=Key::Never/>
                                {s.disabled_reason.clone().map(|r| view! { " · " <span class="muted">{r}</span> })}
                                {can_edit.then(|| view! {
                                    " "
                                    <ConfirmButton
                                        label=Key::Remove
                                        question=Signal::derive(move || Key::ConfirmDeleteSchedule.text(lang.get()).to_owned())
                                        confirm=Key::Remove
                                        on_confirm=delete
                                        class="link-button"
                                    />
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any(),
    }
    };
    view! {
        <section class="panel" data-testid="schedules-panel">
            <h2>{tr(Key::Schedules)}</h2>
            {note.map(|n| view! { <p class="hint" data-testid="schedules-note">{n}</p> })}
            <ActionErrorNotice action_error/>
            {list}
            {can_edit.then(|| view! {
                <form class="schedule-form" on:submit=submit novalidate=true>
                    <h3>{tr(Key::AddSchedule)}</h3>
                    <ScheduleFields draft form prefix="settings.".to_owned()/>
                    <FormProblem form/>
                    <Submit form label=Key::AddSchedule/>
                </form>
            })}
        </section>
    }
}

/// One text input of the form, its error beside it: the live check's while the input is
/// wrong, else what the server said about it.
/// The `<datalist>` of IANA time zone names beside the schedule's time zone box.
const TIME_ZONE_LIST: &str = "iana-time-zones";

#[component]
fn ScheduleInput(
    form: Form,
    check: Memo<Result<Vec<DateTime<Utc>>, FieldErrors>>,
    path: String,
    label: Key,
    value: RwSignal<String>,
    hint: Option<Key>,
    /// The id of a `<datalist>` of values to offer.
    suggestions: Option<&'static str>,
) -> impl IntoView {
    let lang = use_lang();
    let id = form.input_id(&path);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let error = {
        let path = path.clone();
        Memo::new(move |_| {
            check
                .with(|c| {
                    c.as_ref()
                        .err()
                        .and_then(|e| e.0.iter().find(|e| e.field == path).cloned())
                })
                .or_else(|| form.error(&path))
        })
    };
    let described = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.with(Option::is_some) {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=id.clone()>{tr(label)}</label>
            <input id=id type="text" name=path list=suggestions autocomplete="off"
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=described
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
            {suggestions.map(|list| view! {
                <datalist id=list>
                    {hakobu_core::schedule::time_zone_names().map(|name| view! { <option value=name></option> }).collect_view()}
                </datalist>
            })}
            {hint.map(|h| view! { <p class="hint" id=hint_id>{tr(h)}</p> })}
            {move || error.get().map(|m| {
                let lang = lang.get();
                view! { <p class="field-error" id=error_id.clone()>{translate(lang, Some(label.text(lang)), &m.text())}</p> }
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(preset: Preset) -> ScheduleInputs {
        ScheduleInputs {
            preset,
            time: " 02:30 ".into(),
            minute: "15".into(),
            weekdays: vec![Weekday::Friday, Weekday::Monday],
            day: "31".into(),
            expression: "0 2 * * 1-5".into(),
            timezone: "Asia/Tokyo".into(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn every_day_in_tokyo_lists_ten_times_in_utc() {
        let settings = inputs(Preset::Daily).settings();
        let times = upcoming(&settings, "settings.", at("2026-11-30T00:00:00Z")).unwrap();
        assert_eq!(times.len(), 10);
        // 02:30 in Tokyo is 17:30 UTC the day before.
        assert_eq!(times[0], at("2026-11-30T17:30:00Z"));
        assert_eq!(times[9], at("2026-12-09T17:30:00Z"));
        assert_eq!(
            schedule_text(Lang::En, &settings),
            "Every day at 02:30 (Asia/Tokyo)"
        );
    }

    #[test]
    fn weekly_keeps_the_weeks_order_and_monthly_skips_short_months() {
        let weekly = inputs(Preset::Weekly).settings();
        assert_eq!(
            weekly.recurrence,
            Recurrence::Weekly {
                weekdays: vec![Weekday::Monday, Weekday::Friday],
                time: "02:30".into()
            }
        );
        assert_eq!(
            recurrence_text(Lang::En, &weekly.recurrence),
            "Every Monday, Friday at 02:30"
        );
        let monthly = inputs(Preset::Monthly).settings();
        let times = upcoming(&monthly, "", at("2026-11-01T00:00:00Z")).unwrap();
        // No 31 November: the next is 31 December 02:30 Tokyo.
        assert_eq!(times[0], at("2026-12-30T17:30:00Z"));
    }

    #[test]
    fn errors_name_the_field_under_the_prefix() {
        let mut bad = inputs(Preset::Daily);
        bad.time = "25:00".into();
        bad.timezone = "Mars/Olympus".into();
        let errors = upcoming(&bad.settings(), "schedules[1].settings.", Utc::now()).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "schedules[1].settings.timezone",
                "schedules[1].settings.recurrence.time"
            ]
        );
        let mut bad = inputs(Preset::Hourly);
        bad.minute = "half".into();
        assert_eq!(
            upcoming(&bad.settings(), "settings.", Utc::now())
                .unwrap_err()
                .0[0]
                .field,
            "settings.recurrence.minute"
        );
        let mut bad = inputs(Preset::Weekly);
        bad.weekdays.clear();
        assert_eq!(
            upcoming(&bad.settings(), "", Utc::now()).unwrap_err().0[0].field,
            "recurrence.weekdays"
        );
    }

    /// Every message the schedule check gives reads in Japanese without English left.
    #[test]
    fn schedule_messages_are_in_japanese() {
        type Change = fn(&mut ScheduleInputs);
        let cases: [(Preset, Change); 7] = [
            (Preset::Daily, |i| i.time = "25:00".into()),
            (Preset::Daily, |i| i.timezone = "Mars/Olympus".into()),
            (Preset::Hourly, |i| i.minute = "60".into()),
            (Preset::Weekly, |i| i.weekdays.clear()),
            (Preset::Monthly, |i| i.day = "0".into()),
            (Preset::Cron, |i| i.expression = "0 2 * *".into()),
            (Preset::Cron, |i| i.expression = "0 0 30 2 *".into()),
        ];
        for (preset, change) in cases {
            let mut i = inputs(preset);
            change(&mut i);
            let errors = upcoming(&i.settings(), "", Utc::now()).unwrap_err();
            for e in errors.0 {
                let ja = translate(Lang::Ja, None, &e.text());
                assert_ne!(ja, e.message, "{preset:?}: {}", e.message);
                assert!(!ja.contains("expected"), "{ja}");
            }
        }
        let mut daily = inputs(Preset::Daily);
        daily.time = "25:00".into();
        let errors = upcoming(&daily.settings(), "", Utc::now()).unwrap_err();
        let time = errors
            .0
            .iter()
            .find(|e| e.code.as_deref() == Some("not_a_time"))
            .expect("the time is refused");
        assert_eq!(
            time.message,
            "\"25:00\" is not a time; expected HH:MM on a 24-hour clock, e.g. 02:30 or 18:00"
        );
        assert_eq!(
            translate(Lang::Ja, None, &time.text()),
            "\"25:00\" は時刻ではありません。24 時間表記の 時:分 で入力してください（例：02:30、18:00）。"
        );
    }
}
