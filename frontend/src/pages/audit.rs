//! The audit log (organization admins): filters, pages, and a CSV export of the same
//! filters.

use crate::api::{self, AuditQuery};
use crate::components::{Empty, LoadError, Loading, NotAllowed, Time};
use crate::format;
use crate::i18n::{Key, fill, tr, use_lang};
use crate::session::use_session;
use hakobu_core::api::audit::AuditEntryView;
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::UserId;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

const PER_PAGE: i64 = 50;

#[component]
pub fn AuditPage() -> impl IntoView {
    crate::components::page_title(Key::NavAudit);
    let session = use_session();
    let allowed = session.can_memo(Action::ViewAuditLog, Target::Organization);
    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavAudit)}</h1>
                <p class="lead">{tr(Key::AuditLead)}</p>
            </header>
            {move || {
                if allowed.get() {
                    view! { <AuditLog/> }.into_any()
                } else {
                    view! { <section class="panel"><NotAllowed reason=Key::OnlyAdminsAudit/></section> }.into_any()
                }
            }}
        </div>
    }
}

#[component]
fn AuditLog() -> impl IntoView {
    let lang = use_lang();
    let members = LocalResource::new(api::members);
    // What the filter boxes say, and the query last applied (the list follows the latter,
    // so typing does not fire a request per keystroke).
    let action = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    let target_type = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let query = RwSignal::new(AuditQuery {
        page: 1,
        per_page: PER_PAGE,
        ..AuditQuery::default()
    });
    let entries = LocalResource::new(move || {
        let q = query.get();
        async move { api::audit(&q).await }
    });

    let apply = move |ev: SubmitEvent| {
        ev.prevent_default();
        query.set(AuditQuery {
            action: action.get_untracked(),
            actor: actor.get_untracked().parse::<UserId>().ok(),
            target_type: target_type.get_untracked(),
            target_id: String::new(),
            from: format::local_input_to_rfc3339(&from.get_untracked()),
            to: format::local_input_to_rfc3339(&to.get_untracked()),
            page: 1,
            per_page: PER_PAGE,
        });
    };
    let clear = move |_| {
        for s in [action, actor, target_type, from, to] {
            s.set(String::new());
        }
        query.set(AuditQuery {
            page: 1,
            per_page: PER_PAGE,
            ..AuditQuery::default()
        });
    };
    let go = move |delta: i64| query.update(|q| q.page = (q.page + delta).max(1));

    let text_filter = move |id: &'static str,
                            label: Key,
                            value: RwSignal<String>,
                            kind: &'static str,
                            hint: Option<Key>| {
        view! {
            <div class="field">
                <label for=id>{tr(label)}</label>
                <input id=id type=kind prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                {hint.map(|h| view! { <p class="hint">{tr(h)}</p> })}
            </div>
        }
    };

    let results = move || match entries.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || entries.refetch()/> }.into_any(),
        Some(Ok(page)) if page.items.is_empty() => {
            view! { <Empty title=Key::NoAuditTitle body=Key::NoAuditBody/> }.into_any()
        }
        Some(Ok(page)) => {
            let pages = ((page.total + page.per_page - 1) / page.per_page).max(1);
            let current = page.page;
            let summary = move || {
                let l = lang.get();
                fill(
                    l,
                    Key::PageOf,
                    &[
                        ("page", &format::number(l, current)),
                        ("pages", &format::number(l, pages)),
                        ("total", &format::number(l, page.total)),
                    ],
                )
            };
            view! {
                <div class="table-wrap">
                    <table class="audit">
                        <thead>
                            <tr>
                                <th scope="col">{tr(Key::When)}</th>
                                <th scope="col">{tr(Key::Who)}</th>
                                <th scope="col">{tr(Key::What)}</th>
                                <th scope="col">{tr(Key::Target)}</th>
                                <th scope="col">{tr(Key::Details)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {page.items.into_iter().map(|e| view! { <AuditRow entry=e/> }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <nav class="pager" aria-label=move || tr(Key::Pages)()>
                    <button type="button" disabled={current <= 1} on:click=move |_| go(-1)>{tr(Key::Previous)}</button>
                    <span>{summary}</span>
                    <button type="button" disabled={current >= pages} on:click=move |_| go(1)>{tr(Key::Next)}</button>
                </nav>
            }
            .into_any()
        }
    };

    view! {
        <section class="panel">
            <form class="filters" on:submit=apply>
                {text_filter("audit-action", Key::FilterAction, action, "text", Some(Key::FilterActionHint))}
                <div class="field">
                    <label for="audit-actor">{tr(Key::Who)}</label>
                    <select id="audit-actor" on:change=move |ev| actor.set(event_target_value(&ev)) prop:value=move || actor.get()>
                        <option value="">{tr(Key::Anyone)}</option>
                        {move || members.get().and_then(Result::ok).map(|ms| ms
                            .into_iter()
                            .map(|m| view! { <option value=m.user_id.to_string()>{format!("{} <{}>", m.name, m.email)}</option> })
                            .collect_view())}
                    </select>
                </div>
                {text_filter("audit-target", Key::FilterTargetType, target_type, "text", Some(Key::FilterTargetHint))}
                {text_filter("audit-from", Key::From, from, "datetime-local", None)}
                {text_filter("audit-to", Key::To, to, "datetime-local", None)}
                <div class="filter-buttons">
                    <button type="submit" class="primary">{tr(Key::ApplyFilters)}</button>
                    <button type="button" on:click=clear>{tr(Key::ClearFilters)}</button>
                    <a class="button" href=move || query.with(AuditQuery::csv_url) download="hakobu-audit.csv">
                        {tr(Key::ExportCsv)}
                    </a>
                </div>
            </form>
        </section>
        <section class="panel">{results}</section>
    }
}

#[component]
fn AuditRow(entry: AuditEntryView) -> impl IntoView {
    let lang = use_lang();
    let actor = entry.actor_email.clone();
    let target = match &entry.target_id {
        Some(id) => format!("{} {}", entry.target_type, id),
        None => entry.target_type.clone(),
    };
    let details = describe_details(&entry.details);
    view! {
        <tr data-testid="audit-row">
            <td><Time at=entry.created_at/></td>
            <td>{move || actor.clone().unwrap_or_else(|| Key::System.text(lang.get()).to_owned())}</td>
            <td>
                {crate::i18n::audit_action(&entry.action).map(|k| view! { <span class="action-name">{tr(k)}</span><br/> })}
                <code>{entry.action.clone()}</code>
            </td>
            <td class="target"><code>{target}</code></td>
            <td class="details"><code>{details}</code></td>
        </tr>
    }
}

/// A value of the details, without JSON quotes around plain strings.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// The details of an entry as lines a person reads: `name: Marketing → Growth` for the
/// `before`/`after` pairs the server records, `key: value` for the rest.
fn describe_details(details: &serde_json::Value) -> String {
    let Some(object) = details.as_object() else {
        return if details.is_null() {
            String::new()
        } else {
            details.to_string()
        };
    };
    let mut lines = Vec::new();
    let before = object.get("before").and_then(|v| v.as_object());
    let after = object.get("after").and_then(|v| v.as_object());
    if let (Some(before), Some(after)) = (before, after) {
        for (key, new) in after {
            let old = before.get(key).unwrap_or(&serde_json::Value::Null);
            lines.push(format!("{key}: {} → {}", plain(old), plain(new)));
        }
    }
    for (key, value) in object {
        if (key == "before" && before.is_some()) || (key == "after" && after.is_some()) {
            continue;
        }
        lines.push(format!("{key}: {}", plain(value)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::describe_details;
    use serde_json::json;

    #[test]
    fn details_read_as_changes() {
        assert_eq!(
            describe_details(
                &json!({"before": {"name": "A"}, "after": {"name": "B"}, "email": "x@example.com"})
            ),
            "name: A → B\nemail: x@example.com"
        );
        assert_eq!(
            describe_details(&json!({"before": {"role": null}, "after": {"role": "editor"}})),
            "role: — → editor"
        );
        assert_eq!(describe_details(&json!(null)), "");
        assert_eq!(describe_details(&json!({"teams": []})), "teams: []");
    }
}
