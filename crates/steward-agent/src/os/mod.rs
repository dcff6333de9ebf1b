//! What differs per operating system, behind one small surface: process
//! count, installed packages and logged-in users per OS (`linux.rs`,
//! `windows.rs`, `macos.rs`; other systems get `fallback.rs`), and the
//! system calls that differ between Unix and Windows (`sys.rs`). The
//! parsers of Windows' and macOS's tool outputs (`windows_parse.rs`,
//! `macos_parse.rs`) are built on every OS so they are tested on Linux with
//! recorded outputs.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(target_os = "windows")]
mod windows;
#[cfg(target_os = "windows")]
pub use windows::*;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::*;

#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
mod fallback;
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
pub use fallback::*;

pub mod macos_parse;
pub mod sys;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod who;
pub mod windows_parse;
#[cfg(windows)]
pub mod windows_service;

/// The host name, or "unknown".
pub fn hostname() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into())
}

/// How a job's script runs here: the program, its arguments before the
/// script's path, and the extension the script file needs. PowerShell is
/// the Windows interpreter (Windows PowerShell 5.1, on every Windows), zsh
/// the macOS one; an interpreter this OS lacks is refused in words.
pub fn interpreter(
    interpreter: steward_proto::Interpreter,
) -> Result<(&'static str, &'static [&'static str], &'static str), String> {
    use steward_proto::Interpreter as I;
    const PS_ARGS: &[&str] = &[
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-File",
    ];
    if cfg!(windows) {
        match interpreter {
            I::Powershell => Ok(("powershell.exe", PS_ARGS, "ps1")),
            I::Python3 => Ok(("python.exe", &[], "py")),
            I::Sh | I::Bash | I::Zsh => Err(format!(
                "Windows has no {}: write the script for PowerShell",
                interpreter.program()
            )),
        }
    } else if cfg!(target_os = "macos") {
        match interpreter {
            I::Zsh | I::Sh => Ok(("/bin/zsh", &[], "zsh")),
            I::Bash => Ok(("/bin/bash", &[], "sh")),
            I::Python3 => Ok(("python3", &[], "py")),
            I::Powershell => Ok(("pwsh", &[], "ps1")),
        }
    } else {
        Ok((interpreter.program(), &[], "script"))
    }
}

/// The command that restarts a service: systemd's unit, a Windows service
/// by name, a launchd daemon by label.
pub fn restart_service(service: &str) -> (&'static str, Vec<String>) {
    if cfg!(windows) {
        let name = service.replace('\'', "''");
        (
            "powershell.exe",
            vec![
                "-NoProfile".into(),
                "-NonInteractive".into(),
                "-Command".into(),
                format!("Restart-Service -Name '{name}' -Force -ErrorAction Stop"),
            ],
        )
    } else if cfg!(target_os = "macos") {
        (
            "launchctl",
            vec!["kickstart".into(), "-k".into(), format!("system/{service}")],
        )
    } else {
        ("systemctl", vec!["restart".into(), service.into()])
    }
}

/// The command that reboots the machine in one minute.
pub fn reboot() -> (&'static str, &'static [&'static str]) {
    if cfg!(windows) {
        (
            "shutdown.exe",
            &["/r", "/t", "60", "/c", "Reboot requested by Steward"],
        )
    } else {
        ("shutdown", &["-r", "+1", "Reboot requested by Steward"])
    }
}
