//! The suite's method list against the store's traits: every method that a
//! `pub trait Store` or `pub trait …Store` in `steward-store/src` declares is
//! in [`METHODS`], nothing else is, and each is called by some check of the
//! suite (as `.name(` in `src/`, outside the list itself).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use steward_store_suite::METHODS;

/// Every `.rs` file under `dir`, recursively, in name order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The source with comments, string and character literals blanked out
/// (each replaced by spaces, newlines kept), so braces and `fn` inside them
/// count for nothing.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) && !ident_char_before(&chars, i)
        {
            // A raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            // The literal runs to the first `"` followed by as many `#`.
            let mut k = j + 1;
            while k < chars.len()
                && !(chars[k] == '"' && (1..=hashes).all(|h| chars.get(k + h) == Some(&'#')))
            {
                k += 1;
            }
            let stop = (k + 1 + hashes).min(chars.len());
            for ch in &chars[i..stop] {
                out.push(blank(*ch));
            }
            i = stop;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A character literal ('{', '\n', '\''); a lifetime ('a) has no
            // closing quote right after one character.
            out.push(' ');
            i += 1;
            if chars.get(i) == Some(&'\\') {
                out.push(' ');
                i += 1;
            }
            while i < chars.len() && chars[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Identifiers and single punctuation characters, in order.
fn tokens(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in code.chars() {
        if c.is_alphanumeric() || c == '_' {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn is_store_trait(name: &str) -> bool {
    name.ends_with("Store")
}

/// (trait, method) for every method declared directly in the body of a
/// `pub trait Store` / `pub trait …Store` of `source`: `fn name` at the
/// body's own brace depth, so a default body's contents (closures, nested
/// items) and multi-line signatures do not matter.
fn trait_methods(source: &str) -> Vec<(String, String)> {
    let tokens = tokens(&code_only(source));
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < tokens.len() {
        if !(tokens[i] == "pub" && tokens[i + 1] == "trait" && is_store_trait(&tokens[i + 2])) {
            i += 1;
            continue;
        }
        let name = tokens[i + 2].clone();
        // The body starts at the first `{` after the name (supertraits,
        // generics and where clauses come before it).
        let mut j = i + 3;
        while j < tokens.len() && tokens[j] != "{" {
            j += 1;
        }
        let mut depth = 0usize;
        while j < tokens.len() {
            match tokens[j].as_str() {
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "fn" if depth == 1 && j + 1 < tokens.len() => {
                    found.push((name.clone(), tokens[j + 1].clone()));
                }
                _ => {}
            }
            j += 1;
        }
        i = j;
    }
    found
}

fn store_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../steward-store/src")
}

#[test]
fn the_parse_takes_default_bodies_and_long_signatures() {
    let source = r##"
        /// pub trait FakeStore { fn not_this(); }
        pub trait ExampleStore: Send + Sync {
            async fn plain(&self) -> Result<()>;
            async fn spread(
                &self,
                scope: &Scope,
            ) -> Result<Vec<Row>>;
            fn with_body(&self) -> usize {
                let f = |x: usize| { fn inner() {} x + 1 };
                let s = "fn fake() {";
                let c = '{';
                let r = r#"fn raw() { "#;
                f(1)
            }
            fn after<'a>(&'a self) -> &'a str { "}" }
        }
        pub trait NotAStoreTrait { fn ignored(); }
        trait PrivateStore { fn ignored_too(); }
        pub trait Store: ExampleStore + 'static {
            async fn last(&self);
        }
    "##;
    let names: Vec<String> = trait_methods(source).into_iter().map(|(_, m)| m).collect();
    assert_eq!(names, ["plain", "spread", "with_body", "after", "last"]);
}

#[test]
fn every_store_method_is_listed_and_called_by_a_check() {
    let mut declared = BTreeSet::new();
    let mut traits = BTreeSet::new();
    for file in rust_files(&store_src()) {
        let source = std::fs::read_to_string(&file).unwrap();
        for (name, method) in trait_methods(&source) {
            traits.insert(name);
            declared.insert(method);
        }
    }
    assert!(
        traits.contains("Store"),
        "no `pub trait Store` found under {}",
        store_src().display()
    );
    let listed: BTreeSet<String> = METHODS.iter().map(|m| m.to_string()).collect();
    assert_eq!(listed.len(), METHODS.len(), "METHODS lists a name twice");
    let missing: Vec<_> = declared.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "METHODS (src/methods.rs) differs from the traits {traits:?}:\n  declared but not listed: {missing:?}\n  listed but not declared: {extra:?}"
    );

    // Each listed method is called somewhere in the suite's checks.
    let suite_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut suite = String::new();
    for file in rust_files(&suite_src) {
        if file.file_name().is_some_and(|n| n == "methods.rs") {
            continue;
        }
        suite.push_str(&code_only(&std::fs::read_to_string(&file).unwrap()));
        suite.push('\n');
    }
    let uncovered: Vec<&str> = METHODS
        .iter()
        .copied()
        .filter(|m| !suite.contains(&format!(".{m}(")))
        .collect();
    assert!(
        uncovered.is_empty(),
        "{} of {} store methods have no suite case (no `.name(` call in src/): {uncovered:?}",
        uncovered.len(),
        METHODS.len()
    );
}
