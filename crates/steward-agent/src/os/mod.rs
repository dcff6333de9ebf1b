//! What differs per operating system, behind one small surface. Linux is
//! implemented; other systems get the portable fallbacks until their module
//! lands (`windows.rs`, `macos.rs` with the same functions).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
mod fallback;
#[cfg(not(target_os = "linux"))]
pub use fallback::*;

/// The host name, or "unknown".
pub fn hostname() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into())
}
