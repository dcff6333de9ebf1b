//! A minimal built-in console (sign-in, fleet list, device page), served
//! from the binary. Strict CSP: scripts only from this origin, no inline.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", include_str!("ui/index.html"))
}

pub async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("ui/app.js"))
}

pub async fn style_css() -> Response {
    asset("text/css; charset=utf-8", include_str!("ui/style.css"))
}
