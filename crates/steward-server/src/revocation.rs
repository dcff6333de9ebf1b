//! Credentials changed: a token revoked, a session ended, a grant added or
//! a user's access otherwise cut. Every open socket (terminals, the console's
//! event stream, job streams) re-checks the credentials it was opened with
//! at once, on this replica and (over the bus) on every other one; a socket
//! whose caller no longer holds what it needs closes. A periodic re-check
//! covers a bus event lost on the way and credentials that simply expire.

use crate::AppState;
use crate::auth;
use crate::authz::{self, Permission};
use axum::http::{HeaderMap, Method};
use std::time::Duration;
use steward_store::Principal;
use tokio::sync::watch;

/// How often an open socket re-checks its credentials without being told.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// A generation number bumped at every change of credentials.
pub struct Revocations {
    generation: watch::Sender<u64>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            generation: watch::channel(0).0,
        }
    }
}

impl Revocations {
    /// Changes when credentials may have been cut anywhere.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Another replica said credentials changed.
    pub fn bump(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }
}

/// Credentials were cut here: sockets on every replica re-check now.
pub fn credentials_changed(state: &AppState) {
    state.revocations.bump();
    crate::bus::tell(state, crate::bus::BusEvent::CredentialsChanged);
}

/// Where a socket's caller must still hold a permission.
#[derive(Debug, Clone)]
pub enum Needs {
    /// Only that the credentials are still valid (and fully signed in).
    SignedIn,
    /// The permission somewhere.
    Anywhere(Permission),
    /// The permission at one organisation's site (a device's place).
    At(Permission, uuid::Uuid, String),
}

/// Whether the credentials a socket was opened with (its request headers)
/// still hold what it needs; the reason when not.
pub async fn still_allowed(
    state: &AppState,
    headers: &HeaderMap,
    needs: &Needs,
) -> Result<Principal, String> {
    let (principal, _) = auth::authenticate(state, &Method::GET, headers)
        .await
        .map_err(|_| "credentials revoked or expired".to_string())?;
    if !principal.mfa_done {
        return Err("two-factor sign-in is required".into());
    }
    let allowed = match needs {
        Needs::SignedIn => true,
        Needs::Anywhere(permission) => !authz::scope_for(&principal, *permission).is_empty(),
        Needs::At(permission, org, site) => {
            authz::scope_for(&principal, *permission).allows(*org, Some(site))
        }
    };
    if allowed {
        Ok(principal)
    } else {
        Err("access withdrawn".into())
    }
}
