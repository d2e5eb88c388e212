//! Step 4's schedules of a new job (the job page's schedule form, once per schedule), and
//! creating them once the job is saved: one the server refuses brings the wizard back to its
//! row.

use super::state::Wizard;
use crate::api::{self, ApiError};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use crate::widgets::schedule_form::{ScheduleDraft, ScheduleFields, new_draft, schedule_text};
use hakobu_core::api::schedules::ScheduleRequest;
use hakobu_core::ids::JobId;
use hakobu_core::messages::Text;
use hakobu_core::validation::FieldErrors;
use leptos::prelude::*;

/// Step 4's schedules: for a new job, zero or more schedule forms (the job page's form);
/// for an existing job, where its schedules are.
#[component]
pub(super) fn SchedulesEditor(w: Wizard, form: Form) -> impl IntoView {
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
pub(super) struct ScheduleFailure {
    pub(super) index: usize,
    pub(super) errors: FieldErrors,
    pub(super) reason: Text,
}

/// Creates the schedules not saved yet, in order; stops at the first the server refuses.
pub(super) async fn save_schedules(
    job: JobId,
    drafts: &[ScheduleDraft],
) -> Result<(), ScheduleFailure> {
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
    let mut reason = e.text();
    if let Some(body) = e.body() {
        reason = body.text();
        for f in &body.fields {
            errors.push_message(format!("schedules[{index}].{}", f.field), f.text());
        }
        if let (true, Some(field)) = (body.fields.is_empty(), &body.field) {
            errors.push_message(format!("schedules[{index}].{field}"), body.text());
        }
        if let Some(first) = body.fields.first() {
            reason = first.text();
        }
    }
    if errors.0.is_empty() {
        errors.push_message(format!("schedules[{index}]"), reason.clone());
    }
    ScheduleFailure {
        index,
        errors,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let failure = schedule_failure(
            1,
            &ApiError::Server {
                status: 422,
                body: Box::new(body),
            },
        );
        assert_eq!(failure.index, 1);
        assert_eq!(
            failure.errors.0[0].field,
            "schedules[1].settings.recurrence.time"
        );
        assert_eq!(failure.reason.english, "\"25:00\" is not a time");
        let failure = schedule_failure(0, &ApiError::Network("offline".into()));
        assert_eq!(failure.errors.0[0].field, "schedules[0]");
    }
}
