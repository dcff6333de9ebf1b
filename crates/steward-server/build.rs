//! Fetches the console's browser libraries (xterm.js, uPlot) from the npm
//! registry with `npm ci` on `console/package-lock.json`, into OUT_DIR, so
//! `src/ui.rs` can embed them. Nothing from npm is kept in the repository.
//! Runs again only when the lockfile changes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files `src/ui.rs` embeds, under `node_modules/`.
const NEEDED: &[&str] = &[
    "@xterm/xterm/lib/xterm.mjs",
    "@xterm/xterm/css/xterm.css",
    "@xterm/addon-fit/lib/addon-fit.mjs",
    "uplot/dist/uPlot.esm.js",
    "uplot/dist/uPlot.min.css",
];

fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

fn installed(dir: &Path, lock: &[u8]) -> bool {
    std::fs::read(dir.join(".lock-installed")).is_ok_and(|stamp| stamp == lock)
        && NEEDED
            .iter()
            .all(|f| dir.join("node_modules").join(f).exists())
}

fn main() {
    println!("cargo:rerun-if-changed=console/package.json");
    println!("cargo:rerun-if-changed=console/package-lock.json");
    println!("cargo:rerun-if-env-changed=NPM");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let source = manifest.join("console");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("console");
    let lock = std::fs::read(source.join("package-lock.json"))
        .unwrap_or_else(|e| fail(&format!("cannot read console/package-lock.json: {e}")));
    if installed(&out, &lock) {
        return;
    }
    std::fs::create_dir_all(&out)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", out.display())));
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), out.join(file))
            .unwrap_or_else(|e| fail(&format!("cannot copy console/{file}: {e}")));
    }
    let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".into());
    let status = Command::new(&npm)
        .args([
            "ci",
            "--omit=dev",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "`{npm} ci` for the console's browser libraries failed ({s}). It fetches xterm.js and uPlot \
             from the npm registry (console/package-lock.json): check the network or the registry settings."
        )),
        Err(e) => fail(&format!(
            "the web console's browser libraries come from npm, and `{npm}` cannot be run ({e}). \
             Install Node.js and npm (Debian: apt-get install nodejs npm), or point NPM at it."
        )),
    }
    if let Some(missing) = NEEDED
        .iter()
        .find(|f| !out.join("node_modules").join(f).exists())
    {
        fail(&format!(
            "npm installed the console's libraries, but node_modules/{missing} is missing"
        ));
    }
    std::fs::write(out.join(".lock-installed"), &lock)
        .unwrap_or_else(|e| fail(&format!("cannot write the install stamp: {e}")));
}
