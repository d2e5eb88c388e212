//! Small building blocks shared by the pages: labelled fields with their errors (a form's
//! own fields, and the inputs of repeated rows such as a job's variables or rules), loading
//! and empty states, list tables around them, inline confirmations, copy buttons, times.

use crate::api::ApiError;
use crate::format;
use crate::forms::{Form, Problem};
use crate::i18n::{Key, Lang, tr, translate, use_lang};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A labelled text input with its hint and error. The error is tied to the input with
/// `aria-describedby`, and `aria-invalid` marks it for screen readers.
#[component]
pub fn TextField(
    form: Form,
    /// The API field this input fills (`email`), used for ids and server errors.
    field: &'static str,
    label: Key,
    value: RwSignal<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<Key>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let id = form.input_id(field);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if form.error(field).is_some() {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field" class:invalid=move || form.error(field).is_some()>
            <label for=id.clone()>
                {tr(label)}
                {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
            </label>
            <input
                id=id
                name=field
                type=kind
                autocomplete=autocomplete
                required=required
                aria-invalid=move || form.error(field).is_some().to_string()
                aria-describedby=described_by
                prop:value=move || value.get()
                on:input=move |ev| {
                    form.clear(field);
                    value.set(event_target_value(&ev))
                }
            />
            {hint.map(|h| view! { <p class="hint" id=hint_id>{tr(h)}</p> })}
            <FieldError form field label error_id/>
        </div>
    }
}

/// The error line of one field, in the reader's language.
#[component]
pub fn FieldError(form: Form, field: &'static str, label: Key, error_id: String) -> impl IntoView {
    let lang = use_lang();
    move || {
        form.error(field).map(|error| {
            let lang = lang.get();
            view! {
                <p class="field-error" id=error_id.clone()>
                    {translate(lang, Some(label.text(lang)), &error.text())}
                </p>
            }
        })
    }
}

/// The error line of a row input (`settings.variables[0].name`), in the reader's language.
#[component]
pub fn RowError(form: Form, path: String, label: Key) -> impl IntoView {
    let lang = use_lang();
    let id = format!("{}-error", form.input_id(&path));
    move || {
        form.error(&path).map(|e| {
            let lang = lang.get();
            view! { <p class="field-error" id=id.clone()>{translate(lang, Some(label.text(lang)), &e.text())}</p> }
        })
    }
}

/// A labelled text input of a row, bound to `value`, with its error under it.
pub fn row_input(
    form: Form,
    path: String,
    label: Key,
    value: RwSignal<String>,
    hint: Option<Key>,
) -> impl IntoView {
    let id = form.input_id(&path);
    let described = format!("{id}-hint {id}-error");
    let hint_id = format!("{id}-hint");
    let clear = {
        let path = path.clone();
        move || form.clear(&path)
    };
    let invalid = {
        let path = path.clone();
        move || form.error(&path).is_some()
    };
    let aria_invalid = {
        let invalid = invalid.clone();
        move || invalid().to_string()
    };
    view! {
        <div class="field" class:invalid=invalid>
            <label for=id.clone()>{tr(label)}</label>
            <input id=id type="text" autocomplete="off" spellcheck="false"
                aria-invalid=aria_invalid
                aria-describedby=described
                prop:value=move || value.get()
                on:input=move |ev| {
                    clear();
                    value.set(event_target_value(&ev))
                }/>
            {hint.map(|h| view! { <p class="hint" id=hint_id>{tr(h)}</p> })}
            <RowError form path label/>
        </div>
    }
}

/// A labelled `<select>` of a row over `options` (value, label).
pub fn row_select<T: Copy + PartialEq + Send + Sync + 'static>(
    form: Form,
    path: String,
    label: Key,
    value: RwSignal<T>,
    options: Vec<(T, Key)>,
) -> impl IntoView {
    let id = form.input_id(&path);
    let options = StoredValue::new(options);
    view! {
        <div class="field">
            <label for=id.clone()>{tr(label)}</label>
            <select id=id on:change=move |ev| {
                let i: usize = event_target_value(&ev).parse().unwrap_or(0);
                if let Some((v, _)) = options.with_value(|o| o.get(i).copied()) {
                    value.set(v);
                }
            }>
                {options.get_value().into_iter().enumerate().map(|(i, (v, key))| view! {
                    <option value=i.to_string() selected=move || value.get() == v>{tr(key)}</option>
                }).collect_view()}
            </select>
            <RowError form path label/>
        </div>
    }
}

/// A checkbox with its label beside it, for a setting that is on or off.
pub fn checkbox(label: Key, value: RwSignal<bool>) -> impl IntoView {
    view! {
        <div class="field toggle">
            <label>
                <input type="checkbox" prop:checked=move || value.get() on:change=move |ev| value.set(event_target_checked(&ev))/>
                " " {tr(label)}
            </label>
        </div>
    }
}

/// What is wrong with the form as a whole (wrong password, network down), above its button.
#[component]
pub fn FormProblem(form: Form) -> impl IntoView {
    let lang = use_lang();
    move || {
        form.problem.get().map(|problem| {
            let lang = lang.get();
            let text = match problem {
                Problem::Key(key) => key.text(lang).to_owned(),
                Problem::Server(text) => translate(lang, None, &text),
            };
            view! { <p class="form-problem" role="alert">{text}</p> }
        })
    }
}

/// The submit button: says what it does, and what it is doing while busy.
#[component]
pub fn Submit(
    form: Form,
    label: Key,
    #[prop(default = Key::Working)] busy_label: Key,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <button type="submit" class="primary" disabled=move || form.busy.get() aria-busy=move || form.busy.get().to_string()>
            {move || if form.busy.get() { busy_label.text(lang.get()) } else { label.text(lang.get()) }}
        </button>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" role="status" aria-live="polite">{tr(Key::Loading)}</p> }
}

/// An empty state that says plainly why there is nothing and what to do.
#[component]
pub fn Empty(title: Key, body: Key) -> impl IntoView {
    view! {
        <div class="empty">
            <p class="empty-title">{tr(title)}</p>
            <p>{tr(body)}</p>
        </div>
    }
}

/// A list page's table and the states before it: loading, a failed load with a retry,
/// the empty state when the list is empty, and otherwise a table with one `<th
/// scope="col">` per key in `columns` (plus, with `actions`, a last column whose header
/// only screen readers hear) and one `row` per item. The pages build their rows; this
/// keeps the scaffolding around them the same everywhere.
#[component]
pub fn ResourceTable<T, R, V>(
    resource: LocalResource<Result<Vec<T>, ApiError>>,
    empty_title: Key,
    empty_body: Key,
    columns: &'static [Key],
    /// Adds a last column for row actions (its header is visually hidden).
    #[prop(optional)]
    actions: bool,
    /// One `<tr>` for an item.
    row: R,
) -> impl IntoView
where
    T: Clone + 'static,
    R: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || {
        match resource.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || resource.refetch()/> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <Empty title=empty_title body=empty_body/> }.into_any()
        }
        Some(Ok(list)) => view! {
            <div class="table-wrap">
                <table>
                    <thead>
                        <tr>
                            {columns.iter().map(|&key| view! { <th scope="col">{tr(key)}</th> }).collect_view()}
                            {actions.then(|| view! {
                                <th scope="col"><span class="visually-hidden">{tr(Key::Actions)}</span></th>
                            })}
                        </tr>
                    </thead>
                    <tbody>{list.into_iter().map(row.clone()).collect_view()}</tbody>
                </table>
            </div>
        }
        .into_any(),
    }
    }
}

/// An action the role may not take, with the reason instead of the button.
#[component]
pub fn NotAllowed(reason: Key) -> impl IntoView {
    view! { <p class="not-allowed">{tr(reason)}</p> }
}

/// What went wrong with a request, in the reader's language: the server's message
/// (translated when it is a known one), or that the network is down.
fn api_error_text(lang: Lang, error: &ApiError) -> String {
    match error {
        ApiError::Server { body, .. } => translate(lang, None, &body.text()),
        ApiError::Network(_) => Key::NetworkError.text(lang).to_owned(),
    }
}

/// A failed load, with a retry button.
#[component]
pub fn LoadError(error: ApiError, #[prop(into)] retry: Callback<()>) -> impl IntoView {
    let lang = use_lang();
    let message = move || api_error_text(lang.get(), &error);
    view! {
        <div class="load-error" role="alert">
            <p>{message}</p>
            <button type="button" on:click=move |_| retry.run(())>{tr(Key::TryAgain)}</button>
        </div>
    }
}

/// A failed action taken from a list or a page's buttons (a removal, a role change, a run),
/// shown above the content until dismissed.
#[component]
pub fn ActionErrorNotice(action_error: RwSignal<Option<ApiError>>) -> impl IntoView {
    let lang = use_lang();
    move || {
        action_error.get().map(|e| {
            let text = api_error_text(lang.get(), &e);
            view! {
                <div class="form-problem" role="alert">
                    <span>{text}</span>
                    " "
                    <button type="button" class="link-button" on:click=move |_| action_error.set(None)>
                        {tr(Key::Dismiss)}
                    </button>
                </div>
            }
        })
    }
}

/// The fallback of an `ErrorBoundary`: every error, translated when it is a known one.
pub fn error_fallback(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="load-error" role="alert">
            <p>{tr(Key::SomethingWentWrong)}</p>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| {
                            let text = match e.downcast_ref::<ApiError>() {
                                Some(error) => api_error_text(lang.get(), error),
                                None => e.to_string(),
                            };
                            view! { <li>{text}</li> }
                        })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}

/// A button that asks "are you sure?" in place before doing something destructive: the
/// first click shows the question with Confirm and Cancel, keyboard focus moves to Cancel
/// (the safe choice), and Escape backs out.
#[component]
pub fn ConfirmButton(
    /// The button as first shown, e.g. "Remove".
    label: Key,
    /// The question, already filled in ("Remove Ana from the organization?").
    #[prop(into)]
    question: Signal<String>,
    /// What "Yes" says, e.g. "Remove".
    confirm: Key,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(optional, into)] disabled: Signal<bool>,
    /// Shown (as a tooltip and to screen readers) when the button is disabled.
    #[prop(optional, into)]
    disabled_reason: Signal<Option<String>>,
    #[prop(default = "danger")] class: &'static str,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let cancel_id = format!("cancel-{}", uuid::Uuid::new_v4().simple());
    let cancel_id2 = cancel_id.clone();
    move || {
        if asking.get() {
            let cancel_id = cancel_id.clone();
            view! {
                <span
                    class="confirm"
                    role="group"
                    on:keydown=move |ev| {
                        if ev.key() == "Escape" {
                            asking.set(false);
                        }
                    }
                >
                    <span class="confirm-question">{move || question.get()}</span>
                    <button
                        type="button"
                        class=class
                        on:click=move |_| {
                            asking.set(false);
                            on_confirm.run(());
                        }
                    >
                        {tr(confirm)}
                    </button>
                    <button type="button" id=cancel_id on:click=move |_| asking.set(false)>
                        {tr(Key::Cancel)}
                    </button>
                </span>
            }
            .into_any()
        } else {
            let cancel_id = cancel_id2.clone();
            view! {
                <button
                    type="button"
                    class=class
                    disabled=move || disabled.get()
                    title=move || disabled_reason.get()
                    on:click=move |_| {
                        asking.set(true);
                        crate::forms::focus(&cancel_id);
                    }
                >
                    {tr(label)}
                </button>
            }
            .into_any()
        }
    }
}

/// A secret shown once (a token, an invitation link) with a copy button.
#[component]
pub fn ShownOnce(
    value: String,
    label: Key,
    warning: Key,
    #[prop(default = "once")] id: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let to_copy = value.clone();
    let input_id = format!("{id}-value");
    let input_id2 = input_id.clone();
    view! {
        <div class="shown-once" role="status">
            <label for=input_id.clone()>{tr(label)}</label>
            <div class="copy-row">
                <input
                    id=input_id
                    type="text"
                    readonly=true
                    prop:value=value
                    on:focus=move |_| select_text(&input_id2)
                />
                <button
                    type="button"
                    on:click=move |_| {
                        copy_to_clipboard(&to_copy);
                        copied.set(true);
                    }
                >
                    {move || if copied.get() { tr(Key::Copied)() } else { tr(Key::Copy)() }}
                </button>
            </div>
            <p class="hint">{tr(warning)}</p>
        </div>
    }
}

fn select_text(id: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = document()
            .get_element_by_id(id)
            .and_then(|el| el.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            input.select();
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = id;
}

fn copy_to_clipboard(text: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        // The promise is ignored: if the browser refuses, the text is still selectable.
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = text;
}

/// An instant in the reader's zone and language; the exact UTC time on hover.
#[component]
pub fn Time(at: DateTime<Utc>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <time datetime=at.to_rfc3339() title=at.to_rfc3339()>
            {move || format::date_time(lang.get(), &at)}
        </time>
    }
}

/// An optional instant, or a dash-like word ("never") when there is none.
#[component]
pub fn MaybeTime(at: Option<DateTime<Utc>>, none: Key) -> impl IntoView {
    match at {
        Some(at) => view! { <Time at/> }.into_any(),
        None => view! { <span class="muted">{tr(none)}</span> }.into_any(),
    }
}

/// The language switch: a `<select>` that works the same with mouse and keyboard.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let lang = use_lang();
    view! {
        <label class="lang-switch">
            <span class="visually-hidden">{tr(Key::Language)}</span>
            <select
                aria-label=move || Key::Language.text(lang.get())
                on:change=move |ev| {
                    if let Some(l) = Lang::from_code(&event_target_value(&ev)) {
                        crate::i18n::set_lang(l);
                    }
                }
                prop:value=move || lang.get().code()
            >
                <option value="en">"English"</option>
                <option value="ja">"日本語"</option>
            </select>
        </label>
    }
}

/// Sets the browser tab's title to the page's name (in the current language), so tabs,
/// history and screen readers say where the user is.
pub fn page_title(key: Key) {
    let lang = use_lang();
    Effect::new(move |_| {
        let title = format!("{} · Hakobu", key.text(lang.get()));
        #[cfg(target_arch = "wasm32")]
        document().set_title(&title);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = title;
    });
}
