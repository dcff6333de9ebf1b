//! SLA targets: one per organisation and priority, edited under a version
//! within scope, deleted; a warning is claimed once per incident and
//! threshold.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn sla_targets_are_kept_per_priority_and_warnings_claimed_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-sla").await.unwrap().id;
    let mut p1 = SlaTargetRecord {
        id: Uuid::now_v7(),
        org_id: org,
        priority: "p1".into(),
        acknowledge_ms: Some(900_000),
        resolve_ms: Some(14_400_000),
        updated_by: "alice".into(),
        updated_at: 1_000,
        version: 1,
    };
    store.create_sla_target(&p1).await.unwrap();
    // One per organisation and priority.
    let again = SlaTargetRecord {
        id: Uuid::now_v7(),
        ..p1.clone()
    };
    assert!(matches!(
        store.create_sla_target(&again).await,
        Err(StoreError::Conflict(_))
    ));
    let scope = Scope::org(org);
    assert_eq!(
        store.list_sla_targets(&scope).await.unwrap(),
        vec![p1.clone()]
    );
    assert!(
        store
            .list_sla_targets(&Scope::org(other))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.get_sla_target(&Scope::org(other), p1.id).await,
        Err(StoreError::NotFound)
    ));

    p1.acknowledge_ms = None;
    p1.updated_by = "bob".into();
    assert_eq!(
        store.update_sla_target(&scope, &p1, Some(1)).await.unwrap(),
        2
    );
    assert!(matches!(
        store.update_sla_target(&scope, &p1, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    assert!(matches!(
        store.update_sla_target(&Scope::org(other), &p1, None).await,
        Err(StoreError::NotFound)
    ));
    let stored = store.get_sla_target(&scope, p1.id).await.unwrap();
    assert_eq!(
        (
            stored.acknowledge_ms,
            stored.resolve_ms,
            stored.updated_by.as_str(),
            stored.version
        ),
        (None, Some(14_400_000), "bob", 2)
    );

    // A warning is claimed once per incident and threshold.
    let incident = IncidentRecord {
        id: Uuid::now_v7(),
        org_id: org,
        title: "mail down".into(),
        status: "open".into(),
        priority: "p1".into(),
        assignee: None,
        devices: vec![],
        alerts: vec![],
        time_spent_ms: 0,
        opened_at: 1_000,
        opened_by: "alice".into(),
        acknowledged_at: None,
        resolved_at: None,
        closed_at: None,
        last_activity: 1_000,
        version: 1,
    };
    store.create_incident(&incident, &[]).await.unwrap();
    let warning = |threshold: &str, at: i64| SlaWarning {
        org_id: org,
        incident: incident.id,
        threshold: threshold.into(),
        at,
        timeline: TimelineEntry {
            at,
            actor: "sla".into(),
            kind: "sla".into(),
            body: serde_json::json!({ "threshold": threshold }),
        },
        severity: "warning".into(),
        payload: serde_json::json!({ "kind": "sla", "threshold": threshold }).to_string(),
        audit: NewAuditEntry {
            org_id: Some(org),
            at: at / 1000,
            actor: "alice".into(),
            source: "sla".into(),
            action: "sla.at_risk".into(),
            target: incident.id.to_string(),
            detail: threshold.into(),
        },
    };
    let audits = || async {
        store
            .audit_entries(
                &Scope::all(),
                0,
                10_000,
                &AuditFilter {
                    action: Some("sla.at_risk".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .len()
    };
    let audit_before = audits().await;
    assert!(
        store
            .record_sla_warning(&warning("resolve.at_risk", 2_000))
            .await
            .unwrap()
    );
    // Once: the second claim writes nothing at all.
    assert!(
        !store
            .record_sla_warning(&warning("resolve.at_risk", 3_000))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_sla_warning(&warning("resolve.breached", 3_000))
            .await
            .unwrap()
    );
    let timeline = store.incident_timeline(&scope, incident.id).await.unwrap();
    let sla: Vec<_> = timeline.iter().filter(|e| e.kind == "sla").collect();
    assert_eq!(sla.len(), 2, "one timeline entry per recorded warning");
    assert_eq!(
        audits().await,
        audit_before + 2,
        "one audit entry per recorded warning"
    );
    // A warning of an incident that is not there writes nothing, claim included.
    let mut stray = warning("resolve.at_risk", 4_000);
    stray.incident = Uuid::now_v7();
    assert!(store.record_sla_warning(&stray).await.is_err());
    // The incident goes, its claims with it.
    store.delete_incident(&scope, incident.id).await.unwrap();

    assert!(matches!(
        store.delete_sla_target(&Scope::org(other), p1.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_sla_target(&scope, p1.id).await.unwrap();
    assert!(store.list_sla_targets(&scope).await.unwrap().is_empty());
}
