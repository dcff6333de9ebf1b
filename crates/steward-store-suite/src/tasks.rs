//! Periodic task slots: each slot of a task is claimed once, by one
//! caller, and never after a later one.

use std::sync::Arc;
use steward_store::*;

pub async fn task_slots_are_claimed_once_and_only_forward(store: Arc<dyn Store>) {
    assert!(store.claim_task_slot("problems.scan", 100).await.unwrap());
    // The same slot again: another replica lost the race.
    assert!(!store.claim_task_slot("problems.scan", 100).await.unwrap());
    // An earlier slot (a replica whose clock lags) is refused too.
    assert!(!store.claim_task_slot("problems.scan", 99).await.unwrap());
    assert!(store.claim_task_slot("problems.scan", 101).await.unwrap());
    // Tasks do not share slots.
    assert!(store.claim_task_slot("other", 100).await.unwrap());
    // Many claimants of one slot at once: exactly one wins.
    let claims = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_task_slot("race", 7).await.unwrap() })
    });
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.unwrap());
    }
    assert_eq!(won, 1);
}
