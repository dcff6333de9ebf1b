//! Where a call acts: the organisation it names (its audit entry is filed
//! there), a device in the caller's scope, and figures only a caller whose
//! permission holds everywhere may see.

use super::ApiError;
use crate::AppState;
use crate::auth::Caller;
use steward_store::StoreError;

/// A site, tag or device name: 1 to 64 characters, none of them blank
/// only or control characters (`what` names it in the refusal).
pub fn valid_label(what: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{what} is 1 to 64 characters without control characters, not {value:?}"
        )));
    }
    Ok(())
}

/// Figures about the whole installation (every tenant's devices and
/// traffic) are for callers whose permission holds everywhere, not for one
/// organisation's admin.
pub fn require_installation_wide(caller: &Caller) -> Result<(), ApiError> {
    let everywhere = caller
        .scope
        .allow
        .iter()
        .any(|p| p.org.is_none() && p.site.is_none())
        && caller.scope.deny.is_empty();
    if everywhere {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "installation-wide figures need audit.view in every organisation",
        ))
    }
}

/// The organisation called `name` within the caller's scope, or the
/// caller's own organisation when no name is given.
pub async fn org_named(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
) -> Result<uuid::Uuid, ApiError> {
    let org = match name {
        Some(name) => {
            state
                .store
                .org_by_name(&caller.scope, name)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        ApiError::not_found(format!("no organisation {name:?}"))
                    }
                    other => other.into(),
                })?
                .id
        }
        None => caller.principal.org_id,
    };
    caller.acting_in(org);
    Ok(org)
}

/// A device in the caller's scope; the call's audit entry is filed under
/// the device's organisation.
pub async fn device_in_scope(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
) -> Result<steward_store::DeviceDetail, ApiError> {
    let device = state.store.get_device(&caller.scope, id).await?;
    caller.acting_in(device.summary.org_id);
    Ok(device)
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_short_printable_and_not_blank() {
        for ok in ["hq", "Branch Office 7", "é"] {
            assert!(super::valid_label("a site", ok).is_ok(), "{ok}");
        }
        for bad in ["", "   ", "a\nb", &"x".repeat(65)] {
            let error = super::valid_label("a site", bad).unwrap_err();
            assert!(
                error.message.contains("a site is 1 to 64 characters"),
                "{bad:?}"
            );
        }
    }
}
