//! The Numenta Anomaly Benchmark: its scoring ([`scoring`]), its files
//! ([`corpus`]) and scoring a whole corpus of per-row detector outputs.

pub mod corpus;
pub mod scoring;

use crate::Error;
use corpus::Series;
use scoring::{File, PROFILES, Profile, Window};

/// One labelled data file.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// `category/file.csv`, as in the labels.
    pub name: String,
    pub series: Series,
    pub windows: Vec<Window>,
}

/// The labelled corpus.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub files: Vec<Labelled>,
}

impl Corpus {
    /// Builds the corpus from `combined_windows.json`'s text and a reader
    /// giving each listed file's CSV text (by its name in the labels).
    pub fn parse(
        windows_json: &str,
        mut read: impl FnMut(&str) -> Result<String, Error>,
    ) -> Result<Corpus, Error> {
        let mut files = Vec::new();
        for (name, bounds) in corpus::parse_windows(windows_json)? {
            let series = corpus::parse_series(&read(&name)?)?;
            let windows = corpus::window_rows(&series.times, &bounds)?;
            files.push(Labelled {
                name,
                series,
                windows,
            });
        }
        Ok(Corpus { files })
    }

    /// Labelled windows in the whole corpus (NAB: 116).
    pub fn windows(&self) -> usize {
        self.files.iter().map(|f| f.windows.len()).sum()
    }

    /// Rows in the whole corpus (NAB: 365,558).
    pub fn rows(&self) -> usize {
        self.files.iter().map(|f| f.series.values.len()).sum()
    }

    fn scored<'a>(&'a self, outputs: &'a [Vec<f64>]) -> Result<Vec<File<'a>>, Error> {
        if outputs.len() != self.files.len() {
            return Err(Error::Mismatch("one output per file".into()));
        }
        self.files
            .iter()
            .zip(outputs)
            .map(|(f, scores)| {
                if scores.len() != f.series.values.len() {
                    return Err(Error::Mismatch(format!("{}: one score per row", f.name)));
                }
                Ok(File {
                    scores,
                    windows: &f.windows,
                })
            })
            .collect()
    }

    /// The NAB score (0..100) of `outputs` (one score per row of each
    /// file, in corpus order) under `profile` at `threshold`.
    pub fn score_at(
        &self,
        outputs: &[Vec<f64>],
        profile: &Profile,
        threshold: f64,
    ) -> Result<f64, Error> {
        let raw = scoring::corpus_score(&self.scored(outputs)?, profile, threshold)?;
        Ok(scoring::normalise(raw, self.windows(), profile))
    }

    /// The three NAB scores with each profile's best shared threshold:
    /// `(profile, threshold, score)`.
    pub fn score(&self, outputs: &[Vec<f64>]) -> Result<Vec<(Profile, f64, f64)>, Error> {
        let files = self.scored(outputs)?;
        PROFILES
            .iter()
            .map(|p| {
                let (threshold, raw) = scoring::optimise(&files, p)?;
                Ok((*p, threshold, scoring::normalise(raw, self.windows(), p)))
            })
            .collect()
    }
}
