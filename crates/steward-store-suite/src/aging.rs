//! Aging views: one row per device, replaced by each judgement, listed
//! worst first, read within the caller's scope.

use crate::device;
use serde_json::json;
use std::sync::Arc;
use steward_store::*;

pub async fn aging_is_replaced_per_device_and_listed_worst_first(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let all = Scope::org(org);
    let fine = device(store.as_ref(), org, "fp-aging-fine").await;
    let old = device(store.as_ref(), org, "fp-aging-old").await;
    let worn = device(store.as_ref(), org, "fp-aging-worn").await;
    assert_eq!(store.device_aging(&all, fine).await.unwrap(), None);
    store
        .save_aging(fine, org, 2, &json!({"findings": [1]}), 1)
        .await
        .unwrap();
    store
        .save_aging(fine, org, 0, &json!({"findings": []}), 2)
        .await
        .unwrap();
    store.save_aging(old, org, 1, &json!({}), 3).await.unwrap();
    store.save_aging(worn, org, 2, &json!({}), 4).await.unwrap();
    let read = store.device_aging(&all, fine).await.unwrap().unwrap();
    assert_eq!(
        (read.worst, read.updated_at, read.detail.clone()),
        (0, 2, json!({"findings": []}))
    );
    assert_eq!(
        (read.device_name.as_str(), read.site.as_str()),
        ("fp-aging-fine", "hq")
    );
    let list = store.list_aging(&all).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|r| (r.device_id, r.worst))
            .collect::<Vec<_>>(),
        vec![(worn, 2), (old, 1), (fine, 0)]
    );
    // Another tenant, or another site, sees nothing.
    let other = Scope::org(store.create_org("other-aging").await.unwrap().id);
    assert_eq!(store.device_aging(&other, fine).await.unwrap(), None);
    assert!(store.list_aging(&other).await.unwrap().is_empty());
    let elsewhere = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("elsewhere".into()),
        }],
        deny: Vec::new(),
    };
    assert!(store.list_aging(&elsewhere).await.unwrap().is_empty());
    // A retired device leaves the list.
    store.retire_device(&all, old, 5).await.unwrap();
    assert_eq!(store.list_aging(&all).await.unwrap().len(), 2);
}
