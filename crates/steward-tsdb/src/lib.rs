//! Pure time-series chunk codec. No I/O, no runtime: bytes in, bytes out.
//!
//! A chunk holds one series' samples `(ts_ms, value)` in time order:
//!
//! ```text
//! u8 version=2 | u8 value mode | varint count | t0 | first Δt | [mode header] | bit stream
//! ```
//!
//! Timestamps are stored as delta-of-delta, bit-packed in blocks of 8 (one bit for
//! an all-zero block, else a 6-bit width and 8 values of that width): samples taken on a regular
//! tick cost under one bit each.
//!
//! Values take one of two modes, picked per chunk:
//! - **scaled integers**: when every value is an exact decimal with at most 9
//!   fraction digits (utilisations rounded by the agent, byte counters), the
//!   values become integers `v × 10^k`, stored as they are, as deltas or as
//!   delta-of-deltas, each packed either in blocks of 8 (a width per block,
//!   best for runs of zeros) or against the chunk's minimum at one width
//!   (frame of reference, no per-block cost: best for noisy figures), whichever
//!   of the six is smallest;
//! - **XOR** (Gorilla): otherwise, each value's bits XORed with the previous,
//!   leading/meaningful-bit counts and the meaningful bits.
//!
//! Version 1 chunks (deltas or delta-of-deltas in blocks only) still decode.
//! Both round-trip bit-exactly; [`decode`] never panics on any input.

mod bits;
mod downsample;

pub use downsample::{bucket_means, downsample};

use bits::{BitReader, BitWriter, get_varint, put_varint, unzigzag, zigzag};

const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
const MODE_SCALED: u8 = 1;
const MODE_XOR: u8 = 2;
const TRANSFORM_DELTA: u8 = 1;
const TRANSFORM_DOD: u8 = 2;
/// The values themselves (after the first two, which the header holds).
const TRANSFORM_VALUE: u8 = 3;
/// A width per block of 8 (version 1's only packing).
const PACK_BLOCKS: u8 = 1;
/// One width for the chunk, against its minimum.
const PACK_FRAME: u8 = 2;
const BLOCK: usize = 8;
/// Refuse to decode chunks that claim more samples than this.
pub const MAX_SAMPLES_PER_CHUNK: usize = 1 << 20;
const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("chunk is truncated")]
    Truncated,
    #[error("chunk is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("timestamps must not decrease")]
    Unordered,
    #[error("more than {MAX_SAMPLES_PER_CHUNK} samples")]
    TooMany,
}

/// Encodes samples (timestamps in non-decreasing order) into a chunk.
pub fn encode(samples: &[(i64, f64)]) -> Result<Vec<u8>, CodecError> {
    if samples.len() > MAX_SAMPLES_PER_CHUNK {
        return Err(CodecError::TooMany);
    }
    if samples.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(CodecError::Unordered);
    }
    let scaled = scale_exactly(samples);
    let mut out = vec![
        VERSION,
        if scaled.is_some() {
            MODE_SCALED
        } else {
            MODE_XOR
        },
    ];
    put_varint(&mut out, samples.len() as u64);
    let Some(&(t0, _)) = samples.first() else {
        return Ok(out);
    };
    put_varint(&mut out, zigzag(t0));
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let (ts_d1, ts_dods) = second_differences(&ts);
    put_varint(&mut out, zigzag(ts_d1));
    let value_stream = scaled.map(|(k, ints)| {
        let (transform, packing, d1, stream) = cheapest_packing(&ints);
        out.extend([k, transform, packing]);
        put_varint(&mut out, zigzag(ints[0]));
        put_varint(&mut out, zigzag(d1));
        (packing, stream)
    });
    let mut w = BitWriter::with_bytes(out);
    pack_blocks(&mut w, &ts_dods);
    match value_stream {
        Some((PACK_FRAME, stream)) => pack_frame(&mut w, &stream),
        Some((_, stream)) => pack_blocks(&mut w, &stream),
        None => xor_encode(&mut w, samples),
    }
    Ok(w.finish())
}

/// Decodes a chunk made by [`encode`].
pub fn decode(chunk: &[u8]) -> Result<Vec<(i64, f64)>, CodecError> {
    let mut pos = 0;
    let header = chunk.get(..2).ok_or(CodecError::Truncated)?;
    let version = header[0];
    if version != VERSION && version != VERSION_1 {
        return Err(CodecError::Corrupt("unknown version"));
    }
    let mode = header[1];
    pos += 2;
    let count = usize::try_from(get_varint(chunk, &mut pos)?).map_err(|_| CodecError::TooMany)?;
    if count > MAX_SAMPLES_PER_CHUNK {
        return Err(CodecError::TooMany);
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let t0 = unzigzag(get_varint(chunk, &mut pos)?);
    let ts_d1 = unzigzag(get_varint(chunk, &mut pos)?);
    let scaled = match mode {
        MODE_SCALED => {
            let k = *chunk.get(pos).ok_or(CodecError::Truncated)?;
            let transform = *chunk.get(pos + 1).ok_or(CodecError::Truncated)?;
            pos += 2;
            let packing = if version == VERSION_1 {
                PACK_BLOCKS
            } else {
                pos += 1;
                *chunk.get(pos - 1).ok_or(CodecError::Truncated)?
            };
            if usize::from(k) >= POW10.len() {
                return Err(CodecError::Corrupt("scale out of range"));
            }
            let v0 = unzigzag(get_varint(chunk, &mut pos)?);
            let v_d1 = unzigzag(get_varint(chunk, &mut pos)?);
            Some((k, transform, packing, v0, v_d1))
        }
        MODE_XOR => None,
        _ => return Err(CodecError::Corrupt("unknown value mode")),
    };
    let mut r = BitReader::new(&chunk[pos..]);
    let rest = count.saturating_sub(2);
    let ts = integrate_twice(t0, ts_d1, &unpack_blocks(&mut r, rest)?, count);
    let values = match scaled {
        Some((k, transform, packing, v0, v_d1)) => {
            let stream = match packing {
                PACK_BLOCKS => unpack_blocks(&mut r, rest)?,
                PACK_FRAME => unpack_frame(&mut r, rest)?,
                _ => return Err(CodecError::Corrupt("unknown value packing")),
            };
            let ints = match transform {
                TRANSFORM_DELTA => integrate_once(v0, v_d1, &stream, count),
                TRANSFORM_DOD => integrate_twice(v0, v_d1, &stream, count),
                TRANSFORM_VALUE if version != VERSION_1 => {
                    let mut ints = vec![v0];
                    if count > 1 {
                        ints.push(v0.wrapping_add(v_d1));
                    }
                    ints.extend(stream);
                    ints
                }
                _ => return Err(CodecError::Corrupt("unknown value transform")),
            };
            let scale = POW10[usize::from(k)];
            ints.into_iter().map(|i| i as f64 / scale).collect()
        }
        None => xor_decode(&mut r, count)?,
    };
    Ok(ts.into_iter().zip(values).collect())
}

const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// The smallest `k` for which every value is exactly `int / 10^k`, and
/// the integers. Scales at which some value is not exact are skipped value
/// by value first, so usually one vector is built (not one per `k` tried):
/// the ingest path re-encodes every open chunk it appends to.
fn scale_exactly(samples: &[(i64, f64)]) -> Option<(u8, Vec<i64>)> {
    if samples.is_empty() {
        return None;
    }
    let mut k = 0;
    for &(_, v) in samples {
        while exact_at(v, POW10[k]).is_none() {
            k += 1;
            if k == POW10.len() {
                return None;
            }
        }
    }
    // `k` passed only scales at which some value is not exact, so it never
    // passed the chunk's scale: the first k from here at which all values
    // are exact is the same as trying each k from 0. (Exactness is not
    // monotone in k: 2^52 + 1 is exact at 0 and past 2^53 at 1.)
    (k..POW10.len()).find_map(|k| {
        let ints = samples
            .iter()
            .map(|&(_, v)| exact_at(v, POW10[k]))
            .collect::<Option<Vec<i64>>>()?;
        Some((k as u8, ints))
    })
}

/// `v × scale` as an integer, if that is exact (and within ±2^53).
fn exact_at(v: f64, scale: f64) -> Option<i64> {
    let r = (v * scale).round();
    if !r.is_finite() || r.abs() > MAX_EXACT {
        return None;
    }
    // Check with the integer itself: -0.0 survives the float check but
    // becomes +0 as an integer.
    let int = r as i64;
    ((int as f64 / scale).to_bits() == v.to_bits()).then_some(int)
}

/// The first delta, and the rest as values, deltas or delta-of-deltas,
/// packed in blocks or against their minimum: whichever of the six is
/// smallest (transform, packing, first delta, stream).
///
/// One pass costs all six (the three streams are the same length, so
/// their blocks line up); only the cheapest stream is then built. Costing
/// each stream from its own vector took 2.5× the instructions, and the
/// ingest path re-encodes every open chunk it appends to.
fn cheapest_packing(ints: &[i64]) -> (u8, u8, i64, Vec<i64>) {
    let d1 = match ints {
        [a, b, ..] => b.wrapping_sub(*a),
        _ => 0,
    };
    let mut costs = [StreamCost::default(); 3];
    let mut delta = d1;
    for j in 2..ints.len() {
        let next = ints[j].wrapping_sub(ints[j - 1]);
        costs[0].push(next);
        costs[1].push(next.wrapping_sub(delta));
        costs[2].push(ints[j]);
        delta = next;
    }
    let mut best: Option<(usize, u8, u8)> = None;
    for (cost, transform) in
        costs
            .into_iter()
            .zip([TRANSFORM_DELTA, TRANSFORM_DOD, TRANSFORM_VALUE])
    {
        let (blocks, frame) = cost.bits();
        let (bits, packing) = if frame < blocks {
            (frame, PACK_FRAME)
        } else {
            (blocks, PACK_BLOCKS)
        };
        if best.is_none_or(|b| bits < b.0) {
            best = Some((bits, transform, packing));
        }
    }
    let (_, transform, packing) = best.unwrap_or((0, TRANSFORM_DELTA, PACK_BLOCKS));
    let rest = ints.get(2..).unwrap_or_default();
    let stream = match transform {
        TRANSFORM_VALUE => rest.to_vec(),
        TRANSFORM_DOD => second_differences(ints).1,
        _ => first_differences(ints.get(1..).unwrap_or_default()),
    };
    (transform, packing, d1, stream)
}

/// The bits a stream takes packed in blocks ([`pack_blocks`]) and against
/// its minimum ([`pack_frame`]), kept as its values go by.
#[derive(Clone, Copy, Default)]
struct StreamCost {
    count: usize,
    min: i64,
    max: i64,
    in_block: usize,
    block_width: u8,
    block_bits: usize,
}

impl StreamCost {
    fn push(&mut self, x: i64) {
        if self.count == 0 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.count += 1;
        self.block_width = self.block_width.max(width(zigzag(x)));
        self.in_block += 1;
        if self.in_block == BLOCK {
            self.close_block();
        }
    }

    fn close_block(&mut self) {
        if self.in_block > 0 {
            self.block_bits += match self.block_width {
                0 => 1,
                w => 7 + usize::from(w) * self.in_block,
            };
        }
        (self.in_block, self.block_width) = (0, 0);
    }

    /// Bits packed in blocks, and packed against the minimum.
    fn bits(mut self) -> (usize, usize) {
        self.close_block();
        if self.count == 0 {
            return (self.block_bits, 0);
        }
        let span = (self.max as u64).wrapping_sub(self.min as u64);
        let frame =
            7 + usize::from(width(zigzag(self.min))) + 7 + usize::from(width(span)) * self.count;
        (self.block_bits, frame)
    }
}

/// The smallest and the span (as unsigned: it may exceed `i64::MAX`).
fn frame(xs: &[i64]) -> (i64, u64) {
    let min = xs.iter().copied().min().unwrap_or(0);
    let max = xs.iter().copied().max().unwrap_or(0);
    (min, (max as u64).wrapping_sub(min as u64))
}

/// The minimum (its width in 7 bits, then its zigzag bits), the width of
/// the span in 7 bits, then each value less the minimum at that width.
/// Nothing for no values.
fn pack_frame(w: &mut BitWriter, xs: &[i64]) {
    if xs.is_empty() {
        return;
    }
    let (min, span) = frame(xs);
    let min_bits = width(zigzag(min));
    w.write(u64::from(min_bits), 7);
    w.write(zigzag(min), min_bits);
    let bits = width(span);
    w.write(u64::from(bits), 7);
    for x in xs {
        w.write((*x as u64).wrapping_sub(min as u64), bits);
    }
}

fn unpack_frame(r: &mut BitReader<'_>, count: usize) -> Result<Vec<i64>, CodecError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let min_bits = r.read(7)? as u8;
    let min = unzigzag(r.read(min_bits)?);
    let bits = r.read(7)? as u8;
    if bits > 64 || min_bits > 64 {
        return Err(CodecError::Corrupt("frame width over 64 bits"));
    }
    // A chunk cannot claim more values than it has bits for.
    if bits > 0 && count > r.remaining() / usize::from(bits) {
        return Err(CodecError::Truncated);
    }
    let mut out = Vec::with_capacity(count.min(MAX_SAMPLES_PER_CHUNK));
    for _ in 0..count {
        out.push((min as u64).wrapping_add(r.read(bits)?) as i64);
    }
    Ok(out)
}

fn first_differences(xs: &[i64]) -> Vec<i64> {
    xs.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect()
}

/// The first delta (0 for fewer than two values) and the second
/// differences after it.
fn second_differences(xs: &[i64]) -> (i64, Vec<i64>) {
    let deltas = first_differences(xs);
    let d1 = deltas.first().copied().unwrap_or(0);
    (d1, first_differences(&deltas))
}

/// Restores `count` values from the first value, first delta and deltas.
fn integrate_once(x0: i64, d1: i64, rest: &[i64], count: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(count);
    out.push(x0);
    let mut x = x0;
    for d in std::iter::once(&d1).chain(rest).take(count - 1) {
        x = x.wrapping_add(*d);
        out.push(x);
    }
    out
}

/// Restores `count` values from the first value, first delta and
/// delta-of-deltas.
fn integrate_twice(x0: i64, d1: i64, dods: &[i64], count: usize) -> Vec<i64> {
    let mut delta = d1;
    let rest: Vec<i64> = dods
        .iter()
        .map(|dod| {
            delta = delta.wrapping_add(*dod);
            delta
        })
        .collect();
    integrate_once(x0, d1, &rest, count)
}

fn width(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

fn pack_blocks(w: &mut BitWriter, xs: &[i64]) {
    for block in xs.chunks(BLOCK) {
        let bits = block.iter().map(|x| width(zigzag(*x))).max().unwrap_or(0);
        if bits == 0 {
            w.write_bit(false);
            continue;
        }
        w.write_bit(true);
        w.write(u64::from(bits - 1), 6);
        for x in block {
            w.write(zigzag(*x), bits);
        }
    }
}

fn unpack_blocks(r: &mut BitReader<'_>, count: usize) -> Result<Vec<i64>, CodecError> {
    let mut out = Vec::with_capacity(count.min(MAX_SAMPLES_PER_CHUNK));
    while out.len() < count {
        let bits = if r.read_bit()? {
            r.read(6)? as u8 + 1
        } else {
            0
        };
        for _ in 0..BLOCK.min(count - out.len()) {
            out.push(unzigzag(r.read(bits)?));
        }
    }
    Ok(out)
}

fn xor_encode(w: &mut BitWriter, samples: &[(i64, f64)]) {
    let mut prev = samples[0].1.to_bits();
    w.write(prev, 64);
    for &(_, v) in &samples[1..] {
        let bits = v.to_bits();
        let xor = bits ^ prev;
        prev = bits;
        if xor == 0 {
            w.write_bit(false);
            continue;
        }
        let leading = xor.leading_zeros().min(63) as u8;
        let trailing = xor.trailing_zeros() as u8;
        let meaningful = 64 - leading - trailing;
        w.write_bit(true);
        w.write(u64::from(leading), 6);
        w.write(u64::from(meaningful - 1), 6);
        w.write(xor >> trailing, meaningful);
    }
}

fn xor_decode(r: &mut BitReader<'_>, count: usize) -> Result<Vec<f64>, CodecError> {
    let mut out = Vec::with_capacity(count.min(MAX_SAMPLES_PER_CHUNK));
    let mut prev = r.read(64)?;
    out.push(f64::from_bits(prev));
    while out.len() < count {
        if r.read_bit()? {
            let leading = r.read(6)? as u8;
            let meaningful = r.read(6)? as u8 + 1;
            if u32::from(leading) + u32::from(meaningful) > 64 {
                return Err(CodecError::Corrupt("xor window over 64 bits"));
            }
            let trailing = 64 - leading - meaningful;
            prev ^= r.read(meaningful)? << trailing;
        }
        out.push(f64::from_bits(prev));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
