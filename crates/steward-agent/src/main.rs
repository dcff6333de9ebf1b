//! The endpoint agent binary built from this crate alone (the `standalone`
//! feature): the Windows and macOS builds. Same program as the `steward`
//! package's `steward-agent`.

fn main() {
    if let Err(error) = steward_agent::cli_main() {
        eprintln!("steward-agent: {error:#}");
        std::process::exit(1);
    }
}
