//! Which devices a job reaches: listed devices, tags, sites, operating
//! systems, or the whole organisation. Conditions of one kind are OR-ed,
//! kinds are AND-ed (tag web AND site paris).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    /// Substrings of the OS name, case-insensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<String>,
    /// Every device in scope (must be said explicitly).
    #[serde(default)]
    pub all: bool,
}

/// What the selector looks at of a device.
pub struct Candidate<'a> {
    pub id: &'a str,
    pub site: &'a str,
    pub tags: &'a [String],
    pub os: &'a str,
}

impl Selector {
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.devices.is_empty()
            && self.tags.is_empty()
            && self.sites.is_empty()
            && self.os.is_empty()
    }

    /// Parses `device:ID`, `tag:T`, `site:S`, `os:TEXT` or `all`.
    pub fn add(&mut self, text: &str) -> Result<(), crate::JobError> {
        match text.split_once(':') {
            _ if text == "all" => self.all = true,
            Some(("device", v)) => self.devices.push(v.into()),
            Some(("tag", v)) => self.tags.push(v.into()),
            Some(("site", v)) => self.sites.push(v.into()),
            Some(("os", v)) => self.os.push(v.into()),
            _ => {
                return crate::err(format!(
                    "target {text:?} must be all, device:ID, tag:TAG, site:SITE or os:NAME"
                ));
            }
        }
        Ok(())
    }

    pub fn matches(&self, device: &Candidate) -> bool {
        if self.is_empty() {
            return false;
        }
        let any = |list: &[String], test: &dyn Fn(&String) -> bool| {
            list.is_empty() || list.iter().any(test)
        };
        any(&self.devices, &|d| d == device.id)
            && any(&self.tags, &|t| device.tags.contains(t))
            && any(&self.sites, &|s| s == device.site)
            && any(&self.os, &|o| {
                device.os.to_lowercase().contains(&o.to_lowercase())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_together_values_or_together() {
        let tags = vec!["web".to_string(), "prod".to_string()];
        let device = Candidate {
            id: "d1",
            site: "paris",
            tags: &tags,
            os: "Debian GNU/Linux",
        };
        let check = |targets: &[&str], expect: bool| {
            let mut selector = Selector::default();
            for t in targets {
                selector.add(t).unwrap();
            }
            assert_eq!(selector.matches(&device), expect, "{targets:?}");
        };
        check(&[], false);
        check(&["all"], true);
        check(&["device:d1"], true);
        check(&["device:d2"], false);
        check(&["tag:db", "tag:web"], true);
        check(&["tag:web", "site:london"], false);
        check(&["tag:web", "site:paris", "os:debian"], true);
        assert!(Selector::default().add("everything").is_err());
    }
}
