//! The detector on the NAB corpus in `testdata/nab`, file by file: the
//! development loop behind `NAB.md` (`steward-bench nab` gives the reported
//! figures). Parameters can be overridden as `name=value` arguments to try
//! an idea; the reported set is `Params::default()`.
//!
//! cargo run --release -p steward-intel --example nab_eval [-- quiet=300]

use steward_intel::Error;
use steward_intel::detector::{Detector, Params, RECORD, score_series};
use steward_intel::nab::Corpus;
use steward_intel::nab::scoring::{self, STANDARD};

fn main() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/nab");
    let labels = std::fs::read_to_string(dir.join("labels/combined_windows.json")).unwrap();
    let corpus = Corpus::parse(&labels, |name| {
        std::fs::read_to_string(dir.join("data").join(name)).map_err(|_| Error::Read(name.into()))
    })
    .unwrap();
    let mut params = Params::default();
    for arg in std::env::args().skip(1) {
        let (k, v) = arg.split_once('=').expect("name=value");
        let v: f64 = v.parse().expect("a number");
        match k {
            "warmup" => params.warmup = v as u32,
            "fast" => params.fast = v,
            "slow" => params.slow = v,
            "recent" => params.recent = v,
            "long" => params.long = v,
            "quantile" => params.quantile = v,
            "distribution" => params.distribution = v,
            "quiet" => params.quiet = v as u32,
            "seasonal" => params.seasonal = v,
            "range" => params.range = v,
            "range_after" => params.range_after = v as i64,
            "range_gate" => params.range_gate = v,
            "range_noise" => params.range_noise = v,
            "level" => params.level = v > 0.0,
            "level1" => params.levels[0] = v,
            "spike_floor" => params.spike_floor = v,
            "spike_reach" => params.spike_reach = v,
            "record_alarms" => params.record_alarms = v > 0.0,
            "level_days" => params.level_days = v as u32,
            "week_recall" => params.week_recall = v > 0.0,
            "stuck" => params.stuck = v,
            "rise" => params.rise = v,
            "recall" => params.recall = v > 0.0,
            "evidence" => params.evidence = v,
            _ => panic!("unknown parameter {k}"),
        }
    }
    // Best of three passes over the whole corpus, one core.
    let mut best = f64::INFINITY;
    let mut outputs: Vec<Vec<f64>> = Vec::new();
    for _ in 0..3 {
        let start = std::time::Instant::now();
        outputs = corpus
            .files
            .iter()
            .map(|f| score_series(params, &f.series.times, &f.series.values))
            .collect();
        best = best.min(start.elapsed().as_secs_f64());
    }
    // NAB_DUMP=dir writes each file's value, rarity and score (analysis).
    if let Ok(dump) = std::env::var("NAB_DUMP") {
        for f in &corpus.files {
            let mut d = Detector::new(params);
            let mut text = String::from("value,rarity,score\n");
            for (&t, &v) in f.series.times.iter().zip(&f.series.values) {
                let r = d.push(t, v);
                text += &format!("{v},{:.4},{:.4}\n", r.rarity, r.score);
            }
            let name = f.name.replace('/', "__");
            std::fs::write(std::path::Path::new(&dump).join(name), text).unwrap();
        }
    }
    let scores = corpus.score(&outputs).unwrap();
    for (p, t, s) in &scores {
        println!("{:20} {s:7.2} (threshold {t:.4})", p.name);
    }
    // NAB_CURVE=1 prints the three scores at a few fixed thresholds.
    if std::env::var("NAB_CURVE").is_ok() {
        for t in [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.58, 0.6, 0.65, 0.7] {
            let s: Vec<String> = scoring::PROFILES
                .iter()
                .map(|p| format!("{:6.2}", corpus.score_at(&outputs, p, t).unwrap()))
                .collect();
            println!("at {t:.2}: {}", s.join(" "));
        }
    }
    println!(
        "samples/s {:.0} (one core), state {} bytes per series",
        corpus.rows() as f64 / best,
        Detector::STATE_BYTES
    );
    // Summary at the standard threshold: windows found, mean reward of the
    // found ones, false-positive rows (scorable) and what they cost.
    {
        let threshold = scores[0].1;
        let (mut found, mut reward, mut fp, mut cost) = (0, 0.0, 0, 0.0);
        // Of those, how many came from a record (scored exactly `record`).
        let is_record = |s: f64| (s - RECORD).abs() < 1e-12;
        let (mut found_records, mut fp_records, mut cost_records) = (0, 0, 0.0);
        for (f, out) in corpus.files.iter().zip(&outputs) {
            let weights = scoring::row_weights(out.len(), &f.windows, &STANDARD);
            let p = scoring::probation(out.len());
            for w in &f.windows {
                if let Some(i) = (w.start..=w.end).find(|&i| i >= p && out[i] >= threshold) {
                    found += 1;
                    reward += weights[i];
                    found_records += usize::from(is_record(out[i]));
                }
            }
            for i in p..out.len() {
                let inside = f.windows.iter().any(|w| (w.start..=w.end).contains(&i));
                if !inside && out[i] >= threshold {
                    fp += 1;
                    cost -= weights[i];
                    if is_record(out[i]) {
                        fp_records += 1;
                        cost_records -= weights[i];
                    }
                }
            }
        }
        println!(
            "found {found}/{} windows, mean reward {:.3}, {fp} fp rows costing {cost:.2}",
            corpus.windows(),
            reward / f64::from(found.max(1))
        );
        println!(
            "records: first in {found_records} windows, {fp_records} fp rows costing {cost_records:.2}"
        );
    }
    // Per file at the standard threshold: score, false-positive rows and
    // each window's highest output.
    let threshold = scores[0].1;
    for (f, out) in corpus.files.iter().zip(&outputs) {
        let file = scoring::File {
            scores: out,
            windows: &f.windows,
        };
        let score = scoring::file_score(&file, &STANDARD, threshold).unwrap();
        let inside = |i: usize| f.windows.iter().any(|w| (w.start..=w.end).contains(&i));
        let fp = (0..out.len())
            .filter(|&i| out[i] >= threshold && !inside(i))
            .count();
        let peaks: Vec<String> = f
            .windows
            .iter()
            .map(|w| {
                format!(
                    "{:.2}",
                    out[w.start..=w.end].iter().fold(0.0, |a: f64, b| a.max(*b))
                )
            })
            .collect();
        println!(
            "{:55} {score:7.3} fp {fp:3} windows {}",
            f.name,
            peaks.join(" ")
        );
    }
}
