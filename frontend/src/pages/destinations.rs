//! Notification destinations (Slack, email, webhook) and the organization's default rules.
//!
//! Everyone sees the destinations (a job's editors pick one for the job's rules);
//! organization admins add, change, test and delete them, and manage the defaults that
//! apply to every job without a rule of its own for the same event. Secret values (a
//! Slack webhook URL, webhook headers marked secret) are write-only: the server answers
//! `{"set": true}`, the input stays empty, and leaving it empty keeps the stored value.

use crate::api::{self, ApiError};
use crate::components::{
    ActionErrorNotice, ConfirmButton, FieldError, FormProblem, NotAllowed, ResourceTable, Submit,
    TextField,
};
use crate::forms::Form;
use crate::i18n::{Key, Lang, fill, tr, translate, use_lang};
use crate::session::use_session;
use crate::widgets::notification_rules::threshold_text;
use hakobu_core::api::notifications::{
    DestinationKind, DestinationRequest, DestinationSettings, DestinationView,
    NotificationEventKind, RuleRequest, RuleView, TestSendResult, WebhookHeader,
};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::DestinationId;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

#[component]
pub fn DestinationsPage() -> impl IntoView {
    crate::components::page_title(Key::NavNotifications);
    let session = use_session();
    let can_manage = session.can_memo(Action::ManageNotifications, Target::Organization);
    let destinations = LocalResource::new(api::destinations);
    let action_error = RwSignal::new(None::<ApiError>);
    // The destination being edited, if any; the form below switches to it.
    let editing = RwSignal::new(None::<DestinationView>);

    let list = view! {
        <ResourceTable
            resource=destinations
            empty_title=Key::NoDestinationsTitle
            empty_body=Key::NoDestinationsBody
            columns=&[Key::Name, Key::DestinationKindLabel, Key::DestinationWhere, Key::Status]
            actions=true
            row=move |d| view! {
                <DestinationRow
                    destination=d
                    can_manage=can_manage.get()
                    on_change=move || destinations.refetch()
                    on_edit=move |d| editing.set(Some(d))
                    action_error
                />
            }
        />
    };

    let form = move || {
        if !can_manage.get() {
            return view! {
                <section class="panel">
                    <h2>{tr(Key::AddDestination)}</h2>
                    <NotAllowed reason=Key::OnlyAdminsNotifications/>
                </section>
            }
            .into_any();
        }
        // Keyed by what is edited, so switching destinations starts a fresh form.
        let current = editing.get();
        let title = if current.is_some() {
            Key::EditDestination
        } else {
            Key::AddDestination
        };
        view! {
            <section class="panel" id="destination-form-panel">
                <h2>{tr(title)}</h2>
                <DestinationForm
                    editing=current
                    on_saved=move || {
                        editing.set(None);
                        destinations.refetch();
                    }
                    on_cancel=move || editing.set(None)
                />
            </section>
        }
        .into_any()
    };

    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavNotifications)}</h1>
                <p class="lead">{tr(Key::NotificationsLead)}</p>
            </header>
            <ActionErrorNotice action_error/>
            <section class="panel">
                <h2>{tr(Key::Destinations)}</h2>
                {list}
            </section>
            {form}
            <RulesSection can_manage destinations/>
        </div>
    }
}

fn kind_name(kind: DestinationKind) -> Key {
    match kind {
        DestinationKind::Slack => Key::KindSlack,
        DestinationKind::Email => Key::KindEmail,
        DestinationKind::Webhook => Key::KindWebhook,
    }
}

/// The part of a destination's settings that says where messages go, never a secret.
fn destination_where(lang: Lang, d: &DestinationView) -> String {
    let text = |key: &str| d.settings.get(key).and_then(Value::as_str).unwrap_or("");
    match d.kind {
        DestinationKind::Slack => Key::SlackUrlStored.text(lang).to_owned(),
        DestinationKind::Email => text("address").to_owned(),
        DestinationKind::Webhook => {
            let headers = d
                .settings
                .get("headers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if headers == 0 {
                text("url").to_owned()
            } else {
                format!(
                    "{} ({})",
                    text("url"),
                    fill(
                        lang,
                        Key::HeaderCount,
                        &[("n", &crate::format::number(lang, headers as i64))]
                    )
                )
            }
        }
    }
}

#[component]
fn DestinationRow(
    destination: DestinationView,
    can_manage: bool,
    #[prop(into)] on_change: Callback<()>,
    #[prop(into)] on_edit: Callback<DestinationView>,
    action_error: RwSignal<Option<ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = destination.id;
    let name = StoredValue::new(destination.name.clone());
    let stored = StoredValue::new(destination.clone());
    let test_result = RwSignal::new(None::<Result<TestSendResult, ApiError>>);
    let testing = RwSignal::new(false);
    let resent = RwSignal::new(false);
    let pending_email = destination.kind == DestinationKind::Email && !destination.confirmed;
    let where_text = {
        let d = destination.clone();
        move || destination_where(lang.get(), &d)
    };
    let status = if destination.confirmed {
        if destination.kind == DestinationKind::Email {
            Key::AddressConfirmed
        } else {
            Key::DestinationReady
        }
    } else {
        Key::AwaitingConfirmation
    };

    let send_test = move |_| {
        testing.set(true);
        test_result.set(None);
        spawn_local(async move {
            let answer = api::test_destination(id).await;
            testing.set(false);
            test_result.set(Some(answer));
        });
    };
    let resend = move |_| {
        spawn_local(async move {
            match api::resend_confirmation(id).await {
                Ok(()) => resent.set(true),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    let delete = move |()| {
        spawn_local(async move {
            match api::delete_destination(id).await {
                Ok(()) => on_change.run(()),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    let result_line = move || {
        let lang = lang.get();
        test_result.get().map(|r| match r {
            // The server's own sentence says how it went ("Delivered: the endpoint
            // answered 200."), translated when it is a known one.
            Ok(r) if r.delivered => view! {
                <p class="test-ok" role="status" data-testid="test-result">
                    {translate(lang, None, &r.text())}
                </p>
            }
            .into_any(),
            Ok(r) => view! {
                <p class="test-failed" role="alert" data-testid="test-result">
                    {Key::TestNotDelivered.text(lang)} " " {r.message}
                </p>
            }
            .into_any(),
            Err(e) => {
                let text = match &e {
                    ApiError::Server { body, .. } => translate(lang, None, &body.text()),
                    ApiError::Network(_) => Key::NetworkError.text(lang).to_owned(),
                };
                view! {
                    <p class="test-failed" role="alert" data-testid="test-result">
                        {Key::TestNotDelivered.text(lang)} " " {text}
                    </p>
                }
                .into_any()
            }
        })
    };
    let actions = if can_manage {
        view! {
            <button
                type="button"
                disabled=move || testing.get() || pending_email
                title=move || pending_email.then(|| Key::ConfirmBeforeTest.text(lang.get()))
                on:click=send_test
            >
                {move || if testing.get() { tr(Key::TestSending)() } else { tr(Key::SendTest)() }}
            </button>
            {pending_email.then(|| view! {
                <button type="button" on:click=resend disabled=move || resent.get()>
                    {move || if resent.get() { tr(Key::LinkSent)() } else { tr(Key::ResendLink)() }}
                </button>
            })}
            <button type="button" on:click=move |_| on_edit.run(stored.get_value())>
                {tr(Key::EditDestinationButton)}
            </button>
            <ConfirmButton
                label=Key::Delete
                question=Signal::derive(move || fill(lang.get(), Key::ConfirmDeleteDestination, &[("name", &name.get_value())]))
                confirm=Key::Delete
                on_confirm=delete
            />
            {pending_email.then(|| view! { <p class="hint">{tr(Key::ConfirmBeforeTest)}</p> })}
        }
        .into_any()
    } else {
        ().into_any()
    };
    view! {
        <tr data-testid="destination-row">
            <td>{destination.name.clone()}</td>
            <td>{tr(kind_name(destination.kind))}</td>
            <td class="wrap">{where_text}</td>
            <td>
                <span class=if destination.confirmed { "status status-active" } else { "status status-pending" }>
                    {tr(status)}
                </span>
            </td>
            <td class="actions">{actions}{result_line}</td>
        </tr>
    }
}

/// One header of a webhook in the form. `stored` marks a secret the server already has:
/// its input stays empty, and empty keeps it.
#[derive(Clone, Copy)]
struct HeaderInput {
    key: u32,
    name: RwSignal<String>,
    value: RwSignal<String>,
    secret: RwSignal<bool>,
    stored: bool,
}

fn headers_of(settings: &Value, next_key: &mut u32) -> Vec<HeaderInput> {
    settings
        .get("headers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|h| {
                    *next_key += 1;
                    let secret = h["secret"].as_bool().unwrap_or(false);
                    HeaderInput {
                        key: *next_key,
                        name: RwSignal::new(h["name"].as_str().unwrap_or_default().to_owned()),
                        value: RwSignal::new(if secret {
                            String::new()
                        } else {
                            h["value"].as_str().unwrap_or_default().to_owned()
                        }),
                        secret: RwSignal::new(secret),
                        stored: secret && h["value"]["set"].as_bool().unwrap_or(false),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the form's inputs say, as the API's request. Empty secrets of a saved destination
/// are left out, which keeps the stored values.
fn build_request(
    kind: DestinationKind,
    name: &str,
    slack_url: &str,
    address: &str,
    url: &str,
    headers: &[(String, String, bool)],
) -> DestinationRequest {
    let settings = match kind {
        DestinationKind::Slack => DestinationSettings::Slack {
            webhook_url: Some(slack_url.trim().to_owned()).filter(|u| !u.is_empty()),
        },
        DestinationKind::Email => DestinationSettings::Email {
            address: address.trim().to_owned(),
        },
        DestinationKind::Webhook => DestinationSettings::Webhook {
            url: url.trim().to_owned(),
            headers: headers
                .iter()
                .map(|(name, value, secret)| WebhookHeader {
                    name: name.trim().to_owned(),
                    // Empty: a stored secret is kept; anything else is reported as missing.
                    value: Some(value.clone()).filter(|v| !v.is_empty()),
                    secret: *secret,
                })
                .collect(),
        },
    };
    DestinationRequest {
        name: name.trim().to_owned(),
        settings,
    }
}

#[component]
fn DestinationForm(
    editing: Option<DestinationView>,
    #[prop(into)] on_saved: Callback<()>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let lang = use_lang();
    let form = Form::new(
        "destination",
        &[
            "name",
            "settings.kind",
            "settings.webhook_url",
            "settings.address",
            "settings.url",
            "settings.headers",
        ],
    );
    let editing_id: Option<DestinationId> = editing.as_ref().map(|d| d.id);
    let kind = RwSignal::new(editing.as_ref().map_or(DestinationKind::Slack, |d| d.kind));
    let setting = |key: &str| {
        editing
            .as_ref()
            .and_then(|d| d.settings.get(key).and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    };
    let name = RwSignal::new(editing.as_ref().map(|d| d.name.clone()).unwrap_or_default());
    let slack_url = RwSignal::new(String::new());
    let address = RwSignal::new(setting("address"));
    let url = RwSignal::new(setting("url"));
    let mut next_key = 0;
    let headers = RwSignal::new(
        editing
            .as_ref()
            .map(|d| headers_of(&d.settings, &mut next_key))
            .unwrap_or_default(),
    );
    let next_key = StoredValue::new(next_key);
    let slack_stored = editing.as_ref().is_some_and(|d| {
        d.kind == DestinationKind::Slack && d.settings["webhook_url"]["set"].as_bool() == Some(true)
    });
    let creating = editing.is_none();
    let saved = RwSignal::new(false);

    let add_header = move |_| {
        next_key.update_value(|k| *k += 1);
        let key = next_key.get_value();
        headers.update(|h| {
            h.push(HeaderInput {
                key,
                name: RwSignal::new(String::new()),
                value: RwSignal::new(String::new()),
                secret: RwSignal::new(false),
                stored: false,
            })
        });
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let header_values: Vec<(String, String, bool)> = headers
            .get_untracked()
            .iter()
            .map(|h| {
                (
                    h.name.get_untracked(),
                    h.value.get_untracked(),
                    h.secret.get_untracked(),
                )
            })
            .collect();
        let request = build_request(
            kind.get_untracked(),
            &name.get_untracked(),
            &slack_url.get_untracked(),
            &address.get_untracked(),
            &url.get_untracked(),
            &header_values,
        );
        let errors = request.validate(creating);
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            let result = match editing_id {
                Some(id) => api::update_destination(id, &request).await,
                None => api::create_destination(&request).await,
            };
            match result {
                Ok(_) => {
                    form.done();
                    name.set(String::new());
                    slack_url.set(String::new());
                    address.set(String::new());
                    url.set(String::new());
                    headers.set(Vec::new());
                    saved.set(true);
                    on_saved.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let kind_select_id = form.input_id("settings.kind");
    let kind_fields = move || {
        match kind.get() {
        DestinationKind::Slack => view! {
            <TextField
                form
                field="settings.webhook_url"
                label=Key::SlackWebhookUrl
                value=slack_url
                kind="password"
                autocomplete="off"
                required=!slack_stored
                hint=if slack_stored { Key::SlackUrlKeepHint } else { Key::SlackUrlHint }
            />
        }
        .into_any(),
        DestinationKind::Email => view! {
            <TextField form field="settings.address" label=Key::Email value=address kind="email" autocomplete="off" required=true hint=Key::EmailConfirmHint/>
        }
        .into_any(),
        DestinationKind::Webhook => view! {
            <TextField form field="settings.url" label=Key::WebhookUrl value=url kind="url" autocomplete="off" required=true hint=Key::WebhookUrlHint/>
            <fieldset class="headers">
                <legend>{tr(Key::WebhookHeaders)}</legend>
                <p class="hint">{tr(Key::WebhookHeadersHint)}</p>
                <For each=move || headers.get() key=|h| h.key let:h>
                    <HeaderRow form header=h headers/>
                </For>
                <button type="button" on:click=add_header>{tr(Key::AddHeader)}</button>
            </fieldset>
        }
        .into_any(),
    }
    };

    view! {
        <form on:submit=submit novalidate=true class="stacked-form" data-testid="destination-form">
            <div class="field">
                <label for=kind_select_id.clone()>{tr(Key::DestinationKindLabel)}</label>
                <select
                    id=kind_select_id
                    disabled=!creating
                    on:change=move |ev| {
                        kind.set(match event_target_value(&ev).as_str() {
                            "email" => DestinationKind::Email,
                            "webhook" => DestinationKind::Webhook,
                            _ => DestinationKind::Slack,
                        })
                    }
                    prop:value=move || kind.get().as_str()
                >
                    {[DestinationKind::Slack, DestinationKind::Email, DestinationKind::Webhook]
                        .into_iter()
                        .map(|k| view! { <option value=k.as_str()>{move || kind_name(k).text(lang.get())}</option> })
                        .collect_view()}
                </select>
                {(!creating).then(|| view! { <p class="hint">{tr(Key::KindFixedHint)}</p> })}
                <FieldError form field="settings.kind" label=Key::DestinationKindLabel error_id="destination-settings-kind-error".to_owned()/>
            </div>
            <TextField form field="name" label=Key::DestinationName value=name autocomplete="off" required=true hint=Key::DestinationNameHint/>
            {kind_fields}
            <FormProblem form/>
            <div class="form-actions">
                <Submit form label=if creating { Key::AddDestination } else { Key::SaveAdminChanges }/>
                {(!creating).then(|| view! {
                    <button type="button" on:click=move |_| on_cancel.run(())>{tr(Key::Cancel)}</button>
                })}
            </div>
            {move || saved.get().then(|| view! { <p class="saved" role="status">{tr(Key::DestinationSaved)}</p> })}
        </form>
    }
}

#[component]
fn HeaderRow(
    form: Form,
    header: HeaderInput,
    headers: RwSignal<Vec<HeaderInput>>,
) -> impl IntoView {
    let lang = use_lang();
    let key = header.key;
    // The row's place decides the error paths (`settings.headers[1].name`).
    let index =
        Memo::new(move |_| headers.with(|h| h.iter().position(|x| x.key == key).unwrap_or(0)));
    let name_id = format!("destination-header-{key}-name");
    let value_id = format!("destination-header-{key}-value");
    let secret_id = format!("destination-header-{key}-secret");
    let error = move |part: &'static str| {
        let lang = lang.get();
        let label = if part == "name" {
            Key::HeaderName
        } else {
            Key::HeaderValue
        };
        form.error(&format!("settings.headers[{}].{part}", index.get()))
            .map(|e| view! { <p class="field-error">{translate(lang, Some(label.text(lang)), &e.text())}</p> })
    };
    view! {
        <div class="header-row" data-testid="header-row">
            <div class="field">
                <label for=name_id.clone()>{tr(Key::HeaderName)}</label>
                <input id=name_id type="text" autocomplete="off" placeholder="Authorization"
                    prop:value=move || header.name.get()
                    on:input=move |ev| header.name.set(event_target_value(&ev))/>
                {move || error("name")}
            </div>
            <div class="field">
                <label for=value_id.clone()>{tr(Key::HeaderValue)}</label>
                <input id=value_id autocomplete="off"
                    type=move || if header.secret.get() { "password" } else { "text" }
                    placeholder=move || (header.stored && header.secret.get()).then(|| Key::StoredKeep.text(lang.get()))
                    prop:value=move || header.value.get()
                    on:input=move |ev| header.value.set(event_target_value(&ev))/>
                {move || error("value")}
            </div>
            <div class="field checkbox-field">
                <input id=secret_id.clone() type="checkbox"
                    prop:checked=move || header.secret.get()
                    on:change=move |ev| header.secret.set(event_target_checked(&ev))/>
                <label for=secret_id>{tr(Key::HeaderSecret)}</label>
            </div>
            <button type="button" class="link-button" on:click=move |_| headers.update(|h| h.retain(|x| x.key != key))>
                {tr(Key::Remove)}
            </button>
        </div>
    }
}

fn event_name(event: NotificationEventKind) -> Key {
    match event {
        NotificationEventKind::Success => Key::RuleEventSuccess,
        NotificationEventKind::Failure => Key::RuleEventFailure,
        NotificationEventKind::RowsBelow => Key::RuleEventRowsBelow,
        NotificationEventKind::RowsAbove => Key::RuleEventRowsAbove,
        NotificationEventKind::DurationOver => Key::RuleEventDurationOver,
        NotificationEventKind::CheckFailed => Key::RuleEventCheckFailed,
        NotificationEventKind::CheckWarned => Key::RuleEventCheckWarned,
        NotificationEventKind::ScheduleDisabled => Key::RuleEventScheduleDisabled,
    }
}

/// The organization's default rules: they apply to every job without its own rule for
/// the same event.
#[component]
fn RulesSection(
    can_manage: Memo<bool>,
    destinations: LocalResource<Result<Vec<DestinationView>, ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let rules = LocalResource::new(api::organization_rules);
    let action_error = RwSignal::new(None::<ApiError>);
    let destination_names = move || destinations.get().and_then(Result::ok).unwrap_or_default();
    // Looked up in the row, so the table follows changes to the destinations too.
    let destination_name = move |id| {
        destinations.with(|d| {
            d.as_ref()
                .and_then(|d| d.as_ref().ok())
                .and_then(|d| d.iter().find(|d| d.id == id).map(|d| d.name.clone()))
                .unwrap_or_default()
        })
    };
    let list = view! {
        <ResourceTable
            resource=rules
            empty_title=Key::NoRulesTitle
            empty_body=Key::NoRulesBody
            columns=&[Key::RuleWhen, Key::OrgRuleThreshold, Key::RuleSendTo, Key::Status]
            actions=true
            row=move |r: RuleView| {
                let to = destination_name(r.destination_id);
                view! { <RuleRow rule=r to can_manage=can_manage.get() on_change=move || rules.refetch() action_error/> }
            }
        />
    };
    view! {
        <section class="panel">
            <h2>{tr(Key::DefaultRules)}</h2>
            <p class="hint">{tr(Key::DefaultRulesLead)}</p>
            <ActionErrorNotice action_error/>
            {list}
            {move || {
                if !can_manage.get() {
                    return view! { <NotAllowed reason=Key::OnlyAdminsNotifications/> }.into_any();
                }
                let list = destination_names();
                if list.is_empty() {
                    return view! { <p class="muted">{move || Key::AddDestinationFirst.text(lang.get())}</p> }.into_any();
                }
                view! { <RuleForm destinations=list on_saved=move || rules.refetch()/> }.into_any()
            }}
        </section>
    }
}

#[component]
fn RuleRow(
    rule: RuleView,
    to: String,
    can_manage: bool,
    #[prop(into)] on_change: Callback<()>,
    action_error: RwSignal<Option<ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = rule.id;
    let event = rule.event;
    let threshold = rule.threshold;
    let delete = move |()| {
        spawn_local(async move {
            match api::delete_organization_rule(id).await {
                Ok(()) => on_change.run(()),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    let question = Signal::derive(move || {
        fill(
            lang.get(),
            Key::ConfirmDeleteRule,
            &[("event", event_name(event).text(lang.get()))],
        )
    });
    view! {
        <tr data-testid="rule-row">
            <td>{tr(event_name(event))}</td>
            <td>{move || threshold_text(lang.get(), event, threshold)}</td>
            <td>{to}</td>
            <td>{tr(if rule.enabled { Key::Active } else { Key::RuleOff })}</td>
            <td class="actions">
                {can_manage.then(|| view! {
                    <ConfirmButton label=Key::Delete question confirm=Key::Delete on_confirm=delete/>
                })}
            </td>
        </tr>
    }
}

#[component]
fn RuleForm(
    destinations: Vec<DestinationView>,
    #[prop(into)] on_saved: Callback<()>,
) -> impl IntoView {
    let lang = use_lang();
    let form = Form::new(
        "rule",
        &[
            "destination_id",
            "event",
            "threshold",
            "subject",
            "template",
            "mentions",
        ],
    );
    let first = destinations.first().map(|d| d.id);
    let destination = RwSignal::new(first);
    let event = RwSignal::new(NotificationEventKind::Failure);
    let threshold = RwSignal::new(String::new());
    let subject = RwSignal::new(String::new());
    let template = RwSignal::new(String::new());
    let mentions = RwSignal::new(String::new());
    // A subject means something only in email; the field shows for an email destination.
    let email_ids: Vec<DestinationId> = destinations
        .iter()
        .filter(|d| d.kind == DestinationKind::Email)
        .map(|d| d.id)
        .collect();
    let to_email = Memo::new(move |_| destination.get().is_some_and(|d| email_ids.contains(&d)));
    // Mentions mean something only in Slack; the field shows for a Slack destination.
    let slack_ids: Vec<DestinationId> = destinations
        .iter()
        .filter(|d| d.kind == DestinationKind::Slack)
        .map(|d| d.id)
        .collect();
    let to_slack = Memo::new(move |_| destination.get().is_some_and(|d| slack_ids.contains(&d)));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(destination_id) = destination.get_untracked() else {
            return;
        };
        let text = threshold.get_untracked();
        let event_now = event.get_untracked();
        let threshold_value = if event_now.needs_threshold() {
            match text.trim() {
                "" => None,
                // Not a whole number: out of range on purpose, so core says what it expects.
                t => Some(t.parse::<i64>().unwrap_or(-1)),
            }
        } else {
            None
        };
        let request = RuleRequest {
            destination_id,
            event: event_now,
            threshold: threshold_value,
            subject: if to_email.get_untracked() {
                rule_template(&subject.get_untracked())
            } else {
                None
            },
            template: rule_template(&template.get_untracked()),
            mentions: if to_slack.get_untracked() {
                rule_mentions(&mentions.get_untracked())
            } else {
                Vec::new()
            },
            enabled: true,
        };
        let errors = request.validate();
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::create_organization_rule(&request).await {
                Ok(_) => {
                    form.done();
                    threshold.set(String::new());
                    subject.set(String::new());
                    template.set(String::new());
                    mentions.set(String::new());
                    on_saved.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let destination_id = form.input_id("destination_id");
    let event_id = form.input_id("event");
    let template_id = form.input_id("template");
    let template_hint_id = format!("{template_id}-hint");
    let template_error_id = format!("{template_id}-error");
    view! {
        <form on:submit=submit novalidate=true class="inline-form" data-testid="rule-form">
            <div class="field">
                <label for=event_id.clone()>{tr(Key::RuleWhen)}</label>
                <select
                    id=event_id
                    on:change=move |ev| {
                        if let Ok(e) = event_target_value(&ev).parse::<NotificationEventKind>() {
                            event.set(e);
                        }
                    }
                    prop:value=move || event.get().as_str()
                >
                    {NotificationEventKind::ALL
                        .into_iter()
                        .map(|e| view! { <option value=e.as_str() selected=e == NotificationEventKind::Failure>{move || event_name(e).text(lang.get())}</option> })
                        .collect_view()}
                </select>
            </div>
            {move || event.get().needs_threshold().then(|| view! {
                <TextField
                    form
                    field="threshold"
                    label=Key::OrgRuleThreshold
                    value=threshold
                    kind="number"
                    autocomplete="off"
                    required=true
                    hint=if event.get() == NotificationEventKind::DurationOver { Key::ThresholdSecondsHint } else { Key::ThresholdRowsHint }
                />
            })}
            <div class="field">
                <label for=destination_id.clone()>{tr(Key::RuleSendTo)}</label>
                <select
                    id=destination_id
                    on:change=move |ev| destination.set(event_target_value(&ev).parse().ok())
                >
                    {destinations
                        .into_iter()
                        .map(|d| view! { <option value=d.id.to_string() selected=Some(d.id) == first>{d.name}</option> })
                        .collect_view()}
                </select>
            </div>
            <Show when=move || to_email.get()>
                <TextField
                    form
                    field="subject"
                    label=Key::RuleSubject
                    value=subject
                    autocomplete="off"
                    hint=Key::OrgRuleSubjectHint
                />
            </Show>
            <div class="field wide full-row" class:invalid=move || form.error("template").is_some()>
                <label for=template_id.clone()>{tr(Key::RuleTemplate)}</label>
                <textarea
                    id=template_id
                    rows="3"
                    aria-describedby={
                        let (hint, error) = (template_hint_id.clone(), template_error_id.clone());
                        move || if form.error("template").is_some() { format!("{hint} {error}") } else { hint.clone() }
                    }
                    aria-invalid=move || form.error("template").is_some().to_string()
                    prop:value=move || template.get()
                    on:input=move |ev| template.set(event_target_value(&ev))
                ></textarea>
                <p class="hint" id=template_hint_id>{tr(Key::OrgRuleTemplateHint)}</p>
                <FieldError form field="template" label=Key::RuleTemplate error_id=template_error_id/>
            </div>
            <Show when=move || to_slack.get()>
                <TextField
                    form
                    field="mentions"
                    label=Key::RuleMentions
                    value=mentions
                    autocomplete="off"
                    hint=Key::OrgRuleMentionsHint
                />
            </Show>
            <FormProblem form/>
            <Submit form label=Key::AddOrgRule/>
        </form>
    }
}

/// The template box: empty (or blank) means the event's default message.
fn rule_template(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

/// The mentions box: ids separated by commas or spaces, with a leading `@` forgiven
/// (`@here` is how Slack users write it).
fn rule_mentions(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(|m| m.trim().trim_start_matches('@'))
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_boxes_read_as_the_api_expects() {
        assert_eq!(rule_template("  \n"), None);
        assert_eq!(
            rule_template("{{ job_name }}: $day$").as_deref(),
            Some("{{ job_name }}: $day$")
        );
        assert_eq!(
            rule_mentions(" U024BE7LH, @here  S0614TZR7,,"),
            ["U024BE7LH", "here", "S0614TZR7"]
        );
        assert!(rule_mentions(" , ").is_empty());
        // What the box passes on is checked by core, field by field.
        let request = RuleRequest {
            destination_id: DestinationId::new(),
            event: NotificationEventKind::Failure,
            threshold: None,
            subject: None,
            template: None,
            mentions: rule_mentions("U024BE7LH, bob"),
            enabled: true,
        };
        assert_eq!(request.validate().0[0].field, "mentions[1]");
        // The subject box reads as the template box; core keeps it to one line.
        let subject = RuleRequest {
            mentions: Vec::new(),
            subject: rule_template("{{ job_name }}\nfailed"),
            ..request
        };
        assert_eq!(subject.validate().0[0].field, "subject");
    }

    #[test]
    fn an_empty_secret_of_a_saved_destination_is_left_out() {
        let r = build_request(DestinationKind::Slack, " Alerts ", "  ", "", "", &[]);
        assert_eq!(r.name, "Alerts");
        assert_eq!(r.settings, DestinationSettings::Slack { webhook_url: None });
        assert!(
            !r.validate(true).is_empty(),
            "a new Slack destination needs its URL"
        );
        assert!(r.validate(false).is_empty(), "a saved one keeps it");

        let headers = [
            ("Authorization".to_owned(), String::new(), true),
            ("X-Team".to_owned(), "data".to_owned(), false),
            ("X-Empty".to_owned(), String::new(), false),
        ];
        let r = build_request(
            DestinationKind::Webhook,
            "Hook",
            "",
            "",
            " https://h.example/x ",
            &headers,
        );
        let DestinationSettings::Webhook { url, headers } = &r.settings else {
            panic!("webhook expected");
        };
        assert_eq!(url, "https://h.example/x");
        assert_eq!(
            headers[0].value, None,
            "an empty secret keeps the stored one"
        );
        assert_eq!(headers[1].value.as_deref(), Some("data"));
        let errors = r.validate(false);
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["settings.headers[2].value"],
            "a plain header needs its value"
        );
    }

    #[test]
    fn every_message_of_the_destination_and_rule_checks_is_in_japanese() {
        let bad = DestinationRequest {
            name: String::new(),
            settings: DestinationSettings::Webhook {
                url: "ftp://x".into(),
                headers: vec![
                    WebhookHeader {
                        name: "Content-Type".into(),
                        value: None,
                        secret: false,
                    },
                    WebhookHeader {
                        name: "bad header".into(),
                        value: Some("a\nb".into()),
                        secret: false,
                    },
                    WebhookHeader {
                        name: "X-A".into(),
                        value: Some("1".into()),
                        secret: false,
                    },
                    WebhookHeader {
                        name: "x-a".into(),
                        value: Some("1".into()),
                        secret: false,
                    },
                ],
            },
        };
        let mut messages: Vec<hakobu_core::validation::FieldError> = bad.validate(true).0;
        for url in ["https://", "https://h.example/a b"] {
            let r = DestinationRequest {
                name: "n".into(),
                settings: DestinationSettings::Webhook {
                    url: url.into(),
                    headers: vec![],
                },
            };
            messages.extend(r.validate(true).0);
        }
        let slack = DestinationRequest {
            name: "n".into(),
            settings: DestinationSettings::Slack { webhook_url: None },
        };
        messages.extend(slack.validate(true).0);
        // The "is required" messages of thresholds are translated with the job wizard's
        // rules (#8); these are the ones only the organization's rules meet first.
        for (event, threshold) in [
            (NotificationEventKind::RowsBelow, Some(-1)),
            (NotificationEventKind::DurationOver, Some(0)),
        ] {
            let rule = RuleRequest {
                destination_id: DestinationId::new(),
                event,
                threshold,
                subject: None,
                template: None,
                mentions: vec![],
                enabled: true,
            };
            messages.extend(rule.validate().0);
        }
        assert!(messages.len() >= 10, "{messages:?}");
        for e in messages {
            assert_ne!(
                translate(Lang::Ja, None, &e.text()),
                e.message,
                "untranslated: {}",
                e.message
            );
        }
    }

    #[test]
    fn where_never_shows_a_secret() {
        let d = DestinationView {
            id: DestinationId::new(),
            name: "Slack".into(),
            kind: DestinationKind::Slack,
            settings: serde_json::json!({"kind": "slack", "webhook_url": {"set": true}}),
            confirmed: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        assert_eq!(
            destination_where(Lang::En, &d),
            "Webhook URL stored (not shown)"
        );
        let hook = DestinationView {
            kind: DestinationKind::Webhook,
            settings: serde_json::json!({"kind": "webhook", "url": "https://h.example/x",
                "headers": [{"name": "Authorization", "value": {"set": true}, "secret": true}]}),
            ..d
        };
        assert_eq!(
            destination_where(Lang::En, &hook),
            "https://h.example/x (headers: 1)"
        );
    }
}
