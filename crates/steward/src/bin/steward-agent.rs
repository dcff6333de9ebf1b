//! The endpoint agent binary: everything lives in the `steward-agent` crate.

fn main() {
    if let Err(error) = steward_agent::cli_main() {
        eprintln!("steward-agent: {error:#}");
        std::process::exit(1);
    }
}
