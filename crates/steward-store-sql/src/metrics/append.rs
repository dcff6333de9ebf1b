//! Appending a group's samples to their series' open chunks, written once
//! for both databases: a group costs one read of the open chunks it does
//! not hold, one update of every grown chunk and one insert of every new
//! chunk, however many series it touches. Each database runs those three
//! statements in its own dialect ([`ChunkRows`]: `sqlite.rs` with
//! `json_each`, `postgres.rs` with `UNNEST` of arrays).

use super::corrupt;
use crate::db::Row;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use steward_store::*;

/// A grown open chunk to write, if it still has the count it was planned
/// from (`before`).
pub(super) struct Grown<'a> {
    pub series: i64,
    pub before: i64,
    pub chunk: &'a ChunkWrite,
}

/// The statements of an append, in one database's dialect, inside the
/// group's transaction.
#[async_trait]
pub(super) trait ChunkRows: Send {
    /// The newest chunk of each of these (non-empty) series at one
    /// resolution: `id, series_id, start_ts, end_ts, count, data`.
    async fn read_open(&mut self, series: &[i64], resolution: i64) -> Result<Vec<Row>>;

    /// Writes each grown chunk whose row still has `before` samples;
    /// returns the series written (one column).
    async fn update_grown(&mut self, grown: &[Grown<'_>]) -> Result<Vec<Row>>;

    /// Inserts new chunks in order, so a series' later chunk gets the
    /// higher id; returns their ids (one column, in any order).
    async fn insert_new(&mut self, resolution: i64, new: &[(i64, ChunkWrite)]) -> Result<Vec<Row>>;
}

/// The open chunks [`ChunkRows::read_open`] found, by series.
async fn read_open(
    tx: &mut impl ChunkRows,
    series: &[i64],
    resolution: i64,
) -> Result<HashMap<i64, OpenChunk>> {
    if series.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx.read_open(series, resolution).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let chunk = OpenChunk {
                id: row.get("id"),
                start_ts: row.get("start_ts"),
                end_ts: row.get("end_ts"),
                count: row.get("count"),
                data: row.get("data"),
            };
            (row.get("series_id"), chunk)
        })
        .collect())
}

/// Appends each series' samples (in order) at one resolution, starting
/// from the heads `held` in memory where there is one and from the stored
/// open chunks otherwise. A grown chunk is written only if it still has
/// the count it was planned from; the series whose chunk another writer
/// changed meanwhile are read again and planned anew, once. Returns the
/// open chunks afterwards, to hold once the transaction commits.
pub(super) async fn append_held(
    tx: &mut impl ChunkRows,
    resolution: i64,
    appends: &[(i64, Vec<(i64, f64)>)],
    mut held: HashMap<i64, Head>,
) -> Result<Vec<(i64, Head)>> {
    if appends.is_empty() {
        return Ok(Vec::new());
    }
    let samples_of: HashMap<i64, &[(i64, f64)]> =
        appends.iter().map(|(id, s)| (*id, s.as_slice())).collect();
    let missing: Vec<i64> = appends
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !held.contains_key(id))
        .collect();
    let mut stored = read_open(tx, &missing, resolution).await?;
    let mut opens: Vec<(i64, Option<Open>)> = appends
        .iter()
        .map(|(id, _)| {
            let open = held
                .remove(id)
                .map(Open::Held)
                .or_else(|| stored.remove(id).map(Open::Stored));
            (*id, open)
        })
        .collect();
    let mut heads = Vec::with_capacity(appends.len());
    let mut new: Vec<(i64, ChunkWrite)> = Vec::new();
    // Where each new open chunk's head waits for its row id: (index in
    // `new`, index in `heads`).
    let mut unnumbered: Vec<(usize, usize)> = Vec::new();
    for round in 0..2 {
        let mut plans = Vec::with_capacity(opens.len());
        for (series, open) in opens.drain(..) {
            let before = match &open {
                Some(Open::Stored(chunk)) => chunk.count,
                Some(Open::Held(head)) => head.samples.len() as i64,
                None => 0,
            };
            let samples = samples_of.get(&series).copied().unwrap_or_default();
            let plan = plan_appends_held(open, samples).map_err(corrupt)?;
            plans.push((series, before, plan));
        }
        let grown: Vec<Grown<'_>> = plans
            .iter()
            .filter_map(|(series, before, plan)| {
                let chunk = plan.writes.first().filter(|w| w.id.is_some())?;
                Some(Grown {
                    series: *series,
                    before: *before,
                    chunk,
                })
            })
            .collect();
        let updated = if grown.is_empty() {
            HashSet::new()
        } else {
            let rows = tx.update_grown(&grown).await?;
            rows.iter().map(|row| row.get::<i64, _>(0)).collect()
        };
        let mut stale = Vec::new();
        for (series, _, plan) in plans {
            let grew = plan.writes.first().is_some_and(|w| w.id.is_some());
            if grew && !updated.contains(&series) {
                stale.push(series);
                continue;
            }
            for (at, write) in plan.writes.into_iter().enumerate() {
                if write.id.is_some() {
                    continue;
                }
                if plan.head_write == Some(at) && plan.head.is_some() {
                    unnumbered.push((new.len(), heads.len()));
                }
                new.push((series, write));
            }
            heads.extend(plan.head.map(|head| (series, head)));
        }
        if stale.is_empty() {
            break;
        }
        if round == 1 {
            return Err(StoreError::Corrupt(format!(
                "the open chunks of series {stale:?} changed while they were written"
            )));
        }
        let mut reread = read_open(tx, &stale, resolution).await?;
        opens = stale
            .into_iter()
            .map(|id| (id, reread.remove(&id).map(Open::Stored)))
            .collect();
    }
    if !new.is_empty() {
        let mut ids: Vec<i64> = (tx.insert_new(resolution, &new).await?)
            .iter()
            .map(|row| row.get(0))
            .collect();
        // Numbered in insert order: sorted, they are the new chunks' in
        // the order given. Were they not, a head's next update would match
        // no row (it names the series and start too), and it would be read
        // again.
        ids.sort_unstable();
        if ids.len() == new.len() {
            for (at_new, at_head) in unnumbered {
                if let (Some(id), Some((_, head))) = (ids.get(at_new), heads.get_mut(at_head)) {
                    head.id = Some(*id);
                }
            }
        }
    }
    Ok(heads)
}
