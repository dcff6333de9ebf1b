//! The few system calls that differ between Unix and Windows, behind one
//! surface: process trees (a Unix process group; on Windows a new process
//! group without a console window, killed with `taskkill /T`), a file's
//! identity across renames (inode; creation time on Windows), private files
//! (mode 0600; on Windows the state directory's inherited ACL), the shell
//! that runs an administrator's one-line command, and whether the agent runs
//! with full privileges.

use std::path::Path;

/// Makes `command` lead its own process tree, so [`kill_tree`] reaches
/// everything it starts.
pub fn own_group(command: &mut tokio::process::Command) {
    #[cfg(unix)]
    {
        command.process_group(0);
    }
    #[cfg(windows)]
    {
        /// CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW.
        const FLAGS: u32 = 0x0000_0200 | 0x0800_0000;
        command.creation_flags(FLAGS);
    }
}

/// Kills the process tree led by `pid` (the child and all it started).
pub fn kill_tree(pid: u32) {
    #[cfg(unix)]
    {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
    #[cfg(windows)]
    {
        // Bounded: taskkill answers at once; its own output is not read.
        let _ = std::process::Command::new("taskkill")
            .args(["/F", "/T", "/PID", &pid.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// What stays the same for one file while it is renamed and changes when a
/// new file takes its name (log rotation): the inode on Unix, the creation
/// time on Windows.
pub fn file_id(meta: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::ino(meta)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::MetadataExt::creation_time(meta)
    }
}

/// A file's owner, group and permission bits (Unix); on Windows none
/// (its ACL is not reduced to these).
pub fn owner_mode(meta: &std::fs::Metadata) -> Option<(u32, u32, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.uid(), meta.gid(), meta.mode() & 0o7777))
    }
    #[cfg(windows)]
    {
        let _ = meta;
        None
    }
}

/// Creates (or truncates) a file only its owner can read: mode 0600 on
/// Unix; on Windows the file inherits the state directory's ACL (the
/// installer gives it to SYSTEM and Administrators only).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    options.open(path)
}

/// Whether `path` is a file this process may execute.
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0
    }
    #[cfg(windows)]
    {
        let _ = meta;
        true
    }
}

/// Whether the agent runs as root (Unix); on Windows the service runs as
/// LocalSystem, which is what this answers there.
pub fn is_privileged() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(windows)]
    {
        true
    }
}

/// The program and first arguments that run an administrator's one-line
/// command (a check, a backup hook): `/bin/sh -c` on Unix, `cmd.exe /C` on
/// Windows.
pub fn shell_command() -> (&'static str, &'static [&'static str]) {
    if cfg!(windows) {
        ("cmd.exe", &["/C"])
    } else {
        ("/bin/sh", &["-c"])
    }
}
