//! Notification rules of a job or a workflow as typed: the rows, the editor (the wizard's
//! step 4, the job page and the workflow page use the same one), saving the rows through
//! the API (create, change and delete only what differs from what is saved), and the
//! panel of a job's or a workflow's page: the list, and the editor for its editors.

use crate::api::{self, ApiError};
use crate::components::{
    LoadError, Loading, NotAllowed, RowError, checkbox, row_input, row_select,
};
use crate::forms::{Form, Problem, split_list};
use crate::i18n::{Key, Lang, fill, notification_event_key, tr, use_lang};
use hakobu_core::api::notifications::{
    DestinationKind, DestinationView, NotificationEventKind, RuleRequest, RuleView,
};
use hakobu_core::ids::{DestinationId, JobId, NotificationRuleId, WorkflowId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldError, FieldErrors};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// What the rules are of: a job's rules are for any event of its runs, a workflow's for
/// its runs' success or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesOwner {
    Job(JobId),
    Workflow(WorkflowId),
}

impl RulesOwner {
    fn is_workflow(self) -> bool {
        matches!(self, RulesOwner::Workflow(_))
    }

    /// The test ids of its panel: the list, a rule, the panel, the form.
    fn test_ids(self) -> [&'static str; 4] {
        match self {
            RulesOwner::Job(_) => [
                "job-rule-list",
                "job-rule",
                "job-rules-panel",
                "job-rules-form",
            ],
            RulesOwner::Workflow(_) => [
                "workflow-rule-list",
                "workflow-rule",
                "workflow-rules-panel",
                "workflow-rules-form",
            ],
        }
    }
}

/// The events a rule may be for: a workflow's, its runs' failure and success.
fn rule_events(workflow: bool) -> Vec<NotificationEventKind> {
    if workflow {
        vec![
            NotificationEventKind::Failure,
            NotificationEventKind::Success,
        ]
    } else {
        NotificationEventKind::ALL.to_vec()
    }
}

/// A notification rule as typed; `existing` for a saved one.
#[derive(Debug, Clone, Copy)]
pub struct RuleRow {
    key: u64,
    existing: Option<NotificationRuleId>,
    /// What the saved rule was, to save only rules that changed.
    saved: StoredValue<Option<RuleRequest>>,
    destination: RwSignal<Option<DestinationId>>,
    event: RwSignal<NotificationEventKind>,
    threshold: RwSignal<String>,
    subject: RwSignal<String>,
    template: RwSignal<String>,
    mentions: RwSignal<String>,
    enabled: RwSignal<bool>,
}

fn text(s: &str) -> RwSignal<String> {
    RwSignal::new(s.to_owned())
}

impl RuleRow {
    fn new(key: u64, destination: Option<DestinationId>) -> Self {
        RuleRow {
            key,
            existing: None,
            saved: StoredValue::new(None),
            destination: RwSignal::new(destination),
            event: RwSignal::new(NotificationEventKind::Failure),
            threshold: text(""),
            subject: text(""),
            template: text(""),
            mentions: text(""),
            enabled: RwSignal::new(true),
        }
    }

    fn from_rule(key: u64, r: &RuleView) -> Self {
        let request = RuleRequest {
            destination_id: r.destination_id,
            event: r.event,
            threshold: r.threshold,
            subject: r.subject.clone(),
            template: r.template.clone(),
            mentions: r.mentions.clone(),
            enabled: r.enabled,
        };
        RuleRow {
            key,
            existing: Some(r.id),
            saved: StoredValue::new(Some(request)),
            destination: RwSignal::new(Some(r.destination_id)),
            event: RwSignal::new(r.event),
            threshold: text(&r.threshold.map(|t| t.to_string()).unwrap_or_default()),
            subject: text(r.subject.as_deref().unwrap_or("")),
            template: text(r.template.as_deref().unwrap_or("")),
            mentions: text(&r.mentions.join(", ")),
            enabled: RwSignal::new(r.enabled),
        }
    }

    /// The rule as the API takes it, with the errors `core` finds (paths `rules[i].*`).
    fn request(&self, index: usize, errors: &mut FieldErrors) -> Option<RuleRequest> {
        let f = |name: &str| format!("rules[{index}].{name}");
        let Some(destination_id) = self.destination.get_untracked() else {
            errors.push_message(f("destination_id"), MessageCode::Required);
            return None;
        };
        let threshold = self.threshold.get_untracked();
        let threshold = threshold.trim();
        let threshold = if threshold.is_empty() {
            None
        } else if let Ok(n) = threshold.parse::<i64>() {
            Some(n)
        } else {
            errors.push_message(f("threshold"), MessageCode::WholeNumber);
            return None;
        };
        let optional = |s: RwSignal<String>| {
            let v = s.get_untracked();
            (!v.trim().is_empty()).then_some(v)
        };
        let request = RuleRequest {
            destination_id,
            event: self.event.get_untracked(),
            threshold,
            subject: optional(self.subject),
            template: optional(self.template),
            mentions: split_list(&self.mentions.get_untracked()),
            enabled: self.enabled.get_untracked(),
        };
        for e in request.validate().0 {
            errors.push(f(&e.field), e.message);
        }
        Some(request)
    }
}

/// The rule rows of one job as typed, and the saved rules removed from them.
#[derive(Clone, Copy)]
pub struct RuleSet {
    /// Rows are created under the owner current when the set was made, so they live as
    /// long as the form holding the set, not as long as the part of the view that added
    /// them.
    owner: StoredValue<Owner>,
    next_key: StoredValue<u64>,
    rows: RwSignal<Vec<RuleRow>>,
    /// Saved rules removed from the rows, deleted on the next save.
    removed: StoredValue<Vec<NotificationRuleId>>,
}

impl RuleSet {
    pub fn new(saved: &[RuleView]) -> Self {
        let set = RuleSet {
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            next_key: StoredValue::new(0),
            rows: RwSignal::new(Vec::new()),
            removed: StoredValue::new(Vec::new()),
        };
        let rows = saved
            .iter()
            .map(|r| set.owned(|| RuleRow::from_rule(set.key(), r)))
            .collect();
        set.rows.set(rows);
        set
    }

    fn owned<T>(&self, f: impl FnOnce() -> T) -> T {
        self.owner.with_value(|o| o.with(f))
    }

    fn key(&self) -> u64 {
        let k = self.next_key.get_value();
        self.next_key.set_value(k + 1);
        k
    }

    /// The rules as typed, by row, with `core`'s errors.
    pub fn requests(&self) -> (Vec<(RuleRow, Option<RuleRequest>)>, FieldErrors) {
        let mut errors = FieldErrors::default();
        let rows = self
            .rows
            .get_untracked()
            .into_iter()
            .enumerate()
            .map(|(i, row)| (row, row.request(i, &mut errors)))
            .collect();
        (rows, errors)
    }
}

/// Creates, changes and deletes the job's notification rules to match the rows. The
/// first refusal stops, with the server's errors at that rule's fields (`rules[i].*`).
pub async fn save_rules(
    owner: RulesOwner,
    set: RuleSet,
    rows: Vec<(RuleRow, Option<RuleRequest>)>,
) -> Result<(), FieldErrors> {
    let at = |i: usize, e: ApiError| {
        let mut errors = FieldErrors::default();
        match e.body() {
            Some(body) if !body.fields.is_empty() || body.field.is_some() => {
                for f in &body.fields {
                    errors.push(format!("rules[{i}].{}", f.field), f.message.clone());
                }
                if let (true, Some(field)) = (body.fields.is_empty(), &body.field) {
                    errors.push(format!("rules[{i}].{field}"), body.message.clone());
                }
            }
            _ => errors.push(format!("rules[{i}].destination_id"), e.to_string()),
        }
        errors
    };
    for id in set.removed.get_value() {
        match api::delete_rule(id).await {
            Ok(()) => set.removed.update_value(|r| r.retain(|x| *x != id)),
            // Already gone is what we wanted.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => {
                let mut errors = FieldErrors::default();
                errors.push("rules", e.to_string());
                return Err(errors);
            }
        }
    }
    for (i, (row, request)) in rows.into_iter().enumerate() {
        let Some(request) = request else { continue };
        match row.existing {
            // Unchanged: no request, no audit entry.
            Some(_) if row.saved.get_value().as_ref() == Some(&request) => {}
            Some(id) => {
                api::update_rule(id, &request).await.map_err(|e| at(i, e))?;
                row.saved.set_value(Some(request));
            }
            None => {
                let created = match owner {
                    RulesOwner::Job(job) => api::create_job_rule(job, &request).await,
                    RulesOwner::Workflow(w) => api::create_workflow_rule(w, &request).await,
                }
                .map_err(|e| at(i, e))?;
                // Saved: a later save changes this rule instead of adding it again.
                let saved = set.owned(|| RuleRow::from_rule(row.key, &created));
                set.rows.update(|rules| {
                    if let Some(r) = rules.iter_mut().find(|r| r.key == row.key) {
                        *r = saved;
                    }
                });
            }
        }
    }
    Ok(())
}

/// Whether the destination `id` among `list` is an email address: only email has a
/// subject, so only then does the rule ask for one.
fn is_email(list: &[DestinationView], id: Option<DestinationId>) -> bool {
    id.is_some_and(|id| {
        list.iter()
            .any(|d| d.id == id && d.kind == DestinationKind::Email)
    })
}

/// Notification rules as rows of inputs: each sends to one of the organization's
/// destinations. Used by the wizard's step 4, the job page and the workflow page.
#[component]
pub fn RulesEditor(
    rules: RuleSet,
    form: Form,
    /// A workflow's rules offer its success and failure only.
    #[prop(optional)]
    workflow: bool,
) -> impl IntoView {
    let lang = use_lang();
    let destinations = LocalResource::new(api::destinations);
    let add = move |first: Option<DestinationId>| {
        let key = rules.key();
        let row = rules.owned(|| RuleRow::new(key, first));
        rules.rows.update(|r| r.push(row));
    };
    move || {
        let list = match destinations.get() {
            None => return view! { <Loading/> }.into_any(),
            Some(Err(e)) => {
                return view! { <LoadError error=e retry=move || destinations.refetch()/> }
                    .into_any();
            }
            Some(Ok(list)) => list,
        };
        if list.is_empty() && rules.rows.with(Vec::is_empty) {
            return view! { <p class="not-allowed" data-testid="no-destinations">{tr(Key::NoDestinations)}</p> }.into_any();
        }
        let first = list.first().map(|d| d.id);
        let options = StoredValue::new(list);
        let rows = move || {
            rules
                .rows
                .get()
                .into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let p = move |f: &str| format!("rules[{i}].{f}");
                    let dest_id = form.input_id(&p("destination_id"));
                    let template_id = form.input_id(&p("template"));
                    let events: Vec<(NotificationEventKind, Key)> = rule_events(workflow)
                        .into_iter()
                        .map(|e| (e, notification_event_key(e)))
                        .collect();
                    let to_email = move || options.with_value(|o| is_email(o, row.destination.get()));
                    view! {
                        <fieldset class="check" data-testid="rule-row">
                            <legend>{move || fill(lang.get(), Key::RuleN, &[("n", &(i + 1).to_string())])}</legend>
                            <div class="field">
                                <label for=dest_id.clone()>{tr(Key::RuleDestination)}</label>
                                <select id=dest_id on:change=move |ev| {
                                    let chosen = event_target_value(&ev).parse().ok();
                                    row.destination.set(chosen);
                                    // A subject means nothing to Slack or a webhook: it is
                                    // not kept, hidden, for a destination that cannot use it.
                                    if !options.with_value(|o| is_email(o, chosen)) {
                                        row.subject.set(String::new());
                                    }
                                }>
                                    <option value="">{tr(Key::ChooseDestination)}</option>
                                    {options.get_value().into_iter().map(|d| {
                                        let id = d.id;
                                        view! { <option value=id.to_string() selected=move || row.destination.get() == Some(id)>{format!("{} ({})", d.name, d.kind)}</option> }
                                    }).collect_view()}
                                </select>
                                <RowError form path=p("destination_id") label=Key::RuleDestination/>
                            </div>
                            {row_select(form, p("event"), Key::RuleEvent, row.event, events)}
                            {move || row.event.get().needs_threshold().then(|| row_input(form, p("threshold"), Key::RuleThreshold, row.threshold, Some(Key::RuleThresholdHint)))}
                            {move || to_email().then(|| row_input(form, p("subject"), Key::RuleSubject, row.subject, Some(Key::RuleSubjectHint)))}
                            <div class="field wide">
                                <label for=template_id.clone()>{tr(Key::RuleTemplate)}</label>
                                <textarea id=template_id rows="3" prop:value=move || row.template.get() on:input=move |ev| row.template.set(event_target_value(&ev))></textarea>
                                <p class="hint">{tr(Key::RuleTemplateHint)}</p>
                                <RowError form path=p("template") label=Key::RuleTemplate/>
                            </div>
                            {row_input(form, p("mentions"), Key::RuleMentions, row.mentions, Some(Key::RuleMentionsHint))}
                            {checkbox(Key::RuleEnabled, row.enabled)}
                            <button type="button" class="link-button" on:click=move |_| {
                                if let Some(id) = row.existing {
                                    rules.removed.update_value(|r| r.push(id));
                                }
                                rules.rows.update(|r| r.retain(|x| x.key != row.key));
                            }>{tr(Key::RemoveRule)}</button>
                        </fieldset>
                    }
                })
                .collect_view()
        };
        view! {
            {rows}
            {(!options.with_value(Vec::is_empty)).then(|| view! {
                <button type="button" on:click=move |_| add(first)>{tr(Key::AddRule)}</button>
            })}
        }
        .into_any()
    }
}

/// The notification rules of a job's or a workflow's page: the list for everyone who sees
/// it, and for its editors the same editor as the wizard's, saved with its own button.
#[component]
pub fn RulesPanel(
    owner: RulesOwner,
    /// The policy's `EditResource` on the job or workflow, which the server asks of every
    /// change.
    can_edit: bool,
    rules: LocalResource<Result<Vec<RuleView>, ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let destinations = LocalResource::new(api::destinations);
    let editing = RwSignal::new(false);
    // Test ids and texts of the owner's kind.
    let [list_id, rule_id, panel_id, _] = owner.test_ids();
    let (lead, none, denied) = if owner.is_workflow() {
        (
            Key::WorkflowRulesLead,
            Key::NoWorkflowRules,
            Key::OnlyEditorsChangeWorkflows,
        )
    } else {
        (
            Key::JobRulesLead,
            Key::NoJobRules,
            Key::OnlyEditorsChangeRules,
        )
    };
    let list = move || match rules.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || rules.refetch()/> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="muted" data-testid=list_id>{tr(none)}</p> }.into_any()
        }
        Some(Ok(list)) => {
            let names = destinations.get().and_then(Result::ok).unwrap_or_default();
            view! {
                <ul class="plain-list" data-testid=list_id>
                    {list
                        .into_iter()
                        .map(|r| {
                            let to = names
                                .iter()
                                .find(|d| d.id == r.destination_id)
                                .map(|d| d.name.clone())
                                .unwrap_or_default();
                            let (event, threshold) = (r.event, r.threshold);
                            view! {
                                <li data-testid=rule_id>
                                    <strong>{tr(notification_event_key(event))}</strong>
                                    {move || threshold.map(|_| format!(" ({})", threshold_text(lang.get(), event, threshold)))}
                                    " → " {to}
                                    {(!r.enabled).then(|| view! { " · " <span class="muted">{tr(Key::RuleOff)}</span> })}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }
    };
    let editor = move || {
        if !editing.get() {
            return ().into_any();
        }
        match rules.get() {
            Some(Ok(saved)) => view! {
                <RulesForm
                    owner
                    saved
                    on_close=move || editing.set(false)
                    on_saved=move || {
                        editing.set(false);
                        rules.refetch();
                    }
                />
            }
            .into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <section class="panel" data-testid=panel_id>
            <h2>{tr(Key::Notifications)}</h2>
            <p class="hint">{tr(lead)}</p>
            {list}
            {if can_edit {
                view! {
                    <Show when=move || !editing.get()>
                        <button type="button" on:click=move |_| editing.set(true)>{tr(Key::EditRules)}</button>
                    </Show>
                    {editor}
                }
                .into_any()
            } else {
                view! { <NotAllowed reason=denied/> }.into_any()
            }}
        </section>
    }
}

/// The editor open on the page, over the rules as saved when it opened.
#[component]
fn RulesForm(
    owner: RulesOwner,
    saved: Vec<RuleView>,
    #[prop(into)] on_close: Callback<()>,
    #[prop(into)] on_saved: Callback<()>,
) -> impl IntoView {
    let set = RuleSet::new(&saved);
    let form = Form::new(
        if owner.is_workflow() {
            "workflowrules"
        } else {
            "jobrules"
        },
        &["rules"],
    );
    let form_id = owner.test_ids()[3];
    let show = move |errors: FieldErrors| {
        // A failure of no one row (a delete the server refused) has no input to sit by.
        let whole = errors
            .0
            .iter()
            .find(|e| e.field == "rules")
            .map(FieldError::text);
        form.invalid(errors);
        if let Some(message) = whole {
            form.problem.set(Some(Problem::Server(message)));
        }
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (rows, errors) = set.requests();
        if !errors.is_empty() {
            show(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match save_rules(owner, set, rows).await {
                Ok(()) => {
                    form.done();
                    on_saved.run(());
                }
                Err(errors) => show(errors),
            }
        });
    };
    view! {
        <form on:submit=submit novalidate=true data-testid=form_id>
            <p class="hint">{tr(Key::JobRulesFormHint)}</p>
            <RulesEditor rules=set form workflow=owner.is_workflow()/>
            <crate::components::FormProblem form/>
            <div class="button-row">
                <crate::components::Submit form label=Key::SaveRules/>
                <button type="button" on:click=move |_| on_close.run(())>{tr(Key::Cancel)}</button>
            </div>
        </form>
    }
}

/// A rule's threshold in words: rows, or seconds for a duration.
pub fn threshold_text(lang: Lang, event: NotificationEventKind, threshold: Option<i64>) -> String {
    match threshold {
        None => String::new(),
        Some(n) if event == NotificationEventKind::DurationOver => fill(
            lang,
            Key::ThresholdSeconds,
            &[("n", &crate::format::number(lang, n))],
        ),
        Some(n) => fill(
            lang,
            Key::ThresholdRows,
            &[("n", &crate::format::number(lang, n))],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn destination(kind: DestinationKind) -> DestinationView {
        DestinationView {
            id: DestinationId::new(),
            name: kind.as_str().to_owned(),
            kind,
            settings: serde_json::Value::Null,
            confirmed: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn only_an_email_destination_asks_for_a_subject() {
        let list = [
            destination(DestinationKind::Slack),
            destination(DestinationKind::Email),
            destination(DestinationKind::Webhook),
        ];
        assert!(!is_email(&list, Some(list[0].id)));
        assert!(is_email(&list, Some(list[1].id)));
        assert!(!is_email(&list, Some(list[2].id)));
        assert!(!is_email(&list, None));
        assert!(!is_email(&list, Some(DestinationId::new())), "not listed");
    }

    /// A saved rule reads back as the request it was saved with (so an untouched rule is
    /// not sent again), and a typed one is checked by `core` at its row's paths.
    #[test]
    fn rows_read_back_as_saved_and_are_checked_at_their_paths() {
        let owner = Owner::new();
        owner.with(|| {
            let saved = RuleView {
                id: NotificationRuleId::new(),
                job_id: Some(JobId::new()),
                workflow_id: None,
                destination_id: DestinationId::new(),
                event: NotificationEventKind::RowsBelow,
                threshold: Some(10),
                subject: Some("{{ job_name }} wrote few rows".into()),
                template: None,
                mentions: vec!["here".into(), "U024BE7LH".into()],
                enabled: false,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            };
            let set = RuleSet::new(std::slice::from_ref(&saved));
            let (rows, errors) = set.requests();
            assert!(errors.is_empty(), "{errors:?}");
            let (row, request) = &rows[0];
            assert_eq!(row.existing, Some(saved.id));
            assert_eq!(request.as_ref(), row.saved.get_value().as_ref());
            assert_eq!(request.as_ref().unwrap().mentions, saved.mentions);

            let added = RuleRow::new(set.key(), Some(saved.destination_id));
            added.event.set(NotificationEventKind::DurationOver);
            set.rows.update(|r| r.push(added));
            let (_, errors) = set.requests();
            let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["rules[1].threshold"]);
            added.threshold.set("soon".into());
            let (_, errors) = set.requests();
            assert_eq!(errors.0[0].message, "must be a whole number");
        });
    }
}
