//! # tower-ratelimit
//!
//! Rate limits, usage quotas and failed-login throttling for towerauth services.
//!
//! * [`RateLimiter`]: several named [`Limit`]s ("100/s burst 200", "10,000/day") and a
//!   calendar [`Quota`] per authenticated identity, keyed on the
//!   [`Principal`](auth_core::Principal) ([`KeyBy`]), with per-identity
//!   [`overrides`](RateLimiterBuilder::overrides). Its [`layer`](RateLimiter::layer) goes
//!   *inside* an [`AuthLayer`](auth_core::AuthLayer).
//! * [`Throttle`]: failed authentications per client address and per claimed identity, so
//!   guessing slows down (429, never 401) and the real user gets in again once it stops.
//!   Its [`layer`](Throttle::layer) goes *outside* the `AuthLayer`.
//!
//! Limits are GCRA (the generic cell rate algorithm): exact to the nanosecond, one
//! timestamp per limit and identity, no windows to straddle. Counters live in process, or in
//! Redis (feature `redis`, [`RedisConfig`]) to be shared by every instance.
//!
//! ```
//! use auth_core::{AuthError, AuthLayer, AuthMethod, Credentials, Principal};
//! use axum::{Router, routing::get};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use tower_ratelimit::{Limit, RateLimiter};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bearer = Credentials::bearer();
//! let auth = move |req: &Request<axum::body::Body>| match bearer.find(req)?.value() {
//!     "key-alice" => Ok(Principal::new("alice", AuthMethod::Custom("static".into()))),
//!     _ => Err(AuthError::invalid_credential("unknown key")),
//! };
//! let limiter = RateLimiter::builder()
//!     .limit(Limit::per_second("burst", 100).with_burst(2))
//!     .limit(Limit::per_day("daily", 10_000))
//!     .build()?;
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(limiter.layer()) // inner: sees the Principal
//!     .layer(AuthLayer::new(auth)); // outer: authenticates first
//!
//! let call = || Request::get("/").header("authorization", "Bearer key-alice").body(axum::body::Body::empty());
//! let ok = app.clone().oneshot(call()?).await?;
//! assert_eq!(ok.status(), StatusCode::OK);
//! assert_eq!(ok.headers()["ratelimit-policy"], r#""burst";q=100;w=1, "daily";q=10000;w=86400"#);
//! assert_eq!(ok.headers()["ratelimit"], r#""burst";r=1;t=1, "daily";r=9999;t=9"#);
//! app.clone().oneshot(call()?).await?;
//! let refused = app.oneshot(call()?).await?;
//! assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(refused.headers()["retry-after"], "1");
//! # Ok(()) }
//! ```
//!
//! ## Headers
//!
//! Refusals are [`AuthError::rate_limited`](auth_core::AuthError::rate_limited), answered
//! by auth-core's [`Rejection`](auth_core::Rejection): 429 with `Retry-After` (seconds,
//! rounded up) and the `RateLimit-Policy` and `RateLimit` fields of
//! [draft-ietf-httpapi-ratelimit-headers-10](https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/10/)
//! (structured-field lists: `"name";q=count;w=seconds` and `"name";r=remaining;t=seconds`,
//! one member per limit, the quota last); gRPC calls get `RESOURCE_EXHAUSTED` (8). Admitted
//! responses carry both fields too ([`headers`](RateLimiterBuilder::headers)). `r` is what a
//! GCRA bucket holds now, so it can exceed `q` when the burst does; `t` is when the bucket
//! is full again. Logs (target `tower_ratelimit`) name the limit, never the credential.
//!
//! ## Features
//! * `redis`: [`RedisConfig`], limits and throttles shared by every instance.
//! * `axum`: the client address from axum's `ConnectInfo<SocketAddr>`.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod address;
mod clock;
mod decision;
mod layer;
mod limiter;
mod memory;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod throttle;
mod throttle_layer;

pub use address::ClientAddress;
pub use clock::{Clock, ManualClock, SystemClock};
pub use decision::Decision;
pub use layer::{RateLimitLayer, RateLimitService, ResponseFuture};
pub use limiter::{CustomKey, KeyBy, RateLimiter, RateLimiterBuilder};
pub use policy::{Limit, MAX_LIMITS, Policy, Quota, Refill};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisConfig;
pub use throttle::{Throttle, ThrottleBuilder};
pub use throttle_layer::{ThrottleFuture, ThrottleLayer, ThrottleService};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
