//! Size and content checks for everything an agent sends.

use crate::{AgentMessage, Inventory, MetricBatch, Point};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtoError {
    #[error("frame of {size} bytes exceeds the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Bounds applied to agent input. The defaults are generous for a real host
/// and small enough that one agent cannot exhaust the server.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_points_per_batch: usize,
    pub max_labels_per_point: usize,
    pub max_name_len: usize,
    pub max_text_len: usize,
    pub max_list_len: usize,
    pub max_packages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_points_per_batch: 2_000,
            max_labels_per_point: 8,
            max_name_len: 128,
            max_text_len: 1_024,
            max_list_len: 512,
            max_packages: 20_000,
        }
    }
}

pub trait Validate {
    fn validate(&self, limits: &Limits) -> Result<(), ProtoError>;
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> ProtoError {
    ProtoError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// At most `max` characters of `value`, for quoting agent input in an error
/// (the server logs it and sends it back; `{:.64?}` would not cut a `str`).
fn clip(value: &str, max: usize) -> &str {
    value
        .char_indices()
        .nth(max)
        .map_or(value, |(end, _)| &value[..end])
}

pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), ProtoError> {
    if value.len() > max {
        return Err(invalid(field, format!("longer than {max} bytes")));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

pub(crate) fn list<T>(field: &'static str, items: &[T], max: usize) -> Result<(), ProtoError> {
    if items.len() > max {
        return Err(invalid(field, format!("more than {max} entries")));
    }
    Ok(())
}

/// Metric and label names: `[a-z0-9_.]`, starting with a letter.
pub fn is_metric_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

impl Validate for AgentMessage {
    fn validate(&self, limits: &Limits) -> Result<(), ProtoError> {
        match self {
            AgentMessage::Hello(hello) => {
                list("refuses", &hello.refuses, 8)?;
                text("target", &hello.target, 64)?;
                text("agent_version", &hello.agent_version, 64)
            }
            AgentMessage::Heartbeat(_) | AgentMessage::Unknown => Ok(()),
            AgentMessage::Inventory(inventory) => inventory.validate(limits),
            AgentMessage::Metrics(batch) => batch.validate(limits),
            AgentMessage::Checks(checks) => {
                // The agent's own checks and probes, and those the
                // server assigned it.
                list("checks", &checks.runs, 256)?;
                for run in &checks.runs {
                    if let Some(device) = &run.device
                        && (device.len() != 36
                            || !device.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
                    {
                        return Err(invalid("checks.device", "not a device id"));
                    }
                    if !is_metric_name(&run.name, 64) {
                        return Err(invalid(
                            "checks.name",
                            format!("{:?} is not a check name", clip(&run.name, 64)),
                        ));
                    }
                    if run.output.len() > 16 * 1024 {
                        return Err(invalid("checks.output", "longer than 16 KiB"));
                    }
                }
                Ok(())
            }
            AgentMessage::Backups(report) => report.validate(limits),
            AgentMessage::LogPatterns(report) => report.validate(limits),
            AgentMessage::Posture(report) => report.validate(limits),
            AgentMessage::DiskHealth(report) => report.validate(limits),
            AgentMessage::RunStarted { run_id, .. } => run_id_ok(run_id),
            AgentMessage::UpdateFetch { version, offset } => {
                text("version", version, 64)?;
                if *offset > crate::update::MAX_RELEASE_BYTES {
                    return Err(invalid("offset", "beyond the largest release"));
                }
                Ok(())
            }
            AgentMessage::UpdateReport(report) => {
                text("rollout_id", &report.rollout_id, 64)?;
                text("version", &report.version, 64)?;
                text("from_version", &report.from_version, 64)?;
                text("detail", &report.detail, limits.max_text_len)
            }
            AgentMessage::RunOutput { run_id, data, .. } => {
                run_id_ok(run_id)?;
                if data.len() > crate::MAX_CHUNK_BYTES {
                    return Err(invalid("data", "output chunk longer than 16 KiB"));
                }
                Ok(())
            }
            AgentMessage::RunResult(result) => {
                run_id_ok(&result.run_id)?;
                // File contents come back base64-encoded in stdout.
                let max = (crate::MAX_FILE_BYTES * 4 / 3 + 4).max(crate::MAX_OUTPUT_BYTES);
                if result.stdout.len() > max || result.stderr.len() > crate::MAX_OUTPUT_BYTES {
                    return Err(invalid("stdout", "output longer than the limit"));
                }
                text("message", &result.message, limits.max_text_len)
            }
            AgentMessage::ShellOutput { session, data_b64 } => {
                run_id_ok(session)?;
                if data_b64.len() > 2 * crate::MAX_CHUNK_BYTES {
                    return Err(invalid("data_b64", "terminal chunk too long"));
                }
                Ok(())
            }
            AgentMessage::ShellClosed { session, reason } => {
                run_id_ok(session)?;
                text("reason", reason, limits.max_text_len)
            }
            AgentMessage::Renew { csr_pem } => {
                if csr_pem.len() > 8 * 1024 {
                    return Err(invalid("csr_pem", "longer than 8 KiB"));
                }
                Ok(())
            }
        }
    }
}

/// The largest magnitude a metric value may have: far above any real
/// counter or gauge (bytes over years of uptime), far below where sums and
/// means lose meaning.
pub const MAX_ABS_VALUE: f64 = 1e18;
/// How far ahead of the server's clock a batch may be stamped (skew).
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;
/// How old a batch may be (an agent's spool holds days, not years).
pub const MAX_AGE_MS: i64 = 400 * 24 * 3600 * 1000;

/// Metrics named `*.utilization` are ratios (OpenTelemetry semantic
/// conventions): their values lie in [0, 1].
pub fn is_ratio(name: &str) -> bool {
    name.ends_with(".utilization")
}

impl MetricBatch {
    /// The batch's time is near the server's (`now_ms`): a timestamp far
    /// ahead would stop every later sample of its series from counting.
    pub fn check_clock(&self, now_ms: i64) -> Result<(), ProtoError> {
        if self.ts_ms > now_ms.saturating_add(MAX_AHEAD_MS) {
            return Err(invalid(
                "ts_ms",
                format!(
                    "{} s ahead of the server's clock (at most {} s): check the agent's clock",
                    (self.ts_ms - now_ms) / 1000,
                    MAX_AHEAD_MS / 1000
                ),
            ));
        }
        if self.ts_ms < now_ms.saturating_sub(MAX_AGE_MS) {
            return Err(invalid(
                "ts_ms",
                format!("older than {} days", MAX_AGE_MS / 86_400_000),
            ));
        }
        Ok(())
    }
}

impl Validate for MetricBatch {
    fn validate(&self, limits: &Limits) -> Result<(), ProtoError> {
        if self.seq == 0 {
            return Err(invalid("seq", "must be at least 1"));
        }
        // Stored as a signed 64-bit number.
        if self.seq > i64::MAX as u64 {
            return Err(invalid("seq", "larger than 2^63 - 1"));
        }
        if self.ts_ms <= 0 {
            return Err(invalid(
                "ts_ms",
                "must be a positive Unix time in milliseconds",
            ));
        }
        list("points", &self.points, limits.max_points_per_batch)?;
        self.points.iter().try_for_each(|p| p.validate(limits))
    }
}

impl Validate for Point {
    fn validate(&self, limits: &Limits) -> Result<(), ProtoError> {
        if !is_metric_name(&self.name, limits.max_name_len) {
            return Err(invalid(
                "point.name",
                format!("{:?} is not a metric name", clip(&self.name, 64)),
            ));
        }
        if !self.value.is_finite() || self.value.abs() > MAX_ABS_VALUE {
            return Err(invalid(
                "point.value",
                format!("must be finite and at most {MAX_ABS_VALUE:e} in magnitude"),
            ));
        }
        if is_ratio(&self.name) && !(0.0..=1.0).contains(&self.value) {
            return Err(invalid(
                "point.value",
                format!("{} is a ratio: its value must lie in [0, 1]", self.name),
            ));
        }
        if self.labels.len() > limits.max_labels_per_point {
            return Err(invalid("point.labels", "too many labels"));
        }
        for (key, value) in &self.labels {
            if !is_metric_name(key, limits.max_name_len) {
                return Err(invalid(
                    "point.labels",
                    format!("{:?} is not a label name", clip(key, 64)),
                ));
            }
            text("point.labels", value, limits.max_name_len * 2)?;
        }
        Ok(())
    }
}

impl Validate for Inventory {
    fn validate(&self, limits: &Limits) -> Result<(), ProtoError> {
        let t = limits.max_text_len;
        text("hostname", &self.hostname, 253)?;
        for (field, value) in [
            ("os_name", &self.os_name),
            ("os_version", &self.os_version),
            ("kernel_version", &self.kernel_version),
            ("arch", &self.arch),
            ("cpu_model", &self.cpu_model),
            ("agent_version", &self.agent_version),
            ("timezone", &self.timezone),
        ] {
            text(field, value, t)?;
        }
        list("filesystems", &self.filesystems, limits.max_list_len)?;
        for fs in &self.filesystems {
            text("filesystems.mountpoint", &fs.mountpoint, t)?;
            text("filesystems.device", &fs.device, t)?;
            text("filesystems.fs_type", &fs.fs_type, 64)?;
        }
        list("interfaces", &self.interfaces, limits.max_list_len)?;
        for iface in &self.interfaces {
            text("interfaces.name", &iface.name, 64)?;
            text("interfaces.mac", &iface.mac, 64)?;
            list("interfaces.addresses", &iface.addresses, 64)?;
            iface
                .addresses
                .iter()
                .try_for_each(|a| text("interfaces.addresses", a, 64))?;
        }
        list("users", &self.users, limits.max_list_len)?;
        for user in &self.users {
            text("users.name", &user.name, 64)?;
            text("users.terminal", &user.terminal, 64)?;
            text("users.host", &user.host, 253)?;
            text("users.since", &user.since, 64)?;
        }
        list("packages", &self.packages, limits.max_packages)?;
        for package in &self.packages {
            text("packages.name", &package.name, 256)?;
            text("packages.version", &package.version, 256)?;
            text("packages.manager", &package.manager, 16)?;
        }
        if let Some(updates) = &self.updates {
            list("updates", updates, limits.max_packages)?;
            for update in updates {
                text("updates.name", &update.name, 256)?;
                text("updates.current", &update.current, 256)?;
                text("updates.available", &update.available, 256)?;
                text("updates.rule", &update.rule, 256)?;
                text("updates.arch", &update.arch, 32)?;
                text("updates.advisory", &update.advisory, 128)?;
                text("updates.severity", &update.severity, 32)?;
                if let Some(origin) = &update.origin {
                    for value in [
                        &origin.origin,
                        &origin.label,
                        &origin.codename,
                        &origin.archive,
                        &origin.site,
                    ] {
                        text("updates.origin", value, 128)?;
                    }
                }
            }
        }
        if let Some(patching) = &self.patching {
            patching.validate(limits)?;
        }
        Ok(())
    }
}

impl Validate for crate::PatchStatus {
    fn validate(&self, limits: &Limits) -> Result<(), ProtoError> {
        text("patching.manager", &self.manager, 16)?;
        text("patching.error", &self.error, limits.max_text_len)?;
        if self.checked_at < 0 || self.duration_ms > 24 * 3600 * 1000 {
            return Err(invalid("patching.checked_at", "out of range"));
        }
        if self.last_upgrade.is_some_and(|t| t < 0) {
            return Err(invalid("patching.last_upgrade", "negative"));
        }
        list("patching.services", &self.services, limits.max_list_len)?;
        for service in &self.services {
            text("patching.services", service, 256)?;
        }
        let reboot = &self.reboot;
        list("patching.reboot.reasons", &reboot.reasons, 16)?;
        for reason in &reboot.reasons {
            text("patching.reboot.source", &reason.source, 32)?;
            text(
                "patching.reboot.detail",
                &reason.detail,
                limits.max_text_len,
            )?;
        }
        list(
            "patching.reboot.packages",
            &reboot.packages,
            limits.max_list_len,
        )?;
        for package in &reboot.packages {
            text("patching.reboot.packages", package, 256)?;
        }
        text(
            "patching.reboot.running_kernel",
            &reboot.running_kernel,
            256,
        )?;
        text("patching.reboot.newest_kernel", &reboot.newest_kernel, 256)
    }
}

impl Validate for crate::BackupReport {
    fn validate(&self, _limits: &Limits) -> Result<(), ProtoError> {
        use crate::{MAX_BACKUP_JOBS, MAX_BACKUP_REASON};
        list("backups.jobs", &self.jobs, MAX_BACKUP_JOBS)?;
        let time = |field: &'static str, ms: i64| {
            // Milliseconds between 1970 and 2200: anything else is junk.
            if (0..=7_258_118_400_000).contains(&ms) {
                Ok(())
            } else {
                Err(invalid(field, "not a time in Unix milliseconds"))
            }
        };
        let count = |field: &'static str, n: u64| {
            if n as f64 > MAX_ABS_VALUE {
                Err(invalid(field, "too large"))
            } else {
                Ok(())
            }
        };
        for (index, job) in self.jobs.iter().enumerate() {
            if job.name.trim().is_empty() {
                return Err(invalid("backups.name", "empty"));
            }
            text("backups.name", &job.name, 64)?;
            if self.jobs[..index]
                .iter()
                .any(|other| other.name == job.name)
            {
                return Err(invalid(
                    "backups.name",
                    format!("{:?} is reported twice", clip(&job.name, 64)),
                ));
            }
            text("backups.reason", &job.reason, MAX_BACKUP_REASON)?;
            job.last_run_ms
                .map_or(Ok(()), |t| time("backups.last_run_ms", t))?;
            job.newest_good_ms
                .map_or(Ok(()), |t| time("backups.newest_good_ms", t))?;
            if job
                .duration_ms
                .is_some_and(|d| !(0..=400 * 86_400_000).contains(&d))
            {
                return Err(invalid("backups.duration_ms", "negative or over 400 days"));
            }
            job.size_bytes
                .map_or(Ok(()), |n| count("backups.size_bytes", n))?;
            job.file_count
                .map_or(Ok(()), |n| count("backups.file_count", n))?;
            if job.max_age_hours.is_some_and(|h| h == 0 || h > 24 * 400) {
                return Err(invalid("backups.max_age_hours", "between 1 and 9600"));
            }
            if let Some(test) = &job.restore_test {
                time("backups.restore_test.at_ms", test.at_ms)?;
                text(
                    "backups.restore_test.reason",
                    &test.reason,
                    MAX_BACKUP_REASON,
                )?;
                text("backups.restore_test.snapshot", &test.snapshot, 128)?;
                if !(0..=400 * 86_400_000).contains(&test.duration_ms) {
                    return Err(invalid("backups.restore_test.duration_ms", "out of range"));
                }
            }
        }
        Ok(())
    }
}

/// Run and session ids are UUIDs in text form.
fn run_id_ok(id: &str) -> Result<(), ProtoError> {
    if id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        Ok(())
    } else {
        Err(invalid(
            "run_id",
            format!("{:?} is not an id", clip(id, 40)),
        ))
    }
}

impl Validate for crate::PostureReport {
    fn validate(&self, _limits: &Limits) -> Result<(), ProtoError> {
        use crate::*;
        list("posture.checks", &self.checks, MAX_POSTURE_CHECKS)?;
        list("posture.ports", &self.ports, MAX_PORTS)?;
        list("posture.admins", &self.admins, MAX_ADMINS)?;
        list("posture.files", &self.files, MAX_FILES)?;
        list("posture.logins", &self.logins, MAX_LOGIN_EVENTS)?;
        for (index, check) in self.checks.iter().enumerate() {
            if !is_metric_name(&check.id, 64) {
                return Err(invalid(
                    "posture.checks.id",
                    format!("{:?} is not a check id", clip(&check.id, 64)),
                ));
            }
            if self.checks[..index].iter().any(|c| c.id == check.id) {
                return Err(invalid("posture.checks.id", "reported twice"));
            }
            if !(1..=10).contains(&check.weight) {
                return Err(invalid("posture.checks.weight", "between 1 and 10"));
            }
            text("posture.checks.title", &check.title, 128)?;
            text("posture.checks.reason", &check.reason, MAX_POSTURE_TEXT)?;
            text("posture.checks.fix", &check.fix, MAX_POSTURE_TEXT)?;
        }
        for port in &self.ports {
            text("posture.ports.proto", &port.proto, 8)?;
            text("posture.ports.address", &port.address, 64)?;
            text("posture.ports.process", &port.process, 64)?;
        }
        for member in &self.admins {
            text("posture.admins.group", &member.group, 64)?;
            text("posture.admins.user", &member.user, 64)?;
        }
        for file in &self.files {
            if !file.path.starts_with('/') {
                return Err(invalid("posture.files.path", "not absolute"));
            }
            text("posture.files.path", &file.path, 1024)?;
            text("posture.files.error", &file.error, 256)?;
            if !(file.sha256.is_empty()
                || (file.sha256.len() == 64 && file.sha256.bytes().all(|b| b.is_ascii_hexdigit())))
            {
                return Err(invalid("posture.files.sha256", "not a hex SHA-256"));
            }
        }
        for login in &self.logins {
            if !(0..=7_258_118_400_000).contains(&login.at_ms) {
                return Err(invalid(
                    "posture.logins.at_ms",
                    "not a time in Unix milliseconds",
                ));
            }
            text("posture.logins.service", &login.service, 32)?;
            text("posture.logins.user", &login.user, 64)?;
            text("posture.logins.address", &login.address, 64)?;
        }
        Ok(())
    }
}
