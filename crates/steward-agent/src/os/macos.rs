//! macOS: process count through sysinfo, installed applications from
//! `system_profiler SPApplicationsDataType -json` (parsed in
//! `macos_parse.rs`), logged-in users from `who` (as on Linux).

use crate::command::{Cmd, run as run_bounded};
use std::time::Duration;
use steward_proto::{LoggedInUser, Package};

/// system_profiler walks every application bundle: it may take a while.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

async fn run(program: &str, args: &[&str]) -> Option<String> {
    let mut cmd = Cmd::new(program).env("LC_ALL", "C");
    cmd.args = args.iter().map(Into::into).collect();
    let output = run_bounded(&cmd, COMMAND_TIMEOUT, MAX_OUTPUT).await;
    if output.timed_out {
        tracing::warn!(program, "No answer within {} s.", COMMAND_TIMEOUT.as_secs());
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
    let Some(text) = run(
        "system_profiler",
        &["SPApplicationsDataType", "-json", "-detailLevel", "mini"],
    )
    .await
    else {
        return Vec::new();
    };
    super::macos_parse::applications(&text).unwrap_or_else(|error| {
        tracing::warn!(%error, "Cannot read the installed applications.");
        Vec::new()
    })
}

pub async fn logged_in_users() -> Vec<LoggedInUser> {
    run("who", &[])
        .await
        .map(|text| super::who::parse_who(&text))
        .unwrap_or_default()
}
