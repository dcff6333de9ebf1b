//! The ingest path's use of the codec: an open chunk re-encoded each time a
//! sample is appended, up to the store's 120 samples, for a few typical
//! series. Run under `valgrind --tool=callgrind` for instructions per
//! appended sample (the count printed divides them).

fn main() {
    let series: Vec<Vec<(i64, f64)>> = (0..8u64)
        .map(|s| {
            let mut x = 0.3 + s as f64 / 100.0;
            (0..120i64)
                .map(|i| {
                    // A utilisation with two decimals and a small walk.
                    let step = ((i as u64 * 7919 + s * 104_729) % 41) as f64 - 20.0;
                    x = (x + step / 1000.0).clamp(0.0, 1.0);
                    (1_700_000_000_000 + i * 60_000, (x * 100.0).round() / 100.0)
                })
                .collect()
        })
        .collect();
    let mut bytes = 0usize;
    let mut appends = 0usize;
    for samples in &series {
        for n in 1..=samples.len() {
            bytes += steward_tsdb::encode(&samples[..n]).map_or(0, |c| c.len());
            appends += 1;
        }
    }
    println!("{appends} appends, {bytes} bytes encoded");
}
