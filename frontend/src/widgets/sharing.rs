//! Sharing a connection or a job with other teams: the form team admins use, and the
//! read-only list everyone else sees.
//!
//! `PUT …/shares` replaces the whole list, while `GET /api/teams` shows a team admin only
//! the teams they are in. So the form sends back, untouched, every grant to a team the
//! reader cannot see; otherwise saving would silently take the resource away from teams
//! the reader never saw on the form.

use crate::api;
use crate::components::{FormProblem, LoadError, Loading, NotAllowed, Submit};
use crate::forms::Form;
use crate::i18n::{Key, fill, team_role_name, tr, use_lang};
use crate::session::use_session;
use hakobu_core::api::connections::SharesRequest;
use hakobu_core::api::org::{TeamGrant, TeamView};
use hakobu_core::authz::{Action, Target, TeamRole};
use hakobu_core::ids::{ConnectionId, JobId, TeamId};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// What is being shared; decides which endpoint saves the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    Connection(ConnectionId),
    Job(JobId),
}

impl Shared {
    async fn save(self, shares: Vec<TeamGrant>) -> Result<Vec<TeamGrant>, api::ApiError> {
        let body = SharesRequest { shares };
        match self {
            Shared::Connection(id) => api::share_connection(id, &body).await.map(|c| c.shares),
            Shared::Job(id) => api::share_job(id, &body).await.map(|j| j.shares),
        }
    }
}

/// The roles a share can grant: admin stays with the owning team's own members.
const SHAREABLE_ROLES: [TeamRole; 3] = [TeamRole::Viewer, TeamRole::Operator, TeamRole::Editor];

/// The list to send: the choices made on the form (an empty choice drops the team), then
/// every existing grant to a team the form did not offer, as it was.
fn shares_to_save(chosen: &[(TeamId, String)], existing: &[TeamGrant]) -> Vec<TeamGrant> {
    let offered = |team: TeamId| chosen.iter().any(|(t, _)| *t == team);
    chosen
        .iter()
        .filter_map(|(team_id, role)| {
            role.parse::<TeamRole>().ok().map(|role| TeamGrant {
                team_id: *team_id,
                role,
            })
        })
        .chain(existing.iter().filter(|g| !offered(g.team_id)).cloned())
        .collect()
}

/// How many grants go to teams the form does not offer (kept as they are on saving).
fn grants_not_offered(owner: TeamId, teams: &[TeamView], existing: &[TeamGrant]) -> usize {
    existing
        .iter()
        .filter(|g| g.team_id != owner && !teams.iter().any(|t| t.id == g.team_id))
        .count()
}

/// The sharing form: one select per other team the reader can see, "not shared" or a role.
#[component]
pub fn SharesForm(
    shared: Shared,
    owner: TeamId,
    shares: Vec<TeamGrant>,
    teams: Vec<TeamView>,
    /// What each role may do with this kind of resource.
    hint: Key,
) -> impl IntoView {
    let lang = use_lang();
    let hidden = grants_not_offered(owner, &teams, &shares);
    let chosen: Vec<(TeamView, RwSignal<String>)> = teams
        .into_iter()
        .filter(|t| t.id != owner)
        .map(|t| {
            let current = shares
                .iter()
                .find(|g| g.team_id == t.id)
                .map(|g| g.role.as_str().to_owned())
                .unwrap_or_default();
            (t, RwSignal::new(current))
        })
        .collect();
    let existing = StoredValue::new(shares);
    let form = Form::new("shares", &["shares"]);
    let saved = RwSignal::new(false);
    let chosen = StoredValue::new(chosen);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let choices: Vec<(TeamId, String)> = chosen.with_value(|c| {
            c.iter()
                .map(|(t, role)| (t.id, role.get_untracked()))
                .collect()
        });
        let shares = existing.with_value(|e| shares_to_save(&choices, e));
        form.start();
        spawn_local(async move {
            match shared.save(shares).await {
                Ok(now) => {
                    existing.set_value(now);
                    form.done();
                    saved.set(true);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <section class="panel" data-testid="sharing">
            <h2>{tr(Key::Sharing)}</h2>
            <p class="hint">{tr(hint)}</p>
            {move || {
                if chosen.with_value(|c| c.is_empty()) {
                    return view! { <p class="muted">{tr(Key::NoOtherTeams)}</p> }.into_any();
                }
                view! {
                    <form on:submit=submit novalidate=true>
                        {chosen.get_value()
                            .into_iter()
                            .map(|(t, role)| {
                                let select_id = format!("share-{}", t.id);
                                view! {
                                    <div class="field">
                                        <label for=select_id.clone()>{t.name.clone()}</label>
                                        <select id=select_id on:change=move |ev| role.set(event_target_value(&ev)) prop:value=move || role.get()>
                                            <option value="">{tr(Key::NotShared)}</option>
                                            {SHAREABLE_ROLES
                                                .into_iter()
                                                .map(|r| view! { <option value=r.as_str()>{move || team_role_name(lang.get(), r)}</option> })
                                                .collect_view()}
                                        </select>
                                    </div>
                                }
                            })
                            .collect_view()}
                        {(hidden > 0).then(|| view! {
                            <p class="hint">{move || fill(lang.get(), Key::SharesKeptForOtherTeams, &[("n", &crate::format::number(lang.get(), hidden as i64))])}</p>
                        })}
                        <FormProblem form/>
                        <div class="button-row">
                            <Submit form label=Key::SaveSharing/>
                            <Show when=move || saved.get()><span class="success" role="status">{tr(Key::Saved)}</span></Show>
                        </div>
                    </form>
                }
                .into_any()
            }}
        </section>
    }
}

/// The job page's sharing panel: the form for those the policy lets share the job (admins
/// of the owning team, organization admins); for everyone else, the list, with the reason.
#[component]
pub fn JobSharingPanel(job: JobId, owner: TeamId, shares: Vec<TeamGrant>) -> impl IntoView {
    let session = use_session();
    let pairs: Vec<(TeamId, TeamRole)> = shares.iter().map(|g| (g.team_id, g.role)).collect();
    // The server asks the same of `PUT /api/jobs/{id}/shares`.
    let can_share = session.can(
        Action::ShareResource,
        Target::Resource {
            owner,
            shares: &pairs,
        },
    );
    let teams = LocalResource::new(api::teams);
    let shares = StoredValue::new(shares);
    move || {
        match teams.get() {
        None => view! { <section class="panel"><Loading/></section> }.into_any(),
        Some(Err(e)) => view! {
            <section class="panel"><LoadError error=e retry=move || teams.refetch()/></section>
        }
        .into_any(),
        Some(Ok(teams)) if can_share => view! {
            <SharesForm shared=Shared::Job(job) owner shares=shares.get_value() teams hint=Key::JobSharingHint/>
        }
        .into_any(),
        Some(Ok(teams)) => view! { <SharesList shares=shares.get_value() teams/> }.into_any(),
    }
    }
}

/// The teams a job is shared with, read-only.
#[component]
fn SharesList(shares: Vec<TeamGrant>, teams: Vec<TeamView>) -> impl IntoView {
    let lang = use_lang();
    let rows: Vec<(Option<String>, TeamRole)> = shares
        .iter()
        .map(|g| {
            let name = teams
                .iter()
                .find(|t| t.id == g.team_id)
                .map(|t| t.name.clone());
            (name, g.role)
        })
        .collect();
    view! {
        <section class="panel" data-testid="sharing">
            <h2>{tr(Key::Sharing)}</h2>
            {if rows.is_empty() {
                view! { <p class="muted">{tr(Key::JobNotShared)}</p> }.into_any()
            } else {
                view! {
                    <ul class="plain-list">
                        {rows
                            .into_iter()
                            .map(|(name, role)| {
                                let name = move || name.clone().unwrap_or_else(|| Key::TeamYouAreNotIn.text(lang.get()).to_owned());
                                view! {
                                    <li data-testid="job-share">{name} " · " {move || team_role_name(lang.get(), role)}</li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            }}
            <NotAllowed reason=Key::OnlyTeamAdminsShareJobs/>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(name: &str) -> TeamView {
        serde_json::from_value(serde_json::json!({
            "id": TeamId::new(), "name": name, "member_count": 0,
            "created_at": chrono::Utc::now(),
        }))
        .unwrap()
    }

    #[test]
    fn saving_keeps_the_grants_of_teams_the_form_did_not_offer() {
        let (sales, finance, unseen) = (TeamId::new(), TeamId::new(), TeamId::new());
        let existing = [
            TeamGrant {
                team_id: finance,
                role: TeamRole::Viewer,
            },
            TeamGrant {
                team_id: unseen,
                role: TeamRole::Editor,
            },
        ];
        let chosen = [
            (sales, "operator".to_owned()),
            // Emptied on the form: no longer shared.
            (finance, String::new()),
        ];
        assert_eq!(
            shares_to_save(&chosen, &existing),
            [
                TeamGrant {
                    team_id: sales,
                    role: TeamRole::Operator
                },
                TeamGrant {
                    team_id: unseen,
                    role: TeamRole::Editor
                },
            ]
        );
    }

    #[test]
    fn grants_to_unseen_teams_are_counted_but_not_the_owner() {
        let owner = team("Owners");
        let seen = team("Seen");
        let grants = [
            TeamGrant {
                team_id: seen.id,
                role: TeamRole::Viewer,
            },
            TeamGrant {
                team_id: TeamId::new(),
                role: TeamRole::Operator,
            },
        ];
        assert_eq!(
            grants_not_offered(owner.id, &[owner.clone(), seen], &grants),
            1
        );
        assert_eq!(grants_not_offered(owner.id, &[], &[]), 0);
    }
}
