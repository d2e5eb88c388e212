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
use leptos::prelude::*;

/// Step 3: the destination connection, then what its kind takes: a table and a load mode,
/// or a path and a file format.
#[component]
pub(super) fn DestinationStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let is_db = move || kind_of(conns, w.destination.get()).is_none_or(ConnectionKind::is_database);
    let destination = w.destination;
    let tables = LocalResource::new(move || {
        let id = destination.get();
        let schema = w.dest_schema.get();
        let db = is_db();
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
                    <fieldset class="choices" aria-describedby="mode-error">
                        <legend>{tr(Key::LoadMode)}</legend>
                        {Mode::ALL.iter().map(|m| {
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
