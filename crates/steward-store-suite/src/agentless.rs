//! Agentless devices: created with a probing agent of their organisation,
//! listed and edited within scope, their probes kept per device and handed
//! to the agent that probes them; their status is "unknown" until results
//! come, and they never count as agents for the status tracker.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn new_device(org: Uuid, name: &str) -> NewDevice {
    NewDevice {
        id: Uuid::now_v7(),
        org_id: org,
        site: "hq".into(),
        name: name.into(),
        hostname: "192.0.2.10".into(),
        tags: vec![],
        cert_fingerprint: String::new(),
        enrolled_at: 1,
    }
}

pub async fn agentless_devices_are_probed_by_an_agent_of_their_organisation(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-agentless").await.unwrap().id;
    let agent = crate::device(store.as_ref(), org, "fp-prober").await;
    let stranger = crate::device(store.as_ref(), other, "fp-stranger").await;
    let fields = |probe_agent| AgentlessFields {
        category: "switch".into(),
        address: "192.0.2.10".into(),
        probe_agent,
    };
    // The probing agent must be of the same organisation.
    let refused = new_device(org, "core-switch");
    assert!(matches!(
        store.create_agentless(&refused, &fields(stranger)).await,
        Err(StoreError::NotFound)
    ));
    let switch = new_device(org, "core-switch");
    store
        .create_agentless(&switch, &fields(agent))
        .await
        .unwrap();
    let scope = Scope::org(org);
    let listed = store.list_devices(&scope).await.unwrap();
    let row = listed.iter().find(|d| d.id == switch.id).unwrap();
    assert_eq!(row.kind, "agentless");
    assert_eq!(row.category.as_deref(), Some("switch"));
    assert_eq!(row.address.as_deref(), Some("192.0.2.10"));
    assert_eq!(row.probe_agent, Some(agent));
    assert_eq!(row.status, Status::Unknown);
    let prober = listed.iter().find(|d| d.id == agent).unwrap();
    assert_eq!(prober.kind, "agent");
    assert_eq!(prober.probe_agent, None);
    // Not an agent to the status tracker: no heartbeat deadline, ever.
    store
        .set_status(switch.id, Status::Online, 5)
        .await
        .unwrap();
    assert!(
        store
            .device_statuses()
            .await
            .unwrap()
            .iter()
            .all(|(d, _)| *d != switch.id)
    );
    assert!(
        !store
            .stale_online(i64::MAX)
            .await
            .unwrap()
            .contains(&switch.id)
    );
    assert_eq!(store.agentless_of(agent).await.unwrap(), vec![switch.id]);
    assert!(store.agentless_of(stranger).await.unwrap().is_empty());

    // Probes: one name per device, within scope.
    let probe = ProbeRecord {
        id: Uuid::now_v7(),
        org_id: org,
        device_id: switch.id,
        name: "snmp".into(),
        url: "snmp://192.0.2.10".into(),
        created_by: "alice".into(),
        created_at: 7,
    };
    store.add_probe(&scope, &probe).await.unwrap();
    let twice = ProbeRecord {
        id: Uuid::now_v7(),
        ..probe.clone()
    };
    assert!(matches!(
        store.add_probe(&scope, &twice).await,
        Err(StoreError::Conflict(_))
    ));
    let elsewhere = ProbeRecord {
        id: Uuid::now_v7(),
        name: "other".into(),
        ..probe.clone()
    };
    assert!(matches!(
        store.add_probe(&Scope::org(other), &elsewhere).await,
        Err(StoreError::NotFound)
    ));
    // Not on an agent's own row.
    let on_agent = ProbeRecord {
        id: Uuid::now_v7(),
        device_id: agent,
        ..probe.clone()
    };
    assert!(store.add_probe(&scope, &on_agent).await.is_err());
    assert_eq!(
        store.device_probes(&scope, switch.id).await.unwrap(),
        vec![probe.clone()]
    );
    assert!(
        store
            .device_probes(&Scope::org(other), switch.id)
            .await
            .unwrap()
            .is_empty()
    );
    let assigned = store.probes_for_agent(agent).await.unwrap();
    assert_eq!(
        assigned,
        vec![AssignedProbe {
            probe: probe.clone(),
            site: "hq".into()
        }]
    );

    // Edited: another agent of the organisation takes it over.
    let second = crate::device(store.as_ref(), org, "fp-prober-2").await;
    assert!(matches!(
        store
            .edit_agentless(&Scope::org(other), switch.id, "x", &fields(second), None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .edit_agentless(&scope, switch.id, "edge-switch", &fields(stranger), None)
            .await,
        Err(StoreError::NotFound)
    ));
    // A stale version is refused in the same write, naming the current one.
    let current = store.get_device(&scope, switch.id).await.unwrap().version;
    assert!(matches!(
        store
            .edit_agentless(&scope, switch.id, "y", &fields(second), Some(current - 1))
            .await,
        Err(StoreError::Stale(v)) if v == current
    ));
    let version = store
        .edit_agentless(
            &scope,
            switch.id,
            "edge-switch",
            &fields(second),
            Some(current),
        )
        .await
        .unwrap();
    assert_eq!(version, current + 1);
    assert!(store.probes_for_agent(agent).await.unwrap().is_empty());
    assert_eq!(store.probes_for_agent(second).await.unwrap().len(), 1);
    let detail = store.get_device(&scope, switch.id).await.unwrap();
    assert_eq!(detail.summary.name, "edge-switch");
    // An agent's own row is not agentless.
    assert!(matches!(
        store
            .edit_agentless(&scope, agent, "x", &fields(second), None)
            .await,
        Err(StoreError::NotFound)
    ));

    store
        .delete_probe(&scope, switch.id, probe.id)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_probe(&scope, switch.id, probe.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.probes_for_agent(second).await.unwrap().is_empty());
    // Retired: no longer probed.
    store.retire_device(&scope, switch.id, 9).await.unwrap();
    assert!(store.agentless_of(second).await.unwrap().is_empty());
}
