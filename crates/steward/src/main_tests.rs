//! The command line as a whole: every command on API objects takes
//! `--json`.

use clap::CommandFactory;

/// The commands that work on local files or a terminal, not on API
/// objects: no `--json` (their output is a file, a terminal or a log).
const LOCAL: [&str; 11] = [
    "serve",
    "quickstart",
    "shell",
    "audit verify",
    "audit export",
    "file get",
    "file put",
    "backup",
    "restore",
    "migrate",
    "agent",
];

#[test]
fn every_command_on_api_objects_takes_json() {
    super::Cli::command().debug_assert();
    let mut missing = Vec::new();
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let leaves: Vec<&clap::Command> = command
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        let has_json = command.get_arguments().any(|a| a.get_id() == "json");
        if !path.is_empty() && !LOCAL.contains(&path) && !has_json {
            missing.push(path.to_string());
        }
        for sub in leaves {
            let path = format!("{path} {}", sub.get_name()).trim().to_string();
            walk(sub, &path, missing);
        }
    }
    // Built, a group's global `--json` reaches its subcommands.
    let mut cli = super::Cli::command();
    cli.build();
    walk(&cli, "", &mut missing);
    // A group that only groups (no listing of its own) needs none.
    missing.retain(|path| {
        path.contains(' ')
            || cli
                .find_subcommand(path)
                .is_some_and(|c| !c.has_subcommands())
    });
    assert!(missing.is_empty(), "no --json: {missing:?}");
}
