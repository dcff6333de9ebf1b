//! Request bodies are read before routing.
//!
//! hyper cannot keep a connection open past a request whose body was left
//! unread, so an answer given without reading it (an unknown path, a
//! missing permission, a bad id) used to close the connection under a
//! client still sending: the client saw "EOF occurred in violation of
//! protocol" instead of the answer (schemathesis, CI). Every body the API
//! takes is JSON under [`MAX_BODY`], so reading it first costs nothing a
//! handler would not spend anyway.

use super::{ApiError, MAX_BODY};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn read_first(request: Request, next: Next) -> Response {
    // Bodiless by convention (and WebSocket upgrades are GETs).
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(error) => {
            let inner = error.into_inner();
            if inner.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::bad_request(format!("could not read the request body: {inner}"))
                    .into_response()
            }
        }
    }
}

fn too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than the API takes ({} KiB)",
            MAX_BODY / 1024
        ),
    )
    .into_response()
}
