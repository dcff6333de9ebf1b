//! What a handler leaves of a request body is read before the answer goes.
//!
//! hyper cannot keep a connection open past a request whose body was left
//! unread, so an answer given without reading it (an unknown path, a
//! missing permission, a wrong method) closed the connection under a client
//! still sending: the client saw "EOF occurred in violation of protocol"
//! instead of the answer (schemathesis, CI). Here the handler reads the
//! body through a shared handle; whatever it leaves is read and dropped
//! (at most the route's cap, [`max_body`], a frame at a time, within
//! [`DRAIN_TIME`]) before the response is returned. Nothing is buffered, so an unauthenticated
//! client cannot make the server hold its body in memory.

use super::{ApiError, MAX_BODY, MAX_UPLOAD_BODY, file_limit_text, max_body};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::Frame;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// Longest wait for the rest of a body nobody reads.
const DRAIN_TIME: Duration = Duration::from_secs(10);

pub async fn drain_unread(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = max_body(request.uri().path());
    // A route capped below the API's own cap (signed inbound deliveries)
    // answers its 413 itself, and the rest is read here, so the client
    // reads the answer rather than a reset.
    if declared.is_some_and(|n| n > limit.max(MAX_BODY) as u64) {
        return too_large(limit);
    }
    let (parts, body) = request.into_parts();
    let shared = Arc::new(Mutex::new(Some(body)));
    let handle = Body::new(Shared(shared.clone()));
    let response = next.run(Request::from_parts(parts, handle)).await;
    let rest = shared.lock().ok().and_then(|mut body| body.take());
    if let Some(mut rest) = rest.filter(|b| !b.is_end_stream()) {
        let mut read = 0usize;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while read <= limit.max(MAX_BODY) {
                match rest.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
        })
        .await;
    }
    response
}

/// The request body, read by the handler through the middleware's handle.
struct Shared(Arc<Mutex<Option<Body>>>);

impl HttpBody for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut guard) = self.0.lock() else {
            return Poll::Ready(None);
        };
        match guard.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }
}

fn too_large(limit: usize) -> Response {
    let message = if limit == MAX_UPLOAD_BODY {
        format!(
            "the upload is too large: the limit is {} per file ({} KiB as base64 in JSON)",
            file_limit_text(),
            limit / 1024
        )
    } else {
        format!(
            "the request body is larger than the API takes ({} KiB)",
            limit / 1024
        )
    };
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
}
