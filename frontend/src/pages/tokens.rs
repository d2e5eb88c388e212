//! Personal API tokens: create (shown once), list, revoke.

use crate::api;
use crate::components::{
    ActionErrorNotice, ConfirmButton, FormProblem, MaybeTime, ResourceTable, ShownOnce, Submit,
    TextField, Time,
};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use hakobu_core::api::tokens::{ApiTokenView, CreateApiTokenRequest, TokenScope};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn TokensPage() -> impl IntoView {
    crate::components::page_title(Key::NavTokens);
    let tokens = LocalResource::new(api::tokens);
    let action_error = RwSignal::new(None);
    let created = RwSignal::new(None::<String>);

    let list = view! {
        <ResourceTable
            resource=tokens
            empty_title=Key::NoTokensTitle
            empty_body=Key::NoTokensBody
            columns=&[Key::Name, Key::TokenPrefix, Key::TokenScope, Key::Created, Key::Expires, Key::LastUsed, Key::Status]
            actions=true
            row=move |t| view! { <TokenRow token=t on_change=move || tokens.refetch() action_error/> }
        />
    };

    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavTokens)}</h1>
                <p class="lead">{tr(Key::TokensLead)}</p>
            </header>
            <section class="panel">
                <h2>{tr(Key::CreateToken)}</h2>
                <CreateTokenForm on_created=move |token: String| {
                    created.set(Some(token));
                    tokens.refetch();
                }/>
                {move || created.get().map(|token| view! {
                    <ShownOnce value=token label=Key::NewToken warning=Key::NewTokenWarning id="new-token"/>
                })}
            </section>
            <section class="panel">
                <h2>{tr(Key::YourTokens)}</h2>
                <ActionErrorNotice action_error/>
                {list}
            </section>
        </div>
    }
}

/// Reads the expiry box: empty means "until revoked"; anything not a whole number is
/// reported in the words the server uses for an out-of-range number.
fn parse_days(value: &str) -> Result<Option<u32>, ()> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse::<u32>().map(Some).map_err(|_| ())
}

#[component]
fn CreateTokenForm(#[prop(into)] on_created: Callback<String>) -> impl IntoView {
    let form = Form::new("token", &["name", "expires_in_days"]);
    let name = RwSignal::new(String::new());
    let days = RwSignal::new("90".to_owned());
    let read_only = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let expires_in_days = match parse_days(&days.get_untracked()) {
            Ok(d) => d,
            // Out of range on purpose, so core's validator gives its usual message.
            Err(()) => Some(0),
        };
        let request = CreateApiTokenRequest {
            name: name.get_untracked().trim().to_owned(),
            expires_in_days,
            scope: if read_only.get_untracked() {
                TokenScope::ReadOnly
            } else {
                TokenScope::Full
            },
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::create_token(&request).await {
                Ok(created) => {
                    form.done();
                    name.set(String::new());
                    on_created.run(created.token);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form on:submit=submit novalidate=true class="inline-form">
            <TextField form field="name" label=Key::TokenName value=name autocomplete="off" required=true hint=Key::TokenNameHint/>
            <TextField form field="expires_in_days" label=Key::ExpiresInDays value=days kind="number" autocomplete="off" hint=Key::ExpiresInDaysHint/>
            <div class="field">
                <label for="token-scope">{tr(Key::TokenScope)}</label>
                <select
                    id="token-scope"
                    aria-describedby="token-scope-hint"
                    on:change=move |ev| read_only.set(event_target_value(&ev) == "read_only")
                    prop:value=move || if read_only.get() { "read_only" } else { "full" }
                >
                    <option value="full">{tr(Key::TokenScopeFull)}</option>
                    <option value="read_only">{tr(Key::TokenScopeReadOnly)}</option>
                </select>
                <p class="hint" id="token-scope-hint">{tr(Key::TokenScopeHint)}</p>
            </div>
            <FormProblem form/>
            <Submit form label=Key::CreateToken/>
        </form>
    }
}

#[component]
fn TokenRow(
    token: ApiTokenView,
    #[prop(into)] on_change: Callback<()>,
    action_error: RwSignal<Option<api::ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = token.id;
    let name = StoredValue::new(token.name.clone());
    let now = chrono::Utc::now();
    let status = if token.revoked_at.is_some() {
        Key::Revoked
    } else if token.expires_at.is_some_and(|e| e <= now) {
        Key::Expired
    } else {
        Key::Active
    };
    let revoke = move |()| {
        spawn_local(async move {
            match api::revoke_token(id).await {
                Ok(()) => on_change.run(()),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    view! {
        <tr data-testid="token-row">
            <td>{token.name.clone()}</td>
            <td><code>{token.prefix.clone()} "…"</code></td>
            <td>{tr(match token.scope {
                TokenScope::ReadOnly => Key::ScopeReadOnly,
                TokenScope::Full => Key::ScopeFull,
            })}</td>
            <td><Time at=token.created_at/></td>
            <td><MaybeTime at=token.expires_at none=Key::Never/></td>
            <td><MaybeTime at=token.last_used_at none=Key::NotUsedYet/></td>
            <td><span class=format!("status status-{status:?}").to_lowercase()>{tr(status)}</span></td>
            <td class="actions">
                {(status == Key::Active).then(|| view! {
                    <ConfirmButton
                        label=Key::Revoke
                        question=Signal::derive(move || fill(lang.get(), Key::ConfirmRevoke, &[("name", &name.get_value())]))
                        confirm=Key::Revoke
                        on_confirm=revoke
                    />
                })}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_days;

    #[test]
    fn days() {
        assert_eq!(parse_days(""), Ok(None));
        assert_eq!(parse_days(" 30 "), Ok(Some(30)));
        assert_eq!(parse_days("1.5"), Err(()));
        assert_eq!(parse_days("-1"), Err(()));
    }
}
