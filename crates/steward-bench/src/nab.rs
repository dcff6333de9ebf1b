//! `nab`: Steward's anomaly detector on the Numenta Anomaly Benchmark: the
//! three NAB scores (one parameter set for all 58 files, threshold chosen
//! by NAB's sweep), throughput on one core and state bytes per series.

use anyhow::{Context, Result};
use std::path::Path;
use std::time::Instant;
use steward_intel::detector::{Detector, Params, score_series};
use steward_intel::nab::Corpus;

/// Where the corpus is kept in the repository.
pub fn default_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../steward-intel/testdata/nab")
}

/// Baseline keys of the three scores, in profile order.
pub const SCORE_KEYS: [&str; 3] = ["nab_standard", "nab_reward_low_fp", "nab_reward_low_fn"];

pub struct Report {
    /// `(profile, threshold, score)` for standard, reward-low-FP and
    /// reward-low-FN.
    pub scores: Vec<(&'static str, f64, f64)>,
    pub samples_per_s: f64,
    pub state_bytes: usize,
    pub rows: usize,
}

pub fn run(dir: &Path) -> Result<Report> {
    let labels = std::fs::read_to_string(dir.join("labels/combined_windows.json"))
        .with_context(|| format!("reading the NAB labels under {}", dir.display()))?;
    let corpus = Corpus::parse(&labels, |name| {
        std::fs::read_to_string(dir.join("data").join(name))
            .map_err(|_| steward_intel::Error::Read(name.into()))
    })?;
    let params = Params::default();
    // Best of three passes over the whole corpus, one core.
    let mut best = f64::INFINITY;
    let mut outputs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        outputs = corpus
            .files
            .iter()
            .map(|f| score_series(params, &f.series.times, &f.series.values))
            .collect();
        best = best.min(start.elapsed().as_secs_f64());
    }
    let scores = corpus
        .score(&outputs)?
        .into_iter()
        .map(|(p, t, s)| (p.name, t, s))
        .collect();
    Ok(Report {
        scores,
        samples_per_s: corpus.rows() as f64 / best,
        state_bytes: Detector::STATE_BYTES,
        rows: corpus.rows(),
    })
}

pub fn print(report: &Report) {
    println!(
        "NAB v1.1, 58 files, {} rows, one parameter set",
        report.rows
    );
    for (profile, threshold, score) in &report.scores {
        println!("  {profile:<20} {score:6.2}   (threshold {threshold:.4})");
    }
    println!("  samples/s (one core)  {:.0}", report.samples_per_s);
    println!("  state bytes/series    {}", report.state_bytes);
    // For bench/baseline.json, whose rates are normalised by this.
    let calibration_ms = crate::suite::calibrate();
    println!("  CPU calibration       {calibration_ms:.0} ms (SHA-256 of 256 MiB)");
    println!(
        "  normalised samples/s  {:.0}",
        report.samples_per_s * calibration_ms
    );
}
