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
            "recent" => params.recent = v,
            "long" => params.long = v,
            "quantile" => params.quantile = v,
            "distribution" => params.distribution = v,
            "quiet" => params.quiet = v as u32,
            "seasonal" => params.seasonal = v,
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
            let wmax: Vec<String> = f
                .windows
                .iter()
                .map(|w| {
                    format!(
                        "{:.2}",
                        o[w.start..=w.end].iter().cloned().fold(0.0, f64::max)
                    )
                })
                .collect();
            let fp = o
                .iter()
                .enumerate()
                .filter(|(i, a)| {
                    **a >= scores[0].1 && !f.windows.iter().any(|w| w.start <= *i && *i <= w.end)
                })
                .count();
            println!("{:55} {s:7.3} fp {fp:3} windows {}", f.name, wmax.join(" "));
        }
    }
    if let Ok(spec) = std::env::var("DUMP") {
        let parts: Vec<&str> = spec.split(',').collect();
        let (a, b): (usize, usize) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
        let (f, o) = corpus
            .files
            .iter()
            .zip(&outputs)
            .find(|(f, _)| f.name.contains(parts[0]))
            .unwrap();
        let mut d = steward_intel::detector::Detector::new(params);
        for i in 0..b {
            let v = d.push(f.series.times[i], f.series.values[i]);
            if i >= a {
                println!(
                    "{i} {} {:.3} {:?} {:.3}",
                    f.series.values[i], o[i], v.explanation, v.score
                );
            }
        }
    }
    println!("{:.0} samples/s", corpus.rows() as f64 / secs);
}
