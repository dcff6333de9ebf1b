//! The scorer reproduces NAB's published results from the reference
//! detectors' outputs in `testdata/nab/` (see its README).

use std::collections::HashMap;
use std::path::PathBuf;
use steward_intel::Error;
use steward_intel::nab::Corpus;
use steward_intel::nab::scoring::{self, PROFILES};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/nab")
}

fn corpus() -> Corpus {
    let dir = testdata();
    let labels = std::fs::read_to_string(dir.join("labels/combined_windows.json")).unwrap();
    Corpus::parse(&labels, |name| {
        std::fs::read_to_string(dir.join("data").join(name)).map_err(|_| Error::Read(name.into()))
    })
    .unwrap()
}

/// A reference detector's outputs: zero except the rows listed in
/// `detections/<name>.csv` (every row at or above the thresholds tested).
fn outputs(corpus: &Corpus, name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(testdata().join(format!("detections/{name}.csv"))).unwrap();
    let index: HashMap<&str, usize> = corpus
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    let mut out: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .map(|f| vec![0.0; f.series.values.len()])
        .collect();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = line.split(',');
        let file = index[parts.next().unwrap()];
        let row: usize = parts.next().unwrap().parse().unwrap();
        out[file][row] = parts.next().unwrap().parse().unwrap();
    }
    out
}

/// Published per-file `Score` column of `<detector>_<profile>_scores.csv`.
fn published_files(detector: &str, profile: &str) -> HashMap<String, f64> {
    let path = testdata().join(format!("published/{detector}_{profile}_scores.csv"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("Totals"))
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (cols[2].to_string(), cols[4].parse().unwrap())
        })
        .collect()
}

/// One place that scores a reference detector: at the published
/// thresholds, the three NAB scores are `want` to four decimals, and every
/// file's score matches the published per-file score.
#[track_caller]
fn check(name: &str, thresholds: [f64; 3], want: [f64; 3]) {
    let corpus = corpus();
    let out = outputs(&corpus, name);
    for ((profile, threshold), want) in PROFILES.iter().zip(thresholds).zip(want) {
        let got = corpus.score_at(&out, profile, threshold).unwrap();
        assert!((got - want).abs() < 1e-4, "{name} {}: {got}", profile.name);
        let published = published_files(name, profile.name);
        for (file, scores) in corpus.files.iter().zip(&out) {
            let f = scoring::File {
                scores,
                windows: &file.windows,
            };
            let got = scoring::file_score(&f, profile, threshold).unwrap();
            let want = published[&file.name];
            assert!(
                (got - want).abs() < 1e-6,
                "{name} {}: {got} != {want}",
                file.name
            );
        }
    }
}

#[test]
fn corpus_shape() {
    let corpus = corpus();
    assert_eq!(corpus.files.len(), 58);
    assert_eq!(corpus.windows(), 116);
    assert_eq!(corpus.rows(), 365_558);
}

#[test]
fn numenta_at_published_thresholds() {
    check(
        "numenta",
        [0.5421876907348634, 0.5751955032348636, 0.5421876907348634],
        [70.1011, 63.1168, 74.3202],
    );
}

#[test]
fn windowed_gaussian_at_published_thresholds() {
    check("windowedGaussian", [1.0; 3], [39.6495, 20.8680, 47.4100]);
}

#[test]
fn numenta_with_reoptimised_thresholds() {
    let corpus = corpus();
    let got = corpus.score(&outputs(&corpus, "numenta")).unwrap();
    for ((_, _, got), want) in got.iter().zip([70.1011, 63.2092, 74.3202]) {
        assert!((got - want).abs() < 1e-4, "{got} != {want}");
    }
}

#[test]
fn null_detector_scores_zero() {
    let corpus = corpus();
    let out: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .map(|f| vec![0.5; f.series.values.len()])
        .collect();
    for (_, threshold, score) in corpus.score(&out).unwrap() {
        assert_eq!((threshold, score), (1.1, 0.0));
    }
}

/// Detectors whose per-row outputs are not kept here: their published
/// per-file scores, summed and normalised, give their published totals.
#[test]
fn published_totals_of_other_detectors() {
    for (name, want) in [
        (
            "ARTime",
            [74.85377223215792, 65.15400017974811, 80.36228493638114],
        ),
        (
            "contextOSE",
            [69.89956896844828, 66.97713919047413, 73.18167250416667],
        ),
        (
            "earthgeckoSkyline",
            [58.20022252594827, 46.19530112566379, 63.80014835063793],
        ),
    ] {
        for (profile, want) in PROFILES.iter().zip(want) {
            let raw: f64 = published_files(name, profile.name).values().sum();
            let got = scoring::normalise(raw, 116, profile);
            assert!((got - want).abs() < 1e-6, "{name} {}: {got}", profile.name);
        }
    }
}
