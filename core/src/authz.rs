//! Who may do what: the one authorization policy, shared by every endpoint and the UI.
//!
//! Roles live at two levels. An organization role (`owner` > `admin` > `member`) governs
//! the organization itself: members, teams, the audit log. A team role (`viewer` <
//! `operator` < `editor` < `admin`) governs what a team owns (connections, jobs) and what
//! is shared with it. Organization owners and admins act as admins of every team.
//!
//! [`authorize`] answers [`Decision::Hidden`] when the principal has no business knowing
//! that the target exists (the API answers 404), and [`Decision::Forbidden`] when it may see
//! the target but not act on it (403).

use crate::ids::TeamId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A member's role in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Member,
    Admin,
    Owner,
}

/// A member's role in one team. Ordered: each role can do everything the previous can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    /// Sees names and statuses.
    Viewer,
    /// Also runs jobs and uses connections, without seeing connection details.
    Operator,
    /// Also sees non-secret connection fields and changes connections and jobs.
    Editor,
    /// Also manages the team's members and what the team shares.
    Admin,
}

macro_rules! str_enum {
    ($ty:ty, $what:literal, $($variant:ident => $s:literal),*) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $s),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(<$ty>::$variant),)*
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?}; expected one of {}"),
                        other,
                        [$($s),*].join(", ")
                    )),
                }
            }
        }
    };
}

str_enum!(OrgRole, "organization role", Member => "member", Admin => "admin", Owner => "owner");
str_enum!(TeamRole, "team role", Viewer => "viewer", Operator => "operator", Editor => "editor", Admin => "admin");
crate::text_sql_enum!(OrgRole, TeamRole);

/// What the policy knows about the caller: its organization role and team roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_role: OrgRole,
    pub team_roles: BTreeMap<TeamId, TeamRole>,
}

impl Principal {
    pub fn is_org_admin(&self) -> bool {
        self.org_role >= OrgRole::Admin
    }

    /// The caller's role in `team`; organization admins are admins of every team.
    pub fn team_role(&self, team: TeamId) -> Option<TeamRole> {
        if self.is_org_admin() {
            Some(TeamRole::Admin)
        } else {
            self.team_roles.get(&team).copied()
        }
    }

    /// The caller's role on something owned by `owner` and shared with other teams.
    ///
    /// A share grants the members of the receiving team at most the shared role: a viewer
    /// of that team stays a viewer even when the share says `editor`.
    pub fn resource_role(&self, owner: TeamId, shares: &[(TeamId, TeamRole)]) -> Option<TeamRole> {
        let via_shares = shares
            .iter()
            .filter_map(|&(team, granted)| self.team_role(team).map(|own| own.min(granted)));
        self.team_role(owner).into_iter().chain(via_shares).max()
    }
}

/// The things one can do. Each names its target in [`Target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the organization and its member list.
    ViewOrganization,
    /// Invite and remove members.
    ManageMembers,
    /// Give a member the organization role `to` (the member now has `from`).
    ChangeOrgRole { from: OrgRole, to: OrgRole },
    /// Create teams.
    CreateTeam,
    /// Delete a team.
    DeleteTeam,
    /// Read the audit log.
    ViewAuditLog,
    /// Add, change and test notification destinations and organization-wide rules.
    ManageNotifications,
    /// Export the whole organization as files and apply files to it (config as code,
    /// `docs/config-as-code.md`): it reads and writes every team's resources at once.
    ManageConfiguration,
    /// See a team and its members.
    ViewTeam,
    /// Rename a team; add and remove its members and set their roles.
    ManageTeam,
    /// See a resource's name, kind and status.
    ViewResource,
    /// Run a job, or use a connection in a job one runs.
    UseResource,
    /// See a resource's non-secret settings (host, user, queries).
    ViewResourceDetails,
    /// Change or delete a resource.
    EditResource,
    /// Share a resource with other teams.
    ShareResource,
}

/// What an action is done to.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The caller's own organization.
    Organization,
    /// A team of the caller's organization.
    Team(TeamId),
    /// A connection or job owned by a team and shared with others.
    Resource {
        owner: TeamId,
        shares: &'a [(TeamId, TeamRole)],
    },
}

/// The answer of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The caller may know the target exists but may not do this: 403.
    Forbidden,
    /// The caller may not even know the target exists: 404.
    Hidden,
}

/// The one place that decides whether `who` may do `action` to `target`.
pub fn authorize(who: &Principal, action: Action, target: Target<'_>) -> Decision {
    use Action::*;
    use Decision::*;
    let allow_if = |ok: bool| if ok { Allow } else { Forbidden };
    match target {
        Target::Organization => match action {
            ViewOrganization => Allow,
            ManageMembers | CreateTeam | DeleteTeam | ViewAuditLog | ManageNotifications
            | ManageConfiguration => allow_if(who.is_org_admin()),
            // Only an owner makes or unmakes owners, so admins cannot take over.
            ChangeOrgRole { from, to } => allow_if(
                who.org_role == OrgRole::Owner
                    || (who.is_org_admin() && from != OrgRole::Owner && to != OrgRole::Owner),
            ),
            _ => Forbidden,
        },
        Target::Team(team) => match who.team_role(team) {
            None => Hidden,
            Some(role) => match action {
                ViewTeam => Allow,
                ManageTeam => allow_if(role >= TeamRole::Admin),
                DeleteTeam => allow_if(who.is_org_admin()),
                _ => Forbidden,
            },
        },
        Target::Resource { owner, shares } => match who.resource_role(owner, shares) {
            None => Hidden,
            Some(role) => {
                let needed = match action {
                    ViewResource => TeamRole::Viewer,
                    UseResource => TeamRole::Operator,
                    ViewResourceDetails | EditResource => TeamRole::Editor,
                    ShareResource => TeamRole::Admin,
                    _ => return Forbidden,
                };
                allow_if(role >= needed)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Decision::*;

    fn principal(org_role: OrgRole, teams: &[(TeamId, TeamRole)]) -> Principal {
        Principal {
            org_role,
            team_roles: teams.iter().copied().collect(),
        }
    }

    #[test]
    fn organization_actions() {
        let owner = principal(OrgRole::Owner, &[]);
        let admin = principal(OrgRole::Admin, &[]);
        let member = principal(OrgRole::Member, &[]);
        let cases = [
            (&member, ViewOrganization, Allow),
            (&member, ManageMembers, Forbidden),
            (&member, CreateTeam, Forbidden),
            (&member, ViewAuditLog, Forbidden),
            (&member, ManageNotifications, Forbidden),
            (&admin, ManageNotifications, Allow),
            (&member, ManageConfiguration, Forbidden),
            (&admin, ManageConfiguration, Allow),
            (&admin, ManageMembers, Allow),
            (&admin, CreateTeam, Allow),
            (&admin, DeleteTeam, Allow),
            (&admin, ViewAuditLog, Allow),
            (
                &admin,
                ChangeOrgRole {
                    from: OrgRole::Member,
                    to: OrgRole::Admin,
                },
                Allow,
            ),
            (
                &admin,
                ChangeOrgRole {
                    from: OrgRole::Member,
                    to: OrgRole::Owner,
                },
                Forbidden,
            ),
            (
                &admin,
                ChangeOrgRole {
                    from: OrgRole::Owner,
                    to: OrgRole::Member,
                },
                Forbidden,
            ),
            (
                &owner,
                ChangeOrgRole {
                    from: OrgRole::Owner,
                    to: OrgRole::Member,
                },
                Allow,
            ),
            (
                &owner,
                ChangeOrgRole {
                    from: OrgRole::Member,
                    to: OrgRole::Owner,
                },
                Allow,
            ),
            (
                &member,
                ChangeOrgRole {
                    from: OrgRole::Member,
                    to: OrgRole::Admin,
                },
                Forbidden,
            ),
            (&owner, ViewResource, Forbidden),
        ];
        for (who, action, expected) in cases {
            assert_eq!(
                authorize(who, action, Target::Organization),
                expected,
                "{:?} {action:?}",
                who.org_role
            );
        }
    }

    #[test]
    fn team_actions() {
        let t1 = TeamId::new();
        let t2 = TeamId::new();
        let team_admin = principal(OrgRole::Member, &[(t1, TeamRole::Admin)]);
        let team_editor = principal(OrgRole::Member, &[(t1, TeamRole::Editor)]);
        let org_admin = principal(OrgRole::Admin, &[]);
        let cases = [
            (&team_admin, ViewTeam, t1, Allow),
            (&team_admin, ManageTeam, t1, Allow),
            (&team_admin, DeleteTeam, t1, Forbidden),
            (&team_admin, ViewTeam, t2, Hidden),
            (&team_editor, ViewTeam, t1, Allow),
            (&team_editor, ManageTeam, t1, Forbidden),
            (&team_editor, ManageTeam, t2, Hidden),
            (&org_admin, ManageTeam, t2, Allow),
            (&org_admin, DeleteTeam, t2, Allow),
        ];
        for (who, action, team, expected) in cases {
            assert_eq!(
                authorize(who, action, Target::Team(team)),
                expected,
                "{action:?}"
            );
        }
    }

    #[test]
    fn resource_actions_by_team_role() {
        let owner_team = TeamId::new();
        let expectations = [
            // role,             view,  use,   details, edit,  share
            (
                TeamRole::Viewer,
                [Allow, Forbidden, Forbidden, Forbidden, Forbidden],
            ),
            (
                TeamRole::Operator,
                [Allow, Allow, Forbidden, Forbidden, Forbidden],
            ),
            (TeamRole::Editor, [Allow, Allow, Allow, Allow, Forbidden]),
            (TeamRole::Admin, [Allow, Allow, Allow, Allow, Allow]),
        ];
        let actions = [
            ViewResource,
            UseResource,
            ViewResourceDetails,
            EditResource,
            ShareResource,
        ];
        for (role, decisions) in expectations {
            let who = principal(OrgRole::Member, &[(owner_team, role)]);
            for (action, expected) in actions.iter().zip(decisions) {
                let target = Target::Resource {
                    owner: owner_team,
                    shares: &[],
                };
                assert_eq!(
                    authorize(&who, *action, target),
                    expected,
                    "{role} {action:?}"
                );
            }
        }
        let stranger = principal(OrgRole::Member, &[(TeamId::new(), TeamRole::Admin)]);
        for action in actions {
            let target = Target::Resource {
                owner: owner_team,
                shares: &[],
            };
            assert_eq!(authorize(&stranger, action, target), Hidden);
        }
    }

    #[test]
    fn shares_grant_at_most_the_shared_role() {
        let owner_team = TeamId::new();
        let analysts = TeamId::new();
        let shares = [(analysts, TeamRole::Operator)];
        let target = Target::Resource {
            owner: owner_team,
            shares: &shares,
        };
        let analyst_admin = principal(OrgRole::Member, &[(analysts, TeamRole::Admin)]);
        let analyst_viewer = principal(OrgRole::Member, &[(analysts, TeamRole::Viewer)]);
        assert_eq!(authorize(&analyst_admin, UseResource, target), Allow);
        assert_eq!(
            authorize(&analyst_admin, ViewResourceDetails, target),
            Forbidden
        );
        assert_eq!(authorize(&analyst_viewer, ViewResource, target), Allow);
        assert_eq!(authorize(&analyst_viewer, UseResource, target), Forbidden);
        // A direct role in the owner team wins over a weaker share.
        let both = principal(
            OrgRole::Member,
            &[(analysts, TeamRole::Viewer), (owner_team, TeamRole::Editor)],
        );
        assert_eq!(authorize(&both, EditResource, target), Allow);
    }

    #[test]
    fn roles_parse_with_a_helpful_error() {
        assert_eq!("editor".parse::<TeamRole>(), Ok(TeamRole::Editor));
        assert_eq!(
            "boss".parse::<TeamRole>().unwrap_err(),
            "unknown team role \"boss\"; expected one of viewer, operator, editor, admin"
        );
        assert_eq!("owner".parse::<OrgRole>(), Ok(OrgRole::Owner));
    }
}
