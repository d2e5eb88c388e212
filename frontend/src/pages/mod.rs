//! One module per page. Each page loads what it shows, shows loading, empty and error
//! states, and asks the session's policy what the signed-in user may do.

pub mod accept_invite;
pub mod account;
pub mod audit;
pub mod connections;
pub mod dashboard;
pub mod data_mart;
pub mod destinations;
pub mod insights;
pub mod job_import;
pub mod job_wizard;
pub mod jobs;
pub mod members;
pub mod not_found;
pub mod password_reset;
pub mod queue;
pub mod runs;
pub mod schedules;
pub mod shell;
pub mod sign_in;
pub mod sign_up;
pub mod teams;
pub mod tokens;
pub mod workflow_editor;
pub mod workflow_run;
pub mod workflows;
