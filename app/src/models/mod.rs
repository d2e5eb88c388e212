//! Database rows and the queries on them. Per table: the row struct, `NewX` for inserts,
//! `XChangeset` for updates where needed, and functions that take the organization id
//! explicitly and return diesel's `QueryResult`.

pub mod api_token;
pub mod audit;
pub mod connection;
pub mod destination;
pub mod invitation;
pub mod job;
pub mod login_attempt;
pub mod notification_outbox;
pub mod notification_rule;
pub mod organization;
pub mod password_reset;
pub mod run;
pub mod run_check;
pub mod schedule;
pub mod session;
pub mod team;
pub mod user;
