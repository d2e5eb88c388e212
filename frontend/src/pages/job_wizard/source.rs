//! Step 1, the source: a connection, then for a database a table (picked from what the
//! discovery endpoints list, or typed) or a query, and for storage the path, the files it
//! matches (`/files`), the file format and the columns (filled by `/guess`, then adjusted).

use super::columns::PreviewTable;
use super::inputs::{ConnectionSelect, PathInput, format_select, kind_of, type_options};
use super::state::{FileColumnRow, SourceMode, Wizard, text};
use crate::api::{self, ApiError};
use crate::components::{FieldError as FieldMessage, Loading, checkbox};
use crate::forms::Form;
use crate::i18n::{Key, tr, translate, use_lang};
use hakobu_core::api::connections::{ConnectionView, FileView, FilesRequest};
use hakobu_core::connection::ConnectionKind;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Step 1: the source connection, then the inputs its kind takes (database or files).
#[component]
pub(super) fn SourceStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let kind = move || kind_of(conns, w.source.get());
    let is_db = move || kind().is_none_or(ConnectionKind::is_database);
    // Only what a transfer can read from (`ConnectionKind::is_source`): no warehouses.
    let sources = StoredValue::new(conns.with_value(|c| {
        c.iter()
            .filter(|c| c.kind.is_source())
            .cloned()
            .collect::<Vec<_>>()
    }));
    view! {
        <p class="hint">{tr(Key::SourceLead)}</p>
        <ConnectionSelect form path="settings.source.connection_id" label=Key::SourceConnection value=w.source conns=sources/>
        <Show when=move || w.source.get().is_some()>
            {move || if is_db() {
                view! { <DatabaseSource w form/> }.into_any()
            } else {
                view! { <FileSourceInputs w form/> }.into_any()
            }}
        </Show>
    }
}

/// A database source: a table or a query, and whether to read incrementally.
#[component]
fn DatabaseSource(w: Wizard, form: Form) -> impl IntoView {
    let source = w.source;
    let schemas = LocalResource::new(move || {
        let id = source.get();
        async move {
            match id {
                Some(id) => api::schemas(id).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let tables = LocalResource::new(move || {
        let id = source.get();
        let schema = w.source_schema.get();
        async move {
            match id {
                Some(id) => api::tables(id, Some(&schema)).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let mode_radio = move |mode: SourceMode, label: Key, hint: Key| {
        let id = format!("source-mode-{mode:?}").to_lowercase();
        view! {
            <div class="choice">
                <input
                    type="radio"
                    name="source-mode"
                    id=id.clone()
                    prop:checked=move || w.source_mode.get() == mode
                    on:change=move |_| w.source_mode.set(mode)
                />
                <label for=id>{tr(label)} <span class="hint">" — " {tr(hint)}</span></label>
            </div>
        }
    };
    view! {
        <fieldset class="choices">
            <legend>{tr(Key::ReadFrom)}</legend>
            {mode_radio(SourceMode::Table, Key::ReadTable, Key::ReadTableHint)}
            {mode_radio(SourceMode::Query, Key::ReadQuery, Key::ReadQueryHint)}
        </fieldset>
        <Show
            when=move || w.source_mode.get() == SourceMode::Table
            fallback=move || view! {
                <PathInput form path="settings.source.query" label=Key::SourceQuery value=w.source_query hint=Key::SourceQueryHint required=true multiline=true/>
            }
        >
            <TablePicker w form schemas tables/>
        </Show>
        <div class="field toggle">
            <label>
                <input type="checkbox" prop:checked=move || w.incremental.get() on:change=move |ev| w.incremental.set(event_target_checked(&ev))/>
                " " {tr(Key::Incremental)}
            </label>
            <p class="hint">{tr(Key::IncrementalHint)}</p>
            <FieldMessage form field="settings.source.incremental" label=Key::Incremental error_id="incremental-error".to_owned()/>
        </div>
    }
}

/// The schema and table, chosen from what discovery lists; when it lists nothing or fails,
/// the table name is typed instead.
#[component]
fn TablePicker(
    w: Wizard,
    form: Form,
    schemas: LocalResource<Result<Vec<String>, ApiError>>,
    tables: LocalResource<Result<Vec<String>, ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let table_id = form.input_id("settings.source.table");
    let schema_id = form.input_id("settings.source.table.schema");
    let schema_list = move || schemas.get().and_then(|r| r.ok()).unwrap_or_default();
    let schema_select = move || {
        let list = schema_list();
        (!list.is_empty()).then(|| {
            let schema_id = schema_id.clone();
            view! {
                <div class="field">
                    <label for=schema_id.clone()>{tr(Key::Schema)}</label>
                    <select
                        id=schema_id
                        on:change=move |ev| {
                            w.source_schema.set(event_target_value(&ev));
                            w.source_table.set(String::new());
                        }
                        prop:value=move || w.source_schema.get()
                    >
                        <option value="">{tr(Key::DefaultSchema)}</option>
                        {list
                            .into_iter()
                            .map(|s| {
                                let (value, current) = (s.clone(), s.clone());
                                view! { <option value=value selected=move || w.source_schema.get() == current>{s}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
            }
        })
    };
    let table_input = move || match tables.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(list)) if !list.is_empty() => {
            let table_id = table_id.clone();
            let error_id = format!("{table_id}-error");
            view! {
                <div class="field" class:invalid=move || form.error("settings.source.table").is_some()>
                    <label for=table_id.clone()>{tr(Key::Table)}<span class="required" aria-hidden="true">" *"</span></label>
                    <select
                        id=table_id
                        aria-invalid=move || form.error("settings.source.table").is_some().to_string()
                        aria-describedby=error_id.clone()
                        on:change=move |ev| w.source_table.set(event_target_value(&ev))
                        prop:value=move || w.source_table.get()
                    >
                        <option value="">{tr(Key::ChooseTable)}</option>
                        {list
                            .into_iter()
                            .map(|t| {
                                let (value, current) = (t.clone(), t.clone());
                                view! { <option value=value selected=move || w.source_table.get() == current>{t}</option> }
                            })
                            .collect_view()}
                    </select>
                    <FieldMessage form field="settings.source.table" label=Key::Table error_id/>
                </div>
            }
            .into_any()
        }
        Some(result) => {
            // Discovery failed or found nothing: the name can still be typed.
            let note = match result {
                Err(e) => translate(lang.get_untracked(), None, &e.text()),
                Ok(_) => Key::NoTablesFound.text(lang.get_untracked()).to_owned(),
            };
            view! {
                <p class="hint">{note}</p>
                <PathInput form path="settings.source.table" label=Key::Table value=w.source_table required=true/>
            }
            .into_any()
        }
    };
    view! {
        {schema_select}
        {table_input}
        <PathInput form path="settings.source.filter" label=Key::SourceFilter value=w.source_filter hint=Key::SourceFilterHint/>
    }
}

/// A storage source: path prefix and pattern, the files they match, file format, and the
/// columns of the files, which "Guess columns" fills from the first matching file.
#[component]
fn FileSourceInputs(w: Wizard, form: Form) -> impl IntoView {
    let lang = use_lang();
    let add_column = move |_| {
        let key = w.key();
        let row = w.owned(|| FileColumnRow {
            key,
            name: text(""),
            type_: text("string"),
            format: text(""),
        });
        w.file_columns.update(|c| c.push(row));
    };
    let found = RwSignal::new(None::<Result<Vec<FileView>, ApiError>>);
    let guessed = RwSignal::new(None::<Result<String, ApiError>>);
    let busy = RwSignal::new(false);
    let find = move |_| {
        let Some(id) = w.source.get_untracked() else {
            return;
        };
        let (prefix, pattern) = (
            w.file_prefix.get_untracked(),
            w.file_pattern.get_untracked(),
        );
        busy.set(true);
        spawn_local(async move {
            found.set(Some(api::files(id, prefix.trim(), pattern.trim()).await));
            busy.set(false);
        });
    };
    let guess = move |_| {
        let Some(id) = w.source.get_untracked() else {
            return;
        };
        let request = FilesRequest {
            path_prefix: w.file_prefix.get_untracked().trim().to_owned(),
            path_match_pattern: Some(w.file_pattern.get_untracked().trim().to_owned())
                .filter(|p| !p.is_empty()),
            file: None,
            limit: Some(20),
        };
        busy.set(true);
        spawn_local(async move {
            let answer = api::guess(id, &request).await;
            guessed.set(Some(answer.map(|g| {
                w.apply_guess(&g);
                g.file.name
            })));
            busy.set(false);
        });
    };
    let found_view = move || {
        found.get().map(|answer| match answer {
            Err(e) => view! { <p class="error" role="alert">{translate(lang.get(), None, &e.text())}</p> }.into_any(),
            Ok(files) if files.is_empty() => view! { <p class="muted">{tr(Key::NoFilesFound)}</p> }.into_any(),
            Ok(files) => view! {
                <h3>{tr(Key::FilesFound)}</h3>
                <ul class="files-found" data-testid="files-found">
                    {files.into_iter().map(|f| view! {
                        <li><code>{f.name}</code> " " <span class="muted">{format!("{} B", f.size)}</span></li>
                    }).collect_view()}
                </ul>
            }
            .into_any(),
        })
    };
    let guessed_view = move || {
        guessed.get().map(|answer| match answer {
            Err(e) => view! { <p class="error" role="alert" data-testid="guess-error">{translate(lang.get(), None, &e.text())}</p> }.into_any(),
            Ok(name) => view! {
                <p class="muted" role="status" data-testid="guessed-from">{tr(Key::GuessedFrom)} ": " <code>{name}</code></p>
            }
            .into_any(),
        })
    };
    view! {
        <PathInput form path="settings.source.files.path_prefix" label=Key::PathPrefix value=w.file_prefix hint=Key::PathPrefixHint required=true/>
        <PathInput form path="settings.source.files.path_match_pattern" label=Key::PathPattern value=w.file_pattern hint=Key::PathPatternHint/>
        <div class="actions">
            <button type="button" on:click=find disabled=move || busy.get()>{tr(Key::FindFiles)}</button>
            " "
            <button type="button" on:click=guess disabled=move || busy.get()>{tr(Key::GuessColumns)}</button>
        </div>
        <p class="hint">{tr(Key::GuessColumnsHint)}</p>
        {found_view}
        {guessed_view}
        {format_select(form.input_id("settings.source.files.format"), Key::FileFormatLabel, w.file_format)}
        {checkbox(Key::Gzip, w.file_gzip)}
        {checkbox(Key::HeaderLine, w.file_header)}
        <PathInput form path="settings.source.files.delimiter" label=Key::Delimiter value=w.file_delimiter/>
        <fieldset class="columns-editor">
            <legend>{tr(Key::FileColumns)}</legend>
            <p class="hint">{tr(Key::FileColumnsHint)}</p>
            <For each=move || w.file_columns.get() key=|c| c.key children=move |c: FileColumnRow| {
                    let name_id = format!("file-col-{}-name", c.key);
                    let type_id = format!("file-col-{}-type", c.key);
                    let format_id = format!("file-col-{}-format", c.key);
                    view! {
                        <div class="row-inputs">
                            <label class="visually-hidden" for=name_id.clone()>{tr(Key::ColumnName)}</label>
                            <input id=name_id type="text" placeholder=move || tr(Key::ColumnName)() prop:value=move || c.name.get() on:input=move |ev| c.name.set(event_target_value(&ev))/>
                            <label class="visually-hidden" for=type_id.clone()>{tr(Key::ColumnTypeLabel)}</label>
                            <select id=type_id on:change=move |ev| c.type_.set(event_target_value(&ev)) prop:value=move || c.type_.get()>
                                {type_options(c.type_, None)}
                            </select>
                            <label class="visually-hidden" for=format_id.clone()>{tr(Key::ColumnFormat)}</label>
                            <input id=format_id type="text" placeholder=move || tr(Key::ColumnFormat)() prop:value=move || c.format.get() on:input=move |ev| c.format.set(event_target_value(&ev))/>
                            <button type="button" class="link-button" on:click=move |_| w.file_columns.update(|cs| cs.retain(|x| x.key != c.key))>{tr(Key::Remove)}</button>
                        </div>
                    }
                }/>
            <FieldMessage form field="settings.source.files.columns" label=Key::FileColumns error_id="file-columns-error".to_owned()/>
            <button type="button" on:click=add_column>{tr(Key::AddColumn)}</button>
        </fieldset>
        {move || w.file_preview.get().map(|p| view! { <PreviewTable preview=p/> })}
    }
}
