use super::*;
use steward_proto::Point;

fn point(name: &str, value: f64) -> Point {
    Point {
        name: name.into(),
        labels: Default::default(),
        value,
    }
}

fn batch(device: Uuid, org: Uuid, seq: u64, ts_ms: i64, points: Vec<Point>) -> IngestBatch {
    IngestBatch {
        device_id: device,
        org_id: org,
        seq,
        ts_ms,
        points,
    }
}

fn open(id: i64, samples: &[(i64, f64)]) -> OpenChunk {
    OpenChunk {
        id,
        start_ts: samples[0].0,
        end_ts: samples[samples.len() - 1].0,
        count: samples.len() as i64,
        data: steward_tsdb::encode(samples).unwrap(),
    }
}

/// The writes as (id, start, end, samples).
type Written = Vec<(Option<i64>, i64, i64, Vec<(i64, f64)>)>;

fn check(open: Option<OpenChunk>, samples: &[(i64, f64)], expect: Written) {
    let writes = plan_appends(open, samples).unwrap();
    let got: Written = writes
        .into_iter()
        .map(|w| {
            let decoded = steward_tsdb::decode(&w.data).unwrap();
            assert_eq!(w.count, decoded.len() as i64, "count matches the data");
            (w.id, w.start_ts, w.end_ts, decoded)
        })
        .collect();
    assert_eq!(got, expect);
}

#[test]
fn samples_grow_the_open_chunk() {
    check(
        Some(open(7, &[(10, 1.0), (20, 2.0)])),
        &[(30, 3.0), (40, 4.0)],
        vec![(
            Some(7),
            10,
            40,
            vec![(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)],
        )],
    );
}

#[test]
fn a_series_without_chunks_starts_one() {
    check(
        None,
        &[(5, 1.0), (6, 2.0)],
        vec![(None, 5, 6, vec![(5, 1.0), (6, 2.0)])],
    );
}

#[test]
fn nothing_to_append_writes_nothing() {
    check(Some(open(1, &[(1, 1.0)])), &[], vec![]);
}

#[test]
fn a_full_chunk_is_left_as_it_is_and_a_new_one_starts() {
    let full: Vec<(i64, f64)> = (0..CHUNK_SAMPLES).map(|i| (i, i as f64)).collect();
    check(
        Some(open(3, &full)),
        &[(500, 1.0)],
        vec![(None, 500, 500, vec![(500, 1.0)])],
    );
}

#[test]
fn a_chunk_fills_up_within_one_call() {
    let samples: Vec<(i64, f64)> = (0..CHUNK_SAMPLES + 2).map(|i| (i, 0.5)).collect();
    let writes = plan_appends(Some(open(9, &[(-1, 0.0)])), &samples).unwrap();
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].id, Some(9));
    assert_eq!(writes[0].count, CHUNK_SAMPLES);
    assert_eq!(writes[1].id, None);
    assert_eq!(
        (writes[1].start_ts, writes[1].count),
        (CHUNK_SAMPLES - 1, 3)
    );
}

#[test]
fn a_late_sample_gets_its_own_chunk_and_the_series_goes_on_where_it_was() {
    check(
        Some(open(4, &[(100, 1.0), (200, 2.0)])),
        &[(50, 9.0), (300, 3.0)],
        vec![
            (Some(4), 100, 300, vec![(100, 1.0), (200, 2.0), (300, 3.0)]),
            (None, 50, 50, vec![(50, 9.0)]),
        ],
    );
}

#[test]
fn corrupt_stored_chunk_is_an_error_not_a_panic() {
    let mut chunk = open(1, &[(1, 1.0)]);
    chunk.data = vec![0xff; 3];
    assert!(plan_appends(Some(chunk), &[(2, 2.0)]).is_err());
}

#[test]
fn batches_are_stored_refused_or_duplicates() {
    let (org, other_org) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let (a, b, revoked, unknown) = (
        Uuid::from_u128(10),
        Uuid::from_u128(11),
        Uuid::from_u128(12),
        Uuid::from_u128(13),
    );
    let row = |stored_seq, revoked| DeviceSeq {
        org,
        stored_seq,
        revoked,
    };
    let devices = HashMap::from([
        (a, row(5, false)),
        (b, row(0, false)),
        (revoked, row(0, true)),
    ]);
    let cpu = |v| vec![point("system.cpu.utilization", v)];
    let plan = plan_ingest(
        &[
            batch(a, org, 5, 1000, cpu(0.1)), // seen before
            batch(a, org, 6, 2000, cpu(0.2)), // new
            batch(a, org, 6, 2000, cpu(0.2)), // resent in the same group
            batch(
                a,
                org,
                7,
                3000,
                vec![point("system.memory.utilization", 0.7)],
            ), // new
            batch(b, other_org, 1, 1000, cpu(0.3)), // claims another organisation
            batch(revoked, org, 1, 1000, cpu(0.3)),
            batch(unknown, org, 1, 1000, cpu(0.3)),
            batch(b, org, u64::MAX, 1000, vec![]), // huge sequence numbers saturate
        ],
        &devices,
    );
    use IngestOutcome::*;
    assert_eq!(
        plan.outcomes,
        [
            Duplicate, Stored, Duplicate, Stored, Refused, Refused, Refused, Stored
        ]
    );
    assert_eq!(
        plan.devices,
        [
            DeviceUpdate {
                device: a,
                stored_seq: 7,
                cpu: Some(0.2),
                mem: Some(0.7),
                disk: None
            },
            DeviceUpdate {
                device: b,
                stored_seq: i64::MAX,
                cpu: None,
                mem: None,
                disk: None
            },
        ]
    );
    let samples: Vec<_> = plan
        .samples
        .iter()
        .map(|(k, v)| (k.device, k.name.as_str(), v.clone()))
        .collect();
    assert_eq!(
        samples,
        [
            (a, "system.cpu.utilization", vec![(2000, 0.2)]),
            (a, "system.memory.utilization", vec![(3000, 0.7)]),
        ]
    );
}

#[test]
fn unsequenced_batches_are_stored_and_leave_the_device_row_alone() {
    let (org, other_org) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let (a, revoked) = (Uuid::from_u128(10), Uuid::from_u128(12));
    let devices = HashMap::from([
        (
            a,
            DeviceSeq {
                org,
                stored_seq: 9,
                revoked: false,
            },
        ),
        (
            revoked,
            DeviceSeq {
                org,
                stored_seq: 0,
                revoked: true,
            },
        ),
    ]);
    let cpu = |v| vec![point("system.cpu.utilization", v)];
    let plan = plan_ingest(
        &[
            batch(a, org, UNSEQUENCED, 1000, cpu(0.1)),
            batch(a, org, UNSEQUENCED, 1000, cpu(0.1)), // no sequence: not a duplicate
            batch(a, other_org, UNSEQUENCED, 1000, cpu(0.1)),
            batch(revoked, org, UNSEQUENCED, 1000, cpu(0.1)),
        ],
        &devices,
    );
    use IngestOutcome::*;
    assert_eq!(plan.outcomes, [Stored, Stored, Refused, Refused]);
    assert!(plan.devices.is_empty(), "{:?}", plan.devices);
    let samples: Vec<_> = plan.samples.values().cloned().collect();
    assert_eq!(samples, [vec![(1000, 0.1), (1000, 0.1)]]);
}

#[test]
fn the_headline_disk_is_the_fullest_filesystem() {
    let points = [
        point("system.filesystem.utilization", 0.2),
        point("system.filesystem.utilization", 0.9),
        point("system.filesystem.utilization", 0.5),
    ];
    assert_eq!(headline(&points), (None, None, Some(0.9)));
}

/// A held head plans exactly what the same chunk read from the store
/// plans, whatever the samples (growing, late, past a full chunk).
#[test]
fn a_held_head_plans_like_the_stored_chunk() {
    let full: Vec<(i64, f64)> = (0..CHUNK_SAMPLES).map(|i| (i * 10, i as f64)).collect();
    for (stored, samples) in [
        (vec![(10, 1.0), (20, 2.0)], vec![(30, 3.0), (40, 4.0)]),
        (vec![(10, 1.0), (20, 2.0)], vec![(15, 9.0), (30, 3.0)]),
        (vec![(10, 1.0), (20, 2.0)], vec![(5, 9.0)]),
        (vec![(10, 1.0), (20, 2.0)], vec![]),
        (full.clone(), vec![(5_000, 1.0), (5_010, 2.0)]),
        (full.clone(), vec![(15, 1.0)]),
    ] {
        let from_store = plan_appends_held(Some(Open::Stored(open(4, &stored))), &samples).unwrap();
        let head = Head {
            id: Some(4),
            start_ts: stored[0].0,
            samples: stored.clone(),
        };
        let held = plan_appends_held(Some(Open::Held(head.clone())), &samples).unwrap();
        assert_eq!(held.writes, from_store.writes, "{stored:?} + {samples:?}");
        assert_eq!(held.head_write, from_store.head_write);
        // The head held afterwards is the open chunk as written.
        let after = held.head.unwrap();
        match held.head_write {
            Some(at) => {
                let w = &held.writes[at];
                assert_eq!((w.id, w.start_ts), (after.id, after.start_ts));
                assert_eq!(steward_tsdb::decode(&w.data).unwrap(), after.samples);
            }
            None => assert_eq!(after, head, "untouched"),
        }
    }
}

#[test]
fn the_head_after_a_full_chunk_is_new_and_written_last() {
    let full: Vec<(i64, f64)> = (0..CHUNK_SAMPLES).map(|i| (i * 10, i as f64)).collect();
    let head = Head {
        id: Some(4),
        start_ts: 0,
        samples: full,
    };
    let out = plan_appends_held(Some(Open::Held(head)), &[(2_000, 1.0), (5, 2.0)]).unwrap();
    // The late sample's own chunk, then the new open one; nothing for the
    // full chunk, which gained nothing.
    assert_eq!(out.writes.len(), 2);
    assert!(out.writes.iter().all(|w| w.id.is_none()));
    assert_eq!(out.head_write, Some(1));
    let head = out.head.unwrap();
    assert_eq!((head.id, head.start_ts), (None, 2_000));
    assert_eq!(head.samples, vec![(2_000, 1.0)]);
}
