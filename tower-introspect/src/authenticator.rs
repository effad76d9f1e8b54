//! [`IntrospectionAuthenticator`]: the `auth-core` [`Authenticate`] implementation.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use auth_core::{AuthError, AuthLayer, Authenticate, CheckFuture, Outcome};
use http::Request;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};

use crate::client_auth::{ASSERTION_TYPE, ClientAuth};
use crate::jwt_response::{self, JwtRules};
use tower_jwt::dpop::DpopConfig;

use crate::cache::{Key, Lookup, inactive};
use crate::config::Inner;
use crate::identity::Introspected;
use crate::response::{self, Answer, Refusal};

/// The introspection layer: [`AuthLayer`] over an [`IntrospectionAuthenticator`].
pub type IntrospectionLayer = AuthLayer<IntrospectionAuthenticator>;

/// Reads a bearer token from each request and asks the introspection endpoint about it,
/// through the cache. Made by [`Introspection::authenticator`](crate::Introspection::authenticator);
/// cheap to clone.
///
/// A token shaped like a JWT (three dot-separated base64url parts) is not this method's:
/// the outcome is [`Outcome::Missing`], so `first_of(introspection, jwt)` hands it to the
/// JWT branch and it never reaches the endpoint.
///
/// A token whose answer has `cnf.jkt` is bound to a DPoP key (RFC 9449) and is refused as
/// `Bearer`; [`dpop`](Self::dpop) accepts it with the `DPoP` scheme and a proof.
#[derive(Clone)]
pub struct IntrospectionAuthenticator {
    inner: Arc<Inner>,
    dpop: Option<DpopConfig>,
}

impl IntrospectionAuthenticator {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner, dpop: None }
    }

    /// Also accept DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with a
    /// `DPoP` proof, checked as `config` says (htm, htu, ath, the key the answer's `cnf.jkt`
    /// names, replay, and nonces if configured) on every request, whether the answer was
    /// cached or not. An unbound token under the `DPoP` scheme is refused, and refusals
    /// offer both the `Bearer` and the `DPoP` challenge, as tower-jwt's
    /// [`JwtAuthenticator::dpop`](tower_jwt::JwtAuthenticator::dpop) does.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_introspect::Introspection;
    /// use tower_jwt::dpop::DpopConfig;
    ///
    /// let introspection = Introspection::builder("https://auth.example.com")
    ///     .client_id("orders-api")
    ///     .client_secret("secret")
    ///     .discover()
    ///     .await?;
    /// let dpop = DpopConfig::builder("https://api.example.com").build()?;
    /// let layer = auth_core::AuthLayer::new(introspection.authenticator().dpop(dpop));
    /// # let _ = layer; Ok(()) }
    /// ```
    #[must_use]
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// The configured credential sources (`Authorization: Bearer`); a bound token is
    /// refused.
    fn bearer<B>(&self, request: &Request<B>) -> Outcome<Introspected, CheckFuture<Introspected>> {
        let credential = match self.inner.credentials.find(request) {
            Ok(credential) => credential,
            Err(error) => return Outcome::from(Err(error)),
        };
        match self.check(credential.value()) {
            Outcome::Decided(result) => Outcome::Decided(refuse_bound(result)),
            Outcome::Pending(check) => {
                Outcome::Pending(CheckFuture::new(async move { refuse_bound(check.await) }))
            }
            Outcome::Missing => Outcome::Missing,
        }
    }

    /// `token`'s identity: from the cache, or asked of the endpoint.
    fn check(&self, token: &str) -> Outcome<Introspected, CheckFuture<Introspected>> {
        if looks_like_jwt(token) {
            return Outcome::Missing;
        }
        let key = self.inner.cache.key(token);
        match self.inner.cache.lookup(&key, SystemTime::now()) {
            Lookup::Hit(identity) => Outcome::Decided(self.inner.admit(identity)),
            Lookup::Refused(error) => Outcome::Decided(Err(error)),
            Lookup::Miss => {
                let inner = Arc::clone(&self.inner);
                let token = token.to_owned();
                Outcome::Pending(CheckFuture::new(async move {
                    let identity = single_flight(&inner, key, &token).await?;
                    inner.admit(identity)
                }))
            }
        }
    }
}

/// A token bound to a DPoP key presented as `Bearer`: refused (a stolen bound token is
/// worthless without its key), with or without DPoP configured.
fn refuse_bound(result: Result<Introspected, AuthError>) -> Result<Introspected, AuthError> {
    match result {
        Ok(identity) if identity.dpop_thumbprint().is_some() => Err(AuthError::invalid_credential(
            "the token is bound to a DPoP key: present it with the DPoP scheme and a proof",
        )
        .with_reason("dpop_bound")),
        result => result,
    }
}

impl fmt::Debug for IntrospectionAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionAuthenticator")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("dpop", &self.dpop)
            .finish_non_exhaustive()
    }
}

impl<B> Authenticate<B> for IntrospectionAuthenticator {
    type Identity = Introspected;
    type Future = CheckFuture<Introspected>;

    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Introspected, Self::Future> {
        match &self.dpop {
            Some(config) => {
                config.authenticate(request, || self.bearer(request), |token| self.check(token))
            }
            None => self.bearer(request),
        }
    }
}

/// Three non-empty base64url parts separated by dots: a JWS in compact form.
fn looks_like_jwt(token: &str) -> bool {
    // Opaque tokens rarely have two dots: one counting pass (vectorised) settles most.
    if token.bytes().filter(|&b| b == b'.').count() != 2 {
        return false;
    }
    token.split('.').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// One introspection per uncached token however many requests carry it at once: the
/// first one asks, the others wait for its answer.
async fn single_flight(inner: &Inner, key: Key, token: &str) -> Result<Introspected, AuthError> {
    let guard = match inner.cache.active.get_value_or_guard_async(&key).await {
        Ok(_) => {
            // Filled while this request waited (or an entry past its bound): decide as a
            // cache lookup would.
            return match inner.cache.lookup(&key, SystemTime::now()) {
                Lookup::Hit(identity) => Ok(identity),
                Lookup::Refused(error) => Err(error),
                Lookup::Miss => introspect_and_cache(inner, key, token, None).await,
            };
        }
        Err(guard) => guard,
    };
    // A concurrent lookup may have found the token inactive while this one waited.
    if let Lookup::Refused(error) = inner.cache.inactive_verdict(&key, SystemTime::now()) {
        return Err(error);
    }
    introspect_and_cache(inner, key, token, Some(guard)).await
}

type Guard<'a> = quick_cache::sync::PlaceholderGuard<
    'a,
    Key,
    crate::cache::Entry,
    quick_cache::UnitWeighter,
    quick_cache::DefaultHashBuilder,
    quick_cache::sync::DefaultLifecycle<Key, crate::cache::Entry>,
>;

async fn introspect_and_cache(
    inner: &Inner,
    key: Key,
    token: &str,
    guard: Option<Guard<'_>>,
) -> Result<Introspected, AuthError> {
    let body = fetch(inner, token).await?;
    let now = SystemTime::now();
    let answer = match &inner.jwt_responses {
        None => response::read(&body, &inner.rules, now),
        Some(keys) => {
            let rules = JwtRules {
                issuer: &inner.rules.issuer,
                client_id: &inner.client_id,
            };
            let jws = std::str::from_utf8(&body).unwrap_or_default().trim();
            match jwt_response::read(jws, keys, &inner.client, &rules, now).await {
                Ok(members) => response::read_members(members, &inner.rules, now),
                Err(why) => Err(Refusal::Malformed(why)),
            }
        }
    };
    match answer {
        Ok(Answer::Active(identity)) => {
            if let Some(entry) = inner.cache.entry(&identity, now) {
                match guard {
                    Some(guard) => {
                        let _ = guard.insert(entry);
                    }
                    None => inner.cache.active.insert(key, entry),
                }
            }
            Ok(identity)
        }
        Ok(Answer::Inactive) => {
            inner.cache.remember_inactive(key, now);
            Err(inactive())
        }
        Err(Refusal::Token(error)) => Err(error),
        Err(Refusal::Malformed(why)) => {
            tracing::warn!(endpoint = %inner.endpoint, why, "token introspection answered something that is not an RFC 7662 answer");
            Err(unavailable("invalid_introspection_response"))
        }
    }
}

/// POSTs the token (in the form body, never in the URL) and reads the answer, capped.
async fn fetch(inner: &Inner, token: &str) -> Result<Vec<u8>, AuthError> {
    let failed = |why: &str| {
        tracing::warn!(endpoint = %inner.endpoint, why, "token introspection failed");
        unavailable("introspection_unavailable")
    };
    let mut request = inner.client.post(inner.endpoint.clone());
    // The serializer is not `Send`: it ends before the request is sent.
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token)
            .append_pair("token_type_hint", "access_token");
        match &inner.client_auth {
            ClientAuth::Basic(authorization) => {
                request = request.header(AUTHORIZATION, authorization.clone());
            }
            ClientAuth::PrivateKeyJwt(assertion) => {
                let assertion = assertion
                    .sign(SystemTime::now())
                    .map_err(|()| failed("the client assertion cannot be signed"))?;
                form.append_pair("client_assertion_type", ASSERTION_TYPE)
                    .append_pair("client_assertion", &assertion);
            }
        }
        form.finish()
    };
    let media_type = match inner.jwt_responses {
        Some(_) => jwt_response::MEDIA_TYPE,
        None => "application/json",
    };
    let mut response = request
        .header(ACCEPT, media_type)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| {
            failed(if e.is_timeout() {
                "timed out"
            } else {
                "cannot be reached"
            })
        })?;
    if response.status() != reqwest::StatusCode::OK {
        tracing::warn!(endpoint = %inner.endpoint, status = response.status().as_u16(), "token introspection failed");
        return Err(unavailable("introspection_unavailable"));
    }
    let is_asked_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type));
    if !is_asked_type {
        return Err(failed("the answer is not of the media type asked for"));
    }
    let cap = inner.max_response_bytes;
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(failed("the answer is larger than max_response_bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| failed("the answer was cut off or timed out"))?
    {
        if body.len() + chunk.len() > cap {
            return Err(failed("the answer is larger than max_response_bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn unavailable(reason: &'static str) -> AuthError {
    AuthError::unavailable("the token cannot be checked now").with_reason(reason)
}

#[cfg(test)]
mod tests {
    use super::looks_like_jwt;

    #[test]
    fn only_three_base64url_parts_look_like_a_jwt() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"));
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d.e"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b+.c"));
        assert!(!looks_like_jwt("opaque-token_value"));
    }
}
