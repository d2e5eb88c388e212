//! The audit log, for organization admins: filtered pages as JSON, or CSV for export.

use crate::error::ApiError;
use crate::extract::Auth;
use crate::models::audit::{AuditEntry, AuditFilter};
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use hakobu_core::api::audit::AuditEntryView;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::{MAX_PER_PAGE, Page};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::UserId;
use hakobu_core::messages::MessageCode;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit).service(export_audit_csv);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// `team.create`, or a prefix such as `team` for every team action.
    action: Option<String>,
    /// Only changes made by this user.
    actor: Option<UserId>,
    target_type: Option<String>,
    target_id: Option<String>,
    /// From this instant (inclusive), RFC 3339.
    from: Option<DateTime<Utc>>,
    /// Until this instant (exclusive), RFC 3339.
    to: Option<DateTime<Utc>>,
    /// 1-based page number.
    page: Option<i64>,
    per_page: Option<i64>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        AuditFilter {
            action: self.action.clone().filter(|s| !s.is_empty()),
            actor_user_id: self.actor,
            target_type: self.target_type.clone().filter(|s| !s.is_empty()),
            target_id: self.target_id.clone().filter(|s| !s.is_empty()),
            from: self.from,
            to: self.to,
        }
    }

    fn paging(&self) -> Result<(i64, i64), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        if page < 1 {
            return Err(ApiError::field("page", "must be 1 or more"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::field(
                "per_page",
                MessageCode::FromTo.with("from", 1).with("to", MAX_PER_PAGE),
            ));
        }
        Ok((page, per_page))
    }
}

#[utoipa::path(tag = "audit", params(AuditQuery), responses(
    (status = 200, body = Page<AuditEntryView>), (status = 403, body = ErrorBody)))]
#[get("/api/audit")]
async fn list_audit(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<Page<AuditEntryView>>, ApiError> {
    auth.require(
        Action::ViewAuditLog,
        Target::Organization,
        "read the audit log",
    )?;
    let (page, per_page) = query.paging()?;
    let mut conn = state.pool.get().await?;
    let (items, total) = AuditEntry::page(
        &mut conn,
        auth.organization_id,
        &query.filter(),
        (page - 1) * per_page,
        per_page,
    )
    .await?;
    Ok(web::Json(Page {
        items: items.into_iter().map(AuditEntry::view).collect(),
        total,
        page,
        per_page,
        total_capped: false,
        next: None,
    }))
}

/// Most rows one CSV export holds; narrow the time range for more.
const CSV_MAX_ROWS: i64 = 100_000;

/// The filtered audit log as CSV (newest first, at most 100,000 rows).
#[utoipa::path(tag = "audit", params(AuditQuery), responses(
    (status = 200, description = "CSV with a header line", content_type = "text/csv"), (status = 403, body = ErrorBody)))]
#[get("/api/audit.csv")]
async fn export_audit_csv(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ViewAuditLog,
        Target::Organization,
        "read the audit log",
    )?;
    let mut conn = state.pool.get().await?;
    let (items, _) = AuditEntry::page(
        &mut conn,
        auth.organization_id,
        &query.filter(),
        0,
        CSV_MAX_ROWS,
    )
    .await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "time",
        "actor_email",
        "actor_user_id",
        "action",
        "target_type",
        "target_id",
        "details",
        "ip",
    ])
    .map_err(anyhow::Error::from)?;
    for e in items {
        out.write_record([
            e.created_at.to_rfc3339(),
            e.actor_email.unwrap_or_default(),
            e.actor_user_id.map(|u| u.to_string()).unwrap_or_default(),
            e.action,
            e.target_type,
            e.target_id.unwrap_or_default(),
            e.details.to_string(),
            e.ip.unwrap_or_default(),
        ])
        .map_err(anyhow::Error::from)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"hakobu-audit.csv\"",
        ))
        .body(body))
}
