//! Portable fallbacks for systems without their own module yet.

use steward_proto::{LoggedInUser, Package};

pub fn process_count() -> Option<u64> {
    None
}

pub async fn packages(_root: &std::path::Path) -> Vec<Package> {
    Vec::new()
}

pub async fn logged_in_users() -> Vec<LoggedInUser> {
    Vec::new()
}
