//! Who is signed in, and what they may do.
//!
//! The session itself is the HttpOnly cookie, which the app cannot read; what the app keeps
//! is the answer of `GET /api/me`. Permissions are decided by `hakobu_core::authz::authorize`,
//! the same function the server calls, so a button the UI shows is a button the server
//! accepts, and one it hides is one the server would refuse.

use crate::api;
use hakobu_core::api::auth::Me;
use hakobu_core::api::org::TeamView;
use hakobu_core::authz::{Action, Decision, OrgRole, Principal, Target, TeamRole, authorize};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The signed-in user; `None` before the first answer and after signing out.
    pub me: RwSignal<Option<Me>>,
    /// Whether `/api/me` has answered at least once, to tell "loading" from "signed out".
    pub checked: RwSignal<bool>,
}

impl Session {
    /// Creates the session, puts it in context and asks the server who is signed in.
    pub fn provide() -> Self {
        let session = Session {
            me: RwSignal::new(None),
            checked: RwSignal::new(false),
        };
        provide_context(session);
        // Any 401 means the cookie expired or was revoked (password change elsewhere).
        api::on_unauthorized(move || session.me.set(None));
        session.refresh();
        session
    }

    /// Re-reads `/api/me`, e.g. after navigation, so a role granted meanwhile shows up.
    pub fn refresh(self) {
        spawn_local(async move {
            match api::me().await {
                // Only a real change notifies: an identical answer must not re-render the
                // page (and wipe what the user is typing into a form).
                Ok(me) => {
                    if self.me.with_untracked(|m| m.as_ref() != Some(&me)) {
                        self.me.set(Some(me));
                    }
                }
                Err(e) if e.status() == Some(401) => self.me.set(None),
                // Offline for a moment: keep what we know rather than sign the user out.
                Err(_) => {}
            }
            self.checked.set(true);
        });
    }

    pub fn signed_in(self, me: Me) {
        self.me.set(Some(me));
        self.checked.set(true);
    }

    /// The policy's answer for the signed-in user (reactive). Signed out: forbidden.
    pub fn decide(self, action: Action, target: Target<'_>) -> Decision {
        self.me.with(|me| match me {
            Some(me) => authorize(&principal(me), action, target),
            None => Decision::Forbidden,
        })
    }

    pub fn can(self, action: Action, target: Target<'_>) -> bool {
        self.decide(action, target) == Decision::Allow
    }

    /// `can` as a memo, for choosing between views: the view is rebuilt only when the
    /// answer changes, not whenever `/api/me` is re-read.
    pub fn can_memo(self, action: Action, target: Target<'static>) -> Memo<bool> {
        Memo::new(move |_| self.can(action, target))
    }
}

/// The policy's view of a user, built from `/api/me` exactly as the server builds it
/// from the database.
pub fn principal(me: &Me) -> Principal {
    Principal {
        org_role: me.org_role,
        team_roles: me.teams.iter().map(|t| (t.team_id, t.role)).collect(),
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Teams in which the signed-in user may create connections and jobs (editor or more;
/// organization admins: every team).
pub fn editable_teams(teams: &[TeamView]) -> Vec<TeamView> {
    let session = use_session();
    session.me.with_untracked(|me| {
        let Some(me) = me else { return Vec::new() };
        let principal = principal(me);
        teams
            .iter()
            .filter(|t| principal.team_role(t.id) >= Some(TeamRole::Editor))
            .cloned()
            .collect()
    })
}

/// Whether the signed-in user can create connections or jobs in some team.
pub fn can_create_resources() -> Signal<bool> {
    let session = use_session();
    Signal::derive(move || {
        session.me.with(|me| {
            me.as_ref().is_some_and(|me| {
                me.org_role >= OrgRole::Admin || me.teams.iter().any(|t| t.role >= TeamRole::Editor)
            })
        })
    })
}
