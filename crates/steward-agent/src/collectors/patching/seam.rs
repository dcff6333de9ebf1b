//! The seam for other operating systems' update sources: what a back end
//! must say (how to list pending updates, how to read that listing into
//! the wire's `PendingUpdate`s and the restarts they bring, how to install
//! some), so Windows Update and macOS `softwareupdate` drop in beside apt
//! and dnf. apt and dnf stay wired in `mod.rs` (several commands per pass,
//! the security origins of `apt-cache policy`); the two back ends here
//! are pure: their parsers read recorded outputs and are tested on any
//! host, and only `for_this_os` looks at the target (`cfg!`), the one I/O
//! edge that will run their commands.

use steward_proto::{PackageVersion, PendingUpdate};

/// A program and its arguments, run without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: &'static str,
    pub args: Vec<String>,
}

/// What one listing says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub updates: Vec<PendingUpdate>,
    /// The updates (by `name`) whose installation restarts the machine.
    pub restart: Vec<String>,
}

/// One operating system's update source.
pub trait UpdateSource: Send + Sync {
    /// As reported in `PatchStatus::manager`.
    fn manager(&self) -> &'static str;
    /// The command whose standard output `parse` reads.
    fn list(&self) -> CommandLine;
    /// At most `max` pending updates from that output; an output the
    /// parser cannot read is an error (said per device), never a panic.
    fn parse(&self, stdout: &str, max: usize) -> Result<Listing, String>;
    /// The command that installs these updates (as `parse` named them).
    fn install(&self, updates: &[PackageVersion]) -> Result<CommandLine, String>;
}

/// The back end of the OS this agent was built for, when it is one of
/// these (Linux uses apt or dnf, chosen at run time in `mod.rs`).
pub fn for_this_os() -> Option<Box<dyn UpdateSource>> {
    if cfg!(target_os = "windows") {
        Some(Box::new(super::windows::WindowsUpdate))
    } else if cfg!(target_os = "macos") {
        Some(Box::new(super::macos::SoftwareUpdate))
    } else {
        None
    }
}

/// Text from a listing made safe to report: no controls, bounded.
pub(super) fn text(value: &str, max: usize) -> String {
    super::clean(value.trim(), max)
}
