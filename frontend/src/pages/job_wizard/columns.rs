//! Step 2: the first rows of a database source (`/preview`) and what happens to each column
//! (keep or drop, rename, change type, mask), and constant columns added.

use super::inputs::{kind_of, type_options};
use super::state::{AddedColumn, SourceMode, Wizard, text};
use crate::api;
use crate::components::{LoadError, Loading};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, translate, use_lang};
use hakobu_core::api::connections::{ConnectionView, PreviewRequest, PreviewResponse};
use hakobu_core::connection::ConnectionKind;
use hakobu_core::job::TableRef;
use leptos::prelude::*;
use serde_json::Value;

/// Step 2: the preview of a database source, the column mapping and the added constants.
#[component]
pub(super) fn ColumnsStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let is_db = kind_of(conns, w.source.get_untracked()).is_none_or(ConnectionKind::is_database);
    let preview = LocalResource::new(move || {
        let id = w.source.get_untracked();
        let mode = w.source_mode.get_untracked();
        let request = PreviewRequest {
            table: (mode == SourceMode::Table).then(|| TableRef {
                schema: Some(w.source_schema.get_untracked()).filter(|s| !s.trim().is_empty()),
                name: w.source_table.get_untracked().trim().to_owned(),
            }),
            query: (mode == SourceMode::Query).then(|| w.source_query.get_untracked()),
            limit: Some(20),
        };
        async move {
            match id {
                Some(id) if is_db => api::preview(id, &request).await.map(Some),
                _ => Ok(None),
            }
        }
    });
    // Lay out the columns once the preview (or the file source) names them.
    Effect::new(move |_| {
        if !is_db {
            let columns = w
                .file_columns
                .get_untracked()
                .iter()
                .map(|c| (c.name.get_untracked(), c.type_.get_untracked()))
                .collect();
            w.load_columns(columns);
        } else if let Some(Ok(Some(p))) = preview.get() {
            w.load_columns(
                p.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.type_.clone()))
                    .collect(),
            );
        }
    });
    let add_constant = move |_| {
        let key = w.key();
        let row = w.owned(|| AddedColumn {
            key,
            name: text(""),
            type_: text("string"),
            value: text(""),
        });
        w.added.update(|a| a.push(row));
    };
    view! {
        <p class="hint">{tr(Key::ColumnsLead)}</p>
        {move || if !is_db {
            match w.file_preview.get() {
                Some(p) => view! {
                    <p class="muted">{tr(Key::FilePreviewFromGuess)}</p>
                    <PreviewTable preview=p/>
                }
                .into_any(),
                None => view! { <p class="muted">{tr(Key::PreviewOnlyDatabases)}</p> }.into_any(),
            }
        } else {
            match preview.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <LoadError error=e retry=move || preview.refetch()/> }.into_any(),
                Some(Ok(None)) => ().into_any(),
                Some(Ok(Some(p))) => view! { <PreviewTable preview=p/> }.into_any(),
            }
        }}
        <h3>{tr(Key::ColumnMapping)}</h3>
        {move || {
            let plans = w.plans.get();
            if plans.is_empty() {
                return view! { <p class="muted">{tr(Key::NoColumnsYet)}</p> }.into_any();
            }
            view! {
                <div class="table-wrap">
                    <table class="mapping">
                        <thead>
                            <tr>
                                <th scope="col">{tr(Key::SourceColumn)}</th>
                                <th scope="col">{tr(Key::Keep)}</th>
                                <th scope="col">{tr(Key::RenameTo)}</th>
                                <th scope="col">{tr(Key::CastTo)}</th>
                                <th scope="col">{tr(Key::Mask)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {plans.into_iter().enumerate().map(|(i, p)| {
                                let keep_id = format!("map-{i}-keep");
                                let rename_id = format!("map-{i}-rename");
                                let cast_id = format!("map-{i}-cast");
                                let mask_id = format!("map-{i}-mask");
                                let name = p.name.clone();
                                let n1 = name.clone();
                                let n2 = name.clone();
                                let n3 = name.clone();
                                let n4 = name.clone();
                                view! {
                                    <tr data-testid="mapping-row">
                                        <th scope="row"><code>{name.clone()}</code> " " <span class="muted small">{p.type_.clone()}</span></th>
                                        <td>
                                            <label class="visually-hidden" for=keep_id.clone()>{move || fill(lang.get(), Key::KeepColumn, &[("column", &n1)])}</label>
                                            <input id=keep_id type="checkbox" prop:checked=move || p.keep.get() on:change=move |ev| p.keep.set(event_target_checked(&ev))/>
                                        </td>
                                        <td>
                                            <label class="visually-hidden" for=rename_id.clone()>{move || fill(lang.get(), Key::RenameColumn, &[("column", &n2)])}</label>
                                            <input id=rename_id type="text" disabled=move || !p.keep.get() placeholder=name.clone() prop:value=move || p.rename.get() on:input=move |ev| p.rename.set(event_target_value(&ev))/>
                                        </td>
                                        <td>
                                            <label class="visually-hidden" for=cast_id.clone()>{move || fill(lang.get(), Key::CastColumn, &[("column", &n3)])}</label>
                                            <select id=cast_id disabled=move || !p.keep.get() on:change=move |ev| p.cast.set(event_target_value(&ev)) prop:value=move || p.cast.get()>
                                                {type_options(p.cast, Some(Key::NoCast))}
                                            </select>
                                        </td>
                                        <td>
                                            <label class="visually-hidden" for=mask_id.clone()>{move || fill(lang.get(), Key::MaskColumn, &[("column", &n4)])}</label>
                                            <select id=mask_id disabled=move || !p.keep.get() on:change=move |ev| p.mask.set(event_target_value(&ev)) prop:value=move || p.mask.get()>
                                                <option value="">{tr(Key::NoMask)}</option>
                                                <option value="sha256">{tr(Key::MaskSha256)}</option>
                                                <option value="partial">{tr(Key::MaskPartial)}</option>
                                            </select>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
        {move || {
            let kept = w.kept_changes.with(Vec::len) + w.kept_masks.with(Vec::len);
            (kept > 0).then(|| view! { <p class="hint">{fill(lang.get(), Key::OtherChangesKept, &[("n", &kept.to_string())])}</p> })
        }}
        {move || form.error("settings.columns").or_else(|| form.error("settings.masks")).map(|e| view! {
            <p class="field-error" role="alert">{translate(lang.get(), None, &e.text())}</p>
        })}
        <h3>{tr(Key::AddedColumns)}</h3>
        <p class="hint">{tr(Key::AddedColumnsHint)}</p>
        <For each=move || w.added.get() key=|a| a.key children=move |a: AddedColumn| {
                let name_id = format!("add-{}-name", a.key);
                let type_id = format!("add-{}-type", a.key);
                let value_id = format!("add-{}-value", a.key);
                view! {
                    <div class="row-inputs">
                        <div class="field">
                            <label for=name_id.clone()>{tr(Key::ColumnName)}</label>
                            <input id=name_id type="text" prop:value=move || a.name.get() on:input=move |ev| a.name.set(event_target_value(&ev))/>
                        </div>
                        <div class="field">
                            <label for=type_id.clone()>{tr(Key::ColumnTypeLabel)}</label>
                            <select id=type_id on:change=move |ev| a.type_.set(event_target_value(&ev)) prop:value=move || a.type_.get()>
                                {type_options(a.type_, None)}
                            </select>
                        </div>
                        <div class="field">
                            <label for=value_id.clone()>{tr(Key::ConstantValue)}</label>
                            <input id=value_id type="text" prop:value=move || a.value.get() on:input=move |ev| a.value.set(event_target_value(&ev))/>
                        </div>
                        <button type="button" class="link-button" on:click=move |_| w.added.update(|x| x.retain(|y| y.key != a.key))>{tr(Key::Remove)}</button>
                    </div>
                }
            }/>
        <button type="button" on:click=add_constant>{tr(Key::AddConstantColumn)}</button>
    }
}

/// The rows the preview returned, one cell per value (∅ for NULL).
#[component]
pub(super) fn PreviewTable(preview: PreviewResponse) -> impl IntoView {
    let cell = |v: &Value| match v {
        Value::Null => "∅".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A preview of very large values is cut short by the server; it says so.
    let lang = use_lang();
    let notice = preview.notice().map(|text| {
        view! {
            <p class="muted" role="status" data-testid="preview-truncated">
                {move || translate(lang.get(), None, &text)}
            </p>
        }
    });
    view! {
        <h3>{tr(Key::PreviewRows)}</h3>
        {notice}
        {if preview.rows.is_empty() {
            view! { <p class="muted">{tr(Key::PreviewEmpty)}</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap preview">
                    <table data-testid="preview">
                        <thead>
                            <tr>
                                {preview.columns.iter().map(|c| view! {
                                    <th scope="col">{c.name.clone()} <span class="muted small">" " {c.type_.clone()}</span></th>
                                }).collect_view()}
                            </tr>
                        </thead>
                        <tbody>
                            {preview.rows.iter().map(|row| view! {
                                <tr>{row.iter().map(|v| view! { <td>{cell(v)}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
}
