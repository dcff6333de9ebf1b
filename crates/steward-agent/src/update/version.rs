//! The agent's version and platform.
//!
//! The version is `CARGO_PKG_VERSION` unless the built binary was stamped
//! with another one ([`stamp`]): release tooling stamps a build's version
//! into the file it ships (as Go's `-ldflags -X` does) without rebuilding,
//! and the update tests make a "new version" that way.

/// A fixed-size slot in the binary: the prefix, then the version padded
/// with NUL bytes (all NUL: not stamped).
#[used]
static STAMP: [u8; STAMP_LEN] = stamp_slot();

const PREFIX: &[u8] = b"STEWARD-AGENT-VERSION-STAMP:";
const STAMP_LEN: usize = PREFIX.len() + MAX_STAMPED;
/// The longest version a stamp holds.
pub const MAX_STAMPED: usize = 48;

const fn stamp_slot() -> [u8; STAMP_LEN] {
    let mut slot = [0u8; STAMP_LEN];
    let mut i = 0;
    while i < PREFIX.len() {
        slot[i] = PREFIX[i];
        i += 1;
    }
    slot
}

/// This binary's version.
pub fn version() -> &'static str {
    // Read through an opaque pointer: the slot's bytes may have been
    // changed in the file after compilation.
    let slot: &'static [u8; STAMP_LEN] = std::hint::black_box(&STAMP);
    let stamped = &slot[PREFIX.len()..];
    let end = stamped
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(stamped.len());
    match std::str::from_utf8(&stamped[..end]) {
        Ok(text) if !text.is_empty() => text,
        _ => env!("CARGO_PKG_VERSION"),
    }
}

/// Whether `version` is one a release may carry.
pub fn check(version: &str) -> Result<(), String> {
    if version.is_empty()
        || version.len() > MAX_STAMPED
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+_~".contains(c))
    {
        return Err(format!(
            "{version:?}: a version is 1 to {MAX_STAMPED} letters, digits and . - + _ ~"
        ));
    }
    Ok(())
}

/// Writes `version` into the stamp slot of the agent binary `binary`.
pub fn stamp(binary: &mut [u8], version: &str) -> Result<(), String> {
    check(version)?;
    let at = binary
        .windows(PREFIX.len())
        .position(|w| w == PREFIX)
        .ok_or("no version stamp slot in this file: not a steward-agent binary")?
        + PREFIX.len();
    let slot = &mut binary[at..at + MAX_STAMPED];
    slot.fill(0);
    slot[..version.len()].copy_from_slice(version.as_bytes());
    Ok(())
}

/// The target triple this agent was built for, as releases name it.
pub fn target() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" if cfg!(target_env = "musl") => format!("{arch}-unknown-linux-musl"),
        "linux" => format!("{arch}-unknown-linux-gnu"),
        "macos" => format!("{arch}-apple-darwin"),
        "windows" if cfg!(target_env = "msvc") => format!("{arch}-pc-windows-msvc"),
        "windows" => format!("{arch}-pc-windows-gnu"),
        other => format!("{arch}-unknown-{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_replaces_the_version_in_a_copy_of_the_binary() {
        let mut file = b"\x7fELF....".to_vec();
        file.extend_from_slice(&STAMP);
        file.extend_from_slice(b"tail");
        stamp(&mut file, "0.9.1-next").unwrap();
        let at = file
            .windows(PREFIX.len())
            .position(|w| w == PREFIX)
            .unwrap()
            + PREFIX.len();
        assert_eq!(&file[at..at + 10], b"0.9.1-next");
        assert!(file[at + 10..at + MAX_STAMPED].iter().all(|b| *b == 0));
        assert!(file.ends_with(b"tail"));
        // A shorter one later leaves nothing of the longer.
        stamp(&mut file, "1.0").unwrap();
        assert_eq!(&file[at..at + 4], b"1.0\0");
        assert!(stamp(&mut file, "bad version").is_err());
        assert!(stamp(&mut file, &"9".repeat(MAX_STAMPED + 1)).is_err());
        assert!(stamp(&mut b"not the agent".to_vec(), "1.0").is_err());
        // Unstamped, the package version.
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
        assert!(target().contains('-'));
    }
}
