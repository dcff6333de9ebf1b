//! A streaming anomaly detector for one metric series: one pass, fixed
//! state (2.0 KiB), no look-ahead. Each sample gets a rarity in [0, 1]
//! (how rare its surprise is for this series), an alarm score (the rarity
//! when it starts or tops an event), and, while an event lasts, what is
//! unusual.
//!
//! How it works, per sample:
//! 1. **Seasonality**: quarter-hour-of-day and hour-of-week profiles are
//!    learned;
//!    when one explains most of the series' spread, the series is
//!    adjusted by it (the profile's shape is subtracted: its value at this
//!    time minus its mean), so a usual Monday morning is not a surprise and
//!    an unusual one is, and a level shift stays a level shift.
//! 2. **Surprises**: a *spike* (the sample against the recent level, in
//!    noise units: the long-run mean absolute change, which one spike
//!    hardly moves, at least a quarter of a standard deviation; one sample
//!    moves that level by at most 4 noise units, so the sample after a
//!    spike is not a spike), and, in standard deviations of the long run,
//!    a *variance change* (the
//!    recent spread of changes against the long-run one), a *trend change*
//!    (the recent slope against the long-run one), and a *distribution
//!    change* (the recent values' histogram against the long run's, which
//!    catches level shifts and new ranges).
//! 3. **Rarity**: the largest surprise's logarithm is compared with this
//!    series' own median and 99.5th percentile of it (tracked as streaming
//!    quantiles), so a noisy series does not alarm on its everyday noise.
//!    The score is the Gaussian upper-tail rarity on a log scale: 0.5 is
//!    one in 100,000. A rare sample is only unusual ([`ALARM`] is not
//!    reached) when the robust evidence (step 6) is under two noise
//!    units, or when the same time of day (within an hour) was as rare
//!    yesterday: a nightly job is a repeat, not an event.
//! 4. **Records**: a value beyond the whole range the series has shown
//!    (by 2 % of that range and one noise unit), or a level (the recent
//!    one, or a four times slower one) beyond the whole range that level
//!    has had (by one of its own noise units), is [`RECORD`] rare: a new
//!    high or low is what people call unusual, however the series got
//!    there. The slower level beyond the range it has had in the last
//!    five days (by the same margin, on a sample at least 1 in 10 on its
//!    own, and not when this time of day was as rare yesterday: a nightly
//!    job running a little higher is a repeat) is a record too: a level
//!    not seen in days. So is a stuck value: the same value for longer
//!    than any run of one value before (at least 12 samples, in a series
//!    that has changed before; explained as a variance change). Records
//!    count after two days of history (a first day's cycle is not a string
//!    of records), and a run of them is one event.
//! 5. **One event, one alarm**: the alarm score is the rarity only when it
//!    tops the recent peak of rarities (which fades over `quiet` samples),
//!    or is a counted record (a new high is news however recent the last
//!    alarm), and, within an open event, is a record or ten times rarer
//!    (0.1) than the event's last alarm; otherwise it is 0.
//! 6. **Explanation**: an event opens at a rarity of [`ALARM`] and stays
//!    open while a sample at least every 12 is unusual (1 in 100). It is
//!    explained by robust evidence measured in units of the series'
//!    sample-to-sample noise: a spike, a level shift (the level moved after
//!    a jump), a trend change (it moved gradually), a variance change (a
//!    wider spread of changes, each clipped so one spike does not count),
//!    or, when nothing stands out in a seasonal series, a broken daily or
//!    weekly pattern. The strongest sustained evidence seen in the event
//!    wins over a spike.
//!
//! `NAB.md` gives its Numenta Anomaly Benchmark scores and the ideas tried.

/// What made a sample unusual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Explanation {
    /// One sample far from the recent level.
    Spike,
    /// The recent level moved away from the long-run level.
    LevelShift,
    /// The recent slope differs from the long-run slope.
    TrendChange,
    /// The recent spread differs from the long-run spread.
    VarianceChange,
    /// Far from what this hour of the day usually shows (the series has a
    /// daily pattern).
    BrokenDailyPattern,
    /// Far from what this hour of the week usually shows.
    BrokenWeeklyPattern,
}

impl Explanation {
    /// In words, for an alert ("level shift").
    pub fn describe(self) -> &'static str {
        match self {
            Explanation::Spike => "spike",
            Explanation::LevelShift => "level shift",
            Explanation::TrendChange => "trend change",
            Explanation::VarianceChange => "variance change",
            Explanation::BrokenDailyPattern => "broken daily pattern",
            Explanation::BrokenWeeklyPattern => "broken weekly pattern",
        }
    }

    /// As an identifier ("level_shift"), for the API.
    pub fn name(self) -> &'static str {
        match self {
            Explanation::Spike => "spike",
            Explanation::LevelShift => "level_shift",
            Explanation::TrendChange => "trend_change",
            Explanation::VarianceChange => "variance_change",
            Explanation::BrokenDailyPattern => "broken_daily_pattern",
            Explanation::BrokenWeeklyPattern => "broken_weekly_pattern",
        }
    }
}

/// The detector's verdict on one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// How rare this sample is for this series: 0 = usual, 1 = as rare as
    /// it gets (0.5 = one in 100,000, [`ALARM`]).
    pub rarity: f64,
    /// The rarity when it starts or tops an event, else 0: what to alarm
    /// on (one alarm per event) and what the NAB score is computed from.
    pub score: f64,
    /// What is unusual, while an event is open (from a rarity of
    /// [`ALARM`] until no sample in 12 is 1 in 100).
    pub explanation: Option<Explanation>,
}

/// The score from which a sample is explained (one in 100,000).
pub const ALARM: f64 = 0.5;

/// The rarity of a record (a new high or low beyond a margin): above
/// [`ALARM`], so a record is an event.
pub const RECORD: f64 = 0.6;

/// The one parameter set (shared by every series).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Samples learned before any score is given.
    pub warmup: u32,
    /// Weight of a new sample in the recent level (≈ 1 / samples).
    pub fast: f64,
    /// Weight of a new sample in the long-run level and spread.
    pub slow: f64,
    /// Weight of a new sample in the recent histogram.
    pub recent: f64,
    /// Weight of a new sample in the long-run histogram.
    pub long: f64,
    /// Step of the streaming quantiles of the log-surprise.
    pub quantile: f64,
    /// Weight of the distribution change against the other surprises.
    pub distribution: f64,
    /// Samples over which the peak of scores fades.
    pub quiet: u32,
    /// Seasonality is used when its residual variance is below this
    /// fraction of the series' variance.
    pub seasonal: f64,
    /// A value beyond the whole range seen so far, by this fraction of
    /// that range and by `range_noise` units of the series' noise, is a
    /// record ([`RECORD`] rare; 0 = off) ...
    pub range: f64,
    pub range_noise: f64,
    /// ... once the series has `range_after` seconds of history, and when
    /// the sample is at least `range_gate` rare on its own.
    pub range_after: i64,
    pub range_gate: f64,
    /// A rarity alarms only with robust evidence (a spike, a level or a
    /// spread change) of at least this many noise units ...
    pub evidence: f64,
    /// ... and, within an open event, only when a record or this much
    /// rarer than the event's last alarm (0.1 = ten times rarer) ...
    pub rise: f64,
    /// ... and not when it is no rarer than the rarest sample yesterday
    /// within an hour of this time of day (a nightly job).
    pub recall: bool,
    /// Records of the recent level count ...
    pub level: bool,
    /// ... and of slower levels, of these weights (0 = none).
    pub levels: [f64; LEVELS],
    /// A spike is measured in noise units (the long-run mean absolute
    /// change, which one spike hardly moves), but in no less than this
    /// fraction of the series' standard deviation ...
    pub spike_floor: f64,
    /// ... against a recent level that one sample moves by at most this
    /// many noise units (× `fast`), so the sample after a spike, back at
    /// the usual level, is not a spike itself.
    pub spike_reach: f64,
    /// A counted record is an alarm even under the fading peak of an
    /// earlier event (a new high is news however recent the last alarm).
    pub record_alarms: bool,
    /// The slower level beyond the range it has had over the last
    /// `level_days` days (and today), by the record margin, is a record
    /// too: a level not seen in days (0 = off; at most `DAYS` − 1). Like
    /// a value's record, it needs the sample to be `range_gate` rare ...
    pub level_days: u32,
    /// ... and not when this time of day (within an hour) was as rare
    /// yesterday: a nightly job running a little higher is a repeat.
    pub week_recall: bool,
    /// The same value for more than this many times as long as any run of
    /// one value before (and at least `HOLD` samples) is a record: a
    /// stuck value (0 = off).
    pub stuck: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            warmup: 100,
            fast: 0.2,
            slow: 0.01,
            recent: 0.1,
            long: 0.004,
            quantile: 0.05,
            distribution: 1.3,
            quiet: 500,
            seasonal: 0.5,
            range: 0.02,
            range_noise: 1.0,
            range_after: 2 * 86_400,
            range_gate: 0.1,
            evidence: 2.0,
            rise: 0.1,
            recall: true,
            level: true,
            levels: [0.05],
            spike_floor: 0.25,
            spike_reach: 20.0,
            record_alarms: true,
            level_days: 5,
            week_recall: true,
            stuck: 1.0,
        }
    }
}

/// Slower levels whose records count.
pub const LEVELS: usize = 1;

/// Days whose ranges are kept.
const DAYS: usize = 8;

/// Samples an event stays open without an unusual one.
const HOLD: u32 = 12;

/// Quarter hours either side whose rarity yesterday is recalled.
const RECALL: usize = 4;

/// How much rarer than yesterday's a sample must be to be no repeat.
const RECALL_MARGIN: f64 = 0.05;

/// What an alarm without enough evidence, or a repeat, is lowered to: still
/// unusual (an open event lasts), not an alarm.
const UNUSUAL: f64 = 0.45;

/// Buckets of the daily profile (quarter hours).
const DAY_BUCKETS: usize = 96;

/// Bins of the value histograms (0.6 σ each, the outer two open-ended).
const BINS: usize = 12;

/// Per-series state (see [`Detector::STATE_BYTES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    params: Params,
    seen: u32,
    start: i64,
    last_time: i64,
    last: f64,
    peak: f64,
    event: u32,
    event_kind: Explanation,
    event_strength: f64,
    event_jump: bool,
    /// Spread of the recent changes, each clipped to four noise units.
    spread: Ewm,
    /// The recent level, each sample's pull clipped to three noise units.
    robust: f64,
    /// How fast the robust level moves (per sample), and the long-run
    /// mean absolute change.
    pace: f64,
    calm: f64,
    /// Recent level (of the adjusted series).
    fast: f64,
    /// The recent level a spike is measured against (see
    /// `Params::spike_reach`).
    anchor: f64,
    /// The slower level's lowest and highest of each of the last days,
    /// and that day's number (modulo 256).
    day_ranges: [[f32; 2]; DAYS],
    day_of: [u8; DAYS],
    /// Long-run level and spread of the raw and adjusted values.
    raw: Ewm,
    slow: Ewm,
    /// Recent and long-run spread of sample-to-sample changes.
    change_fast: Ewm,
    change_slow: Ewm,
    /// Recent and long-run slope (of the recent level).
    slope_fast: f64,
    slope_slow: Ewm,
    daily: Profile<DAY_BUCKETS, 86_400>,
    weekly: Profile<168, { 7 * 86_400 }>,
    /// The slow reference that places the histogram bins, and the recent
    /// and long-run histograms.
    reference: Ewm,
    recent: [f32; BINS],
    long: [f32; BINS],
    /// Median and 99.5th percentile of the log-surprise, and the mean
    /// and spread of the log-distribution-change.
    surprise: [f64; 2],
    change_history: Ewm,
    /// The range of the values, of the recent level and of the slower
    /// levels, the slower levels, and samples since the last record.
    values: Range,
    level_range: Range,
    level_ranges: [Range; LEVELS],
    levels: [f64; LEVELS],
    since_record: u32,
    /// The last raw value (as f32), how many samples in a row have had
    /// it, and the longest such run that has ended (both saturating).
    last_raw: f32,
    run: u16,
    longest_run: u16,
    /// The highest rarity (× 255) of each quarter hour of the day and the
    /// day it was seen (modulo 256), and that quarter hour's the day
    /// before.
    recall: [u8; DAY_BUCKETS],
    recall_day: [u8; DAY_BUCKETS],
    yesterday: [u8; DAY_BUCKETS],
    /// The last alarm of the open event (0 without one).
    event_alarm: f64,
}

// The budget: at most 2 KiB per series, checked when compiling.
const _: () = assert!(Detector::STATE_BYTES <= 2048);

impl Detector {
    /// Bytes of state kept per series.
    pub const STATE_BYTES: usize = std::mem::size_of::<Detector>();

    pub fn new(params: Params) -> Detector {
        Detector {
            params,
            seen: 0,
            start: 0,
            last_time: i64::MIN,
            last: 0.0,
            peak: 0.0,
            event: 0,
            event_kind: Explanation::Spike,
            event_strength: 0.0,
            event_jump: false,
            spread: Ewm::default(),
            robust: 0.0,
            pace: 0.0,
            calm: 0.0,
            fast: 0.0,
            anchor: 0.0,
            day_ranges: [[f32::NAN; 2]; DAYS],
            day_of: [0; DAYS],
            raw: Ewm::default(),
            slow: Ewm::default(),
            change_fast: Ewm::default(),
            change_slow: Ewm::default(),
            slope_fast: 0.0,
            slope_slow: Ewm::default(),
            daily: Profile::new(),
            weekly: Profile::new(),
            reference: Ewm::default(),
            recent: [0.0; BINS],
            long: [0.0; BINS],
            surprise: [0.0, 1.0],
            change_history: Ewm::default(),
            values: Range::default(),
            level_range: Range::default(),
            level_ranges: [Range::default(); LEVELS],
            levels: [0.0; LEVELS],
            since_record: u32::MAX,
            last_raw: f32::NAN,
            run: 0,
            longest_run: 0,
            recall: [0; DAY_BUCKETS],
            recall_day: [0; DAY_BUCKETS],
            yesterday: [0; DAY_BUCKETS],
            event_alarm: 0.0,
        }
    }

    /// What an unusual sample shows and how strongly, in units of the
    /// series' sample-to-sample noise (which ramps and steps do not
    /// inflate): one value off the recent level (spike); the recent level,
    /// which a lone spike hardly moves, off the long run (a level shift
    /// when the event began with a jump, else a gradual trend change); or
    /// a wider spread of changes, each clipped so a lone spike does not
    /// count (variance change).
    fn explain(&self, y: f64, noise: f64) -> [(Explanation, f64); 3] {
        let a = self.params.fast * 0.5;
        let n = (2.0 - a) / a;
        let moved = if self.event_jump {
            Explanation::LevelShift
        } else {
            Explanation::TrendChange
        };
        let usual = 2.0 * noise * noise;
        [
            (Explanation::Spike, (y - self.fast).abs() / noise / 2.0),
            (moved, (self.robust - self.slow.mean).abs() / noise),
            (
                Explanation::VarianceChange,
                (self.spread.var / usual).ln().max(0.0) * (n / 2.0).sqrt() / 2.0,
            ),
        ]
    }

    /// The seasonal profile that explains the series at `time`, if one
    /// does, and its shape there (0 without one).
    fn season(&self, time: i64) -> (Option<Explanation>, f64) {
        let elapsed = time.saturating_sub(self.start);
        let (mut season, mut shape) = (None, 0.0);
        let mut best = self.params.seasonal * self.raw.var;
        if elapsed > 2 * 86_400 && self.daily.err.var < best {
            (season, shape, best) = (
                Some(Explanation::BrokenDailyPattern),
                self.daily.shape(time),
                self.daily.err.var,
            );
        }
        if elapsed > 14 * 86_400 && self.weekly.err.var < best {
            (season, shape) = (
                Some(Explanation::BrokenWeeklyPattern),
                self.weekly.shape(time),
            );
        }
        (season, shape)
    }

    /// The unit of the spike surprise: the series' noise (its long-run
    /// mean absolute change, as a standard deviation), at least
    /// `spike_floor` of its standard deviation.
    fn spike_unit(&self, floor: f64) -> f64 {
        let sd = self.slow.var.sqrt();
        (self.calm * 0.886_226_925)
            .max(self.params.spike_floor * sd)
            .max(floor)
    }

    /// Still learning the series (no score given yet).
    pub fn learning(&self) -> bool {
        self.seen <= self.params.warmup
    }

    /// The expected range of a sample at `time` (after the last one): the
    /// recent level plus the seasonal shape, widened by how far this
    /// series' own samples usually stray from it (the 99.5th percentile of
    /// its surprises, at least 3 noise units). A sample inside
    /// is not a spike; a level shift or variance change can still be
    /// unusual within it. None while learning.
    pub fn expected(&self, time: i64) -> Option<(f64, f64)> {
        if self.learning() {
            return None;
        }
        let (_, shape) = self.season(time);
        let floor = 1e-9 * (1.0 + self.slow.mean.abs());
        let unit = self.spike_unit(floor);
        let usual = (self.surprise[1].min(50.0).exp() - 1e-3).max(3.0);
        let centre = self.anchor + shape;
        let width = usual * unit;
        (centre.is_finite() && width.is_finite()).then_some((centre - width, centre + width))
    }

    /// Takes the next sample (`time` in Unix seconds). A non-finite value
    /// or a time not after the last is skipped with a zero score.
    pub fn push(&mut self, time: i64, value: f64) -> Verdict {
        let nothing = Verdict {
            rarity: 0.0,
            score: 0.0,
            explanation: None,
        };
        if !value.is_finite() || time <= self.last_time {
            return nothing;
        }
        self.last_time = time;
        // Absurd magnitudes are clamped so squares stay finite.
        let x = value.clamp(-1e150, 1e150);
        let p = self.params;
        if self.seen == 0 {
            self.start = time;
            self.fast = x;
            self.anchor = x;
            self.robust = x;
            self.raw.mean = x;
            self.slow.mean = x;
            self.last = x;
            self.reference.mean = x;
            self.levels = [x; LEVELS];
            self.values = Range { low: x, high: x };
        }
        self.seen = self.seen.saturating_add(1);
        let learning = self.seen <= p.warmup;

        // 1. Seasonal adjustment, when a profile explains the series.
        let level = self.raw.mean;
        let expected_day = self.daily.at(time, level);
        let expected_week = self.weekly.at(time, level);
        let (season, shape) = self.season(time);
        let y = x - shape;

        // 2. Surprises against the expectations before this sample.
        let floor = 1e-9 * (1.0 + self.slow.mean.abs());
        let change_sd = self.change_slow.var.sqrt().max(floor);
        let spike = (y - self.anchor).abs() / self.spike_unit(floor);
        let reach = p.spike_reach * (self.calm * 0.886_226_925).max(floor);
        self.anchor += p.fast * (y - self.anchor).clamp(-reach, reach);
        let new_fast = self.fast + p.fast * (y - self.fast);
        let change = y - self.last;
        let mut change_fast = self.change_fast;
        change_fast.update(change, p.fast * 0.5);
        // In log units (about a third of its standard errors over ~19
        // samples): a change of spread alone alarms only when large.
        let variance = (change_fast.var.max(floor * floor) / (change_sd * change_sd))
            .ln()
            .abs();
        let slope = new_fast - self.fast;
        let slope_fast = self.slope_fast + p.fast * 0.25 * (slope - self.slope_fast);
        let trend =
            (slope_fast - self.slope_slow.mean).abs() / self.slope_slow.var.sqrt().max(floor);
        let top = spike.max(variance).max(trend);

        // Distribution of the recent values against the long run's.
        let mut distribution = 0.0;
        if !learning {
            // Bins of 0.6 standard deviations of the long run around its
            // mean, and one beyond ±3 on each side.
            let u = (y - self.reference.mean) / self.reference.var.sqrt().max(floor);
            let bin = (u / 0.6 + (BINS / 2) as f64).clamp(0.0, (BINS - 1) as f64) as usize;
            // Clipped, so one spike does not widen every bin (which made
            // the usual samples after it look like a new distribution).
            let reach = 6.0 * self.reference.var.sqrt().max(floor);
            let m = self.reference.mean;
            self.reference.update(y.clamp(m - reach, m + reach), p.long);
            let mut d = 0.0f32;
            for k in 0..BINS {
                let hit = if k == bin { 1.0 } else { 0.0 };
                self.recent[k] += p.recent as f32 * (hit - self.recent[k]);
                let diff = self.recent[k] - self.long[k];
                d += diff * diff / (self.long[k] + 0.02);
                self.long[k] += p.long as f32 * (hit - self.long[k]);
            }
            let settled = self.seen > 3 * p.warmup;
            let log_d = f64::from(d + 1e-4).ln();
            let h = &mut self.change_history;
            let z = (log_d - h.mean) / h.var.sqrt().max(1e-3);
            h.update(log_d, if settled { p.long / 2.0 } else { 0.05 });
            if settled {
                distribution = p.distribution * z;
            }
        } else {
            self.reference.update(y, 0.05);
        }

        // Noise: the long-run mean absolute change (× √(π/2) for a
        // standard deviation, / √2 from changes to values), robust to the
        // very changes being explained.
        let noise = (self.calm * 0.886_226_925).max(floor);
        let clip = 3.0 * noise;
        self.spread
            .update(change.clamp(-4.0 * noise, 4.0 * noise), p.fast * 0.5);
        let pull = p.fast * (y - self.robust).clamp(-clip, clip);
        self.robust += pull;
        self.pace += 0.1 * (pull - self.pace);
        self.calm += if learning { 0.05 } else { p.long } * (change.abs() - self.calm);
        let evidence = self.explain(y, noise);

        // 3. Rarity of the largest surprise in this series' history.
        let mut z = rarity(&mut self.surprise, (top + 1e-3).ln(), p.quantile, learning);
        z = z.max(distribution);
        let rarity = if learning || !z.is_finite() {
            0.0
        } else {
            tail(z)
        };
        let raw_rarity = rarity;
        let mut rarity = rarity;
        // An alarm needs robust evidence of `evidence` noise units, and
        // is not one when this time of day (within an hour) was as rare
        // yesterday: a repeat, such as a nightly job, is not an event.
        let strongest = evidence.iter().fold(0.0f64, |a, e| a.max(e.1));
        if rarity >= ALARM && strongest < p.evidence {
            rarity = UNUSUAL;
        }
        let mut repeat = false;
        if p.recall && !learning {
            let day = (time.div_euclid(86_400) & 0xff) as u8;
            let b = Profile::<DAY_BUCKETS, 86_400>::bucket(time);
            if rarity >= ALARM || (p.week_recall && raw_rarity >= p.range_gate) {
                let mut recalled = 0u8;
                for k in b + DAY_BUCKETS - RECALL..=b + DAY_BUCKETS + RECALL {
                    let k = k % DAY_BUCKETS;
                    recalled = recalled.max(match day.wrapping_sub(self.recall_day[k]) {
                        0 => self.yesterday[k],
                        1 => self.recall[k],
                        _ => 0,
                    });
                }
                let recalled = f64::from(recalled) / 255.0;
                repeat = p.week_recall && raw_rarity <= recalled + RECALL_MARGIN;
                if rarity >= ALARM && rarity <= recalled + RECALL_MARGIN {
                    rarity = UNUSUAL;
                }
            }
            let cell = &mut self.recall[b];
            if self.recall_day[b] != day {
                let last = day.wrapping_sub(self.recall_day[b]) == 1;
                self.yesterday[b] = if last { *cell } else { 0 };
                (*cell, self.recall_day[b]) = (0, day);
            }
            *cell = (*cell).max((raw_rarity * 255.0).round() as u8);
        }
        // 4. A record: a value beyond the whole range seen so far, by a
        // margin (a new high or low is what people call unusual, however
        // the series got there), or a level (recent, or slower) beyond the
        // whole range of that level, by its own noise. Not before
        // `range_after` of history, so a first day's cycle is not a string
        // of records; a run of records is one event (they count again
        // after `HOLD` samples without one).
        let armed = p.range > 0.0 && !learning && time.saturating_sub(self.start) >= p.range_after;
        let mut record = armed
            && raw_rarity >= p.range_gate
            && self.values.beyond(x, p.range, p.range_noise * noise);
        self.values.widen(x, true);
        // A stuck value: the same value for longer than any run of one
        // value before (by `stuck`), at least `HOLD` samples, in a series
        // that has changed before.
        if x as f32 == self.last_raw {
            self.run = self.run.saturating_add(1);
        } else {
            self.longest_run = self.longest_run.max(self.run);
            (self.last_raw, self.run) = (x as f32, 1);
        }
        let mut stuck = false;
        if p.stuck > 0.0 && self.longest_run > 0 {
            let after = (p.stuck * f64::from(self.longest_run)).floor() as u32 + 1;
            stuck = armed && u32::from(self.run) == after.max(HOLD);
            record |= stuck;
        }
        // A level of weight a has √(a / (2 − a)) of the samples' noise.
        let level_noise = |a: f64| noise * (a / (2.0 - a)).sqrt();
        if p.level {
            record |= armed
                && self
                    .level_range
                    .beyond(new_fast, p.range, p.range_noise * level_noise(p.fast));
            self.level_range
                .widen(new_fast, f64::from(self.seen) > 3.0 / p.fast);
        }
        for k in 0..LEVELS {
            let a = p.levels[k];
            if a <= 0.0 {
                continue;
            }
            let level = self.levels[k] + a * (y - self.levels[k]);
            record |= armed
                && self.level_ranges[k].beyond(level, p.range, p.range_noise * level_noise(a));
            self.level_ranges[k].widen(level, f64::from(self.seen) > 3.0 / a);
            self.levels[k] = level;
        }
        // A level not seen in days: the slower level beyond its range of
        // the last `level_days` days (one range per day, kept for `DAYS`
        // days), unless this time of day was as rare yesterday.
        if p.level_days > 0 && p.levels[0] > 0.0 {
            let level = self.levels[0];
            let day = time.div_euclid(86_400);
            let today = (day & 0xff) as u8;
            let mut recent: Option<Range> = None;
            for k in 0..DAYS {
                let [low, high] = self.day_ranges[k].map(f64::from);
                if low.is_nan() || u32::from(today.wrapping_sub(self.day_of[k])) > p.level_days {
                    continue;
                }
                recent = Some(match recent {
                    Some(m) => Range {
                        low: m.low.min(low),
                        high: m.high.max(high),
                    },
                    None => Range { low, high },
                });
            }
            let span = self.level_ranges[0].high - self.level_ranges[0].low;
            let margin = (p.range * span).max(p.range_noise * level_noise(p.levels[0]));
            let old = time.saturating_sub(self.start) > i64::from(p.level_days) * 86_400;
            if let Some(r) = recent {
                record |= armed
                    && old
                    && raw_rarity >= p.range_gate
                    && !repeat
                    && r.beyond(level, 0.0, margin);
            }
            let slot = day.rem_euclid(DAYS as i64) as usize;
            let cell = &mut self.day_ranges[slot];
            if self.day_of[slot] != today || cell[0].is_nan() {
                *cell = [level as f32; 2];
                self.day_of[slot] = today;
            } else {
                *cell = [cell[0].min(level as f32), cell[1].max(level as f32)];
            }
        }
        let counted = record && self.since_record >= HOLD;
        if counted && stuck {
            // The spread of changes fell to nothing: a variance change,
            // held unless stronger sustained evidence follows.
            (self.event_kind, self.event_strength) = (Explanation::VarianceChange, 2.0);
        }
        let rarity = if counted { rarity.max(RECORD) } else { rarity };
        self.since_record = if record {
            0
        } else {
            self.since_record.saturating_add(1)
        };
        // An event opens at ALARM and lasts while samples stay unusual
        // (1 in 100) at least every `HOLD` samples.
        if rarity >= ALARM || (self.event > 0 && rarity >= 0.2) {
            self.event = HOLD;
        } else {
            self.event = self.event.saturating_sub(1);
        }
        // An event is explained by the strongest sustained evidence seen in
        // it (a level shift, trend or variance change of at least 2), else
        // as a spike; weak evidence in a seasonal series is a broken
        // pattern.
        let explanation = if self.event > 0 {
            self.event_jump |= self.pace.abs() >= 0.15 * noise;
            for (kind, strength) in evidence {
                let sustained = kind != Explanation::Spike && strength >= 2.0;
                let held = self.event_kind != Explanation::Spike && self.event_strength >= 2.0;
                if (sustained && (!held || strength > self.event_strength))
                    || (!held && strength > self.event_strength)
                {
                    (self.event_kind, self.event_strength) = (kind, strength);
                }
            }
            match season {
                Some(pattern) if self.event_strength < 2.0 => Some(pattern),
                _ => Some(self.event_kind),
            }
        } else {
            (self.event_kind, self.event_strength, self.event_jump) =
                (Explanation::Spike, 0.0, false);
            None
        };

        // Learn.
        self.daily.learn(time, x, expected_day, 0.05, p.slow);
        self.weekly.learn(time, x, expected_week, 0.1, p.slow);
        self.raw.update(x, p.slow);
        self.fast = new_fast;
        self.slow.update(y, p.slow);
        self.change_fast = change_fast;
        self.change_slow.update(change, p.slow);
        self.slope_fast = slope_fast;
        self.slope_slow.update(slope, p.slow);
        self.last = y;

        // 4. One event, one alarm.
        let peak = self.peak;
        self.peak = (self.peak - 1.0 / f64::from(p.quiet.max(1))).max(rarity);
        // Within an open event, a further alarm must be a record or top
        // the event's last one by `rise`.
        let alarm = (rarity > peak || (p.record_alarms && counted))
            && (self.event_alarm == 0.0 || counted || rarity >= self.event_alarm + p.rise);
        let score = if alarm { rarity } else { 0.0 };
        self.event_alarm = if self.event == 0 {
            0.0
        } else if score >= ALARM {
            score
        } else {
            self.event_alarm
        };
        Verdict {
            rarity,
            score,
            explanation,
        }
    }
}

/// Scores a whole series with a fresh detector.
pub fn score_series(params: Params, times: &[i64], values: &[f64]) -> Vec<f64> {
    let mut d = Detector::new(params);
    times
        .iter()
        .zip(values)
        .map(|(&t, &v)| d.push(t, v).score)
        .collect()
}

mod parts;
use parts::{Ewm, Profile, Range, rarity, tail};

#[cfg(test)]
mod tests;
