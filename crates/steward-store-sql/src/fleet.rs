//! The console's fleet views: filtered device pages, headline figures and
//! their daily history, bulk tags, a device's job history.

use crate::db::{Kind, Q, Row, q};
use crate::devices::{SUMMARY_COLUMNS, summary};
use crate::dialect;
use crate::jobs::run_record;
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

/// A WHERE clause built from a [`DeviceQuery`]; `?1` is always the scope.
struct Filter {
    conditions: Vec<String>,
    args: Vec<String>,
}

impl Filter {
    fn new(kind: Kind) -> Self {
        Self {
            conditions: vec![dialect::in_scope(kind, 1, "d.org_id", Some("d.site"))],
            args: Vec::new(),
        }
    }

    /// Adds `arg` and returns its placeholder.
    fn arg(&mut self, arg: String) -> String {
        self.args.push(arg);
        format!("${}", self.args.len() + 1)
    }

    fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn sql(&self) -> String {
        self.conditions.join(" AND ")
    }

    fn bind(&self, mut query: Q) -> Q {
        for arg in &self.args {
            query = query.bind(arg.as_str());
        }
        query
    }
}

const UNRESOLVED: &str =
    "(SELECT COUNT(*) FROM alerts a WHERE a.device_id = d.id AND a.state != 'resolved')";
const FAILING: &str = "EXISTS (SELECT 1 FROM check_results c WHERE c.device_id = d.id AND c.state IN ('warning', 'critical'))";

/// The device `d` has an open forecast alert.
fn forecasting(kind: Kind) -> String {
    format!(
        "EXISTS (SELECT 1 FROM alerts a JOIN monitors m ON m.id = a.monitor_id
         WHERE a.device_id = d.id AND a.state != 'resolved' AND {} = 'forecast')",
        dialect::json_text(kind, "m.definition", &["spec", "kind"])
    )
}

/// The device `d` has pending updates.
fn updates(kind: Kind) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {})",
        dialect::json_elements(kind, "d.inventory", Some("updates"), "u")
    )
}

/// The device `d` has pending security updates.
fn security_updates(kind: Kind) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} WHERE {})",
        dialect::json_elements(kind, "d.inventory", Some("updates"), "u"),
        dialect::element_flag(kind, "u", "security")
    )
}

fn filter_for(kind: Kind, query: &DeviceQuery) -> Filter {
    let mut f = Filter::new(kind);
    // Retired devices are gone from every page; revoked ones on request.
    f.and("d.retired_at IS NULL".into());
    if !query.include_revoked {
        f.and("NOT d.revoked".into());
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let p = f.arg(dialect::contains_pattern(kind, q));
        let any = ["d.name", "d.hostname", "d.os", "d.tags", "d.id"]
            .map(|column| dialect::contains(kind, column, &p))
            .join(" OR ");
        f.and(format!("({any})"));
    }
    if let Some(status) = query.status {
        let p = f.arg(status.as_str().into());
        f.and(format!("d.status = {p}"));
    }
    if let Some(os) = query.os.as_deref().filter(|s| !s.is_empty()) {
        let p = f.arg(dialect::contains_pattern(kind, os));
        f.and(dialect::contains(kind, "d.os", &p));
    }
    if let Some(org) = query.org {
        let p = f.arg(org.to_string());
        f.and(format!("d.org_id = {p}"));
    }
    if let Some(site) = query.site.as_deref().filter(|s| !s.is_empty()) {
        let p = f.arg(site.into());
        f.and(format!("d.site = {p}"));
    }
    if let Some(tag) = query.tag.as_deref().filter(|s| !s.is_empty()) {
        let p = f.arg(tag.into());
        f.and(format!(
            "EXISTS (SELECT 1 FROM {} WHERE {} = {p})",
            dialect::json_elements(kind, "d.tags", None, "t"),
            dialect::element_text(kind, "t")
        ));
    }
    match query.alerts {
        Some(AlertFilter::Any) => f.and(format!("{UNRESOLVED} > 0")),
        Some(AlertFilter::None) => f.and(format!("{UNRESOLVED} = 0")),
        Some(AlertFilter::Critical) => f.and(
            "EXISTS (SELECT 1 FROM alerts a WHERE a.device_id = d.id AND a.state != 'resolved' AND a.severity = 'critical')".into(),
        ),
        None => {}
    }
    if query.failing_checks {
        f.and(FAILING.into());
    }
    if query.forecast {
        f.and(forecasting(kind));
    }
    if query.missing_updates {
        f.and(updates(kind));
    }
    f
}

fn order_by(kind: Kind, sort: DeviceSort, desc: bool) -> String {
    let text = |column| dialect::nocase(kind, column);
    let direction = if desc { "DESC" } else { "ASC" };
    let column = match sort {
        // Names are never missing, and the name is its own tie-break.
        DeviceSort::Name => return format!("{} {direction}, d.name, d.id", text("d.name")),
        DeviceSort::Hostname => text("d.hostname"),
        DeviceSort::Os => text("d.os"),
        DeviceSort::Site => text("d.site"),
        DeviceSort::Status => "d.status".into(),
        DeviceSort::LastSeen => "d.last_seen".into(),
        DeviceSort::Cpu => "d.cpu".into(),
        DeviceSort::Memory => "d.mem".into(),
        DeviceSort::Disk => "d.disk".into(),
        // The count is never missing: the page's own column, by its name
        // (computed once per row).
        DeviceSort::Alerts => {
            return format!("open_alerts {direction}, {}, d.id", text("d.name"));
        }
    };
    // Missing figures last either way; then a stable order.
    format!(
        "{column} IS NULL, {column} {direction}, {}, d.id",
        text("d.name")
    )
}

/// `d.`-qualified summary columns.
fn qualified_columns() -> String {
    SUMMARY_COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The figures of a row with one column per [`FleetCounts`] field.
fn counts(row: &Row) -> FleetCounts {
    let n = |c: &str| row.get::<i64, _>(c).max(0) as u64;
    FleetCounts {
        devices: n("devices"),
        online: n("online"),
        offline: n("offline"),
        alerts_critical: n("alerts_critical"),
        alerts_warning: n("alerts_warning"),
        forecast_full: n("forecast_full"),
        failing_checks: n("failing_checks"),
        missing_updates: n("missing_updates"),
        security_updates: n("security_updates"),
    }
}

impl SqlStore {
    async fn fleet_counts_where(&self, places: &str, scope: &Scope) -> Result<FleetCounts> {
        let kind = self.kind();
        let (forecasting, updates, security) =
            (forecasting(kind), updates(kind), security_updates(kind));
        let sql = format!(
            "SELECT COUNT(*) AS devices,
                    COUNT(*) FILTER (WHERE d.status = 'online') AS online,
                    COUNT(*) FILTER (WHERE d.status != 'online') AS offline,
                    COUNT(*) FILTER (WHERE {forecasting}) AS forecast_full,
                    COUNT(*) FILTER (WHERE {FAILING}) AS failing_checks,
                    COUNT(*) FILTER (WHERE {updates}) AS missing_updates,
                    COUNT(*) FILTER (WHERE {security}) AS security_updates,
                    (SELECT COUNT(*) FROM alerts a JOIN devices d ON d.id = a.device_id
                      WHERE a.state != 'resolved' AND a.severity = 'critical' AND NOT d.revoked AND {places}) AS alerts_critical,
                    (SELECT COUNT(*) FROM alerts a JOIN devices d ON d.id = a.device_id
                      WHERE a.state != 'resolved' AND a.severity = 'warning' AND NOT d.revoked AND {places}) AS alerts_warning
             FROM devices d WHERE NOT d.revoked AND {places}"
        );
        let row = q(sql)
            .bind(scope_param(scope))
            .fetch_one(&self.db)
            .await
            .map_err(backend)?;
        Ok(counts(&row))
    }
}

#[async_trait]
impl FleetStore for SqlStore {
    async fn device_page(&self, scope: &Scope, query: &DeviceQuery) -> Result<DevicePage> {
        let filter = filter_for(self.kind(), query);
        let limit = match query.limit {
            0 => 50,
            n => n.min(MAX_PAGE),
        };
        let count_sql = format!("SELECT COUNT(*) FROM devices d WHERE {}", filter.sql());
        let total: i64 = filter
            .bind(q(count_sql).bind(scope_param(scope)))
            .fetch_one(&self.db)
            .await
            .map_err(backend)?
            .get(0);
        let page_sql = format!(
            "SELECT {}, {UNRESOLVED} AS open_alerts FROM devices d WHERE {} ORDER BY {} LIMIT {limit} OFFSET {}",
            qualified_columns(),
            filter.sql(),
            order_by(self.kind(), query.sort, query.desc),
            query.offset
        );
        let rows = filter
            .bind(q(page_sql).bind(scope_param(scope)))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(DeviceRow {
                    summary: summary(row)?,
                    open_alerts: row.get::<i64, _>("open_alerts").max(0) as u32,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DevicePage {
            total: total.max(0) as u64,
            items,
        })
    }

    async fn change_tags(
        &self,
        scope: &Scope,
        devices: &[Uuid],
        add: &[String],
        remove: &[String],
    ) -> Result<u64> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let sql = format!(
            "SELECT id, tags FROM devices d WHERE d.id = $2 AND {}",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        let scope_json = scope_param(scope);
        let mut changed = 0;
        for device in devices {
            let Some(row) = q(sql.clone())
                .bind(&scope_json)
                .bind(device.to_string())
                .fetch_optional(&mut tx)
                .await
                .map_err(backend)?
            else {
                continue;
            };
            let mut tags: Vec<String> =
                serde_json::from_str(&row.get::<String, _>("tags")).unwrap_or_default();
            let before = tags.clone();
            tags.retain(|t| !remove.contains(t));
            for tag in add {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
            if tags != before {
                q("UPDATE devices SET tags = $1 WHERE id = $2")
                    .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
                    .bind(device.to_string())
                    .execute(&mut tx)
                    .await
                    .map_err(backend)?;
                changed += 1;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(changed)
    }

    async fn fleet_counts(&self, scope: &Scope) -> Result<FleetCounts> {
        self.fleet_counts_where(&self.in_scope(1, "d.org_id", Some("d.site")), scope)
            .await
    }

    async fn record_fleet_day(&self, day: i64) -> Result<()> {
        let places = q("SELECT DISTINCT org_id, site FROM devices WHERE NOT revoked")
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let mut days = Vec::with_capacity(places.len());
        for place in &places {
            let org: String = place.get("org_id");
            let site: String = place.get("site");
            let scope = Scope {
                allow: vec![Place {
                    org: Some(uuid(&org)?),
                    site: Some(site.clone()),
                }],
                deny: Vec::new(),
            };
            let counts = self
                .fleet_counts_where(&self.in_scope(1, "d.org_id", Some("d.site")), &scope)
                .await?;
            days.push((org, site, counts));
        }
        let mut tx = self.db.begin().await.map_err(backend)?;
        for (org, site, c) in days {
            q(
                "INSERT INTO fleet_days (org_id, site, day, devices, online, offline, alerts_critical, alerts_warning, forecast_full, failing_checks, missing_updates, security_updates)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (org_id, site, day) DO UPDATE SET devices = excluded.devices, online = excluded.online, offline = excluded.offline,
                     alerts_critical = excluded.alerts_critical, alerts_warning = excluded.alerts_warning, forecast_full = excluded.forecast_full,
                     failing_checks = excluded.failing_checks, missing_updates = excluded.missing_updates, security_updates = excluded.security_updates",
            )
            .bind(org)
            .bind(site)
            .bind(day)
            .bind(c.devices as i64)
            .bind(c.online as i64)
            .bind(c.offline as i64)
            .bind(c.alerts_critical as i64)
            .bind(c.alerts_warning as i64)
            .bind(c.forecast_full as i64)
            .bind(c.failing_checks as i64)
            .bind(c.missing_updates as i64)
            .bind(c.security_updates as i64)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn fleet_history(&self, scope: &Scope, since_day: i64) -> Result<Vec<FleetDay>> {
        let sql = format!(
            "SELECT day, CAST(SUM(devices) AS BIGINT) AS devices, CAST(SUM(online) AS BIGINT) AS online, CAST(SUM(offline) AS BIGINT) AS offline,
                    CAST(SUM(alerts_critical) AS BIGINT) AS alerts_critical, CAST(SUM(alerts_warning) AS BIGINT) AS alerts_warning,
                    CAST(SUM(forecast_full) AS BIGINT) AS forecast_full, CAST(SUM(failing_checks) AS BIGINT) AS failing_checks,
                    CAST(SUM(missing_updates) AS BIGINT) AS missing_updates, CAST(SUM(security_updates) AS BIGINT) AS security_updates
             FROM fleet_days f WHERE f.day >= $2 AND {} GROUP BY day ORDER BY day",
            self.in_scope(1, "f.org_id", Some("f.site"))
        );
        let rows = q(sql)
            .bind(scope_param(scope))
            .bind(since_day)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| FleetDay {
                day: row.get("day"),
                counts: counts(row),
            })
            .collect())
    }

    async fn device_runs(&self, scope: &Scope, device: Uuid, limit: u32) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT r.*, d.name AS device_name FROM job_runs r JOIN devices d ON d.id = r.device_id
             JOIN jobs j ON j.id = r.job_id
             WHERE r.device_id = $2 AND {} ORDER BY j.created_at DESC, r.run_id LIMIT {}",
            self.in_scope(1, "d.org_id", Some("d.site")),
            limit.clamp(1, 500)
        );
        self.scoped_by(sql, scope, &device.to_string())
            .await?
            .iter()
            .map(run_record)
            .collect()
    }
}
