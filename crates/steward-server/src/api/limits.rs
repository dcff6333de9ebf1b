//! What every answer carries (HSTS, `nosniff`, `no-store` on the API) and
//! the per-caller API rate limit.
//!
//! The limit is a token bucket (GCRA, `governor`) per credential for
//! callers whose credential was seen to authenticate, and per address for
//! everyone else: unauthenticated calls, and calls with a credential not
//! (yet) known to be valid, so made-up tokens do not each get a bucket of
//! their own. The health and readiness probes and the agent sockets (not
//! under `/api/`) are not limited.

use super::ApiError;
use crate::auth::Caller;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests per second and burst of one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` (0: no limit) with bursts of `burst` (at least that).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let per_second = NonZeroU32::new(per_second)?;
        Some(Self {
            per_second,
            burst: NonZeroU32::new(burst).unwrap_or(per_second).max(per_second),
        })
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(50).expect("not zero"),
            burst: NonZeroU32::new(200).expect("not zero"),
        }
    }
}

/// Paths under `/api/` that are never limited (load balancers' probes).
const EXEMPT: [&str; 2] = ["/api/v1/health", "/api/v1/ready"];
/// How often idle buckets and credentials are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// A credential unused this long is charged to its address again until it
/// authenticates anew.
const KNOWN_FOR: Duration = Duration::from_secs(600);

type Credential = [u8; 32];

pub struct Limiter {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_credential: DefaultKeyedRateLimiter<Credential>,
    /// Credentials seen to authenticate, and when they last were used.
    known: Mutex<HashMap<Credential, Instant>>,
    last_sweep: Mutex<Instant>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            by_address: RateLimiter::keyed(quota),
            by_credential: RateLimiter::keyed(quota),
            known: Mutex::default(),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Takes one request from the caller's bucket, or tells how long to
    /// wait for the next one.
    fn admit(&self, address: IpAddr, credential: Option<&Credential>) -> Result<(), Duration> {
        let now = Instant::now();
        self.sweep(now);
        let known = credential.filter(|c| {
            let mut known = lock(&self.known);
            known.get_mut(*c).map(|seen| *seen = now).is_some()
        });
        let checked = match known {
            Some(credential) => self.by_credential.check_key(credential),
            None => self.by_address.check_key(&bucket_of(address)),
        };
        checked.map_err(|not_until| not_until.wait_time_from(self.by_address.clock().now()))
    }

    fn authenticated(&self, credential: Credential) {
        lock(&self.known).insert(credential, Instant::now());
    }

    fn refused(&self, credential: &Credential) {
        lock(&self.known).remove(credential);
    }

    fn sweep(&self, now: Instant) {
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        if now.duration_since(*last) < SWEEP_EVERY {
            return;
        }
        *last = now;
        self.by_address.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_credential.retain_recent();
        self.by_credential.shrink_to_fit();
        lock(&self.known).retain(|_, seen| now.duration_since(*seen) < KNOWN_FOR);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One bucket per IPv4 address and per IPv6 /64 (what one host gets).
fn bucket_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
        v4 => v4,
    }
}

/// The request's credential (bearer token or session cookie), hashed.
fn credential_of(request: &Request) -> Option<Credential> {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    bearer
        .or_else(|| crate::auth::session_cookie(headers))
        .map(|secret| Sha256::digest(secret.as_bytes()).into())
}

/// Set on answers to callers the authorisation layer authenticated.
#[derive(Debug, Clone, Copy)]
struct Authenticated;

/// Runs inside the authorisation layer: tells [`rate_limit`] that the
/// request's credential is valid.
pub async fn note_caller(request: Request, next: Next) -> Response {
    let authenticated = request.extensions().get::<Caller>().is_some();
    let mut response = next.run(request).await;
    if authenticated {
        response.extensions_mut().insert(Authenticated);
    }
    response
}

/// Answers 429 (with `Retry-After`) to callers beyond their rate.
pub async fn rate_limit(limiter: Option<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let Some(limiter) = limiter.filter(|_| path.starts_with("/api/") && !EXEMPT.contains(&path))
    else {
        return next.run(request).await;
    };
    let address = request
        .extensions()
        .get::<crate::tls::RemoteAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.0.ip());
    let credential = credential_of(&request);
    if let Err(wait) = limiter.admit(address, credential.as_ref()) {
        return too_many(wait);
    }
    let response = next.run(request).await;
    if let Some(credential) = credential {
        if response.extensions().get::<Authenticated>().is_some() {
            limiter.authenticated(credential);
        } else if response.status() == StatusCode::UNAUTHORIZED {
            limiter.refused(&credential);
        }
    }
    response
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests; retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// HSTS (every answer goes over TLS) and `nosniff` on every answer,
/// `no-store` on the API's (the console's assets may be cached).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    #[test]
    fn a_burst_beyond_the_limit_waits_and_others_are_served() {
        let limiter = Limiter::new(limit(1, 3));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.admit(a, None).is_ok());
        }
        let wait = limiter.admit(a, None).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limiter.admit(b, None).is_ok());
    }

    #[test]
    fn unknown_credentials_share_their_address_bucket() {
        let limiter = Limiter::new(limit(1, 2));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        // Made-up tokens are charged to the address.
        assert!(limiter.admit(a, Some(&[1; 32])).is_ok());
        assert!(limiter.admit(a, Some(&[2; 32])).is_ok());
        assert!(limiter.admit(a, Some(&[3; 32])).is_err());
        // A credential that authenticated has its own bucket.
        limiter.authenticated([4; 32]);
        assert!(limiter.admit(a, Some(&[4; 32])).is_ok());
        assert!(limiter.admit(a, Some(&[4; 32])).is_ok());
        assert!(limiter.admit(a, Some(&[4; 32])).is_err());
        // Once refused, it is charged to the address again.
        limiter.refused(&[4; 32]);
        assert!(limiter.admit(a, Some(&[4; 32])).is_err());
    }

    #[test]
    fn ipv6_hosts_share_a_bucket_per_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_of(one), bucket_of(same));
        assert_ne!(bucket_of(one), bucket_of(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(bucket_of(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
