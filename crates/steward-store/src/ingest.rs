//! What storing metric batches does, decided once for every back end and
//! with no I/O: which batches are stored, refused or duplicates, what each
//! device row becomes, which samples go to which series, and how a series'
//! open chunk grows or new chunks start.
//!
//! A back end reads the device rows and open chunks it needs (as few round
//! trips as it can), calls [`plan_ingest`] and [`plan_appends`], and writes
//! the result in the same transaction.

use crate::{IngestBatch, IngestOutcome};
use std::collections::{BTreeMap, HashMap};
use steward_tsdb::CodecError;
use uuid::Uuid;

/// Samples per chunk before a new one is started (2 h at 60 s).
pub const CHUNK_SAMPLES: i64 = 120;

/// Series one device may have. A real host has a few hundred (each
/// filesystem, interface and check figure); an agent that invents series
/// by the thousand (a compromised one, a label with a counter in it) gets
/// no more, and its points for new series beyond this are counted and
/// dropped, not stored.
pub const MAX_SERIES_PER_DEVICE: i64 = 2_000;

/// One series: the device it belongs to, its organisation, metric name and
/// labels (as the JSON text stored with the series).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub device: Uuid,
    pub org: Uuid,
    pub name: String,
    pub labels: String,
}

/// A device row as ingest needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSeq {
    pub org: Uuid,
    pub stored_seq: i64,
    pub revoked: bool,
}

impl DeviceSeq {
    /// A device row as the stores keep it (ids as text), keyed by device;
    /// `None` when an id does not parse (such a device is unknown).
    pub fn from_row(id: &str, org: &str, stored_seq: i64, revoked: bool) -> Option<(Uuid, Self)> {
        let row = DeviceSeq {
            org: Uuid::parse_str(org).ok()?,
            stored_seq,
            revoked,
        };
        Some((Uuid::parse_str(id).ok()?, row))
    }
}

/// What one device row becomes: its new stored sequence number and the
/// newest headline figures (`None`: keep what is stored).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceUpdate {
    pub device: Uuid,
    pub stored_seq: i64,
    pub cpu: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
}

/// Everything a group of batches changes.
#[derive(Debug, Default)]
pub struct IngestPlan {
    /// One per batch, in the order given.
    pub outcomes: Vec<IngestOutcome>,
    /// One per device with a stored batch.
    pub devices: Vec<DeviceUpdate>,
    /// Per series, its new samples in arrival order.
    pub samples: BTreeMap<SeriesKey, Vec<(i64, f64)>>,
}

/// The sequence number of a batch no agent sent (OTLP telemetry pushed to
/// the server): agents number theirs from 1 (`MetricBatch::validate`), so
/// 0 never clashes. Such a batch is stored whatever the device's
/// `stored_seq` and changes nothing of the device row.
pub const UNSEQUENCED: u64 = 0;

/// Decides a group of batches against the device rows read for them
/// (`devices`: by device id; a missing one is unknown). Two batches of one
/// device in the same group are taken in order, so the second is a
/// duplicate when its sequence number is not above the first's.
pub fn plan_ingest(batches: &[IngestBatch], devices: &HashMap<Uuid, DeviceSeq>) -> IngestPlan {
    let mut plan = IngestPlan::default();
    let mut updates: BTreeMap<Uuid, DeviceUpdate> = BTreeMap::new();
    for batch in batches {
        let Some(row) = devices
            .get(&batch.device_id)
            .filter(|row| row.org == batch.org_id && !row.revoked)
        else {
            plan.outcomes.push(IngestOutcome::Refused);
            continue;
        };
        if batch.seq == UNSEQUENCED {
            // Pushed telemetry (OTLP): stored as it comes, the device row
            // (sequence, last seen, headline figures) left to its agent.
            plan.outcomes.push(IngestOutcome::Stored);
            add_samples(&mut plan, batch);
            continue;
        }
        let seq = i64::try_from(batch.seq).unwrap_or(i64::MAX);
        let stored = updates
            .get(&batch.device_id)
            .map_or(row.stored_seq, |u| u.stored_seq);
        if seq <= stored {
            plan.outcomes.push(IngestOutcome::Duplicate);
            continue;
        }
        plan.outcomes.push(IngestOutcome::Stored);
        let (cpu, mem, disk) = headline(&batch.points);
        let update = updates
            .entry(batch.device_id)
            .or_insert_with(|| DeviceUpdate {
                device: batch.device_id,
                stored_seq: seq,
                cpu: None,
                mem: None,
                disk: None,
            });
        update.stored_seq = seq;
        update.cpu = cpu.or(update.cpu);
        update.mem = mem.or(update.mem);
        update.disk = disk.or(update.disk);
        add_samples(&mut plan, batch);
    }
    plan.devices = updates.into_values().collect();
    plan
}

fn add_samples(plan: &mut IngestPlan, batch: &IngestBatch) {
    for point in &batch.points {
        let key = SeriesKey {
            device: batch.device_id,
            org: batch.org_id,
            name: point.name.clone(),
            labels: serde_json::to_string(&point.labels).unwrap_or_else(|_| "{}".into()),
        };
        plan.samples
            .entry(key)
            .or_default()
            .push((batch.ts_ms, point.value));
    }
}

/// The headline figures shown in device lists, taken from a batch: CPU,
/// memory and the fullest filesystem.
pub fn headline(points: &[steward_proto::Point]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let find = |name: &str| points.iter().find(|p| p.name == name).map(|p| p.value);
    let disk = points
        .iter()
        .filter(|p| p.name == "system.filesystem.utilization")
        .map(|p| p.value)
        .fold(None, |max: Option<f64>, v| {
            Some(max.map_or(v, |m| m.max(v)))
        });
    (
        find("system.cpu.utilization"),
        find("system.memory.utilization"),
        disk,
    )
}

/// A series' open chunk at one resolution: the one with the latest start
/// (the latest written on a tie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChunk {
    pub id: i64,
    pub start_ts: i64,
    pub end_ts: i64,
    pub count: i64,
    pub data: Vec<u8>,
}

/// A chunk to write: the open chunk grown (`id: Some`) or a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkWrite {
    pub id: Option<i64>,
    pub start_ts: i64,
    pub end_ts: i64,
    pub count: i64,
    pub data: Vec<u8>,
}

/// A series' open chunk held decoded in memory by the writer that last
/// wrote it, so that the next group appends to it with no read and no
/// decode. `id` is None until the chunk's row exists (a new chunk whose
/// insert has not told its id yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub id: Option<i64>,
    pub start_ts: i64,
    pub samples: Vec<(i64, f64)>,
}

/// Where a series' open chunk comes from: read from the store (encoded) or
/// held in memory (decoded).
#[derive(Debug, Clone, PartialEq)]
pub enum Open {
    Stored(OpenChunk),
    Held(Head),
}

/// What appending to a series writes, and its open chunk afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The grown open chunk first (if any), then new chunks in order.
    pub writes: Vec<ChunkWrite>,
    /// The open chunk after the writes, decoded (None when it was read
    /// from the store and left untouched: nothing was decoded).
    pub head: Option<Head>,
    /// The index in `writes` of the open chunk, when it is written.
    pub head_write: Option<usize>,
}

/// Appends `samples` (in arrival order) to a series: each goes into the
/// open chunk while it has room and the sample is not older than its end;
/// otherwise a new chunk starts with it, and becomes the open one unless it
/// starts earlier (a late sample gets a chunk of its own, and the series
/// goes on in the chunk it was in). Returns the chunks to write, the grown
/// open chunk first; nothing when `samples` is empty.
pub fn plan_appends(
    open: Option<OpenChunk>,
    samples: &[(i64, f64)],
) -> Result<Vec<ChunkWrite>, CodecError> {
    Ok(plan_appends_held(open.map(Open::Stored), samples)?.writes)
}

/// [`plan_appends`] from an open chunk that may be held decoded in memory;
/// also returns the open chunk afterwards, to hold for the next group.
pub fn plan_appends_held(
    open: Option<Open>,
    samples: &[(i64, f64)],
) -> Result<Appended, CodecError> {
    struct Building {
        id: Option<i64>,
        start: i64,
        end: i64,
        /// Count stored before, plus the samples added.
        count: i64,
        samples: Vec<(i64, f64)>,
        /// Bytes as stored, until a sample is added.
        stored: Option<Vec<u8>>,
        /// Whether a sample was added (it must be written).
        grown: bool,
    }
    let mut done = Vec::new();
    let mut current = open.map(|open| match open {
        Open::Stored(chunk) => Building {
            id: Some(chunk.id),
            start: chunk.start_ts,
            end: chunk.end_ts,
            count: chunk.count,
            samples: Vec::new(),
            stored: Some(chunk.data),
            grown: false,
        },
        Open::Held(head) => Building {
            id: head.id,
            start: head.start_ts,
            end: head.samples.last().map_or(head.start_ts, |s| s.0),
            count: head.samples.len() as i64,
            samples: head.samples,
            stored: None,
            grown: false,
        },
    });
    for &(ts, value) in samples {
        if let Some(chunk) = current.as_mut()
            && chunk.count < CHUNK_SAMPLES
            && ts >= chunk.end
        {
            if let Some(bytes) = chunk.stored.take() {
                chunk.samples = steward_tsdb::decode(&bytes)?;
            }
            chunk.samples.push((ts, value));
            chunk.end = ts;
            chunk.count += 1;
            chunk.grown = true;
            continue;
        }
        let fresh = Building {
            id: None,
            start: ts,
            end: ts,
            count: 1,
            samples: vec![(ts, value)],
            stored: None,
            grown: true,
        };
        match current.take() {
            Some(chunk) if fresh.start < chunk.start => {
                done.push(fresh);
                current = Some(chunk);
            }
            previous => {
                done.extend(previous);
                current = Some(fresh);
            }
        }
    }
    let write = |chunk: &Building| -> Result<ChunkWrite, CodecError> {
        Ok(ChunkWrite {
            id: chunk.id,
            start_ts: chunk.start,
            end_ts: chunk.end,
            count: chunk.samples.len() as i64,
            data: steward_tsdb::encode(&chunk.samples)?,
        })
    };
    // Untouched chunks (the open one with nothing added) are not written.
    let mut writes: Vec<ChunkWrite> = done
        .iter()
        .filter(|chunk| chunk.grown)
        .map(write)
        .collect::<Result<_, _>>()?;
    let mut head = None;
    let mut head_write = None;
    if let Some(chunk) = current {
        if chunk.grown {
            head_write = Some(writes.len());
            writes.push(write(&chunk)?);
        }
        if chunk.stored.is_none() {
            head = Some(Head {
                id: chunk.id,
                start_ts: chunk.start,
                samples: chunk.samples,
            });
        }
    }
    // The grown open chunk (the only one with an id) first, new ones in
    // order after it.
    if let Some(grown) = writes.iter().position(|w| w.id.is_some()) {
        writes[..=grown].rotate_right(1);
        head_write = head_write.map(|at| match at {
            at if at == grown => 0,
            at if at < grown => at + 1,
            at => at,
        });
    }
    Ok(Appended {
        writes,
        head,
        head_write,
    })
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
