//! Sealing stored secrets again: under the newest key (`hakobu rotate-secrets`), or only
//! those sealed before secrets were bound to their place (at every start).
//!
//! Each row is its own transaction, read `FOR UPDATE`: an interrupted rotation resumes
//! where it stopped, two replicas starting at once do not fight, and a second pass finds
//! nothing to do. A row that cannot be resealed (its key is no longer configured) is
//! reported and left as it was.

use crate::db::DbPool;
use crate::schema::{connections, notification_destinations, workflows};
use crate::secrets::{SecretBox, SecretSlot};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hakobu_core::ids::OrganizationId;
use serde_json::Value;
use uuid::Uuid;

/// Which secrets to seal again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every secret not yet sealed under the newest key and bound to its place.
    Rotate,
    /// Only secrets sealed before binding (what a start does).
    BindUnbound,
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub rows_examined: usize,
    pub secrets_resealed: usize,
    /// `table id: reason` for rows left as they were.
    pub failures: Vec<String>,
}

/// The tables that keep secrets, by name: their `secrets` column is a JSON tree whose
/// string leaves are sealed secrets, each bound to its path (`headers.NAME`).
const TABLES: [&str; 3] = ["connections", "notification_destinations", "workflows"];

/// Seals again every secret in `scope`, row by row.
pub async fn reseal_all(
    pool: &DbPool,
    secrets: &SecretBox,
    scope: Scope,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut conn = pool.get().await?;
    for table in TABLES {
        let ids: Vec<Uuid> = match table {
            "connections" => {
                connections::table
                    .select(connections::id)
                    .order(connections::id)
                    .load(&mut conn)
                    .await?
            }
            "workflows" => {
                workflows::table
                    .select(workflows::id)
                    .order(workflows::id)
                    .load(&mut conn)
                    .await?
            }
            _ => {
                notification_destinations::table
                    .select(notification_destinations::id)
                    .order(notification_destinations::id)
                    .load(&mut conn)
                    .await?
            }
        };
        for id in ids {
            report.rows_examined += 1;
            let outcome = conn
                .transaction::<_, anyhow::Error, _>(async |conn| {
                    let row: Option<(Uuid, Value)> = match table {
                        "connections" => connections::table
                            .find(id)
                            .select((connections::organization_id, connections::secrets))
                            .for_update()
                            .first(conn)
                            .await
                            .optional()?,
                        "workflows" => workflows::table
                            .find(id)
                            .select((workflows::organization_id, workflows::secrets))
                            .for_update()
                            .first(conn)
                            .await
                            .optional()?,
                        _ => notification_destinations::table
                            .find(id)
                            .select((
                                notification_destinations::organization_id,
                                notification_destinations::secrets,
                            ))
                            .for_update()
                            .first(conn)
                            .await
                            .optional()?,
                    };
                    let Some((organization, mut tree)) = row else {
                        return Ok(0); // deleted meanwhile
                    };
                    let place = |field: &str| {
                        SecretSlot::new(table, OrganizationId(organization), id, field)
                    };
                    let resealed = reseal_tree(&mut tree, "", &place, secrets, scope)?;
                    if resealed > 0 {
                        match table {
                            "connections" => {
                                diesel::update(connections::table.find(id))
                                    .set(connections::secrets.eq(&tree))
                                    .execute(conn)
                                    .await?
                            }
                            "workflows" => {
                                diesel::update(workflows::table.find(id))
                                    .set(workflows::secrets.eq(&tree))
                                    .execute(conn)
                                    .await?
                            }
                            _ => {
                                diesel::update(notification_destinations::table.find(id))
                                    .set(notification_destinations::secrets.eq(&tree))
                                    .execute(conn)
                                    .await?
                            }
                        };
                    }
                    Ok(resealed)
                })
                .await;
            match outcome {
                Ok(n) => report.secrets_resealed += n,
                Err(e) => report.failures.push(format!("{table} {id}: {e:#}")),
            }
        }
    }
    Ok(report)
}

/// Reseals the string leaves of `tree` in place; answers how many changed.
fn reseal_tree(
    tree: &mut Value,
    path: &str,
    place: &dyn Fn(&str) -> SecretSlot,
    secrets: &SecretBox,
    scope: Scope,
) -> anyhow::Result<usize> {
    match tree {
        Value::String(stored) => {
            if scope == Scope::BindUnbound && !SecretBox::is_unbound(stored) {
                return Ok(0);
            }
            match secrets.reseal(stored, &place(path))? {
                Some(sealed) => {
                    *stored = sealed;
                    Ok(1)
                }
                None => Ok(0),
            }
        }
        Value::Object(map) => {
            let mut n = 0;
            for (key, child) in map.iter_mut() {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                n += reseal_tree(child, &child_path, place, secrets, scope)?;
            }
            Ok(n)
        }
        _ => Ok(0),
    }
}
