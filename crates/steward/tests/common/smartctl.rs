//! A stand-in for smartctl printing recorded outputs (the agent's own
//! parser fixtures): `--scan-open` lists `/dev/sda` (ATA) and `/dev/nvme0`
//! (NVMe); each disk's answer is the file `sda.json` or `nvme0.json` in the
//! stand-in's directory, which a test replaces between passes.

use std::path::{Path, PathBuf};

/// The recorded outputs.
pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../steward-agent/src/collectors/smart/testdata"
);

/// Writes the stand-in into `dir` with the first answers (`sda`: 8
/// reallocated sectors; `nvme0`: a healthy NVMe disk); returns its path.
pub fn install(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(format!("{FIXTURES}/scan.json"), dir.join("scan.json")).unwrap();
    answer(dir, "sda", "ata_rising_1.json");
    answer(dir, "nvme0", "nvme.json");
    let script = dir.join("smartctl");
    let d = dir.display();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$*\" in\n*--scan-open*) cat '{d}/scan.json' ;;\n*/dev/sda) cat '{d}/sda.json' ;;\n*/dev/nvme0) cat '{d}/nvme0.json' ;;\n*) exit 2 ;;\nesac\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Makes `disk` answer with the recorded `fixture` from now on (atomically).
pub fn answer(dir: &Path, disk: &str, fixture: &str) {
    answer_with(
        dir,
        disk,
        &std::fs::read(format!("{FIXTURES}/{fixture}")).unwrap(),
    );
}

/// Makes `disk` answer `bytes` from now on (atomically).
pub fn answer_with(dir: &Path, disk: &str, bytes: &[u8]) {
    let next = dir.join(format!("{disk}.json.next"));
    std::fs::write(&next, bytes).unwrap();
    std::fs::rename(&next, dir.join(format!("{disk}.json"))).unwrap();
}
