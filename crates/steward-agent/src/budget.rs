//! The agent's own budget (osquery's watchdog is the anchor): the agent
//! measures its own CPU time and resident memory over a sliding window,
//! and while it is over either limit it defers its heavy passes (patching
//! detection, the posture's full view, the inventory refresh) and gives
//! freed memory back to the system. It says so in a check, `agent.budget`
//! (WARNING while throttled, with the reason and what it deferred; OK once
//! back within budget), which the server stores like any check, so a check
//! monitor can alert on it.
//!
//! Unlike osquery's watchdog the agent does not restart itself: heartbeats
//! and metrics are cheap and keep going, only the optional heavy work waits.
//! The budget is the agent process's own CPU (all its threads); the tools
//! it runs (apt, dnf, scripts) are bounded by their own timeouts.
//!
//! [`Governor`] decides from plain samples (no I/O, unit-tested); [`Budget`]
//! is the shell that samples `/proc/self` and shares the verdict.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// The check the agent reports its budget in.
pub const CHECK_NAME: &str = "agent.budget";
/// An unchanged report is sent again this often (after the first throttle).
pub const RESEND: Duration = Duration::from_secs(600);

/// What the agent allows itself. A zero limit is no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Share of one core, averaged over `window`.
    pub cpu_percent: f64,
    /// Resident set size.
    pub memory_bytes: u64,
    /// How far back CPU time is averaged; also the shortest a throttle lasts.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_percent: 5.0,
            memory_bytes: 64 * 1024 * 1024,
            window: Duration::from_secs(60),
        }
    }
}

impl Limits {
    pub fn enabled(&self) -> bool {
        self.cpu_percent > 0.0 || self.memory_bytes > 0
    }

    /// How often the agent looks at itself: twelve times a window, at most
    /// once a second.
    pub fn sample_every(&self) -> Duration {
        (self.window / 12).max(Duration::from_secs(1))
    }
}

/// One look at the agent process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Monotonic time since the agent started.
    pub at: Duration,
    /// CPU time the process used since it started (all threads).
    pub cpu: Duration,
    pub rss_bytes: u64,
}

/// A heavy pass that waits while the agent is over budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pass {
    Patching,
    Posture,
    Inventory,
}

impl Pass {
    const ALL: [Pass; 3] = [Pass::Patching, Pass::Posture, Pass::Inventory];

    fn words(self) -> (&'static str, &'static str) {
        match self {
            Pass::Patching => ("patching detection", "patching detections"),
            Pass::Posture => ("posture view", "posture views"),
            Pass::Inventory => ("inventory refresh", "inventory refreshes"),
        }
    }
}

/// Why the agent is over budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Over {
    Cpu { percent: f64 },
    Memory { rss_bytes: u64 },
}

/// Whether a heavy pass may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Run,
    /// Deferred; `first` when it is the first of its kind in this
    /// throttle (the report changed).
    Defer {
        first: bool,
    },
}

/// The pure budget keeper: samples in, verdicts out.
#[derive(Debug)]
pub struct Governor {
    limits: Limits,
    samples: VecDeque<Sample>,
    cpu_percent: Option<f64>,
    rss_bytes: u64,
    /// Why the agent is throttled now (empty: it is not).
    over: Vec<Over>,
    /// When the current throttle began.
    since: Option<Duration>,
    /// Passes deferred in the current (or last) throttle, by [`Pass::ALL`].
    deferred: [u32; 3],
    /// Throttles since the agent started.
    throttles: u32,
    /// The reasons of the last throttle, once it ended.
    last_over: Vec<Over>,
}

impl Governor {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            samples: VecDeque::new(),
            cpu_percent: None,
            rss_bytes: 0,
            over: Vec::new(),
            since: None,
            deferred: [0; 3],
            throttles: 0,
            last_over: Vec::new(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn throttled(&self) -> bool {
        self.since.is_some()
    }

    /// Whether the agent was ever throttled (before that, nothing is
    /// reported: a well-behaved agent adds no check).
    pub fn ever_throttled(&self) -> bool {
        self.throttles > 0
    }

    /// Takes a sample; true when throttling began or ended (report now).
    pub fn observe(&mut self, sample: Sample) -> bool {
        // Keep one sample at least a window old as the reference.
        while self.samples.len() >= 2
            && sample.at.saturating_sub(self.samples[1].at) >= self.limits.window
        {
            self.samples.pop_front();
        }
        self.cpu_percent = self.samples.front().and_then(|first| {
            let wall = sample.at.checked_sub(first.at)?;
            // Less than a quarter window says little about a sustained load.
            (wall >= self.limits.window / 4 && !wall.is_zero()).then(|| {
                sample.cpu.saturating_sub(first.cpu).as_secs_f64() / wall.as_secs_f64() * 100.0
            })
        });
        self.samples.push_back(sample);
        self.rss_bytes = sample.rss_bytes;
        let mut over = Vec::new();
        if let Some(percent) = self.cpu_percent
            && self.limits.cpu_percent > 0.0
            && percent > self.limits.cpu_percent
        {
            over.push(Over::Cpu { percent });
        }
        if self.limits.memory_bytes > 0 && sample.rss_bytes > self.limits.memory_bytes {
            over.push(Over::Memory {
                rss_bytes: sample.rss_bytes,
            });
        }
        match self.since {
            None if !over.is_empty() => {
                self.since = Some(sample.at);
                self.deferred = [0; 3];
                self.throttles = self.throttles.saturating_add(1);
                self.over = over;
                true
            }
            // A throttle lasts a window at least, so a load at the limit
            // does not flap it every sample.
            Some(since)
                if over.is_empty() && sample.at.saturating_sub(since) >= self.limits.window =>
            {
                self.since = None;
                self.last_over = std::mem::take(&mut self.over);
                true
            }
            Some(_) => {
                if !over.is_empty() {
                    self.over = over;
                }
                false
            }
            None => false,
        }
    }

    /// Whether `pass` may run now (counted as deferred when not).
    pub fn allow(&mut self, pass: Pass) -> Decision {
        if !self.throttled() {
            return Decision::Run;
        }
        let slot = &mut self.deferred[pass as usize];
        *slot = slot.saturating_add(1);
        Decision::Defer { first: *slot == 1 }
    }

    /// The report as a Monitoring Plugins result: exit code and output.
    pub fn report(&self) -> (i32, String) {
        let cpu = self
            .cpu_percent
            .map_or("CPU not yet measured".to_string(), |p| {
                format!("CPU {p:.1} % of {}", limit_percent(self.limits.cpu_percent))
            });
        let memory = format!(
            "memory {} of {}",
            mib(self.rss_bytes),
            if self.limits.memory_bytes > 0 {
                mib(self.limits.memory_bytes)
            } else {
                "no limit".into()
            }
        );
        let perfdata = format!(
            "cpu={:.2}%;{};;0; rss={}B;{};;0;",
            self.cpu_percent.unwrap_or(0.0),
            if self.limits.cpu_percent > 0.0 {
                format!("{}", self.limits.cpu_percent)
            } else {
                String::new()
            },
            self.rss_bytes,
            if self.limits.memory_bytes > 0 {
                self.limits.memory_bytes.to_string()
            } else {
                String::new()
            },
        );
        if self.throttled() {
            let reasons = self
                .over
                .iter()
                .map(|o| self.reason(o))
                .collect::<Vec<_>>()
                .join(" and ");
            let deferred = self.deferred_words();
            let deferred = if deferred.is_empty() {
                "heavy passes wait".to_string()
            } else {
                format!("deferred {deferred}")
            };
            (
                1,
                format!("BUDGET WARNING - throttled: {reasons}; {deferred} | {perfdata}"),
            )
        } else {
            let last = if self.throttles > 0 {
                let reasons = self
                    .last_over
                    .iter()
                    .map(|o| self.reason(o))
                    .collect::<Vec<_>>()
                    .join(" and ");
                let deferred = self.deferred_words();
                format!(
                    "; throttled {} time{} since start, last for {reasons}{}",
                    self.throttles,
                    if self.throttles == 1 { "" } else { "s" },
                    if deferred.is_empty() {
                        String::new()
                    } else {
                        format!(" (deferred {deferred})")
                    }
                )
            } else {
                String::new()
            };
            (0, format!("BUDGET OK - {cpu}, {memory}{last} | {perfdata}"))
        }
    }

    fn reason(&self, over: &Over) -> String {
        match *over {
            Over::Cpu { percent } => format!(
                "CPU {percent:.1} % over the {} budget (averaged over {} s)",
                limit_percent(self.limits.cpu_percent),
                self.limits.window.as_secs()
            ),
            Over::Memory { rss_bytes } => format!(
                "memory {} over the {} budget",
                mib(rss_bytes),
                mib(self.limits.memory_bytes)
            ),
        }
    }

    fn deferred_words(&self) -> String {
        Pass::ALL
            .iter()
            .filter(|p| self.deferred[**p as usize] > 0)
            .map(|p| {
                let n = self.deferred[*p as usize];
                let (one, many) = p.words();
                format!("{n} {}", if n == 1 { one } else { many })
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn limit_percent(limit: f64) -> String {
    if limit > 0.0 {
        format!("{limit} %")
    } else {
        "unlimited".into()
    }
}

/// The budget as the agent's tasks share it.
pub struct Budget {
    governor: Mutex<Governor>,
    /// Woken when the report should go now.
    pub changed: tokio::sync::Notify,
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Self {
            governor: Mutex::new(Governor::new(limits)),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Governor> {
        self.governor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a heavy pass may run now; a deferral the report does not
    /// name yet sends the report again.
    pub fn allow(&self, pass: Pass) -> bool {
        match self.lock().allow(pass) {
            Decision::Run => true,
            Decision::Defer { first } => {
                if first {
                    self.changed.notify_one();
                }
                tracing::debug!(?pass, "Over budget: pass deferred.");
                false
            }
        }
    }

    pub fn throttled(&self) -> bool {
        self.lock().throttled()
    }

    pub fn window(&self) -> Duration {
        self.lock().limits().window
    }

    /// The `agent.budget` check, once the agent was ever throttled.
    pub fn report(&self, ts_ms: i64) -> Option<steward_proto::CheckRun> {
        let governor = self.lock();
        governor.ever_throttled().then(|| {
            let (exit_code, output) = governor.report();
            steward_proto::CheckRun {
                name: CHECK_NAME.into(),
                ts_ms,
                exit_code,
                output,
                device: None,
            }
        })
    }

    /// Looks at the process every [`Limits::sample_every`] for ever.
    pub async fn watch(self: std::sync::Arc<Self>) {
        let limits = self.lock().limits();
        if !limits.enabled() {
            return std::future::pending().await;
        }
        let started = std::time::Instant::now();
        let mut tick = tokio::time::interval(limits.sample_every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resent = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            let Some(sample) = sample(started.elapsed()) else {
                tracing::warn!("Cannot read the agent's own CPU and memory; the budget is off.");
                return std::future::pending().await;
            };
            let (changed, throttled, ever) = {
                let mut governor = self.lock();
                let changed = governor.observe(sample);
                (changed, governor.throttled(), governor.ever_throttled())
            };
            if changed {
                if throttled {
                    tracing::warn!(report = %self.lock().report().1, "Over budget: heavy passes wait.");
                    // Give back what the allocator holds free.
                    crate::memory::trim();
                } else {
                    tracing::info!("Back within budget.");
                }
            }
            if changed || (ever && resent.elapsed() >= RESEND) {
                resent = tokio::time::Instant::now();
                self.changed.notify_one();
            }
        }
    }
}

/// This process's CPU time and resident set now.
#[cfg(target_os = "linux")]
fn sample(at: Duration) -> Option<Sample> {
    // libc's calls, not rustix's: rustix finds the vDSO through the aux
    // vector, which valgrind (bench/agent_hot_code.py runs the agent under
    // callgrind) does not map, and the agent would crash there.
    let mut cpu = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut cpu) } != 0 {
        return None;
    }
    // SAFETY: sysconf only reads a constant of the system.
    let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(Sample {
        at,
        cpu: Duration::new(
            cpu.tv_sec.max(0) as u64,
            cpu.tv_nsec.clamp(0, 999_999_999) as u32,
        ),
        rss_bytes: pages * page_size,
    })
}

#[cfg(not(target_os = "linux"))]
fn sample(_at: Duration) -> Option<Sample> {
    None
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
