//! Step 3, the destination: a connection, then for a database the table (existing ones
//! offered), the load mode with a line on each, and merge keys; for storage the path and the
//! file format.

use super::inputs::{ConnectionSelect, PathInput, format_select, kind_of};
use super::state::Wizard;
use crate::api;
use crate::components::{FieldError as FieldMessage, checkbox};
use crate::forms::Form;
use crate::i18n::{Key, load_mode_texts, tr};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::config::Mode;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::job::warehouse_modes;
use leptos::prelude::*;

/// Step 3: the destination connection, then what its kind takes: a table and a load mode,
/// or a path and a file format.
#[component]
pub(super) fn DestinationStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    // A data warehouse takes a table like a database; only databases list their tables.
    let kind = move || kind_of(conns, w.destination.get());
    let is_db = move || kind().is_none_or(|k| k.is_database() || k.is_warehouse());
    let lists_tables = move || kind().is_none_or(ConnectionKind::is_database);
    let destination = w.destination;
    let tables = LocalResource::new(move || {
        let id = destination.get();
        let schema = w.dest_schema.get();
        let db = lists_tables();
        async move {
            match id {
                Some(id) if db => api::tables(id, Some(&schema)).await.unwrap_or_default(),
                _ => Vec::new(),
            }
        }
    });
    view! {
        <p class="hint">{tr(Key::DestinationLead)}</p>
        <ConnectionSelect form path="settings.destination.connection_id" label=Key::DestinationConnection value=w.destination conns/>
        <Show when=move || w.destination.get().is_some()>
            {move || if is_db() {
                view! {
                    <PathInput form path="settings.destination.table.schema" label=Key::Schema value=w.dest_schema hint=Key::DestinationSchemaHint/>
                    <PathInput form path="settings.destination.table" label=Key::DestinationTable value=w.dest_table hint=Key::DestinationTableHint required=true list="destination-tables".to_owned()/>
                    <datalist id="destination-tables">
                        {move || tables.get().unwrap_or_default().into_iter().map(|t| view! { <option value=t/> }).collect_view()}
                    </datalist>
                    <ColumnsSideBySide w tables/>
                    <fieldset class="choices" aria-describedby="mode-error">
                        <legend>{tr(Key::LoadMode)}</legend>
                        {Mode::ALL.iter().filter(|m| match kind() {
                            Some(k) if k.is_warehouse() => warehouse_modes(k).contains(m),
                            _ => true,
                        }).map(|m| {
                            let m = *m;
                            let (label, hint) = load_mode_texts(m);
                            let id = format!("mode-{}", m.as_str());
                            view! {
                                <div class="choice">
                                    <input type="radio" name="mode" id=id.clone() value=m.as_str() prop:checked=move || w.mode.get() == m on:change=move |_| w.mode.set(m)/>
                                    <label for=id>
                                        <strong>{tr(label)}</strong> " " <code>{m.as_str()}</code>
                                        <span class="hint block">{tr(hint)}</span>
                                    </label>
                                </div>
                            }
                        }).collect_view()}
                        <FieldMessage form field="settings.destination.mode" label=Key::LoadMode error_id="mode-error".to_owned()/>
                    </fieldset>
                    <Show when=move || matches!(w.mode.get(), Mode::Merge | Mode::MergeDirect)>
                        <PathInput form path="settings.destination.merge_keys" label=Key::MergeKeys value=w.merge_keys hint=Key::MergeKeysHint/>
                    </Show>
                }
                .into_any()
            } else {
                view! {
                    <PathInput form path="settings.destination.files.path_prefix" label=Key::PathPrefix value=w.dest_prefix hint=Key::DestPathPrefixHint required=true/>
                    {format_select(form.input_id("settings.destination.files.format"), Key::FileFormatLabel, w.dest_format)}
                    {checkbox(Key::Gzip, w.dest_gzip)}
                    {checkbox(Key::WriteHeaderLine, w.dest_header)}
                    <PathInput form path="settings.destination.files.delimiter" label=Key::Delimiter value=w.dest_delimiter/>
                }
                .into_any()
            }}
        </Show>
    }
}

/// The columns the job writes beside the destination table's own, so a mismatch shows
/// before the first run; a table that does not exist yet is said to be new.
#[component]
fn ColumnsSideBySide(w: Wizard, tables: LocalResource<Vec<String>>) -> impl IntoView {
    let existing = move || {
        let table = w.dest_table.get();
        let table = table.trim().to_owned();
        tables
            .get()
            .is_some_and(|list| list.contains(&table))
            .then_some(table)
    };
    let table_columns = LocalResource::new(move || {
        let (destination, schema, table) = (w.destination.get(), w.dest_schema.get(), existing());
        async move {
            match (destination, table) {
                (Some(id), Some(table)) => api::columns(id, Some(&schema), &table).await.ok(),
                _ => None,
            }
        }
    });
    // What arrives at the destination: kept source columns, under their new names.
    let written = move || -> Vec<String> {
        w.plans
            .get()
            .iter()
            .filter(|p| p.keep.get())
            .map(|p| {
                let rename = p.rename.get();
                if rename.trim().is_empty() {
                    p.name.clone()
                } else {
                    rename.trim().to_owned()
                }
            })
            .collect()
    };
    move || {
        let table = w.dest_table.get();
        if table.trim().is_empty() {
            return None;
        }
        if existing().is_none() {
            return Some(
                view! { <p class="hint" data-testid="new-table">{tr(Key::NewTableNote)}</p> }
                    .into_any(),
            );
        }
        let in_table = table_columns.get().flatten()?;
        let written = written();
        let rows_written = written.iter().map(|name| {
            let found = in_table.iter().find(|c| c.name.eq_ignore_ascii_case(name));
            let (other, note) = match found {
                Some(c) => (format!("{} ({})", c.name, c.data_type), None),
                None => (String::new(), Some(Key::ColumnMissingInTable)),
            };
            view! {
                <tr class:mismatch=note.is_some()>
                    <td><code>{name.clone()}</code></td>
                    <td>{other}{note.map(|k| view! { <span class="field-error small">{tr(k)}</span> })}</td>
                </tr>
            }
        }).collect_view();
        let rows_unwritten = in_table
            .iter()
            .filter(|c| !written.iter().any(|n| n.eq_ignore_ascii_case(&c.name)))
            .map(|c| view! {
                <tr>
                    <td></td>
                    <td>{format!("{} ({})", c.name, c.data_type)} " " <span class="hint small">{tr(Key::ColumnNotWritten)}</span></td>
                </tr>
            })
            .collect_view();
        Some(
            view! {
                <div class="table-wrap">
                    <table data-testid="columns-side-by-side">
                        <caption>{tr(Key::ColumnsSideBySide)}</caption>
                        <thead><tr>
                            <th scope="col">{tr(Key::ColumnWritten)}</th>
                            <th scope="col">{tr(Key::ColumnInTable)}</th>
                        </tr></thead>
                        <tbody>{rows_written}{rows_unwritten}</tbody>
                    </table>
                </div>
            }
            .into_any(),
        )
    }
}
