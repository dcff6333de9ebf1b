//! An arbitrary exit code and standard output of a Monitoring Plugins check
//! through `steward_alert::plugin::parse`. The invariants are in
//! `src/lib.rs`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// The first four bytes are the exit code (little-endian), the rest the
/// output up to its first invalid UTF-8 byte.
#[derive(Arbitrary, Debug)]
struct Run<'a> {
    exit_code: i32,
    stdout: &'a str,
}

fuzz_target!(|run: Run<'_>| {
    steward_fuzz::check_plugin_output(run.exit_code, run.stdout);
});
