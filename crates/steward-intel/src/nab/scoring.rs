//! The Numenta Anomaly Benchmark's scoring rules, as a pure function of a
//! detector's per-row scores and the labelled windows (row indices).
//!
//! Written from the specification (`testdata/nab/README.md` names it):
//! every detection outside a window costs a weight that depends on how far
//! it sits after the preceding window, the earliest detection in a window
//! earns a weight that falls along the window, and a window with no
//! detection costs `A_FN`. One threshold is shared by the whole corpus.

use crate::Error;

/// Rows dropped from scoring at the start of each file: 15 % of its rows,
/// at most 750.
pub fn probation(rows: usize) -> usize {
    (rows as f64 * 0.15).floor().min(750.0) as usize
}

/// The "never fire" threshold: above any valid score.
pub const NO_DETECTION: f64 = 1.1;

/// A cost profile: how much a true positive earns and a false positive or
/// a missed window costs (positive magnitudes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
}

pub const STANDARD: Profile = Profile {
    name: "standard",
    tp: 1.0,
    fp: 0.11,
    fn_: 1.0,
};
pub const REWARD_LOW_FP: Profile = Profile {
    name: "reward_low_FP_rate",
    tp: 1.0,
    fp: 0.22,
    fn_: 1.0,
};
pub const REWARD_LOW_FN: Profile = Profile {
    name: "reward_low_FN_rate",
    tp: 1.0,
    fp: 0.11,
    fn_: 2.0,
};
pub const PROFILES: [Profile; 3] = [STANDARD, REWARD_LOW_FP, REWARD_LOW_FN];

/// An anomaly window, inclusive row bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
}

/// One file of the corpus: its per-row detector scores and its windows
/// (sorted, disjoint, inside the file).
#[derive(Debug, Clone, Copy)]
pub struct File<'a> {
    pub scores: &'a [f64],
    pub windows: &'a [Window],
}

/// NAB's scaled sigmoid: `2 / (1 + e^(5y)) − 1`, and −1 beyond `y = 3`.
pub fn sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// The weight a detection at each row would add (windows' rows positive,
/// falling along the window; others negative, softened just after a
/// window).
pub fn row_weights(rows: usize, windows: &[Window], profile: &Profile) -> Vec<f64> {
    let max_tp = sigmoid(-1.0);
    let mut weights = Vec::with_capacity(rows);
    let mut next = 0;
    let mut previous: Option<Window> = None;
    for i in 0..rows {
        while next < windows.len() && windows[next].end < i {
            previous = Some(windows[next]);
            next += 1;
        }
        let weight = match windows.get(next) {
            Some(w) if w.start <= i => {
                let width = (w.end - w.start + 1) as f64;
                let y = -((w.end - i + 1) as f64) / width;
                profile.tp * sigmoid(y) / max_tp
            }
            _ => match previous {
                None => -profile.fp,
                Some(w) => {
                    let y = (i - w.end) as f64 / (w.end - w.start) as f64;
                    profile.fp * sigmoid(y)
                }
            },
        };
        weights.push(weight);
    }
    weights
}

/// Checks a file: scores in [0, 1], windows sorted, disjoint and inside.
pub fn validate(file: &File<'_>) -> Result<(), Error> {
    if let Some(row) = file.scores.iter().position(|a| !(0.0..=1.0).contains(a)) {
        return Err(Error::ScoreOutOfRange {
            row,
            score: file.scores[row],
        });
    }
    let mut after = 0;
    for w in file.windows {
        if w.start < after || w.end < w.start || w.end >= file.scores.len() {
            return Err(Error::BadWindow {
                start: w.start,
                end: w.end,
                rows: file.scores.len(),
            });
        }
        after = w.end + 1;
    }
    Ok(())
}

/// The window index of each row (None outside windows).
fn window_of(rows: usize, windows: &[Window]) -> Vec<Option<usize>> {
    let mut of = vec![None; rows];
    for (k, w) in windows.iter().enumerate() {
        for slot in &mut of[w.start..=w.end] {
            *slot = Some(k);
        }
    }
    of
}

/// Windows with at least one scorable row: the only ones that count.
fn counted(file: &File<'_>) -> impl Iterator<Item = usize> {
    let first = probation(file.scores.len());
    file.windows
        .iter()
        .enumerate()
        .filter(move |(_, w)| w.end >= first)
        .map(|(k, _)| k)
}

/// Raw score of one file at `threshold` (a row detects when its score is
/// `>= threshold`).
pub fn file_score(file: &File<'_>, profile: &Profile, threshold: f64) -> Result<f64, Error> {
    validate(file)?;
    let rows = file.scores.len();
    let weights = row_weights(rows, file.windows, profile);
    let of = window_of(rows, file.windows);
    let mut best: Vec<Option<f64>> = vec![None; file.windows.len()];
    let mut total = 0.0;
    for i in probation(rows)..rows {
        if file.scores[i] < threshold {
            continue;
        }
        match of[i] {
            None => total += weights[i],
            Some(k) => best[k] = Some(best[k].map_or(weights[i], |b: f64| b.max(weights[i]))),
        }
    }
    for k in counted(file) {
        total += best[k].unwrap_or(-profile.fn_);
    }
    Ok(total)
}

/// Raw corpus score at one threshold.
pub fn corpus_score(files: &[File<'_>], profile: &Profile, threshold: f64) -> Result<f64, Error> {
    files
        .iter()
        .map(|f| file_score(f, profile, threshold))
        .sum()
}

/// One scorable row for the threshold sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub score: f64,
    pub weight: f64,
    /// The window it is in, numbered across the corpus.
    pub window: Option<usize>,
}

/// The corpus raw score at every candidate threshold, highest threshold
/// first: `(threshold, raw score)`, starting with `(1.1, all missed)`.
pub fn sweep_points(mut points: Vec<Point>, windows: usize, fn_cost: f64) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut total = -fn_cost * windows as f64;
    let mut best = vec![-fn_cost; windows];
    let mut records = vec![(NO_DETECTION, total)];
    let mut i = 0;
    while i < points.len() {
        let score = points[i].score;
        while i < points.len() && points[i].score == score {
            let p = points[i];
            match p.window {
                None => total += p.weight,
                Some(w) => {
                    if p.weight > best[w] {
                        total += p.weight - best[w];
                        best[w] = p.weight;
                    }
                }
            }
            i += 1;
        }
        records.push((score, total));
    }
    records
}

/// The best shared threshold and its raw score (ties: the higher
/// threshold).
pub fn optimise(files: &[File<'_>], profile: &Profile) -> Result<(f64, f64), Error> {
    let mut points = Vec::new();
    let mut windows = 0;
    for file in files {
        validate(file)?;
        let rows = file.scores.len();
        let weights = row_weights(rows, file.windows, profile);
        let of = window_of(rows, file.windows);
        // Renumber counted windows across the corpus.
        let mut global = vec![None; file.windows.len()];
        for k in counted(file) {
            global[k] = Some(windows);
            windows += 1;
        }
        for i in probation(rows)..rows {
            points.push(Point {
                score: file.scores[i],
                weight: weights[i],
                window: of[i].and_then(|k| global[k]),
            });
        }
    }
    let records = sweep_points(points, windows, profile.fn_);
    let mut best = records[0];
    for &r in &records[1..] {
        if r.1 > best.1 {
            best = r;
        }
    }
    Ok(best)
}

/// The 0..100 NAB score of a raw corpus score, for a corpus with `windows`
/// labelled windows: 0 never fires, 100 fires on every window's first row
/// and nowhere else.
pub fn normalise(raw: f64, windows: usize, profile: &Profile) -> f64 {
    let perfect = windows as f64 * profile.tp;
    let null = -(windows as f64) * profile.fn_;
    100.0 * (raw - null) / (perfect - null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn sigmoid_reference_values() {
        for (y, want) in [
            (-1.0, 0.9866142981514305),
            (-0.5, 0.8482836399575131),
            (0.0, 0.0),
            (1.0, -0.9866142981514303),
            (3.5, -1.0),
        ] {
            assert!(close(sigmoid(y), want), "σ({y}) = {}", sigmoid(y));
        }
    }

    #[test]
    fn probation_is_fifteen_percent_capped() {
        assert_eq!(probation(100), 15);
        assert_eq!(probation(4032), 604);
        assert_eq!(probation(22695), 750);
        assert_eq!(probation(0), 0);
    }

    const WINDOW: [Window; 1] = [Window { start: 30, end: 39 }];

    #[test]
    fn weights_of_the_worked_example() {
        let w = row_weights(100, &WINDOW, &STANDARD);
        for (row, want) in [
            (30, 1.0),
            (35, 0.8597925669097837),
            (39, 0.24824154977542992),
            (20, -0.11),
            (40, -0.029793183036839352),
            (45, -0.10242205695343354),
            (60, -0.10999811352957378),
            (80, -0.11),
        ] {
            assert!(close(w[row], want), "row {row}: {}", w[row]);
        }
    }

    /// One place that scores a file: detections at `rows`, every profile.
    #[track_caller]
    fn check(rows: &[usize], want: [f64; 3]) {
        let mut scores = vec![0.0; 100];
        for &r in rows {
            scores[r] = 1.0;
        }
        let file = File {
            scores: &scores,
            windows: &WINDOW,
        };
        for (profile, want) in PROFILES.iter().zip(want) {
            let got = file_score(&file, profile, 0.5).unwrap();
            assert!(close(got, want), "{}: {got} != {want}", profile.name);
        }
    }

    #[test]
    fn file_scores_of_the_worked_example() {
        check(
            &[10, 20, 35, 36, 45],
            [0.6473705099563501, 0.4349484530029166, 0.6473705099563501],
        );
        check(&[], [-1.0, -1.0, -2.0]);
        check(&[10], [-1.0, -1.0, -2.0]);
        check(&[30], [1.0, 1.0, 1.0]);
    }

    #[test]
    fn sweep_of_nabs_unit_test() {
        let p = |score, weight, window| Point {
            score,
            weight,
            window,
        };
        let points = vec![
            p(0.0, -3.0, None),
            p(0.2, 20.0, Some(0)),
            p(0.3, 10.0, Some(0)),
            p(0.5, 5.0, Some(1)),
            p(0.5, -3.0, None),
        ];
        assert_eq!(
            sweep_points(points, 2, 5.0),
            vec![
                (1.1, -10.0),
                (0.5, -3.0),
                (0.3, 12.0),
                (0.2, 22.0),
                (0.0, 19.0)
            ]
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let windows = [Window { start: 3, end: 2 }];
        let file = File {
            scores: &[0.0; 5],
            windows: &windows,
        };
        assert!(matches!(
            file_score(&file, &STANDARD, 0.5),
            Err(Error::BadWindow { .. })
        ));
        let file = File {
            scores: &[0.0, f64::NAN],
            windows: &[],
        };
        assert!(matches!(
            file_score(&file, &STANDARD, 0.5),
            Err(Error::ScoreOutOfRange { row: 1, .. })
        ));
        let empty = File {
            scores: &[],
            windows: &[],
        };
        assert_eq!(file_score(&empty, &STANDARD, 0.5).unwrap(), 0.0);
        assert_eq!(optimise(&[empty], &STANDARD).unwrap(), (1.1, 0.0));
    }
}
