//! What a silence or maintenance window names, made exact when it is saved:
//! devices given by name (or hostname) become their ids, a monitor given by
//! name its id, an ambiguous name is refused with the candidates, and what
//! a rule covers today is told: a silence that would cover no device is
//! refused with a sentence saying so (it would look active and silence
//! nothing); a maintenance window planned for a site with no devices yet
//! is kept, with that sentence as a warning. Pure: the API hands it the
//! organisation's devices and monitors.

use steward_alert::noise::{Matcher, Target};

/// A device as matchers see it.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub site: String,
    pub tags: Vec<String>,
    pub os: String,
}

impl Known {
    fn target(&self) -> Target {
        Target {
            device: self.id.clone(),
            site: self.site.clone(),
            tags: self.tags.clone(),
            os: self.os.clone(),
        }
    }

    /// How people tell two devices of one name apart.
    fn described(&self) -> String {
        format!(
            "{} (site {}, host {}, id {})",
            self.name, self.site, self.hostname, self.id
        )
    }
}

/// The device `given` names: an id (of a device listed, or one the rule
/// already held: a device retired since stays until someone removes it),
/// else a name or hostname (any case).
fn device(given: &str, devices: &[Known], kept: &[String]) -> Result<String, String> {
    if devices.iter().any(|d| d.id == given) || kept.iter().any(|k| k == given) {
        return Ok(given.to_string());
    }
    let wanted = given.to_lowercase();
    let named: Vec<&Known> = devices
        .iter()
        .filter(|d| d.name.to_lowercase() == wanted || d.hostname.to_lowercase() == wanted)
        .collect();
    match named.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(format!(
            "no device named {given:?} in this organisation (give its name, hostname or id)"
        )),
        many => Err(format!(
            "{} devices are called {given:?}: {}; give the id of the one you mean",
            many.len(),
            many.iter()
                .map(|d| d.described())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// The monitor `given` names (an id or a name, any case), from
/// `(id, name)` pairs.
pub fn monitor(given: &str, monitors: &[(String, String)]) -> Result<String, String> {
    if monitors.iter().any(|(id, _)| id == given) {
        return Ok(given.to_string());
    }
    let wanted = given.to_lowercase();
    let named: Vec<&(String, String)> = monitors
        .iter()
        .filter(|(_, name)| name.to_lowercase() == wanted)
        .collect();
    match named.as_slice() {
        [(id, _)] => Ok(id.clone()),
        [] => Err(format!(
            "no monitor named {given:?} in this organisation (there are: {})",
            if monitors.is_empty() {
                "none".to_string()
            } else {
                monitors
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        _ => Err(format!(
            "several monitors are called {given:?}; give the id of the one you mean"
        )),
    }
}

/// What a rule resolved to.
#[derive(Debug)]
pub struct Resolved {
    /// Its devices as ids.
    pub matcher: Matcher,
    /// When it covers none: why, as a sentence (`what` names the rule).
    pub nothing: Option<String>,
}

/// `matcher` with its devices as ids and what it covers today; Err when a
/// device it names does not exist or is ambiguous. `kept`: the device ids
/// the rule held before this change.
pub fn resolve(
    mut matcher: Matcher,
    devices: &[Known],
    kept: &[String],
    what: &str,
) -> Result<Resolved, String> {
    matcher.devices = matcher
        .devices
        .iter()
        .map(|given| device(given, devices, kept))
        .collect::<Result<_, _>>()?;
    matcher.devices.sort();
    matcher.devices.dedup();
    let covered = covered(&matcher, devices);
    let nothing = covered.is_empty().then(|| {
        let mut known_sites: Vec<&str> = devices.iter().map(|d| d.site.as_str()).collect();
        known_sites.sort_unstable();
        known_sites.dedup();
        format!(
            "{what} matches no device: it names {}; the organisation's sites are {}",
            asked(&matcher),
            if known_sites.is_empty() {
                "none yet".to_string()
            } else {
                known_sites.join(", ")
            }
        )
    });
    Ok(Resolved { matcher, nothing })
}

/// The names of the devices `matcher` covers.
pub fn covered(matcher: &Matcher, devices: &[Known]) -> Vec<String> {
    devices
        .iter()
        .filter(|d| matcher.matches(&d.target()))
        .map(|d| d.name.clone())
        .collect()
}

/// Device ids as people name them: a device's name where no other device
/// of the organisation shares it, else (or when gone) its id; what
/// [`resolve`] turns back into the same ids.
pub fn names_for(ids: &[String], devices: &[Known]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            devices
                .iter()
                .find(|d| &d.id == id)
                .filter(|d| {
                    let name = d.name.to_lowercase();
                    devices
                        .iter()
                        .filter(|o| {
                            o.name.to_lowercase() == name || o.hostname.to_lowercase() == name
                        })
                        .count()
                        == 1
                })
                .map_or_else(|| id.clone(), |d| d.name.clone())
        })
        .collect()
}

/// A monitor id as people name it: its name where no other monitor shares
/// it, else the id.
pub fn monitor_name(id: &str, monitors: &[(String, String)]) -> String {
    let Some((_, name)) = monitors.iter().find(|(m, _)| m == id) else {
        return id.to_string();
    };
    let shared = monitors
        .iter()
        .filter(|(_, n)| n.to_lowercase() == name.to_lowercase())
        .count();
    if shared == 1 {
        name.clone()
    } else {
        id.to_string()
    }
}

/// What a matcher asks for, as a sentence part.
fn asked(matcher: &Matcher) -> String {
    let parts: Vec<String> = [
        ("devices", &matcher.devices),
        ("sites", &matcher.sites),
        ("tags", &matcher.tags),
        ("operating systems", &matcher.os),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(what, values)| format!("{what} {}", values.join(", ")))
    .collect();
    if parts.is_empty() {
        "nothing (give devices, sites, tags or operating systems)".into()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Vec<Known> {
        let known = |id: &str, name: &str, site: &str, tags: &[&str]| Known {
            id: id.into(),
            name: name.into(),
            hostname: format!("{name}.lan"),
            site: site.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            os: "Debian 12".into(),
        };
        vec![
            known("1", "web-01", "hq", &["web"]),
            known("2", "db-01", "hq", &[]),
            known("3", "web-01", "branch", &[]),
        ]
    }

    fn matcher(devices: &[&str], sites: &[&str], tags: &[&str]) -> Matcher {
        Matcher {
            devices: devices.iter().map(|d| d.to_string()).collect(),
            sites: sites.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            os: vec![],
        }
    }

    /// The ids and covered names a matcher resolves to, or the error.
    fn check(m: Matcher, expect: Result<(&[&str], &[&str]), &str>) {
        let got = resolve(m, &fleet(), &["gone".to_string()], "this silence")
            .and_then(|r| r.nothing.clone().map_or(Ok(r), Err));
        match (got, expect) {
            (Ok(r), Ok((ids, names))) => {
                let covered = covered(&r.matcher, &fleet());
                assert_eq!((r.matcher.devices, covered), (to_vec(ids), to_vec(names)));
            }
            (Err(error), Err(says)) => assert!(error.contains(says), "{error}"),
            (got, want) => panic!("got {got:?}, wanted {want:?}"),
        }
    }

    fn to_vec(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_become_ids_and_coverage_is_told() {
        check(matcher(&["DB-01"], &[], &[]), Ok((&["2"], &["db-01"])));
        check(
            matcher(&["db-01.lan", "1", "2"], &[], &[]),
            Ok((&["1", "2"], &["web-01", "db-01"])),
        );
        // A device the rule held, retired since: kept, covering nothing more.
        check(
            matcher(&["gone", "2"], &[], &[]),
            Ok((&["2", "gone"], &["db-01"])),
        );
        check(matcher(&["3"], &[], &[]), Ok((&["3"], &["web-01"])));
        check(matcher(&[], &["hq"], &[]), Ok((&[], &["web-01", "db-01"])));
        check(matcher(&[], &[], &["web"]), Ok((&[], &["web-01"])));
    }

    #[test]
    fn what_matches_nothing_or_several_is_refused_with_the_reason() {
        check(
            matcher(&["web-01"], &[], &[]),
            Err(
                "2 devices are called \"web-01\": web-01 (site hq, host web-01.lan, id 1); web-01 (site branch",
            ),
        );
        check(
            matcher(&["mail"], &[], &[]),
            Err("no device named \"mail\""),
        );
        check(
            matcher(&[], &["paris"], &[]),
            Err(
                "this silence matches no device: it names sites paris; the organisation's sites are branch, hq",
            ),
        );
        check(
            matcher(&[], &[], &[]),
            Err("it names nothing (give devices"),
        );
    }

    #[test]
    fn ids_read_back_as_names_that_resolve_to_them() {
        let ids = to_vec(&["2", "1", "gone"]);
        let names = names_for(&ids, &fleet());
        // web-01 is two devices: it stays an id; a gone device too.
        assert_eq!(names, ["db-01", "1", "gone"]);
        let again = resolve(
            matcher(&["db-01", "1", "gone"], &[], &[]),
            &fleet(),
            &ids,
            "x",
        )
        .unwrap();
        assert_eq!(again.matcher.devices, ["1", "2", "gone"]);
        let monitors = vec![("m1".to_string(), "disk".to_string())];
        assert_eq!(monitor_name("m1", &monitors), "disk");
        assert_eq!(monitor_name("m9", &monitors), "m9");
    }

    #[test]
    fn monitors_are_found_by_id_or_name() {
        let monitors = vec![
            ("m1".to_string(), "App heartbeat".to_string()),
            ("m2".to_string(), "disk".to_string()),
        ];
        assert_eq!(monitor("app HEARTBEAT", &monitors).unwrap(), "m1");
        assert_eq!(monitor("m2", &monitors).unwrap(), "m2");
        let error = monitor("cpu", &monitors).unwrap_err();
        assert!(
            error.contains(
                "no monitor named \"cpu\" in this organisation (there are: App heartbeat, disk)"
            ),
            "{error}"
        );
    }
}
