//! The one-line installer the console shows beside a new enrollment token:
//!
//! ```text
//! curl -fsSk https://SERVER/install.sh -o steward-install.sh \
//!   && echo "SHA256  steward-install.sh" | sha256sum -c \
//!   && sudo sh steward-install.sh STW1.TOKEN
//! ```
//!
//! Nothing fetched is trusted unchecked: the script by the SHA-256 in the
//! command (which the administrator copied from the console, as the token),
//! the CA by the token's pin (checked by the script), the agent binary and
//! enrollment by TLS verified with that CA. The script
//! (`packaging/linux/install.sh`) carries the systemd unit
//! (`packaging/linux/steward-agent.service`).

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const TEMPLATE: &str = include_str!("../../../packaging/linux/install.sh");
const UNIT: &str = include_str!("../../../packaging/linux/steward-agent.service");

/// Where the script is served (public: endpoints have no API credential).
pub const SCRIPT_PATH: &str = "/install.sh";
/// Where the script fetches the agent binary (public, over the pinned TLS).
pub const AGENT_PATH: &str = "/agent/v1/download";

/// The installer with the unit in it.
pub fn script() -> String {
    TEMPLATE.replace("@UNIT@", UNIT.trim_end())
}

/// The command that fetches, checks and runs the installer with `token`.
pub fn command(public_url: &str, token: &str) -> String {
    let sha256 = steward_sign::sha256_hex(script().as_bytes());
    format!(
        "curl -fsSk {public_url}{SCRIPT_PATH} -o steward-install.sh && echo \"{sha256}  steward-install.sh\" | sha256sum -c && sudo sh steward-install.sh {token}"
    )
}

pub async fn serve_script(State(_): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")],
        script(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_script_carries_the_unit_and_the_command_its_hash() {
        let script = super::script();
        assert!(!script.contains("@UNIT@"));
        assert!(script.contains("Type=notify"));
        let command = super::command("https://srv:8443", "STW1.abc");
        assert!(command.starts_with("curl -fsSk https://srv:8443/install.sh "));
        assert!(command.contains(&steward_sign::sha256_hex(script.as_bytes())));
        assert!(command.ends_with("sudo sh steward-install.sh STW1.abc"));
    }
}
