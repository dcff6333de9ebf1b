//! Scores the detector on the NAB corpus in `testdata/nab` (development
//! loop; `steward-bench nab` is the reported figure).

use steward_intel::Error;
use steward_intel::detector::{Params, score_series};
use steward_intel::nab::Corpus;

fn main() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/nab");
    let labels = std::fs::read_to_string(dir.join("labels/combined_windows.json")).unwrap();
    let corpus = Corpus::parse(&labels, |name| {
        std::fs::read_to_string(dir.join("data").join(name)).map_err(|_| Error::Read(name.into()))
    })
    .unwrap();
    let mut params = Params::default();
    for arg in std::env::args().skip(1) {
        let (k, v) = arg.split_once('=').unwrap();
        let v: f64 = v.parse().unwrap();
        match k {
            "warmup" => params.warmup = v as u32,
            "fast" => params.fast = v,
            "slow" => params.slow = v,
            "history" => params.history = v,
            "quiet" => params.quiet = v as u32,
            _ => panic!("unknown {k}"),
        }
    }
    let start = std::time::Instant::now();
    let outputs: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .map(|f| score_series(params, &f.series.times, &f.series.values))
        .collect();
    let secs = start.elapsed().as_secs_f64();
    let scores = corpus.score(&outputs).unwrap();
    for (p, t, s) in &scores {
        println!("{:20} {s:7.2} (threshold {t:.4})", p.name);
    }
    if std::env::var("PERFILE").is_ok() {
        let std = steward_intel::nab::scoring::STANDARD;
        for (f, o) in corpus.files.iter().zip(&outputs) {
            let file = steward_intel::nab::scoring::File {
                scores: o,
                windows: &f.windows,
            };
            let s = steward_intel::nab::scoring::file_score(&file, &std, scores[0].1).unwrap();
            println!("{:60} {:2} windows {s:7.3}", f.name, f.windows.len());
        }
    }
    println!("{:.0} samples/s", corpus.rows() as f64 / secs);
}
