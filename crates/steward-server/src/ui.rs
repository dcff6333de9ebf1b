//! The web console, served from the binary: its own files (`src/ui/`) and
//! the browser libraries build.rs fetched from npm (xterm.js, uPlot).
//! Strict CSP: scripts only from this origin, nothing inline; styles may be
//! set inline because the terminal emulator and charts size their elements
//! that way.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! vendor {
    ($file:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/console/node_modules/", $file))
    };
}

/// `(path under /ui/, content type, body)`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", JS, include_bytes!("ui/app.js")),
    ("lib.js", JS, include_bytes!("ui/lib.js")),
    ("charts.js", JS, include_bytes!("ui/charts.js")),
    ("markdown.js", JS, include_bytes!("ui/markdown.js")),
    ("style.css", CSS, include_bytes!("ui/style.css")),
    (
        "pages/dashboard.js",
        JS,
        include_bytes!("ui/pages/dashboard.js"),
    ),
    (
        "pages/devices.js",
        JS,
        include_bytes!("ui/pages/devices.js"),
    ),
    ("pages/device.js", JS, include_bytes!("ui/pages/device.js")),
    ("pages/alerts.js", JS, include_bytes!("ui/pages/alerts.js")),
    (
        "pages/incidents.js",
        JS,
        include_bytes!("ui/pages/incidents.js"),
    ),
    ("pages/kpis.js", JS, include_bytes!("ui/pages/kpis.js")),
    (
        "pages/runbooks.js",
        JS,
        include_bytes!("ui/pages/runbooks.js"),
    ),
    (
        "pages/automation.js",
        JS,
        include_bytes!("ui/pages/automation.js"),
    ),
    ("pages/admin.js", JS, include_bytes!("ui/pages/admin.js")),
    ("pages/audit.js", JS, include_bytes!("ui/pages/audit.js")),
    (
        "pages/backups.js",
        JS,
        include_bytes!("ui/pages/backups.js"),
    ),
    (
        "pages/posture.js",
        JS,
        include_bytes!("ui/pages/posture.js"),
    ),
    ("pages/aging.js", JS, include_bytes!("ui/pages/aging.js")),
    (
        "pages/agentless.js",
        JS,
        include_bytes!("ui/pages/agentless.js"),
    ),
    (
        "pages/tenancy.js",
        JS,
        include_bytes!("ui/pages/tenancy.js"),
    ),
    (
        "pages/terminal.js",
        JS,
        include_bytes!("ui/pages/terminal.js"),
    ),
    (
        "pages/patching.js",
        JS,
        include_bytes!("ui/pages/patching.js"),
    ),
    (
        "vendor/xterm.mjs",
        JS,
        vendor!("@xterm/xterm/lib/xterm.mjs"),
    ),
    (
        "vendor/xterm.css",
        CSS,
        vendor!("@xterm/xterm/css/xterm.css"),
    ),
    (
        "vendor/addon-fit.mjs",
        JS,
        vendor!("@xterm/addon-fit/lib/addon-fit.mjs"),
    ),
    ("vendor/uplot.mjs", JS, vendor!("uplot/dist/uPlot.esm.js")),
    ("vendor/uplot.css", CSS, vendor!("uplot/dist/uPlot.min.css")),
];

const INDEX: &[u8] = include_bytes!("ui/index.html");

fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(body))[..20])
}

/// Each asset's ETag, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|(_, _, body)| etag(body)).collect())
}

fn respond(
    headers: &HeaderMap,
    content_type: &'static str,
    body: &'static [u8],
    tag: &str,
) -> Response {
    let common = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Revalidated on every load: a server upgrade is seen at once.
        (header::CACHE_CONTROL, "no-cache"),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag);
    if fresh {
        return (
            StatusCode::NOT_MODIFIED,
            common,
            [(header::ETAG, tag.to_string())],
        )
            .into_response();
    }
    (
        common,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::ETAG, tag.to_string()),
        ],
        body,
    )
        .into_response()
}

pub async fn index(headers: HeaderMap) -> Response {
    static TAG: OnceLock<String> = OnceLock::new();
    respond(
        &headers,
        "text/html; charset=utf-8",
        INDEX,
        TAG.get_or_init(|| etag(INDEX)),
    )
}

/// `GET /ui/{*path}`.
pub async fn asset(headers: HeaderMap, Path(path): Path<String>) -> Response {
    match ASSETS.iter().position(|(name, _, _)| *name == path) {
        Some(i) => {
            let (_, content_type, body) = ASSETS[i];
            respond(&headers, content_type, body, &etags()[i])
        }
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_present_and_named_once() {
        for (i, (name, _, body)) in ASSETS.iter().enumerate() {
            assert!(!body.is_empty(), "{name} is empty");
            assert!(
                ASSETS[i + 1..].iter().all(|(other, _, _)| other != name),
                "{name} twice"
            );
        }
    }

    #[test]
    fn modules_import_only_files_that_are_served() {
        // Every relative import of a console module names an asset.
        for (name, content_type, body) in
            ASSETS.iter().filter(|(n, _, _)| !n.starts_with("vendor/"))
        {
            if *content_type != JS {
                continue;
            }
            let text = std::str::from_utf8(body).unwrap();
            let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
            for spec in text
                .split(['"', '\''])
                .filter(|s| s.starts_with("./") || s.starts_with("../"))
            {
                if !spec.ends_with(".js") && !spec.ends_with(".mjs") && !spec.ends_with(".css") {
                    continue;
                }
                let mut parts: Vec<&str> = if dir.is_empty() {
                    Vec::new()
                } else {
                    dir.split('/').collect()
                };
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == target),
                    "{name} imports {spec} ({target}), which is not served"
                );
            }
        }
    }
}
