//! The systemd notification protocol (`sd_notify`), written directly: one
//! datagram per state to `$NOTIFY_SOCKET`. The agent says `READY=1` once
//! its state is loaded and `WATCHDOG=1` every half `$WATCHDOG_USEC` from
//! the runtime, so a wedged agent is restarted by the service manager.
//! Without `NOTIFY_SOCKET` (not under systemd) nothing is sent.

#[cfg(unix)]
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (e.g. `READY=1`) to the service manager, if any.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(error) = send(&path, state) {
        tracing::debug!(%error, state, "Cannot notify the service manager.");
    }
}

/// One datagram to the socket at `path` (`@name`: an abstract socket).
#[cfg(unix)]
pub fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<usize> {
    let socket = UnixDatagram::unbound()?;
    match path.as_encoded_bytes().strip_prefix(b"@") {
        Some(name) => abstract_send(&socket, name, state),
        None => socket.send_to(state.as_bytes(), std::path::Path::new(path)),
    }
}

#[cfg(target_os = "linux")]
fn abstract_send(socket: &UnixDatagram, name: &[u8], state: &str) -> std::io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(state.as_bytes(), &address)
}

/// No service manager speaks this protocol off Unix.
#[cfg(not(unix))]
pub fn send(_: &std::ffi::OsStr, _: &str) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(all(unix, not(target_os = "linux")))]
fn abstract_send(_: &UnixDatagram, _: &[u8], _: &str) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The watchdog interval the service manager asked for, when it is meant
/// for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Says `READY=1` and keeps the watchdog fed from the runtime.
pub fn ready() {
    notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    if let Some(every) = watchdog_interval() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every / 2);
            loop {
                tick.tick().await;
                notify("WATCHDOG=1");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_reach_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        // An abstract socket, as systemd may give.
        let name = format!("steward-test-{}", std::process::id());
        let address =
            <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
                name.as_bytes(),
            )
            .unwrap();
        let abstract_listener = UnixDatagram::bind_addr(&address).unwrap();
        abstract_listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        send(std::ffi::OsStr::new(&format!("@{name}")), "WATCHDOG=1").unwrap();
        let n = abstract_listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }
}
