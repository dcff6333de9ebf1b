//! `GET /api/v1/metrics/prometheus`: the newest sample of every fleet
//! series the caller may see, in the Prometheus text format (see
//! `crate::prometheus`), for a Prometheus scraping with an API token
//! (`authorization: credentials: …`). A token limited to a site sees that
//! site only. The server's own health stays on `/metrics`.

use super::*;
use crate::prometheus::Exposition;

/// Series whose newest sample is older than this are left out (their
/// device stopped reporting them; Prometheus marks them stale).
const FRESH_MS: i64 = 15 * 60_000;
/// Series read from the store at a time.
const PAGE: u32 = 5_000;
/// At most this many series in one answer (memory stays bounded); beyond
/// it the answer says it was cut short, in a comment and a header.
pub const MAX_SERIES: usize = 250_000;

pub async fn exposition(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let since = crate::now_ms() - FRESH_MS;
    let mut exposition = Exposition::default();
    let mut after = 0;
    let mut truncated = false;
    loop {
        let page = state
            .store
            .latest_samples(&caller.scope, since, after, PAGE)
            .await?;
        for sample in &page.samples {
            if exposition.len() >= MAX_SERIES {
                truncated = true;
                break;
            }
            exposition.add(sample);
        }
        match page.next {
            Some(next) if !truncated => after = next,
            _ => break,
        }
    }
    let note = truncated.then(|| {
        format!("Cut short at {MAX_SERIES} series: scrape with tokens limited to fewer sites.")
    });
    let mut response = (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exposition.render(note.as_deref()),
    )
        .into_response();
    if truncated {
        response.headers_mut().insert(
            "x-steward-truncated",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
