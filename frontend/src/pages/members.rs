//! Members of the organization: the list with roles, invitations (with team grants, the
//! link shown once), pending invitations, role changes and removal.
//!
//! Every control asks the policy first: a member sees the list; admins invite, change
//! roles and remove; only owners make or unmake owners.

use crate::api::{self, ApiError};
use crate::components::{
    ActionErrorNotice, ConfirmButton, Empty, FieldError, FormProblem, LoadError, Loading,
    NotAllowed, ResourceTable, ShownOnce, Submit, TextField, Time,
};
use crate::forms::Form;
use crate::i18n::{Key, fill, role_name, team_role_name, tr, use_lang};
use crate::session::use_session;
use hakobu_core::api::org::{
    InvitationView, InviteRequest, MemberView, TeamGrant, TeamNameRequest, TeamView,
};
use hakobu_core::authz::{Action, OrgRole, Target, TeamRole};
use hakobu_core::ids::TeamId;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// A failed row action (role change, removal), shown above the table.
type ActionError = RwSignal<Option<ApiError>>;

#[component]
pub fn MembersPage() -> impl IntoView {
    crate::components::page_title(Key::NavMembers);
    let session = use_session();
    let can_manage = session.can_memo(Action::ManageMembers, Target::Organization);
    let members = LocalResource::new(api::members);
    let action_error: ActionError = RwSignal::new(None);

    let list = view! {
        <ResourceTable
            resource=members
            empty_title=Key::NoMembersTitle
            empty_body=Key::NoMembersBody
            columns=&[Key::Name, Key::Email, Key::OrgRole, Key::Joined]
            actions=true
            row=move |m| view! { <MemberRow member=m on_change=Callback::new(move |_| members.refetch()) action_error/> }
        />
    };

    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavMembers)}</h1>
                <p class="lead">{tr(Key::MembersLead)}</p>
            </header>
            <ActionErrorNotice action_error/>
            <section class="panel">
                <h2>{tr(Key::PeopleInOrganization)}</h2>
                {list}
            </section>
            {move || {
                if can_manage.get() {
                    view! { <InviteSection/> <OrganizationSection/> }.into_any()
                } else {
                    view! {
                        <section class="panel">
                            <h2>{tr(Key::InviteTitle)}</h2>
                            <NotAllowed reason=Key::OnlyAdminsInvite/>
                        </section>
                    }
                    .into_any()
                }
            }}
        </div>
    }
}

#[component]
fn MemberRow(
    member: MemberView,
    on_change: Callback<()>,
    action_error: ActionError,
) -> impl IntoView {
    let session = use_session();
    let lang = use_lang();
    let is_me = move || session.me.with(|m| m.as_ref().map(|m| m.user_id)) == Some(member.user_id);
    let current = member.org_role;
    let chosen = RwSignal::new(current);
    let can_manage = move || session.can(Action::ManageMembers, Target::Organization);
    let can_set = move |to: OrgRole| {
        can_manage()
            && session.can(
                Action::ChangeOrgRole { from: current, to },
                Target::Organization,
            )
    };
    // Someone whose role nobody here may change (an owner, seen by an admin) gets a badge.
    let changeable = move || OrgRole::ALL.iter().any(|&r| r != current && can_set(r));
    let user_id = member.user_id;
    let name = StoredValue::new(member.name.clone());
    let select_id = format!("role-{user_id}");

    let change_role = move |()| {
        let to = chosen.get_untracked();
        spawn_local(async move {
            match api::change_org_role(user_id, to).await {
                Ok(_) => {
                    action_error.set(None);
                    on_change.run(());
                }
                Err(e) => {
                    chosen.set(current);
                    action_error.set(Some(e));
                }
            }
        });
    };
    let remove = move |()| {
        spawn_local(async move {
            match api::remove_member(user_id).await {
                Ok(()) => {
                    action_error.set(None);
                    on_change.run(());
                }
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    let remove_blocked = Signal::derive(move || {
        if !can_manage() {
            return Some(Key::OnlyAdminsRemove);
        }
        if is_me() {
            return Some(Key::CannotRemoveYourself);
        }
        if current == OrgRole::Owner
            && !session.can(
                Action::ChangeOrgRole {
                    from: OrgRole::Owner,
                    to: OrgRole::Member,
                },
                Target::Organization,
            )
        {
            return Some(Key::OnlyOwnersRemoveOwners);
        }
        None
    });

    let role_cell = {
        let select_id = select_id.clone();
        move || {
            let lang_now = lang.get();
            if changeable() {
                let select_id = select_id.clone();
                view! {
                    <label class="visually-hidden" for=select_id.clone()>
                        {fill(lang_now, Key::RoleOf, &[("name", &name.get_value())])}
                    </label>
                    <select
                        id=select_id
                        on:change=move |ev| {
                            if let Ok(r) = event_target_value(&ev).parse::<OrgRole>() {
                                chosen.set(r);
                            }
                        }
                        prop:value=move || chosen.get().as_str()
                    >
                        {OrgRole::ALL
                            .iter()
                            .map(|&r| {
                                view! {
                                    <option value=r.as_str() disabled={r != current && !can_set(r)} selected={r == current}>
                                        {role_name(lang_now, r)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <Show when=move || chosen.get() != current>
                        <ConfirmButton
                            label=Key::ChangeRole
                            class="primary"
                            question=Signal::derive(move || {
                                fill(
                                    lang.get(),
                                    Key::ConfirmRoleChange,
                                    &[
                                        ("name", &name.get_value()),
                                        ("from", role_name(lang.get(), current)),
                                        ("to", role_name(lang.get(), chosen.get())),
                                    ],
                                )
                            })
                            confirm=Key::ChangeRole
                            on_confirm=change_role
                        />
                    </Show>
                }
                .into_any()
            } else {
                view! {
                    <span class="badge">{role_name(lang_now, current)}</span>
                    {(can_manage() && current == OrgRole::Owner).then(|| {
                        view! { <span class="muted small">" " {Key::OnlyOwnersChangeOwners.text(lang_now)}</span> }
                    })}
                }
                .into_any()
            }
        }
    };

    view! {
        <tr data-testid="member-row" data-email=member.email.clone()>
            <td>
                {member.name.clone()}
                {move || is_me().then(|| view! { <span class="muted">" " {tr(Key::You)}</span> })}
            </td>
            <td>{member.email.clone()}</td>
            <td class="role-cell">{role_cell}</td>
            <td><Time at=member.created_at/></td>
            <td class="actions">
                <Show when=can_manage>
                    <ConfirmButton
                        label=Key::Remove
                        question=Signal::derive(move || {
                            fill(lang.get(), Key::ConfirmRemoveMember, &[("name", &name.get_value())])
                        })
                        confirm=Key::Remove
                        on_confirm=remove
                        disabled=Signal::derive(move || remove_blocked.get().is_some())
                        disabled_reason=Signal::derive(move || {
                            remove_blocked.get().map(|k| k.text(lang.get()).to_owned())
                        })
                    />
                </Show>
            </td>
        </tr>
    }
}

/// The invitation form and the pending invitations (organization admins only).
#[component]
fn InviteSection() -> impl IntoView {
    let invitations = LocalResource::new(api::invitations);
    let teams = LocalResource::new(api::teams);
    let action_error: ActionError = RwSignal::new(None);
    let created_link = RwSignal::new(None::<String>);

    let form_view = move || match teams.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || teams.refetch()/> }.into_any(),
        Some(Ok(teams)) => view! {
            <InviteForm teams on_invited=move |link: String| {
                created_link.set(Some(link));
                invitations.refetch();
            }/>
        }
        .into_any(),
    };

    let pending = move || match (invitations.get(), teams.get()) {
        (None, _) | (_, None) => view! { <Loading/> }.into_any(),
        (Some(Err(e)), _) => {
            view! { <LoadError error=e retry=move || invitations.refetch()/> }.into_any()
        }
        (Some(Ok(list)), Some(teams)) => {
            let teams = teams.unwrap_or_default();
            if list.is_empty() {
                view! { <Empty title=Key::NoInvitationsTitle body=Key::NoInvitationsBody/> }
                    .into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table>
                            <thead>
                                <tr>
                                    <th scope="col">{tr(Key::Email)}</th>
                                    <th scope="col">{tr(Key::OrgRole)}</th>
                                    <th scope="col">{tr(Key::NavTeams)}</th>
                                    <th scope="col">{tr(Key::Expires)}</th>
                                    <th scope="col"><span class="visually-hidden">{tr(Key::Actions)}</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|inv| view! {
                                        <InvitationRow inv teams=teams.clone() on_change=move || invitations.refetch() action_error/>
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }
        }
    };

    view! {
        <section class="panel">
            <h2>{tr(Key::InviteTitle)}</h2>
            <p class="hint">{tr(Key::InviteLead)}</p>
            {form_view}
            {move || created_link.get().map(|link| view! {
                <ShownOnce value=link label=Key::InviteLink warning=Key::InviteLinkWarning id="invite-link"/>
            })}
        </section>
        <section class="panel">
            <h2>{tr(Key::PendingInvitations)}</h2>
            <ActionErrorNotice action_error/>
            {pending}
        </section>
    }
}

#[component]
fn InviteForm(teams: Vec<TeamView>, #[prop(into)] on_invited: Callback<String>) -> impl IntoView {
    let session = use_session();
    let lang = use_lang();
    let form = Form::new("invite", &["email", "org_role", "teams"]);
    let email = RwSignal::new(String::new());
    let org_role = RwSignal::new(OrgRole::Member);
    // One row per team: whether to add the person, and with which role.
    let grants: Vec<(TeamView, RwSignal<bool>, RwSignal<TeamRole>)> = teams
        .into_iter()
        .map(|t| (t, RwSignal::new(false), RwSignal::new(TeamRole::Viewer)))
        .collect();
    let grant_values: Vec<(TeamId, RwSignal<bool>, RwSignal<TeamRole>)> = grants
        .iter()
        .map(|(t, on, role)| (t.id, *on, *role))
        .collect();
    let grant_values = StoredValue::new(grant_values);
    let can_invite_as = move |r: OrgRole| {
        session.can(
            Action::ChangeOrgRole {
                from: OrgRole::Member,
                to: r,
            },
            Target::Organization,
        )
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = InviteRequest {
            email: email.get_untracked().trim().to_owned(),
            org_role: org_role.get_untracked(),
            teams: grant_values.with_value(|g| {
                g.iter()
                    .filter(|(_, on, _)| on.get_untracked())
                    .map(|(id, _, role)| TeamGrant {
                        team_id: *id,
                        role: role.get_untracked(),
                    })
                    .collect()
            }),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::invite(&request).await {
                Ok(created) => {
                    form.done();
                    email.set(String::new());
                    grant_values.with_value(|g| {
                        g.iter().for_each(|(_, on, role)| {
                            on.set(false);
                            role.set(TeamRole::Viewer);
                        })
                    });
                    on_invited.run(created.invite_url);
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let role_id = form.input_id("org_role");
    let teams_id = form.input_id("teams");
    view! {
        <form on:submit=submit novalidate=true class="stacked">
            <TextField form field="email" label=Key::Email value=email kind="email" autocomplete="off" required=true/>
            <div class="field">
                <label for=role_id.clone()>{tr(Key::OrgRole)}</label>
                <select
                    id=role_id
                    on:change=move |ev| {
                        if let Ok(r) = event_target_value(&ev).parse::<OrgRole>() {
                            org_role.set(r);
                        }
                    }
                    prop:value=move || org_role.get().as_str()
                >
                    {move || {
                        OrgRole::ALL
                            .iter()
                            .filter(|&&r| can_invite_as(r))
                            .map(|&r| view! { <option value=r.as_str()>{role_name(lang.get(), r)}</option> })
                            .collect_view()
                    }}
                </select>
                <p class="hint">{tr(Key::OrgRoleHint)}</p>
                <FieldError form field="org_role" label=Key::OrgRole error_id="invite-org_role-error".to_owned()/>
            </div>
            <fieldset class="grants" id=teams_id>
                <legend>{tr(Key::AddToTeams)}</legend>
                {if grants.is_empty() {
                    view! { <p class="muted">{tr(Key::NoTeamsToGrant)}</p> }.into_any()
                } else {
                    grants
                        .into_iter()
                        .map(|(team, on, role)| {
                            let check_id = format!("grant-{}", team.id);
                            let role_id = format!("grant-role-{}", team.id);
                            let team_name = StoredValue::new(team.name.clone());
                            view! {
                                <div class="grant-row">
                                    <input
                                        type="checkbox"
                                        id=check_id.clone()
                                        prop:checked=move || on.get()
                                        on:change=move |ev| on.set(event_target_checked(&ev))
                                    />
                                    <label for=check_id>{team.name.clone()}</label>
                                    <label class="visually-hidden" for=role_id.clone()>
                                        {move || fill(lang.get(), Key::RoleIn, &[("team", &team_name.get_value())])}
                                    </label>
                                    <select
                                        id=role_id
                                        disabled=move || !on.get()
                                        on:change=move |ev| {
                                            if let Ok(r) = event_target_value(&ev).parse::<TeamRole>() {
                                                role.set(r);
                                            }
                                        }
                                        prop:value=move || role.get().as_str()
                                    >
                                        {move || {
                                            TeamRole::ALL
                                                .iter()
                                                .map(|&r| view! { <option value=r.as_str()>{team_role_name(lang.get(), r)}</option> })
                                                .collect_view()
                                        }}
                                    </select>
                                </div>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
                <FieldError form field="teams" label=Key::NavTeams error_id="invite-teams-error".to_owned()/>
            </fieldset>
            <FormProblem form/>
            <Submit form label=Key::SendInvitation busy_label=Key::Working/>
        </form>
    }
}

#[component]
fn InvitationRow(
    inv: InvitationView,
    teams: Vec<TeamView>,
    #[prop(into)] on_change: Callback<()>,
    action_error: ActionError,
) -> impl IntoView {
    let lang = use_lang();
    let id = inv.id;
    let email = StoredValue::new(inv.email.clone());
    let grants = StoredValue::new(inv.teams.clone());
    let teams = StoredValue::new(teams);
    let team_list = move || {
        let lang = lang.get();
        let names: Vec<String> = grants.with_value(|grants| {
            grants
                .iter()
                .map(|g| {
                    let name = teams.with_value(|ts| {
                        ts.iter()
                            .find(|t| t.id == g.team_id)
                            .map(|t| t.name.clone())
                            .unwrap_or_else(|| Key::DeletedTeam.text(lang).to_owned())
                    });
                    format!("{name} ({})", team_role_name(lang, g.role))
                })
                .collect()
        });
        if names.is_empty() {
            "—".to_owned()
        } else {
            names.join(", ")
        }
    };
    let withdraw = move |()| {
        spawn_local(async move {
            match api::withdraw_invitation(id).await {
                Ok(()) => on_change.run(()),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    view! {
        <tr data-testid="invitation-row">
            <td>{inv.email.clone()}</td>
            <td><span class="badge">{move || role_name(lang.get(), inv.org_role)}</span></td>
            <td>{team_list}</td>
            <td><Time at=inv.expires_at/></td>
            <td class="actions">
                <ConfirmButton
                    label=Key::Withdraw
                    question=Signal::derive(move || {
                        fill(lang.get(), Key::ConfirmWithdraw, &[("email", &email.get_value())])
                    })
                    confirm=Key::Withdraw
                    on_confirm=withdraw
                />
            </td>
        </tr>
    }
}

/// Renaming the organization (organization admins; the server asks for `ManageMembers`).
#[component]
fn OrganizationSection() -> impl IntoView {
    let session = use_session();
    let form = Form::new("organization", &["name"]);
    let current = session
        .me
        .with_untracked(|m| m.as_ref().map(|m| m.organization_name.clone()))
        .unwrap_or_default();
    let name = RwSignal::new(current);
    let saved = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let request = TeamNameRequest {
            name: name.get_untracked().trim().to_owned(),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::rename_organization(&request).await {
                Ok(_) => {
                    form.done();
                    saved.set(true);
                    // The top bar shows the organization's name.
                    session.refresh();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <section class="panel">
            <h2>{tr(Key::OrganizationSettings)}</h2>
            <form on:submit=submit novalidate=true class="inline-form">
                <TextField form field="name" label=Key::OrganizationName value=name autocomplete="organization" required=true/>
                <FormProblem form/>
                <Submit form label=Key::RenameOrganization/>
            </form>
            <Show when=move || saved.get()>
                <p class="success" role="status">{tr(Key::Saved)}</p>
            </Show>
        </section>
    }
}
