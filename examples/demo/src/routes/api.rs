//! `/api/whoami` and `/api/admin`: who the caller is, whichever method proved it; each API
//! key's own rate limit and quota.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use auth_core::{AuthError, OnRejection, Principal, Rejection};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use serde::Serialize;
use tower_apikey::{ApiKeyIdentity, ApiKeys, KeyLimit, Per};
use tower_ratelimit::{KeyBy, Limit, Policy, Quota, RateLimiter};

/// The body of `/api/whoami`: `{"subject", "method", "scopes"}`, borrowed from the principal
/// and serialized straight into the response (no intermediate `serde_json::Value` tree).
#[derive(Serialize)]
struct WhoAmI<'a> {
    subject: &'a str,
    method: &'a str,
    scopes: &'a [String],
}

pub(crate) async fn whoami(principal: Principal) -> Response {
    body(&principal)
}

/// Headers an API answer can end up with: its content type and length, `RateLimit-Policy`
/// and `RateLimit` (a key with limits), and the security headers with HSTS that every
/// answer gets on its way out.
const API_HEADERS: usize = 8;

/// The whoami JSON of `principal`. Its header map is made with room for [`API_HEADERS`]
/// (a map made empty has room for 6), so the layers' headers never make it grow again.
pub(crate) fn body(principal: &Principal) -> Response {
    let whoami = WhoAmI {
        subject: principal.subject(),
        method: principal.method().as_str(),
        scopes: principal.scopes(),
    };
    let Ok(json) = serde_json::to_vec(&whoami) else {
        // Unreachable (strings and a list of strings always serialize), answered as axum's
        // `Json` would.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut headers = HeaderMap::with_capacity(API_HEADERS);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = Response::new(Body::from(json));
    *response.headers_mut() = headers;
    response
}

/// The limiter of every API key's own rate and quota (`demo keys create --rate N/s|N/m
/// --quota N/day|N/month`), counted per key id. It has no default policy: a caller without
/// limits of its own (a key without them, a JWT, a session) passes uncounted. Over its rate
/// or quota a key gets 429 with `Retry-After`, `RateLimit-Policy` and `RateLimit`; its
/// admitted answers carry `RateLimit-Policy` and `RateLimit` too.
pub(crate) fn key_limiter() -> RateLimiter {
    let policies = KeyPolicies::default();
    RateLimiter::builder()
        .key_by(KeyBy::custom(|parts, principal| {
            // Only keys have a policy here, so the subject is never used; it is the safe
            // fallback should that change.
            match parts.extensions.get::<ApiKeyIdentity>() {
                Some(key) => Cow::Borrowed(key.id()),
                None => Cow::Borrowed(principal.subject()),
            }
        }))
        .overrides(move |parts, _| policies.of(parts.extensions.get::<ApiKeyIdentity>()?))
        .build()
        .expect("a limiter of overrides alone is valid")
}

/// The [`Policy`] of each plan (a key's rate and quota) in use, built the first time a key
/// with that plan is counted and shared by every key with the same limits, so a request
/// only clones an `Arc` and the map holds one entry per plan, not per key. Plans are set by
/// whoever creates keys, never by a caller, so the map hashes with foldhash rather than
/// the flooding-resistant SipHash.
#[derive(Default)]
struct KeyPolicies(RwLock<HashMap<Plan, Option<Policy>, foldhash::fast::RandomState>>);

/// A key's rate and quota.
type Plan = (Option<KeyLimit>, Option<KeyLimit>);

impl KeyPolicies {
    fn of(&self, key: &ApiKeyIdentity) -> Option<Policy> {
        let plan = (key.rate(), key.quota());
        if plan == (None, None) {
            return None;
        }
        if let Some(policy) = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&plan)
        {
            return policy.clone();
        }
        let policy = policy(key);
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(plan, policy.clone());
        policy
    }
}

/// The policy of a key's stored rate and quota; `None` (the default) if the pair does not
/// make a valid policy, which `tower-apikey` already prevents at creation.
fn policy(key: &ApiKeyIdentity) -> Option<Policy> {
    // tower-apikey admits only `/s` and `/m` rates and `/day` and `/month` quotas.
    let rate = key.rate().map(|rate| match rate.per() {
        Per::Second => Limit::per_second("key-rate", rate.count()),
        _ => Limit::per_minute("key-rate", rate.count()),
    });
    let quota = key.quota().map(|quota| match quota.per() {
        Per::Day => Quota::daily("key-quota", quota.count()),
        _ => Quota::monthly("key-quota", quota.count()),
    });
    Policy::new(rate, quota)
        .inspect_err(|error| tracing::warn!(key_id = key.id(), %error, "unusable key limits"))
        .ok()
}

/// The per-key limiter's rejection: the standard 429, and the refused request counted as
/// `limited` in its key's usage ([`ApiKeys::record_limited`]), so the dashboard charts it.
/// It runs only for refused requests: admitted ones pay nothing for it.
#[derive(Clone)]
pub(crate) struct CountLimited {
    keys: ApiKeys,
    rejection: Rejection,
}

impl CountLimited {
    pub(crate) fn new(keys: ApiKeys) -> Self {
        Self {
            keys,
            rejection: Rejection::new(),
        }
    }
}

impl<B> OnRejection<B> for CountLimited {
    fn reject(&self, error: &AuthError, request: &Request<B>) -> Response<Bytes> {
        if error.status() == StatusCode::TOO_MANY_REQUESTS
            && let Some(key) = request.extensions().get::<ApiKeyIdentity>()
        {
            self.keys.record_limited(key.id());
        }
        self.rejection.reject(error, request)
    }
}
