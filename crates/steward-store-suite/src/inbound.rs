//! Inbound incident webhooks: kept per organisation, edited under a
//! version within scope, deleted; a delivery's signature is claimed once
//! within the window; an external id names one incident.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn incident_webhooks_are_scoped_and_deliveries_claimed_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-inbound").await.unwrap().id;
    let mut hook = IncidentWebhookRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: "helpdesk".into(),
        secret: "s".repeat(40),
        created_by: "alice".into(),
        created_at: 1_000,
        updated_at: 1_000,
        version: 1,
    };
    store.create_incident_webhook(&hook).await.unwrap();
    let scope = Scope::org(org);
    let listed = store.list_incident_webhooks(&scope).await.unwrap();
    assert_eq!(listed, vec![hook.clone()]);
    assert!(
        store
            .list_incident_webhooks(&Scope::org(other))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .get_incident_webhook(&Scope::org(other), hook.id)
            .await,
        Err(StoreError::NotFound)
    ));
    hook.name = "zendesk".into();
    assert_eq!(
        store
            .update_incident_webhook(&scope, &hook, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.update_incident_webhook(&scope, &hook, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    let stored = store.get_incident_webhook(&scope, hook.id).await.unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("zendesk", 2));
    assert_eq!(stored.secret, hook.secret);
    // A signature once within the window; forgotten after it.
    assert!(
        store
            .claim_inbound_delivery(hook.id, "sig", 10_000, 0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_inbound_delivery(hook.id, "sig", 10_001, 0)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_inbound_delivery(hook.id, "sig", 20_000, 15_000)
            .await
            .unwrap()
    );
    // An external id names one incident.
    let incident = IncidentRecord {
        id: Uuid::now_v7(),
        org_id: org,
        title: "from the helpdesk".into(),
        status: "open".into(),
        priority: "p3".into(),
        assignee: None,
        devices: Vec::new(),
        alerts: Vec::new(),
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
    assert_eq!(store.external_incident(hook.id, "T-1").await.unwrap(), None);
    assert!(
        store
            .link_external_incident(hook.id, "T-1", incident.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .link_external_incident(hook.id, "T-1", Uuid::now_v7())
            .await
            .unwrap()
    );
    assert_eq!(
        store.external_incident(hook.id, "T-1").await.unwrap(),
        Some(incident.id)
    );
    assert!(matches!(
        store
            .delete_incident_webhook(&Scope::org(other), hook.id)
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .delete_incident_webhook(&scope, hook.id)
        .await
        .unwrap();
    assert!(
        store
            .list_incident_webhooks(&scope)
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_incident(&scope, incident.id).await.unwrap();
}

pub async fn problem_rules_are_saved_per_organisation_under_a_version(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-rules").await.unwrap().id;
    let scope = Scope::org(org);
    assert!(store.list_problem_rules(&scope).await.unwrap().is_empty());
    let mut rules = ProblemRulesRecord {
        org_id: org,
        rules: serde_json::json!([{ "kind": "repeat", "window_ms": 3600000, "min_count": 3 }]),
        updated_by: "alice".into(),
        updated_at: 1_000,
        version: 0,
    };
    // The first save expects none (0); a second one the version it read.
    assert_eq!(store.save_problem_rules(&rules, Some(0)).await.unwrap(), 1);
    assert!(matches!(
        store.save_problem_rules(&rules, Some(0)).await,
        Err(StoreError::Stale(1))
    ));
    rules.updated_by = "bob".into();
    assert_eq!(store.save_problem_rules(&rules, Some(1)).await.unwrap(), 2);
    assert_eq!(store.save_problem_rules(&rules, None).await.unwrap(), 3);
    let listed = store.list_problem_rules(&scope).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rules, rules.rules);
    assert_eq!(
        (listed[0].updated_by.as_str(), listed[0].version),
        ("bob", 3)
    );
    assert!(
        store
            .list_problem_rules(&Scope::org(other))
            .await
            .unwrap()
            .is_empty()
    );
}
