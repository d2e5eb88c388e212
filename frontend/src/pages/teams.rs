//! Teams: the list (all teams for organization admins, one's own teams otherwise), creating
//! a team, and one team's page: rename, delete, members and their team roles.

use crate::api;
use crate::components::{
    ActionErrorNotice, ConfirmButton, Empty, FormProblem, LoadError, Loading, NotAllowed,
    ResourceTable, Submit, TextField, Time,
};
use crate::forms::Form;
use crate::i18n::{Key, fill, team_role_name, tr, use_lang};
use crate::session::use_session;
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::org::{
    MemberView, PutTeamMemberRequest, TeamGrant, TeamMemberView, TeamNameRequest, TeamView,
};
use hakobu_core::authz::{Action, Target, TeamRole};
use hakobu_core::ids::{TeamId, UserId};
use hakobu_core::messages::MessageCode;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn TeamsPage() -> impl IntoView {
    crate::components::page_title(Key::NavTeams);
    let session = use_session();
    let lang = use_lang();
    let teams = LocalResource::new(api::teams);
    let can_create = session.can_memo(Action::CreateTeam, Target::Organization);
    let is_admin = move || {
        session.me.with(|m| {
            m.as_ref()
                .is_some_and(|m| m.org_role >= hakobu_core::authz::OrgRole::Admin)
        })
    };

    let row = move |t: TeamView| {
        let id = t.id;
        let my_role = move || {
            session.me.with(|m| {
                m.as_ref()
                    .and_then(|m| crate::session::principal(m).team_role(id))
                    .map(|r| team_role_name(lang.get(), r))
                    .unwrap_or("—")
            })
        };
        view! {
            <tr data-testid="team-row">
                <td><A href=format!("/teams/{}", t.id)>{t.name.clone()}</A></td>
                <td>{move || crate::format::number(lang.get(), t.member_count)}</td>
                <td><span class="badge">{my_role}</span></td>
                <td><Time at=t.created_at/></td>
            </tr>
        }
    };
    let list = view! {
        <ResourceTable
            resource=teams
            empty_title=Key::NoTeamsTitle
            empty_body=Key::NoTeamsBody
            columns=&[Key::Name, Key::MemberCount, Key::YourRole, Key::Created]
            row
        />
    };

    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavTeams)}</h1>
                <p class="lead">
                    {move || if is_admin() { tr(Key::TeamsLeadAdmin)() } else { tr(Key::TeamsLeadMember)() }}
                </p>
            </header>
            <section class="panel">{list}</section>
            <section class="panel">
                <h2>{tr(Key::CreateTeam)}</h2>
                {move || {
                    if can_create.get() {
                        view! { <CreateTeamForm on_created=move || teams.refetch()/> }.into_any()
                    } else {
                        view! { <NotAllowed reason=Key::OnlyAdminsCreateTeams/> }.into_any()
                    }
                }}
            </section>
        </div>
    }
}

#[component]
fn CreateTeamForm(#[prop(into)] on_created: Callback<()>) -> impl IntoView {
    let form = Form::new("team", &["name"]);
    let name = RwSignal::new(String::new());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = TeamNameRequest {
            name: name.get_untracked().trim().to_owned(),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::create_team(&request).await {
                Ok(_) => {
                    form.done();
                    name.set(String::new());
                    on_created.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form on:submit=submit novalidate=true class="inline-form">
            <TextField form field="name" label=Key::TeamName value=name autocomplete="off" required=true/>
            <FormProblem form/>
            <Submit form label=Key::CreateTeam/>
        </form>
    }
}

/// One team: `/teams/{id}`.
#[component]
pub fn TeamPage() -> impl IntoView {
    crate::components::page_title(Key::NavTeams);
    let params = use_params_map();
    let team_id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<TeamId>().ok()));
    let team = LocalResource::new(move || {
        let id = team_id();
        async move {
            match id {
                Some(id) => api::team(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    move || match team.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Ok(None)) => view! { <TeamMissing/> }.into_any(),
        Some(Err(e)) if e.status() == Some(404) => view! { <TeamMissing/> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || team.refetch()/></div> }
                .into_any()
        }
        Some(Ok(Some(t))) => {
            view! { <TeamDetail team=t on_change=move || team.refetch()/> }.into_any()
        }
    }
}

#[component]
fn TeamMissing() -> impl IntoView {
    view! {
        <div class="page">
            <Empty title=Key::TeamMissingTitle body=Key::TeamMissingBody/>
            <p><A href="/teams">{tr(Key::BackToTeams)}</A></p>
        </div>
    }
}

#[component]
fn TeamDetail(team: TeamView, #[prop(into)] on_change: Callback<()>) -> impl IntoView {
    let session = use_session();
    let lang = use_lang();
    let navigate = use_navigate();
    let id = team.id;
    let can_manage = session.can_memo(Action::ManageTeam, Target::Team(id));
    let can_delete = session.can_memo(Action::DeleteTeam, Target::Team(id));
    let members = LocalResource::new(move || api::team_members(id));
    let action_error = RwSignal::new(None);
    let team_name = StoredValue::new(team.name.clone());

    let delete = move |()| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::delete_team(id).await {
                Ok(()) => {
                    session.refresh();
                    navigate("/teams", Default::default());
                }
                Err(e) => action_error.set(Some(e)),
            }
        });
    };

    let member_list = view! {
        <ResourceTable
            resource=members
            empty_title=Key::NoTeamMembersTitle
            empty_body=Key::NoTeamMembersBody
            columns=&[Key::Name, Key::Email, Key::TeamRole]
            actions=true
            row=move |m| view! {
                <TeamMemberRow team=id member=m on_change=move || { members.refetch(); on_change.run(()); } action_error/>
            }
        />
    };

    view! {
        <div class="page">
            <p class="breadcrumb"><A href="/teams">{tr(Key::NavTeams)}</A> " / "</p>
            <header class="page-header">
                <h1>{team.name.clone()}</h1>
                <p class="lead">
                    {move || match team.member_count {
                        1 => Key::TeamSummaryOne.text(lang.get()).to_owned(),
                        n => fill(lang.get(), Key::TeamSummary, &[("n", &crate::format::number(lang.get(), n))]),
                    }}
                </p>
            </header>
            <ActionErrorNotice action_error/>
            <section class="panel">
                <h2>{tr(Key::TeamMembers)}</h2>
                {member_list}
            </section>
            <TeamResources team=id/>
            <section class="panel">
                <h2>{tr(Key::AddTeamMember)}</h2>
                {move || {
                    if can_manage.get() {
                        view! { <AddMemberForm team=id on_added=move || { members.refetch(); on_change.run(()); }/> }.into_any()
                    } else {
                        view! { <NotAllowed reason=Key::OnlyTeamAdminsManage/> }.into_any()
                    }
                }}
            </section>
            <section class="panel">
                <h2>{tr(Key::RenameTeam)}</h2>
                {move || {
                    if can_manage.get() {
                        view! { <RenameForm team=id current=team_name.get_value() on_renamed=on_change/> }.into_any()
                    } else {
                        view! { <NotAllowed reason=Key::OnlyTeamAdminsManage/> }.into_any()
                    }
                }}
            </section>
            <section class="panel danger-zone">
                <h2>{tr(Key::DeleteTeam)}</h2>
                <p class="hint">{tr(Key::DeleteTeamHint)}</p>
                {move || {
                    let delete = delete.clone();
                    if can_delete.get() {
                        view! {
                            <ConfirmButton
                                label=Key::DeleteTeam
                                question=Signal::derive(move || fill(lang.get(), Key::ConfirmDeleteTeam, &[("team", &team_name.get_value())]))
                                confirm=Key::Delete
                                on_confirm=delete
                            />
                        }
                        .into_any()
                    } else {
                        view! { <NotAllowed reason=Key::OnlyAdminsDeleteTeams/> }.into_any()
                    }
                }}
            </section>
        </div>
    }
}

#[component]
fn TeamMemberRow(
    team: TeamId,
    member: TeamMemberView,
    #[prop(into)] on_change: Callback<()>,
    action_error: RwSignal<Option<api::ApiError>>,
) -> impl IntoView {
    let session = use_session();
    let lang = use_lang();
    let can_manage = move || session.can(Action::ManageTeam, Target::Team(team));
    let user: UserId = member.user_id;
    let current = member.role;
    let chosen = RwSignal::new(current);
    let name = StoredValue::new(member.name.clone());
    let select_id = format!("team-role-{user}");

    let set_role = move |()| {
        let role = chosen.get_untracked();
        spawn_local(async move {
            match api::put_team_member(team, user, &PutTeamMemberRequest { role }).await {
                Ok(()) => {
                    session.refresh();
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
            match api::remove_team_member(team, user).await {
                Ok(()) => {
                    session.refresh();
                    on_change.run(());
                }
                Err(e) => action_error.set(Some(e)),
            }
        });
    };

    let role_cell = move || {
        let lang_now = lang.get();
        if can_manage() {
            let select_id = select_id.clone();
            view! {
                <label class="visually-hidden" for=select_id.clone()>
                    {fill(lang_now, Key::RoleOf, &[("name", &name.get_value())])}
                </label>
                <select
                    id=select_id
                    on:change=move |ev| {
                        if let Ok(r) = event_target_value(&ev).parse::<TeamRole>() {
                            chosen.set(r);
                        }
                    }
                    prop:value=move || chosen.get().as_str()
                >
                    {TeamRole::ALL
                        .iter()
                        .map(|&r| view! { <option value=r.as_str() selected={r == current}>{team_role_name(lang_now, r)}</option> })
                        .collect_view()}
                </select>
                <Show when=move || chosen.get() != current>
                    <ConfirmButton
                        label=Key::ChangeRole
                        class="primary"
                        question=Signal::derive(move || fill(lang.get(), Key::ConfirmRoleChange, &[
                            ("name", &name.get_value()),
                            ("from", team_role_name(lang.get(), current)),
                            ("to", team_role_name(lang.get(), chosen.get())),
                        ]))
                        confirm=Key::ChangeRole
                        on_confirm=set_role
                    />
                </Show>
            }
            .into_any()
        } else {
            view! { <span class="badge">{team_role_name(lang_now, current)}</span> }.into_any()
        }
    };

    view! {
        <tr data-testid="team-member-row">
            <td>{member.name.clone()}</td>
            <td>{member.email.clone()}</td>
            <td class="role-cell">{role_cell}</td>
            <td class="actions">
                <Show when=can_manage>
                    <ConfirmButton
                        label=Key::RemoveFromTeam
                        question=Signal::derive(move || fill(lang.get(), Key::ConfirmRemoveFromTeam, &[("name", &name.get_value())]))
                        confirm=Key::Remove
                        on_confirm=remove
                    />
                </Show>
            </td>
        </tr>
    }
}

#[component]
fn AddMemberForm(team: TeamId, #[prop(into)] on_added: Callback<()>) -> impl IntoView {
    let lang = use_lang();
    let org_members = LocalResource::new(api::members);
    let form = Form::new("add-member", &["user", "role"]);
    let user = RwSignal::new(String::new());
    let role = RwSignal::new(TeamRole::Viewer);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Ok(user_id) = user.get_untracked().parse::<UserId>() else {
            let mut errors = hakobu_core::validation::FieldErrors::default();
            errors.push_message("user", MessageCode::Required);
            form.invalid(errors);
            return;
        };
        let request = PutTeamMemberRequest {
            role: role.get_untracked(),
        };
        form.start();
        spawn_local(async move {
            match api::put_team_member(team, user_id, &request).await {
                Ok(()) => {
                    form.done();
                    user.set(String::new());
                    on_added.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let options = move |members: Vec<MemberView>| {
        members
            .into_iter()
            .map(|m| view! { <option value=m.user_id.to_string()>{format!("{} <{}>", m.name, m.email)}</option> })
            .collect_view()
    };
    let user_id = form.input_id("user");
    let role_id = form.input_id("role");
    view! {
        <form on:submit=submit novalidate=true class="inline-form">
            <div class="field" class:invalid=move || form.error("user").is_some()>
                <label for=user_id.clone()>{tr(Key::Member)}</label>
                <select id=user_id on:change=move |ev| user.set(event_target_value(&ev)) prop:value=move || user.get()>
                    <option value="">{tr(Key::ChooseMember)}</option>
                    {move || org_members.get().and_then(Result::ok).map(options)}
                </select>
                <crate::components::FieldError form field="user" label=Key::Member error_id="add-member-user-error".to_owned()/>
            </div>
            <div class="field">
                <label for=role_id.clone()>{tr(Key::TeamRole)}</label>
                <select
                    id=role_id
                    on:change=move |ev| {
                        if let Ok(r) = event_target_value(&ev).parse::<TeamRole>() {
                            role.set(r);
                        }
                    }
                    prop:value=move || role.get().as_str()
                >
                    {move || TeamRole::ALL
                        .iter()
                        .map(|&r| view! { <option value=r.as_str()>{team_role_name(lang.get(), r)}</option> })
                        .collect_view()}
                </select>
            </div>
            <FormProblem form/>
            <Submit form label=Key::AddToTeam/>
        </form>
        <p class="hint">{tr(Key::TeamRolesHint)}</p>
    }
}

#[component]
fn RenameForm(
    team: TeamId,
    current: String,
    #[prop(into)] on_renamed: Callback<()>,
) -> impl IntoView {
    let form = Form::new("rename", &["name"]);
    let name = RwSignal::new(current);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = TeamNameRequest {
            name: name.get_untracked().trim().to_owned(),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::rename_team(team, &request).await {
                Ok(()) => {
                    form.done();
                    on_renamed.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form on:submit=submit novalidate=true class="inline-form">
            <TextField form field="name" label=Key::TeamName value=name autocomplete="off" required=true/>
            <FormProblem form/>
            <Submit form label=Key::Rename/>
        </form>
    }
}

/// What one of the team's resources is to the team.
#[derive(Debug, Clone, PartialEq)]
enum Holding {
    Owned,
    Shared(TeamRole),
}

/// One thing a team has: where it is (`/connections/…`), its name, and how.
type Held = (String, String, Holding);

/// The connections and jobs a team owns or that are shared with it, as far as the reader
/// can see them (the lists are the reader's own `GET /api/connections` and `/api/jobs`).
fn team_holdings(
    team: TeamId,
    connections: &[ConnectionView],
    jobs: &[JobView],
) -> (Vec<Held>, Vec<Held>) {
    let mut held_connections: Vec<_> = connections
        .iter()
        .filter_map(|c| {
            let holding = holding_of(team, c.team_id, &c.shares)?;
            Some((format!("/connections/{}", c.id), c.name.clone(), holding))
        })
        .collect();
    held_connections.sort_by(|a, b| a.1.cmp(&b.1));
    let mut held_jobs: Vec<_> = jobs
        .iter()
        .filter_map(|j| {
            let holding = holding_of(team, j.team_id, &j.shares)?;
            Some((format!("/jobs/{}", j.id), j.name.clone(), holding))
        })
        .collect();
    held_jobs.sort_by(|a, b| a.1.cmp(&b.1));
    (held_connections, held_jobs)
}

/// How `team` holds something owned by `owner` and shared as `shares`, if at all.
fn holding_of(team: TeamId, owner: TeamId, shares: &[TeamGrant]) -> Option<Holding> {
    if owner == team {
        Some(Holding::Owned)
    } else {
        Some(Holding::Shared(
            shares.iter().find(|s| s.team_id == team)?.role,
        ))
    }
}

#[component]
fn TeamResources(team: TeamId) -> impl IntoView {
    let lang = use_lang();
    let connections = LocalResource::new(api::connections);
    let jobs = LocalResource::new(api::jobs);
    let body = move || {
        let (Some(connection_list), Some(job_list)) = (connections.get(), jobs.get()) else {
            return view! { <Loading/> }.into_any();
        };
        let (connection_list, job_list) = match (connection_list, job_list) {
            (Ok(c), Ok(j)) => (c, j),
            (Err(e), _) | (_, Err(e)) => {
                return view! { <LoadError error=e retry=move || { connections.refetch(); jobs.refetch(); }/> }
                    .into_any();
            }
        };
        let (held_connections, held_jobs) = team_holdings(team, &connection_list, &job_list);
        if held_connections.is_empty() && held_jobs.is_empty() {
            return view! { <p class="muted">{tr(Key::NoTeamResources)}</p> }.into_any();
        }
        let rows = held_connections
            .into_iter()
            .map(|r| (Key::ResourceConnection, r))
            .chain(held_jobs.into_iter().map(|r| (Key::Job, r)))
            .map(|(kind, (href, name, holding))| {
                let how = move || match holding {
                    Holding::Owned => Key::OwnedByTeam.text(lang.get()).to_owned(),
                    Holding::Shared(role) => fill(
                        lang.get(),
                        Key::SharedWithTeamAs,
                        &[("role", team_role_name(lang.get(), role))],
                    ),
                };
                view! {
                    <tr data-testid="team-resource-row">
                        <td>{tr(kind)}</td>
                        <td><A href=href>{name}</A></td>
                        <td>{how}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table>
                    <thead>
                        <tr>
                            <th scope="col">{tr(Key::ResourceKind)}</th>
                            <th scope="col">{tr(Key::Name)}</th>
                            <th scope="col">{tr(Key::ResourceHolding)}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="panel">
            <h2>{tr(Key::TeamResources)}</h2>
            <p class="hint">{tr(Key::TeamResourcesHint)}</p>
            {body}
        </section>
    }
}

#[cfg(test)]
mod holdings_tests {
    use super::*;
    use hakobu_core::connection::ConnectionKind;
    use hakobu_core::ids::{ConnectionId, JobId};

    fn job(name: &str, owner: TeamId, shares: Vec<TeamGrant>) -> JobView {
        serde_json::from_value(serde_json::json!({
            "id": JobId::new(), "name": name, "description": "", "labels": [], "enabled": true,
            "team_id": owner, "revision": 1, "your_role": "viewer", "shares": shares,
            "created_at": chrono::Utc::now(), "updated_at": chrono::Utc::now(),
        }))
        .unwrap()
    }

    fn connection(name: &str, owner: TeamId, shares: Vec<TeamGrant>) -> ConnectionView {
        serde_json::from_value(serde_json::json!({
            "id": ConnectionId::new(), "name": name, "kind": ConnectionKind::Postgresql,
            "team_id": owner, "your_role": "viewer", "shares": shares,
            "created_at": chrono::Utc::now(), "updated_at": chrono::Utc::now(),
        }))
        .unwrap()
    }

    #[test]
    fn a_team_holds_what_it_owns_and_what_is_shared_with_it() {
        let sales = TeamId::new();
        let finance = TeamId::new();
        let list = [
            connection(
                "warehouse",
                finance,
                vec![TeamGrant {
                    team_id: sales,
                    role: TeamRole::Operator,
                }],
            ),
            connection("crm", sales, vec![]),
            connection("ledger", finance, vec![]),
        ];
        let (held, jobs) = team_holdings(sales, &list, &[]);
        let names: Vec<_> = held.iter().map(|h| (h.1.as_str(), h.2.clone())).collect();
        assert_eq!(
            names,
            [
                ("crm", Holding::Owned),
                ("warehouse", Holding::Shared(TeamRole::Operator))
            ]
        );
        assert!(jobs.is_empty());
    }

    #[test]
    fn a_team_holds_the_jobs_shared_with_it() {
        let sales = TeamId::new();
        let finance = TeamId::new();
        let list = [
            job(
                "nightly ledger",
                finance,
                vec![TeamGrant {
                    team_id: sales,
                    role: TeamRole::Operator,
                }],
            ),
            job("crm sync", sales, vec![]),
            job("payroll", finance, vec![]),
        ];
        let (connections, held) = team_holdings(sales, &[], &list);
        assert!(connections.is_empty());
        let names: Vec<_> = held.iter().map(|h| (h.1.as_str(), h.2.clone())).collect();
        assert_eq!(
            names,
            [
                ("crm sync", Holding::Owned),
                ("nightly ledger", Holding::Shared(TeamRole::Operator))
            ]
        );
        assert_eq!(held[1].0, format!("/jobs/{}", list[0].id));
    }
}
