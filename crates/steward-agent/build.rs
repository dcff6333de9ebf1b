//! The agent binary's link. Built for size on x86-64 Linux (the `agent`
//! profile), its hot functions (`hot-symbols.txt`: what an idle agent runs
//! every cycle, found by `bench/agent_hot_code.py`) are laid out next to
//! each other, so an idle cycle touches a few pages of code instead of
//! pages spread over the whole binary: the agent's resident code, most of
//! its memory, shrinks. Symbols the file names that the binary no longer
//! has are skipped; `STEWARD_AGENT_SYMBOL_ORDER=off` links without it.

fn main() {
    println!("cargo:rerun-if-changed=hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=STEWARD_AGENT_SYMBOL_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    // Rust links x86-64 Linux (GNU) with its own lld, which reads the
    // ordering file; other targets and linkers are left alone.
    let lld_target = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let size_build = matches!(var("OPT_LEVEL").as_str(), "s" | "z");
    if !lld_target || !size_build || var("STEWARD_AGENT_SYMBOL_ORDER") == "off" {
        return;
    }
    let file = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("hot-symbols.txt");
    if file.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
