//! Checks of job settings against the real databases, at save time: a merge needs a key,
//! and column changes must name existing columns and casts the engine can do.
//!
//! They need the source or destination to answer. When it does not (a network blip, a
//! database still being set up), the check is skipped: saving should not depend on it,
//! and the run reports the same problem in plain words.

use crate::error::ApiError;
use crate::extract::Auth;
use crate::models::connection::Connection;
use crate::services::access::load_authorized;
use crate::services::engine_bridge;
use crate::state::AppState;
use diesel_async::AsyncPgConnection;
use hakobu_core::authz::Action;
use hakobu_core::config::{ColumnType, Mode};
use hakobu_core::job::{ColumnChange, JobSettings, can_cast};
use hakobu_core::validation::FieldErrors;
use hakobu_core::variables::VariableValue;
use std::collections::BTreeMap;

pub async fn check_against_databases(
    state: &AppState,
    settings: &JobSettings,
    source: &Connection,
    destination: &Connection,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    check_merge_key(state, settings, destination, &mut errors).await?;
    check_column_changes(state, settings, source, &mut errors).await?;
    errors.into_result().map_err(ApiError::Validation)
}

async fn check_merge_key(
    state: &AppState,
    settings: &JobSettings,
    destination: &Connection,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let d = &settings.destination;
    let (Some(table), true) = (
        &d.table,
        matches!(d.mode, Mode::Merge | Mode::MergeDirect) && d.merge_keys.is_empty(),
    ) else {
        return Ok(());
    };
    let Some(target) = engine_bridge::database(state, destination)? else {
        return Ok(());
    };
    let schema = engine_bridge::schema_or_default(destination, table.schema.as_deref());
    let exists = match engine_bridge::list_columns(state, &target, &schema, &table.name).await {
        Ok(columns) => !columns.items.is_empty(),
        Err(e) => {
            tracing::info!(error = %e, "merge key check skipped: destination unreachable");
            return Ok(());
        }
    };
    let key = engine_bridge::primary_key(state, &target, &schema, &table.name)
        .await
        .unwrap_or_default();
    if !exists {
        errors.push(
            "settings.destination.merge_keys",
            format!("are required: the table {} does not exist yet, so it has no primary key to merge on; list the columns that identify a row", table.name),
        );
    } else if key.is_empty() {
        errors.push(
            "settings.destination.merge_keys",
            format!("are required: the table {} has no primary key; list the columns that identify a row", table.name),
        );
    }
    Ok(())
}

/// The source's columns and types as the engine reads them.
async fn source_columns(
    state: &AppState,
    settings: &JobSettings,
    source: &Connection,
) -> Result<Option<Vec<(String, String)>>, ApiError> {
    let s = &settings.source;
    if let Some(files) = &s.files {
        return Ok(Some(
            files
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.type_.to_string()))
                .collect(),
        ));
    }
    let Some(target) = engine_bridge::database(state, source)? else {
        return Ok(None);
    };
    let preview = engine_bridge::preview(
        state,
        source,
        &target,
        s.table.as_ref(),
        s.query.as_deref(),
        1,
    )
    .await;
    Ok(preview
        .ok()
        .map(|p| p.columns.into_iter().map(|c| (c.name, c.type_)).collect()))
}

async fn check_column_changes(
    state: &AppState,
    settings: &JobSettings,
    source: &Connection,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    if settings.columns.is_empty() && settings.masks.is_empty() {
        return Ok(());
    }
    let Some(columns) = source_columns(state, settings, source).await? else {
        return Ok(());
    };
    let mut types: BTreeMap<String, Option<ColumnType>> = columns
        .into_iter()
        .map(|(n, t)| (n, t.parse().ok()))
        .collect();
    let missing = |types: &BTreeMap<String, Option<ColumnType>>, name: &str| {
        let known: Vec<&str> = types.keys().map(String::as_str).collect();
        format!(
            "there is no column {name:?} at this step; the columns are {}",
            known.join(", ")
        )
    };
    for (i, change) in settings.columns.iter().enumerate() {
        let field = |f: &str| format!("settings.columns[{i}].{f}");
        match change {
            ColumnChange::Rename { column, to } => match types.remove(column) {
                Some(t) => {
                    types.insert(to.clone(), t);
                }
                None => errors.push(field("column"), missing(&types, column)),
            },
            ColumnChange::Drop { column } => {
                if types.remove(column).is_none() {
                    errors.push(field("column"), missing(&types, column));
                }
            }
            ColumnChange::Cast { column, to, .. } => match types.get(column) {
                None => errors.push(field("column"), missing(&types, column)),
                Some(Some(from)) if !can_cast(*from, *to) => {
                    errors.push(field("to"), format!("a {from} column cannot become {to}; cast it to string first, or choose another type"))
                }
                Some(_) => {
                    types.insert(column.clone(), Some(*to));
                }
            },
            ColumnChange::Add { column, type_, .. } => {
                types.insert(column.clone(), Some(*type_));
            }
        }
    }
    for (i, mask) in settings.masks.iter().enumerate() {
        if !types.contains_key(&mask.column) {
            errors.push(
                format!("settings.masks[{i}].column"),
                missing(&types, &mask.column),
            );
        }
    }
    Ok(())
}

/// Save-time rules for the checks and query variables of `settings`: each check names a
/// database connection the caller may use (operator or more), like the job's source and
/// destination; each query variable's connection needs the same right.
pub async fn check_connections(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    settings: &JobSettings,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    for (i, check) in settings.checks.iter().enumerate() {
        let field = format!("settings.checks[{i}].connection_id");
        match load_authorized(
            conn,
            auth,
            check.connection_id,
            Action::UseResource,
            "use this connection",
        )
        .await
        {
            Ok((c, _)) if !c.kind.is_database() && !c.kind.is_warehouse() => errors.push(
                field,
                "must be a database (PostgreSQL, MySQL) or data warehouse (BigQuery, Snowflake) connection: data checks run SQL",
            ),
            Ok(_) => {}
            Err(ApiError::NotFound(_)) => errors.push(field, "is not a connection you can see"),
            Err(ApiError::Forbidden(_)) => errors.push(
                field,
                "is a connection your role may not use (operator or higher is needed)",
            ),
            Err(other) => return Err(other),
        }
    }
    // A query variable's SQL runs on its connection with that connection's password, so
    // it needs the same right as the source or destination: operator or more.
    for (i, v) in settings.variables.iter().enumerate() {
        let VariableValue::Query { connection_id, .. } = &v.value else {
            continue;
        };
        let field = format!("settings.variables[{i}].value.connection_id");
        match load_authorized(
            conn,
            auth,
            *connection_id,
            Action::UseResource,
            "use this connection",
        )
        .await
        {
            Ok(_) => {}
            Err(ApiError::NotFound(_)) => errors.push(field, "is not a connection you can see"),
            Err(ApiError::Forbidden(_)) => errors.push(
                field,
                "is a connection your role may not use (operator or higher is needed)",
            ),
            Err(other) => return Err(other),
        }
    }
    Ok(())
}
