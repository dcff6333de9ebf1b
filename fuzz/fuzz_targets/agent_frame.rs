//! Arbitrary bytes as a text frame from a (possibly compromised) agent:
//! the server's decoder and validation with the default limits, the plugin
//! parser on every check run it accepts, and the other JSON decoders of
//! untrusted text. The invariants are in `src/lib.rs`.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // WebSocket text frames are UTF-8 by the time the server sees them.
    let Ok(frame) = std::str::from_utf8(data) else {
        return Corpus::Reject;
    };
    steward_fuzz::check_frame(frame);
    Corpus::Keep
});
