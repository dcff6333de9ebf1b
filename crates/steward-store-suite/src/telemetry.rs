//! The Prometheus exposition's query: the newest sample of each series,
//! with where its device sits, within the caller's scope, paged.

use crate::batch;
use crate::fleet::placed_device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

async fn all_latest(store: &dyn Store, scope: &Scope, since: i64, limit: u32) -> Vec<LatestSample> {
    let (mut out, mut after) = (Vec::new(), 0);
    loop {
        let page = store
            .latest_samples(scope, since, after, limit)
            .await
            .unwrap();
        assert!(page.samples.len() <= limit as usize);
        out.extend(page.samples);
        match page.next {
            Some(next) => after = next,
            None => return out,
        }
    }
}

fn of(samples: &[LatestSample], device: Uuid) -> Vec<(String, i64, f64)> {
    samples
        .iter()
        .filter(|s| s.device_id == device)
        .map(|s| (s.name.clone(), s.ts_ms, s.value))
        .collect()
}

pub async fn latest_samples_are_the_newest_of_each_series_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let hq = placed_device(store.as_ref(), org, "hq", "web-1", &["web", "linux"]).await;
    let branch = placed_device(store.as_ref(), org, "branch", "till-1", &[]).await;
    let foreign = placed_device(store.as_ref(), other, "hq", "foreign", &[]).await;
    let gone = placed_device(store.as_ref(), org, "hq", "gone", &[]).await;
    // 130 samples: past one chunk (120), so the newest chunk is the second.
    for seq in 1..=130u64 {
        let ts = seq as i64 * 60_000;
        store
            .ingest(&[batch(hq, org, seq, ts, seq as f64 / 1000.0)])
            .await
            .unwrap();
    }
    for (device, owner) in [(branch, org), (foreign, other), (gone, org)] {
        store
            .ingest(&[batch(device, owner, 1, 5_000, 0.25)])
            .await
            .unwrap();
    }
    store.revoke_device(&Scope::org(org), gone).await.unwrap();

    let everything = all_latest(store.as_ref(), &Scope::all(), 0, 1000).await;
    assert_eq!(
        of(&everything, hq),
        [
            ("system.cpu.utilization".to_string(), 130 * 60_000, 0.13),
            (
                "system.filesystem.utilization".to_string(),
                130 * 60_000,
                0.5
            ),
        ]
    );
    let cpu = everything
        .iter()
        .find(|s| s.device_id == hq && s.name == "system.cpu.utilization")
        .unwrap();
    assert_eq!(cpu.device, "web-1");
    assert_eq!(cpu.site, "hq");
    assert_eq!(cpu.tags, ["web", "linux"]);
    assert!(cpu.labels.is_empty());
    let disk = everything
        .iter()
        .find(|s| s.device_id == hq && s.name != "system.cpu.utilization")
        .unwrap();
    assert_eq!(disk.labels.get("mountpoint").map(String::as_str), Some("/"));
    assert_eq!(of(&everything, branch).len(), 2);
    assert_eq!(of(&everything, foreign)[0].2, 0.25);
    assert_eq!(
        everything
            .iter()
            .find(|s| s.device_id == foreign)
            .unwrap()
            .organisation,
        "other"
    );
    // A revoked device's series are not exported.
    assert!(of(&everything, gone).is_empty());

    // Paged one at a time, the same series in the same order.
    let paged = all_latest(store.as_ref(), &Scope::all(), 0, 1).await;
    assert_eq!(paged, everything);

    // A site-limited scope sees its site only; an organisation its own.
    let only_branch = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("branch".into()),
        }],
        deny: Vec::new(),
    };
    let seen = all_latest(store.as_ref(), &only_branch, 0, 1000).await;
    assert!(!seen.is_empty() && seen.iter().all(|s| s.device_id == branch));
    let own = all_latest(store.as_ref(), &Scope::org(org), 0, 1000).await;
    assert!(own.iter().all(|s| s.device_id != foreign));
    assert_eq!(own.len(), 4);
    assert!(
        all_latest(store.as_ref(), &Scope::none(), 0, 1000)
            .await
            .is_empty()
    );

    // Series whose newest sample is older than `since` are left out.
    let recent = all_latest(store.as_ref(), &Scope::all(), 60 * 60_000, 1000).await;
    assert!(recent.iter().all(|s| s.device_id == hq), "{recent:?}");
    assert_eq!(recent.len(), 2);
}
