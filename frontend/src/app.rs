//! The root component: contexts (language, session), the router and its routes.

use crate::i18n::provide_lang;
use crate::pages::password_reset::{ForgotPasswordPage, ResetPasswordPage};
use crate::pages::{
    accept_invite::AcceptInvitePage, account::AccountPage, audit::AuditPage,
    connections::ConnectionPage, connections::ConnectionsPage, dashboard::DashboardPage,
    data_mart::DataMartPage, job_import::JobImportPage, job_wizard::JobWizardPage, jobs::JobPage,
    jobs::JobsPage, members::MembersPage, not_found::NotFoundPage, runs::RunPage, runs::RunsPage,
    shell::Shell, sign_in::SignInPage, sign_up::SignUpPage, teams::TeamPage, teams::TeamsPage,
    tokens::TokensPage,
};
use crate::pages::{
    destinations::DestinationsPage, insights::InsightsPage, queue::QueuePage,
    schedules::SchedulesPage,
};
use crate::pages::{
    workflow_editor::WorkflowEditorPage, workflow_run::WorkflowRunPage, workflows::WorkflowPage,
    workflows::WorkflowsPage,
};
use crate::session::Session;
use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

#[component]
pub fn App() -> impl IntoView {
    provide_lang();
    Session::provide();
    view! {
        <Router>
            <Routes fallback=NotFoundPage>
                // Pages for people who are not signed in.
                <Route path=path!("/signin") view=SignInPage/>
                <Route path=path!("/signup") view=SignUpPage/>
                <Route path=path!("/invite/:token") view=AcceptInvitePage/>
                // The path of the link in the password reset email.
                <Route path=path!("/forgot-password") view=ForgotPasswordPage/>
                <Route path=path!("/reset-password/:token") view=ResetPasswordPage/>
                // Everything else lives in the shell, which sends signed-out visitors to
                // the sign-in page.
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=DashboardPage/>
                    <Route path=path!("connections") view=ConnectionsPage/>
                    <Route path=path!("connections/new") view=ConnectionPage/>
                    <Route path=path!("connections/:id") view=ConnectionPage/>
                    <Route path=path!("jobs") view=JobsPage/>
                    <Route path=path!("jobs/new") view=JobWizardPage/>
                    <Route path=path!("jobs/new-data-mart") view=DataMartPage/>
                    <Route path=path!("jobs/:id/data-mart") view=DataMartPage/>
                    <Route path=path!("jobs/import") view=JobImportPage/>
                    <Route path=path!("jobs/:id") view=JobPage/>
                    <Route path=path!("jobs/:id/edit") view=JobWizardPage/>
                    <Route path=path!("runs") view=RunsPage/>
                    <Route path=path!("runs/:id") view=RunPage/>
                    <Route path=path!("workflows") view=WorkflowsPage/>
                    <Route path=path!("workflows/new") view=WorkflowEditorPage/>
                    <Route path=path!("workflows/:id") view=WorkflowPage/>
                    <Route path=path!("workflows/:id/edit") view=WorkflowEditorPage/>
                    <Route path=path!("workflow-runs/:id") view=WorkflowRunPage/>
                    <Route path=path!("members") view=MembersPage/>
                    <Route path=path!("teams") view=TeamsPage/>
                    <Route path=path!("teams/:id") view=TeamPage/>
                    <Route path=path!("tokens") view=TokensPage/>
                    <Route path=path!("audit") view=AuditPage/>
                    <Route path=path!("notifications") view=DestinationsPage/>
                    <Route path=path!("schedules") view=SchedulesPage/>
                    <Route path=path!("queue") view=QueuePage/>
                    <Route path=path!("insights") view=InsightsPage/>
                    <Route path=path!("account") view=AccountPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
