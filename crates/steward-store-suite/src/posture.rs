//! Security posture: one row per device, replaced by each report, listed
//! worst first, read within the caller's scope.

use crate::device;
use serde_json::json;
use std::sync::Arc;
use steward_store::*;

pub async fn posture_is_replaced_per_device_and_listed_worst_first(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let all = Scope::org(org);
    let good = device(store.as_ref(), org, "fp-posture-good").await;
    let bad = device(store.as_ref(), org, "fp-posture-bad").await;
    let blank = device(store.as_ref(), org, "fp-posture-blank").await;
    assert_eq!(store.device_posture(&all, good).await.unwrap(), None);
    store
        .save_posture(good, org, Some(50.0), &json!({"checks": []}), 1)
        .await
        .unwrap();
    store
        .save_posture(
            good,
            org,
            Some(92.5),
            &json!({"checks": [{"id": "a.b"}]}),
            2,
        )
        .await
        .unwrap();
    store
        .save_posture(bad, org, Some(12.25), &json!({}), 3)
        .await
        .unwrap();
    store
        .save_posture(blank, org, None, &json!({}), 4)
        .await
        .unwrap();
    let read = store.device_posture(&all, good).await.unwrap().unwrap();
    assert_eq!(
        (read.score, read.updated_at, read.detail.clone()),
        (Some(92.5), 2, json!({"checks": [{"id": "a.b"}]}))
    );
    assert_eq!(
        (read.device_name.as_str(), read.site.as_str()),
        ("fp-posture-good", "hq")
    );
    let list = store.list_posture(&all).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|r| (r.device_id, r.score))
            .collect::<Vec<_>>(),
        vec![(bad, Some(12.25)), (good, Some(92.5)), (blank, None)]
    );
    // Another tenant, or another site, sees nothing.
    let other = Scope::org(store.create_org("other").await.unwrap().id);
    assert_eq!(store.device_posture(&other, good).await.unwrap(), None);
    assert!(store.list_posture(&other).await.unwrap().is_empty());
    let elsewhere = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("elsewhere".into()),
        }],
        deny: Vec::new(),
    };
    assert!(store.list_posture(&elsewhere).await.unwrap().is_empty());
}
