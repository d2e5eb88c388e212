//! The wizard's inputs that several steps use: a text input bound to a settings path (with
//! its hint and error), the connection select, the file format select and the column type
//! options.

use crate::components::FieldError as FieldMessage;
use crate::forms::Form;
use crate::i18n::{Key, connection_kind_name, tr, use_lang};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::config::ColumnType;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::ConnectionId;
use hakobu_core::job::FileFormat;
use leptos::prelude::*;

/// A labelled text input bound to a wizard path, with its hint and error.
#[component]
pub(super) fn PathInput(
    form: Form,
    path: &'static str,
    label: Key,
    value: RwSignal<String>,
    #[prop(optional)] hint: Option<Key>,
    #[prop(optional)] required: bool,
    #[prop(optional)] multiline: bool,
    #[prop(optional)] list: Option<String>,
) -> impl IntoView {
    let id = form.input_id(path);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = format!("{hint_id} {error_id}");
    let input = if multiline {
        view! {
            <textarea
                id=id.clone()
                rows="6"
                class="code"
                spellcheck="false"
                aria-invalid=move || form.error(path).is_some().to_string()
                aria-describedby=described.clone()
                prop:value=move || value.get()
                on:input=move |ev| {
                    form.clear(path);
                    value.set(event_target_value(&ev))
                }
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id.clone()
                type="text"
                autocomplete="off"
                list=list
                aria-invalid=move || form.error(path).is_some().to_string()
                aria-describedby=described.clone()
                prop:value=move || value.get()
                on:input=move |ev| {
                    form.clear(path);
                    value.set(event_target_value(&ev))
                }
            />
        }
        .into_any()
    };
    view! {
        <div class="field" class:invalid=move || form.error(path).is_some()>
            <label for=id>
                {tr(label)}
                {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
            </label>
            {input}
            {hint.map(|h| view! { <p class="hint" id=hint_id>{tr(h)}</p> })}
            <FieldMessage form field=path label error_id/>
        </div>
    }
}

/// A connection `<select>` for the source or the destination.
#[component]
pub(super) fn ConnectionSelect(
    form: Form,
    path: &'static str,
    label: Key,
    value: RwSignal<Option<ConnectionId>>,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = form.input_id(path);
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || form.error(path).is_some()>
            <label for=id.clone()>{tr(label)}<span class="required" aria-hidden="true">" *"</span></label>
            <select
                id=id
                aria-invalid=move || form.error(path).is_some().to_string()
                aria-describedby=error_id.clone()
                on:change=move |ev| value.set(event_target_value(&ev).parse().ok())
                prop:value=move || value.get().map(|v| v.to_string()).unwrap_or_default()
            >
                <option value="">{tr(Key::ChooseConnection)}</option>
                {conns
                    .get_value()
                    .into_iter()
                    .map(|c| {
                        let id = c.id;
                        let (name, kind) = (c.name.clone(), c.kind);
                        view! {
                            <option value=id.to_string() selected=move || value.get() == Some(id)>
                                {move || format!("{name} ({})", connection_kind_name(kind).text(lang.get()))}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <FieldMessage form field=path label error_id/>
        </div>
    }
}

/// The kind of connection `id`, when it is one of `conns`.
pub(super) fn kind_of(
    conns: StoredValue<Vec<ConnectionView>>,
    id: Option<ConnectionId>,
) -> Option<ConnectionKind> {
    id.and_then(|id| conns.with_value(|c| c.iter().find(|c| c.id == id).map(|c| c.kind)))
}

/// A labelled `<select>` of the file formats.
pub(super) fn format_select(id: String, label: Key, value: RwSignal<FileFormat>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{tr(label)}</label>
            <select
                id=id
                on:change=move |ev| value.set(match event_target_value(&ev).as_str() {
                    "jsonl" => FileFormat::Jsonl,
                    "parquet" => FileFormat::Parquet,
                    _ => FileFormat::Csv,
                })
                prop:value=move || match value.get() { FileFormat::Csv => "csv", FileFormat::Jsonl => "jsonl", FileFormat::Parquet => "parquet" }
            >
                <option value="csv">"CSV"</option>
                <option value="jsonl">"JSON Lines"</option>
                <option value="parquet">"Parquet"</option>
            </select>
        </div>
    }
}

/// The `<option>`s of the column types, after a first one meaning none when `with_none`
/// names it.
pub(super) fn type_options(selected: RwSignal<String>, with_none: Option<Key>) -> impl IntoView {
    view! {
        {with_none.map(|k| view! { <option value="">{tr(k)}</option> })}
        {ColumnType::ALL
            .iter()
            .map(|t| {
                let t = *t;
                view! { <option value=t.as_str() selected=move || selected.get() == t.as_str()>{t.as_str()}</option> }
            })
            .collect_view()}
    }
}
