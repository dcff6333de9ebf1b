//! Windows: process count through sysinfo, CPU usage from
//! `GetSystemTimes`, installed programs from the registry's Uninstall keys
//! (PowerShell, as JSON), logged-in users from `query user`. The parsers
//! are in `windows_parse.rs`.

use super::windows_parse::{SystemTimes, cpu_busy};
use crate::command::{Cmd, run as run_bounded};
use std::time::Duration;
use steward_proto::{LoggedInUser, Package};

/// How long PowerShell or `query user` may take before the inventory goes
/// without its answer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Both registry views (64- and 32-bit programs), programs with a name.
const PROGRAMS: &str = "Get-ItemProperty \
'HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*',\
'HKLM:\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*' \
-ErrorAction SilentlyContinue | Where-Object { $_.DisplayName } | \
Select-Object DisplayName, DisplayVersion, Publisher | ConvertTo-Json -Compress";

/// PowerShell's standard output for `script` when it succeeded in time.
pub async fn powershell(script: &str, timeout: Duration) -> Option<String> {
    let cmd = Cmd::new("powershell.exe")
        .arg("-NoProfile")
        .arg("-NonInteractive")
        .arg("-Command")
        .arg(script);
    let output = run_bounded(&cmd, timeout, MAX_OUTPUT).await;
    if output.timed_out {
        tracing::warn!("PowerShell gave no answer within {} s.", timeout.as_secs());
    }
    (output.code == Some(0)).then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn process_count() -> Option<u64> {
    let mut system = sysinfo::System::new().ok()?;
    system.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::All,
        true,
        sysinfo::ProcessRefreshKind::nothing(),
    );
    Some(system.processes().len() as u64)
}

pub async fn packages(_root: &std::path::Path) -> Vec<Package> {
    let Some(text) = powershell(PROGRAMS, COMMAND_TIMEOUT).await else {
        return Vec::new();
    };
    super::windows_parse::installed_programs(&text).unwrap_or_else(|error| {
        tracing::warn!(%error, "Cannot read the installed programs.");
        Vec::new()
    })
}

pub async fn logged_in_users() -> Vec<LoggedInUser> {
    // `query user` exits 1 when nobody is logged in.
    let output = run_bounded(&Cmd::new("query").arg("user"), COMMAND_TIMEOUT, MAX_OUTPUT).await;
    super::windows_parse::query_user(&String::from_utf8_lossy(&output.stdout))
}

/// CPU usage between calls from the system's idle, kernel and user times.
/// Not sysinfo's PDH counters: when they fail to open (as under Wine),
/// sysinfo reloads them through `PdhEnumObjectsW`, which Wine 8.0 lacks
/// (the call aborts the process).
pub struct CpuTimes {
    last: SystemTimes,
}

impl CpuTimes {
    pub fn new() -> Self {
        Self {
            last: system_times().unwrap_or_default(),
        }
    }

    /// The busy share (0..=1) since the previous call (or `new`); 0 when
    /// the system's times cannot be read.
    pub fn usage(&mut self) -> f64 {
        let Some(now) = system_times() else {
            return 0.0;
        };
        let busy = cpu_busy(self.last, now);
        self.last = now;
        busy
    }
}

impl Default for CpuTimes {
    fn default() -> Self {
        Self::new()
    }
}

fn system_times() -> Option<SystemTimes> {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::GetSystemTimes;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut idle, mut kernel, mut user) = (zero, zero, zero);
    // SAFETY: three valid, writable FILETIMEs.
    let ok = unsafe { GetSystemTimes(&mut idle, &mut kernel, &mut user) };
    let ticks = |t: FILETIME| u64::from(t.dwHighDateTime) << 32 | u64::from(t.dwLowDateTime);
    (ok != 0).then(|| SystemTimes {
        idle: ticks(idle),
        kernel: ticks(kernel),
        user: ticks(user),
    })
}
