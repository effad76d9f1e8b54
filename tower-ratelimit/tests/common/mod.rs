//! What the throttle tests share: a token check, the throttle in front of it, requests from
//! a given peer, and a key prefix of their own for the Redis tests.
#![allow(dead_code)] // each test file uses its own part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
use http::{Request, Response};
use tower::{ServiceBuilder, service_fn};
use tower_ratelimit::Throttle;

/// `Bearer alice.right` authenticates alice; no header is a missing credential; anything
/// else is a refused one.
pub(crate) fn auth(req: &Request<String>) -> Result<Principal, AuthError> {
    match req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        None => Err(AuthError::missing()),
        Some("Bearer alice.right") => Ok(Principal::new("alice", AuthMethod::Custom("t".into()))),
        Some(_) => Err(AuthError::invalid_credential("bad credential")),
    }
}

/// `throttle` outside an `AuthLayer` of [`auth`], over a handler answering "ok".
pub(crate) fn app(
    throttle: &Throttle,
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible> + Clone {
    ServiceBuilder::new()
        .layer(throttle.layer())
        .layer(AuthLayer::new(auth))
        .service(service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new("ok".to_owned()))
        }))
}

/// A request with `Bearer <token>` from the TCP peer `peer`.
pub(crate) fn attempt(token: &str, peer: &str) -> Request<String> {
    let mut req = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    req.extensions_mut()
        .insert(peer.parse::<SocketAddr>().unwrap());
    req
}

/// The claimed identity: the part of the token before the dot (the "username").
pub(crate) fn claimed(parts: &http::request::Parts) -> Option<String> {
    let value = parts.headers.get("authorization")?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.split('.').next()?.to_owned())
}

/// A Redis key prefix no other test run shares.
pub(crate) fn prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-rl:{test}:{nanos}:")
}
