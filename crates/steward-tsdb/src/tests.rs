use super::*;
use proptest::prelude::*;

/// Encodes, checks the round trip bit for bit, and returns bytes per sample.
fn check(samples: &[(i64, f64)]) -> f64 {
    let chunk = encode(samples).unwrap();
    let back = decode(&chunk).unwrap();
    assert_eq!(back.len(), samples.len());
    for (a, b) in samples.iter().zip(&back) {
        assert_eq!(a.0, b.0);
        assert_eq!(a.1.to_bits(), b.1.to_bits(), "{} vs {}", a.1, b.1);
    }
    chunk.len() as f64 / samples.len().max(1) as f64
}

fn ticks(n: usize) -> impl Iterator<Item = i64> {
    (0..n as i64).map(|i| 1_700_000_000_000 + i * 60_000)
}

#[test]
fn regular_utilisation_fits_two_bytes_per_sample() {
    // A noisy CPU utilisation in [0,1] rounded to 4 digits, every 60 s.
    let mut x = 0.2f64;
    let samples: Vec<_> = ticks(120)
        .enumerate()
        .map(|(i, t)| {
            x = (x + ((i * 7919 % 113) as f64 - 56.0) / 5000.0).clamp(0.0, 1.0);
            (t, (x * 1e4).round() / 1e4)
        })
        .collect();
    let bps = check(&samples);
    assert!(bps < 2.0, "{bps} bytes per sample");
}

#[test]
fn constant_series_is_nearly_free() {
    let samples: Vec<_> = ticks(120).map(|t| (t, 0.4213)).collect();
    assert!(check(&samples) < 0.3);
}

#[test]
fn counters_use_delta_of_delta() {
    let samples: Vec<_> = ticks(120)
        .map(|t| (t, (t / 1000 * 12_345) as f64))
        .collect();
    assert!(check(&samples) < 0.5);
}

#[test]
fn arbitrary_floats_fall_back_to_xor() {
    let samples: Vec<_> = ticks(50).map(|t| (t, (t as f64).sqrt() / 3.0)).collect();
    let chunk = encode(&samples).unwrap();
    assert_eq!(chunk[1], MODE_XOR);
    check(&samples);
    check(&[(1, f64::NAN), (2, -0.0), (3, f64::INFINITY), (3, 1e300)]);
    // Found by proptest: -0.0 among decimals must not come back as +0.0.
    check(&[(1, 0.5), (2, -0.0)]);
    check(&[(1, -0.0)]);
}

#[test]
fn edge_cases() {
    check(&[]);
    check(&[(5, 1.5)]);
    check(&[(i64::MIN, -1.0), (i64::MAX, 1.0)]);
    check(&[(0, 9_007_199_254_740_992.0), (1, -9_007_199_254_740_992.0)]);
    assert_eq!(encode(&[(2, 1.0), (1, 1.0)]), Err(CodecError::Unordered));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [
        &[][..],
        &[1],
        &[9, 1, 1],
        &[1, 7, 1, 0],
        &[1, 1, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255],
        // A frame claiming more values than it has bits.
        &[2, 1, 100, 0, 0, 0, 3, 2, 0, 0, 0, 0, 0x7f, 0xff],
    ] {
        assert!(decode(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn version_1_chunks_still_decode() {
    // [(1000, 1.5), (2000, 2.5), (3000, 3.0)] as version 1 wrote it:
    // scaled by 10, deltas in blocks.
    let v1 = [
        1, 1, 3, 0xD0, 0x0F, 0xD0, 0x0F, 1, 1, 0x1E, 0x14, 0x43, 0xA0,
    ];
    assert_eq!(
        decode(&v1).unwrap(),
        vec![(1000, 1.5), (2000, 2.5), (3000, 3.0)]
    );
    // Version 1 knew no value transform 3.
    let mut bad = v1;
    bad[8] = TRANSFORM_VALUE;
    assert!(decode(&bad).is_err());
}

/// Noisy figures (uniform in a range, as CPU and load are minute to
/// minute) are packed against the chunk's minimum: no per-block widths.
#[test]
fn noisy_figures_pack_against_their_minimum() {
    let mut x = 0x5eedu64;
    let samples: Vec<_> = ticks(120)
        .map(|t| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (t, (500 + x % 3000) as f64 / 1e4)
        })
        .collect();
    let chunk = encode(&samples).unwrap();
    // k, transform, packing after mode, count, t0 (6 bytes), first Δt (3).
    assert_eq!(&chunk[13..15], &[TRANSFORM_VALUE, PACK_FRAME]);
    // 12 bits a value, plus the header.
    let bps = check(&samples);
    assert!(bps < 1.7, "{bps} bytes per sample");
}

#[test]
fn every_transform_and_packing_round_trips() {
    let series: [Vec<i64>; 4] = [
        (0..50).map(|i| i * i).collect(),
        (0..50).map(|i| if i % 9 == 0 { 1 } else { 0 }).collect(),
        (0..50).map(|i| (i * 7919) % 113).collect(),
        vec![i64::MIN / 4, i64::MAX / 4, 0, -1, 1],
    ];
    for ints in series {
        let samples: Vec<_> = ints
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, *v as f64))
            .collect();
        check(&samples);
    }
    // Frame packing at full width, and a minimum far below zero.
    let mut w = BitWriter::default();
    let xs = [i64::MIN, i64::MAX, 0, -5];
    pack_frame(&mut w, &xs);
    let bytes = w.finish();
    assert_eq!(
        unpack_frame(&mut BitReader::new(&bytes), 4).unwrap(),
        xs.to_vec()
    );
}

proptest! {
    #[test]
    fn round_trips_any_sorted_series(mut ts in prop::collection::vec(any::<i64>(), 0..300),
                                     vs in prop::collection::vec(any::<f64>(), 300)) {
        ts.sort_unstable();
        let samples: Vec<_> = ts.into_iter().zip(vs).collect();
        check(&samples);
    }

    #[test]
    fn round_trips_decimals(start in 0i64..1 << 40, steps in prop::collection::vec((0i64..120_000, -10_000i64..10_000), 1..300), k in 0u32..5) {
        let mut t = start;
        let mut v = 0i64;
        let samples: Vec<_> = steps.into_iter().map(|(dt, dv)| { t += dt; v += dv; (t, v as f64 / 10f64.powi(k as i32)) }).collect();
        check(&samples);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }
}

/// Bits `pack_blocks` writes.
fn packed_bits(xs: &[i64]) -> usize {
    xs.chunks(BLOCK)
        .map(|block| {
            let w = block.iter().map(|x| width(zigzag(*x))).max().unwrap_or(0);
            if w == 0 {
                1
            } else {
                7 + usize::from(w) * block.len()
            }
        })
        .sum()
}

/// Bits [`pack_frame`] writes.
fn frame_bits(xs: &[i64]) -> usize {
    if xs.is_empty() {
        return 0;
    }
    let (min, span) = frame(xs);
    7 + usize::from(width(zigzag(min))) + 7 + usize::from(width(span)) * xs.len()
}

/// The one-pass costing picks what costing each stream from its own vector
/// picks (the straightforward form, kept here as the reference).
fn cheapest_packing_reference(ints: &[i64]) -> (u8, u8, i64, Vec<i64>) {
    let deltas = first_differences(ints);
    let (d1, dods) = second_differences(ints);
    let rest_deltas = deltas.get(1..).unwrap_or_default().to_vec();
    let rest_values = ints.get(2..).unwrap_or_default().to_vec();
    let mut best: Option<(usize, u8, u8, Vec<i64>)> = None;
    for (transform, stream) in [
        (TRANSFORM_DELTA, rest_deltas),
        (TRANSFORM_DOD, dods),
        (TRANSFORM_VALUE, rest_values),
    ] {
        let (blocks, frame) = (packed_bits(&stream), frame_bits(&stream));
        let (bits, packing) = if frame < blocks {
            (frame, PACK_FRAME)
        } else {
            (blocks, PACK_BLOCKS)
        };
        if best.as_ref().is_none_or(|b| bits < b.0) {
            best = Some((bits, transform, packing, stream));
        }
    }
    let (_, transform, packing, stream) =
        best.unwrap_or((0, TRANSFORM_DELTA, PACK_BLOCKS, Vec::new()));
    (transform, packing, d1, stream)
}

proptest! {
    #[test]
    fn one_pass_costing_matches_the_reference(
        ints in prop::collection::vec(
            prop_oneof![any::<i64>(), -1000i64..1000, Just(i64::MIN), Just(i64::MAX), Just(0)],
            0..70,
        ),
        step in 0i64..5,
    ) {
        prop_assert_eq!(cheapest_packing(&ints), cheapest_packing_reference(&ints));
        // Smooth and linear streams too, where delta-of-deltas wins.
        let ramp: Vec<i64> = (0..ints.len() as i64).map(|i| i * step + ints.first().copied().unwrap_or(0) % 7).collect();
        prop_assert_eq!(cheapest_packing(&ramp), cheapest_packing_reference(&ramp));
    }
}

/// The scale each `k` from 0 in turn finds (the straightforward form,
/// kept here as the reference).
fn scale_exactly_reference(samples: &[(i64, f64)]) -> Option<(u8, Vec<i64>)> {
    if samples.is_empty() {
        return None;
    }
    (0..POW10.len()).find_map(|k| {
        let ints = samples
            .iter()
            .map(|&(_, v)| exact_at(v, POW10[k]))
            .collect::<Option<Vec<i64>>>()?;
        Some((k as u8, ints))
    })
}

proptest! {
    #[test]
    fn scale_found_from_each_value_matches_the_reference(
        ints in prop::collection::vec(-1_000_000i64..1_000_000, 0..40),
        ks in prop::collection::vec(0u32..11, 40),
        floats in prop::collection::vec(any::<f64>(), 0..3),
    ) {
        // Decimals of mixed scales (some past 9 digits), and now and then
        // arbitrary floats (NaN, infinities, -0.0 among them).
        let mut samples: Vec<(i64, f64)> = ints
            .iter()
            .zip(&ks)
            .map(|(i, k)| (0, *i as f64 / 10f64.powi(*k as i32)))
            .collect();
        samples.extend(floats.into_iter().map(|f| (0, f)));
        prop_assert_eq!(scale_exactly(&samples), scale_exactly_reference(&samples));
    }
}
