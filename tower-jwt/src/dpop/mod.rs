//! DPoP (RFC 9449): access tokens bound to a client's key, each request carrying a fresh
//! proof of possession.
//!
//! With [`JwtAuthenticator::dpop`](crate::JwtAuthenticator::dpop), a request may present
//! its token as `Authorization: DPoP <token>` with a `DPoP: <proof>` header. The proof is a
//! JWT the client signs for this one request; it is accepted only when (RFC 9449 §4.3):
//!
//! * there is exactly one `DPoP` header, at most [`max_proof_length`] bytes (8 KiB);
//! * its header has `typ: dpop+jwt`, an `alg` of the configured [`algorithms`] (asymmetric
//!   only: `none` and `HS*` are refused when configuring), no `crit`, and a public `jwk`
//!   (a key with `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth` or `k` is refused) that fits the
//!   algorithm (its curve; RSA of at least 2048 bits) and verifies the signature;
//! * `htm` is the request method and `htu` the request URI (query and fragment ignored,
//!   RFC 3986 normalised) built from the **configured public origin** and the request path,
//!   never from the `Host` header;
//! * `iat` lies within [`proof_max_age`] (60 s) in the past and [`proof_leeway`] (5 s) in
//!   the future;
//! * `ath` is `base64url(SHA-256(access token))`;
//! * the access token (verified as usual) has `cnf.jkt` equal to the proof key's RFC 7638
//!   thumbprint;
//! * the proof was not used before: its `jti` (with the key's thumbprint) is recorded in a
//!   [`DpopReplayStore`] for the whole acceptance window, [`MemoryDpopReplayStore`] by
//!   default, [`RedisDpopReplayStore`] (feature `redis`) for several instances.
//!
//! Binding rules: a token with `cnf.jkt` sent as `Bearer` is refused (a stolen bound token
//! is worthless without its key), with or without DPoP configured; an unbound token sent
//! with the `DPoP` scheme is refused.
//!
//! Refusals follow RFC 9449 §7.1: a bad proof is 401 with
//! `WWW-Authenticate: DPoP realm="api", error="invalid_dpop_proof", error_description="…",
//! algs="ES256 …"`; a bad token under the `DPoP` scheme is 401 `invalid_token` in the same
//! `DPoP` challenge. A request without credentials, or a refused `Bearer` one, is offered
//! both the `Bearer` and the `DPoP` challenge. A replay store that cannot answer gives 503.
//!
//! Server-provided nonces (`DPoP-Nonce`, RFC 9449 §8 and §9) are not implemented: replay is
//! bounded by the `iat` window and the replay store instead.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tower_jwt::dpop::{DpopConfig, MemoryDpopReplayStore};
//! use tower_jwt::{Algorithm, IssuerConfig, JwtVerifier};
//!
//! let verifier = JwtVerifier::new(
//!     IssuerConfig::builder("https://auth.example.com")
//!         .audience("orders-api")
//!         .hmac_secret(b"a 32-byte or longer HS256 secret!")
//!         .build()
//!         .unwrap(),
//! )
//! .unwrap();
//! let dpop = DpopConfig::builder("https://api.example.com")
//!     .algorithms([Algorithm::ES256, Algorithm::EdDSA])
//!     .proof_max_age(Duration::from_secs(30))
//!     .replay_store(Arc::new(MemoryDpopReplayStore::new(50_000)))
//!     .build()
//!     .unwrap();
//! let layer = verifier.authenticator().dpop(dpop).layer();
//! # let _ = layer;
//! ```
//!
//! [`max_proof_length`]: DpopConfigBuilder::max_proof_length
//! [`algorithms`]: DpopConfigBuilder::algorithms
//! [`proof_max_age`]: DpopConfigBuilder::proof_max_age
//! [`proof_leeway`]: DpopConfigBuilder::proof_leeway

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AuthError, Challenge, CheckFuture, ConfigError, ConfigErrorKind, Outcome};
use http::Request;
use http::header::AUTHORIZATION;
use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;

use crate::identity::Claims;
use crate::verifier::JwtVerifier;

mod proof;
#[cfg(feature = "redis")]
mod redis;
mod replay;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisDpopReplayStore, RedisDpopReplayStoreBuilder};
pub use replay::{DEFAULT_REPLAY_CAPACITY, DpopReplayStore, MemoryDpopReplayStore};

/// Default cap on a proof's length.
pub const DEFAULT_MAX_PROOF_LENGTH: usize = 8 * 1024;
/// Default age a proof's `iat` may have.
pub const DEFAULT_PROOF_MAX_AGE: Duration = Duration::from_secs(60);
/// Default time a proof's `iat` may be ahead of this server's clock.
pub const DEFAULT_PROOF_LEEWAY: Duration = Duration::from_secs(5);
/// Longest [`proof_max_age`](DpopConfigBuilder::proof_max_age) accepted.
pub const MAX_PROOF_MAX_AGE: Duration = Duration::from_secs(300);
/// Longest [`proof_leeway`](DpopConfigBuilder::proof_leeway) accepted.
pub const MAX_PROOF_LEEWAY: Duration = Duration::from_secs(60);

/// The proof algorithms accepted unless [`algorithms`](DpopConfigBuilder::algorithms) says
/// otherwise.
const DEFAULT_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// How [`JwtAuthenticator`](crate::JwtAuthenticator) checks DPoP proofs (see the
/// [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct DpopConfig {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    origin: proof::Origin,
    algorithms: Vec<Algorithm>,
    /// The `algs` challenge parameter: the algorithms, space-separated.
    algs: String,
    max_age: i64,
    leeway: i64,
    max_proof_length: usize,
    replay_store: Arc<dyn DpopReplayStore>,
}

impl fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("DpopConfig")
            .field("origin", &inner.origin)
            .field("algorithms", &inner.algorithms)
            .field("max_age", &inner.max_age)
            .field("leeway", &inner.leeway)
            .field("max_proof_length", &inner.max_proof_length)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DpopConfig`].
#[must_use]
pub struct DpopConfigBuilder {
    origin: String,
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    leeway: Duration,
    max_proof_length: usize,
    replay_store: Option<Arc<dyn DpopReplayStore>>,
}

impl fmt::Debug for DpopConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopConfigBuilder")
            .field("origin", &self.origin)
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("max_proof_length", &self.max_proof_length)
            .finish_non_exhaustive()
    }
}

impl DpopConfig {
    /// A builder for a resource served at `origin`, the public URL clients call
    /// (`https://api.example.com`, or with a base path `https://example.com/api` that is
    /// prefixed to the request path). Proofs' `htu` are compared with it and the path the
    /// layer sees, never with the request's `Host` header: behind a router that strips a
    /// prefix before the layer runs (axum's `nest`), put that prefix in `origin`.
    pub fn builder(origin: impl Into<String>) -> DpopConfigBuilder {
        DpopConfigBuilder {
            origin: origin.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: DEFAULT_PROOF_MAX_AGE,
            leeway: DEFAULT_PROOF_LEEWAY,
            max_proof_length: DEFAULT_MAX_PROOF_LENGTH,
            replay_store: None,
        }
    }

    /// The accepted proof algorithms, as named in the `algs` challenge parameter.
    #[must_use]
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.algorithms
    }
}

impl DpopConfigBuilder {
    /// The proof algorithms accepted (default ES256, ES384, EdDSA, PS256, RS256).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a proof's `iat` may be (default 60 s, at most 300 s). Proofs are recorded
    /// in the replay store for this long plus the leeway.
    pub fn proof_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a proof's `iat` may be, for clock skew (default 5 s, at most
    /// 60 s).
    pub fn proof_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuse proofs longer than `bytes` before decoding them (default 8 KiB).
    pub fn max_proof_length(mut self, bytes: usize) -> Self {
        self.max_proof_length = bytes;
        self
    }

    /// Where used proofs are recorded (default a [`MemoryDpopReplayStore`] of
    /// [`DEFAULT_REPLAY_CAPACITY`] proofs). Share one store, e.g. a
    /// `RedisDpopReplayStore`, between the instances serving the same origin.
    pub fn replay_store(mut self, store: Arc<dyn DpopReplayStore>) -> Self {
        self.replay_store = Some(store);
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for an origin that is not an `https` URL (`http` on
    /// a loopback host) without query, fragment or credentials, no algorithm or a
    /// symmetric one, a zero or too long `proof_max_age` or `proof_leeway`, or a zero
    /// `max_proof_length`; [`ConfigErrorKind::Unsupported`] with no crypto backend.
    pub fn build(self) -> Result<DpopConfig, ConfigError> {
        crate::backend::ensure()?;
        let invalid = |field, message: &'static str| {
            Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                field,
                message,
            ))
        };
        let Some(origin) = proof::Origin::parse(&self.origin) else {
            return invalid(
                "origin",
                "not an http(s) URL without query, fragment or credentials",
            );
        };
        if origin.scheme != "https" && !origin.is_loopback() {
            return invalid("origin", "must be https (http only on a loopback host)");
        }
        if self.algorithms.is_empty() {
            return invalid("algorithms", "no proof algorithm");
        }
        if self
            .algorithms
            .iter()
            .any(|alg| matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return invalid(
                "algorithms",
                "DPoP proofs must use an asymmetric algorithm (RFC 9449 §4.2)",
            );
        }
        if self.max_age.is_zero() || self.max_age > MAX_PROOF_MAX_AGE {
            return invalid("proof_max_age", "must be between 1 s and 300 s");
        }
        if self.leeway > MAX_PROOF_LEEWAY {
            return invalid("proof_leeway", "must be at most 60 s");
        }
        if self.max_proof_length == 0 {
            return invalid("max_proof_length", "must be positive");
        }
        let mut algorithms = self.algorithms;
        algorithms.dedup();
        let algs = algorithms
            .iter()
            .map(|alg| format!("{alg:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        let seconds = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(DpopConfig {
            inner: Arc::new(Inner {
                origin,
                algorithms,
                algs,
                max_age: seconds(self.max_age),
                leeway: seconds(self.leeway),
                max_proof_length: self.max_proof_length,
                replay_store: self
                    .replay_store
                    .unwrap_or_else(|| Arc::new(MemoryDpopReplayStore::default())),
            }),
        })
    }
}

/// A refused proof: 401, answered with `invalid_dpop_proof` in the `DPoP` challenge.
pub(crate) fn refused(description: &'static str, reason: &'static str) -> AuthError {
    AuthError::invalid_credential(description).with_reason(reason)
}

/// A token bound to a DPoP key (`cnf.jkt`) presented without a proof, as `Bearer` or
/// from another credential source: refused, whether DPoP is configured or not.
pub(crate) fn refuse_bound<C>(
    result: Result<Claims<C>, AuthError>,
) -> Result<Claims<C>, AuthError> {
    match result {
        Ok(claims) if claims.dpop_thumbprint().is_some() => Err(AuthError::invalid_credential(
            "the token is bound to a DPoP key: present it with the DPoP scheme and a proof",
        )
        .with_reason("dpop_bound")),
        result => result,
    }
}

impl DpopConfig {
    fn dpop_challenge(&self) -> Challenge {
        Challenge::new("DPoP").param("algs", self.inner.algs.clone())
    }

    /// `error` answered with the `Bearer` and the `DPoP` challenge (no credential, or a
    /// refused `Bearer` credential).
    pub(crate) fn both_challenges(&self, error: AuthError) -> AuthError {
        error.with_challenges([Challenge::bearer(), self.dpop_challenge()])
    }

    /// `error` (a refused proof) answered with `DPoP error="invalid_dpop_proof"`.
    fn proof_error(&self, error: AuthError) -> AuthError {
        if error.status() == http::StatusCode::UNAUTHORIZED {
            error.with_challenges([self.dpop_challenge().error("invalid_dpop_proof")])
        } else {
            error
        }
    }

    /// `error` (a refused token under the `DPoP` scheme) answered in the `DPoP` challenge.
    fn token_error(&self, error: AuthError) -> AuthError {
        error.with_challenges([self.dpop_challenge()])
    }
}

/// The `Authorization` header as DPoP reads it.
enum Scheme<'r> {
    /// `DPoP <token>`.
    Dpop(&'r str),
    /// Anything else, or nothing: the bearer path decides.
    Other,
}

fn scheme<B>(request: &Request<B>) -> Scheme<'_> {
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        // None, or several (the bearer path answers 400).
        return Scheme::Other;
    };
    let Ok(text) = value.to_str() else {
        return Scheme::Other;
    };
    match text.split_once(' ') {
        Some((name, token)) if name.eq_ignore_ascii_case("DPoP") => Scheme::Dpop(token.trim()),
        _ => Scheme::Other,
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The one `DPoP` header's value.
fn proof_header<'r, B>(config: &DpopConfig, request: &'r Request<B>) -> Result<&'r str, AuthError> {
    let mut values = request.headers().get_all("dpop").iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value,
        (None, _) => {
            return Err(refused("the request has no DPoP proof", "dpop_missing"));
        }
        (Some(_), Some(_)) => {
            return Err(refused(
                "the request has more than one DPoP header",
                "dpop_duplicate",
            ));
        }
    };
    if value.len() > config.inner.max_proof_length {
        return Err(refused("the DPoP proof is too large", "dpop_too_large"));
    }
    value
        .to_str()
        .map_err(|_| refused("the DPoP proof is malformed", "dpop_malformed"))
}

/// Authenticates a request for [`JwtAuthenticator`](crate::JwtAuthenticator) with DPoP
/// configured: the `DPoP` scheme here, anything else through `bearer` (whose refusals get
/// both challenges, and which refuses bound tokens).
pub(crate) fn authenticate<B, C>(
    config: &DpopConfig,
    verifier: &JwtVerifier,
    cache: Option<&Arc<crate::cache::VerifiedCache<C>>>,
    request: &Request<B>,
    bearer: impl FnOnce() -> Outcome<Claims<C>, CheckFuture<Claims<C>>>,
) -> Outcome<Claims<C>, CheckFuture<Claims<C>>>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    let token = match scheme(request) {
        Scheme::Dpop(token) => token,
        Scheme::Other => {
            let config = config.clone();
            return match bearer() {
                Outcome::Missing => {
                    Outcome::Decided(Err(config.both_challenges(AuthError::missing())))
                }
                Outcome::Decided(result) => {
                    Outcome::Decided(result.map_err(|e| config.both_challenges(e)))
                }
                Outcome::Pending(check) => Outcome::Pending(CheckFuture::new(async move {
                    check.await.map_err(|e| config.both_challenges(e))
                })),
            };
        }
    };
    let proof = match proof_header(config, request) {
        Ok(proof) => proof,
        Err(e) => return Outcome::Decided(Err(config.proof_error(e))),
    };
    let target = proof::Target {
        method: request.method().as_str(),
        path: request.uri().path(),
    };
    let checked = match proof::check(&config.inner, proof, target, token, now_secs()) {
        Ok(checked) => checked,
        Err(e) => return Outcome::Decided(Err(config.proof_error(e))),
    };
    let config = config.clone();
    let verifier = verifier.clone();
    let cache = cache.cloned();
    let token = token.to_owned();
    Outcome::Pending(CheckFuture::new(async move {
        let claims = verifier
            .verify_with(&token, cache.as_deref())
            .await
            .map_err(|e| config.token_error(e))?;
        match claims.dpop_thumbprint() {
            Some(jkt) if jkt == checked.jkt => {}
            Some(_) => {
                return Err(config.proof_error(refused(
                    "the DPoP proof is not signed by the key the token is bound to",
                    "dpop_key_mismatch",
                )));
            }
            None => {
                return Err(config.token_error(
                    AuthError::invalid_credential(
                        "the token is not bound to a DPoP key: present it as a Bearer token",
                    )
                    .with_reason("dpop_unbound"),
                ));
            }
        }
        let inner = &config.inner;
        let window = Duration::from_secs(
            u64::try_from(inner.max_age + inner.leeway).unwrap_or(u64::MAX) + 1,
        );
        match inner
            .replay_store
            .first_use(&checked.replay_key, window)
            .await
        {
            Ok(true) => Ok(claims),
            Ok(false) => Err(config.proof_error(refused(
                "the DPoP proof has been used before",
                "dpop_replay",
            ))),
            Err(e) => Err(AuthError::from(e)),
        }
    }))
}
