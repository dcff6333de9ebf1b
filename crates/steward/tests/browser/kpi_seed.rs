//! A known KPI history written straight into a server's store, for the
//! KPI page's browser walk.

use crate::common::*;

/// Writes a known history into the server's store for the month before
/// now: two devices (site hq offline for 0.5 % of the month, site branch
/// never), and three incidents on the hq device acknowledged after 2, 4
/// and 6 minutes and resolved after 30, 60 and 90. Returns the month.
pub async fn seed_kpi_history(server: &Server) -> String {
    use steward_incident::report::Period;
    use steward_store::*;
    let store = match &server.database {
        Some(db) => steward_store_sql::SqlStore::connect_postgres(&db.url)
            .await
            .unwrap(),
        None => steward_store_sql::SqlStore::open_sqlite(&server.dir.join("steward.db"))
            .await
            .unwrap(),
    };
    const DAY: i64 = 86_400_000;
    const MINUTE: i64 = 60_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let month = Period::before("monthly", now);
    let org = store.default_org().await.unwrap().id;
    let mut web = uuid::Uuid::nil();
    for (name, site, outage) in [
        ("kpi-web", "hq", (month.until - month.since) / 200),
        ("kpi-db", "branch", 0),
    ] {
        let id = uuid::Uuid::now_v7();
        store
            .create_device(&NewDevice {
                id,
                org_id: org,
                site: site.into(),
                name: name.into(),
                hostname: name.into(),
                tags: Vec::new(),
                cert_fingerprint: format!("seeded-{id}"),
                enrolled_at: (month.since - 10 * DAY) / 1000,
            })
            .await
            .unwrap();
        store
            .set_status(id, Status::Online, month.since - 10 * DAY)
            .await
            .unwrap();
        if outage > 0 {
            web = id;
            let down = month.since + 100 * 60 * MINUTE;
            store.set_status(id, Status::Offline, down).await.unwrap();
            store
                .set_status(id, Status::Online, down + outage)
                .await
                .unwrap();
        }
    }
    for (n, (ack, resolve)) in [(2, 30), (4, 60), (6, 90)].into_iter().enumerate() {
        let opened = month.since + DAY + n as i64 * 3 * 60 * MINUTE;
        store
            .create_incident(
                &IncidentRecord {
                    id: uuid::Uuid::now_v7(),
                    org_id: org,
                    title: format!("seeded incident {n}"),
                    status: "resolved".into(),
                    priority: "p2".into(),
                    assignee: None,
                    devices: vec![web],
                    alerts: Vec::new(),
                    time_spent_ms: 0,
                    opened_at: opened,
                    opened_by: "admin".into(),
                    acknowledged_at: Some(opened + ack * MINUTE),
                    resolved_at: Some(opened + resolve * MINUTE),
                    closed_at: None,
                    last_activity: opened + resolve * MINUTE,
                    version: 1,
                },
                &[],
            )
            .await
            .unwrap();
    }
    month.label
}
