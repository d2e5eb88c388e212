//! Parts that more than one page shows and that know Hakobu's own things, kept here so that
//! pages use them without reaching into each other: runs as listed, the notification rule
//! editor, the data check editor, the schedule form and the schedules panel, `$name$` variables, sharing with other teams, and a workflow's graph. The generic building blocks
//! (labelled fields, loading and empty states) are in [`crate::components`].

pub mod checks;
pub mod notification_rules;
pub mod runs;
pub mod schedule_form;
pub mod sharing;
pub mod variables;
pub mod workflow_graph;
