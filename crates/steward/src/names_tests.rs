//! What a typed name means, table by table: each case is the text typed
//! and what the CLI makes of it (`=> ID`, or the error the user reads).

use super::*;

const WEB_HQ: &str = "0190aaaa-1111-7000-8000-000000000001";
const WEB_BRANCH: &str = "0190aaaa-2222-7000-8000-000000000002";
const DB: &str = "0190bbbb-0000-7000-8000-000000000003";
const MAIL: &str = "0190cccc-0000-7000-8000-000000000004";
const WEB_PARIS: &str = "0190dddd-0000-7000-8000-000000000005";

/// Devices: two called web-01, one whose name differs from its hostname.
fn fleet() -> Vec<Candidate> {
    [
        (WEB_HQ, "web-01", "hq", "box-a"),
        (WEB_BRANCH, "web-01", "branch", "box-b"),
        (DB, "db", "hq", "db-host.example"),
        (MAIL, "Mail", "hq", "mx1"),
        (WEB_PARIS, "web-02", "paris", "box-c"),
    ]
    .into_iter()
    .map(|(id, name, site, hostname)| Candidate {
        id: id.into(),
        name: name.into(),
        site: site.into(),
        hostname: hostname.into(),
    })
    .collect()
}

fn check(candidates: &[Candidate], typed: &str, expected: &str) {
    let actual = match resolve("device", typed, candidates) {
        Ok(id) => format!("=> {id}"),
        Err(error) => error,
    };
    assert_eq!(actual, expected.trim(), "typed {typed:?}");
}

#[test]
fn ids_are_taken_as_they_are() {
    let fleet = fleet();
    check(&fleet, DB, &format!("=> {DB}"));
    // Not checked against the list: the server answers for unknown ids.
    let unknown = "0190ffff-0000-7000-8000-0000000000ff";
    check(&[], unknown, &format!("=> {unknown}"));
    // Written as the API writes them.
    check(&fleet, &DB.to_uppercase(), &format!("=> {DB}"));
}

#[test]
fn a_unique_name_is_its_object_in_any_case() {
    let fleet = fleet();
    check(&fleet, "db", &format!("=> {DB}"));
    check(&fleet, "mail", &format!("=> {MAIL}"));
    check(&fleet, " MAIL ", &format!("=> {MAIL}"));
    check(&fleet, "web-02", &format!("=> {WEB_PARIS}"));
}

#[test]
fn a_device_is_found_by_its_hostname_when_no_name_matches() {
    let fleet = fleet();
    check(&fleet, "mx1", &format!("=> {MAIL}"));
    check(&fleet, "DB-HOST.example", &format!("=> {DB}"));
}

#[test]
fn a_shared_name_is_refused_with_every_candidate() {
    check(
        &fleet(),
        "WEB-01",
        r#"
"WEB-01" is 2 devices; pass the id of the one you mean:
  web-01 (site hq, hostname box-a, id 0190aaaa-1…)
  web-01 (site branch, hostname box-b, id 0190aaaa-2…)"#,
    );
}

#[test]
fn a_short_id_is_taken_when_it_tells_them_apart() {
    let fleet = fleet();
    check(&fleet, "0190aaaa-2…", &format!("=> {WEB_BRANCH}"));
    check(&fleet, "0190bbbb", &format!("=> {DB}"));
    check(
        &fleet,
        "0190aaaa",
        r#"
"0190aaaa" is 2 devices; pass the id of the one you mean:
  web-01 (site hq, hostname box-a, id 0190aaaa-1…)
  web-01 (site branch, hostname box-b, id 0190aaaa-2…)"#,
    );
    // Shorter than 8: a name, not an id.
    check(
        &fleet,
        "0190",
        r#"no device named "0190" (there are: web-01, db, Mail, web-02)"#,
    );
}

#[test]
fn an_unknown_name_says_so_with_similar_ones() {
    let fleet = fleet();
    check(
        &fleet,
        "web-1",
        r#"no device named "web-1" (similar: web-01, web-02)"#,
    );
    check(
        &fleet,
        "web",
        r#"no device named "web" (similar: web-01, web-02)"#,
    );
    // Nothing similar: all the names when they are few, none when many.
    check(
        &fleet,
        "printer",
        r#"no device named "printer" (there are: web-01, db, Mail, web-02)"#,
    );
    check(
        &[],
        "web-01",
        r#"no device named "web-01" (there are none)"#,
    );
    let many: Vec<Candidate> = (0..11)
        .map(|n| Candidate {
            id: format!("{n}"),
            name: format!("host-{n}"),
            ..Candidate::default()
        })
        .collect();
    check(&many, "printer", r#"no device named "printer""#);
}

#[test]
fn other_kinds_list_their_candidates_by_id_alone() {
    let monitors = candidates(&serde_json::json!([
        { "id": WEB_HQ, "name": "Disk full" },
        { "id": WEB_BRANCH, "fields": { "name": "disk full" } },
        { "id": DB, "username": "ops" },
    ]));
    assert_eq!(
        resolve("monitor", "DISK FULL", &monitors),
        Err(
            "\"DISK FULL\" is 2 monitors; pass the id of the one you mean:\n  \
             Disk full (id 0190aaaa-1…)\n  disk full (id 0190aaaa-2…)"
                .into()
        )
    );
    // One exact match wins over another that differs in case.
    assert_eq!(
        resolve("monitor", "Disk full", &monitors),
        Ok(WEB_HQ.into())
    );
    assert_eq!(resolve("user", "ops", &monitors), Ok(DB.into()));
}

#[test]
fn device_targets_are_named_or_given_by_id() {
    let fleet = fleet();
    let targets = |list: &[&str]| {
        let list: Vec<String> = list.iter().map(|t| t.to_string()).collect();
        resolve_targets(&list, &fleet)
    };
    assert_eq!(
        targets(&["device:db", "tag:web", "device:mx1", "all"]),
        Ok(vec![
            format!("device:{DB}"),
            "tag:web".into(),
            format!("device:{MAIL}"),
            "all".into()
        ])
    );
    assert!(
        targets(&["device:web-01"])
            .unwrap_err()
            .starts_with("\"web-01\" is 2 devices")
    );
}

#[test]
fn tables_tell_apart_the_objects_of_one_name() {
    let rows = [
        (WEB_HQ, "web-01"),
        (DB, "db"),
        (WEB_BRANCH, "web-01"),
        (WEB_HQ, "web-01"),
        (MAIL, ""),
    ];
    assert_eq!(
        labels(&rows),
        [
            "web-01 (0190aaaa-1…)",
            "db",
            "web-01 (0190aaaa-2…)",
            "web-01 (0190aaaa-1…)",
            MAIL,
        ]
    );
}

#[test]
fn short_ids_grow_until_they_differ() {
    assert_eq!(short_len(&[WEB_HQ, WEB_BRANCH]), 10);
    assert_eq!(short_len(&[WEB_HQ, DB]), 8);
    assert_eq!(short_len(&[WEB_HQ]), 8);
    assert_eq!(short_len(&[]), 0);
    assert_eq!(short_id(WEB_HQ, 8), "0190aaaa…");
    assert_eq!(short_id("abc", 8), "abc");
}
