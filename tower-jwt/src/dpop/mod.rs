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
//! Server-provided nonces (RFC 9449 §8, §9) are optional: with
//! [`nonces`](DpopConfigBuilder::nonces), a proof must also carry a `nonce` claim this
//! server (or another instance with the same secret) issued. A proof without one, or with a
//! stale or foreign one, is refused with 401,
//! `WWW-Authenticate: DPoP error="use_dpop_nonce", …` and a `DPoP-Nonce: <nonce>` header to
//! retry with. A nonce is a time slot's number and an HMAC-SHA-256 over it and the origin,
//! so instances share no state: the current slot's nonce and the previous one's are
//! accepted, and a request admitted with the previous one gets a fresh nonce in its
//! response's `DPoP-Nonce` header.
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
//! With server nonces, every instance configured with the same secret (32 bytes or more):
//!
//! ```
//! # use std::time::Duration;
//! # use tower_jwt::dpop::DpopConfig;
//! let dpop = DpopConfig::builder("https://api.example.com")
//!     .nonces(b"the nonce secret the instances share", Duration::from_secs(60))
//!     .build()
//!     .unwrap();
//! # let _ = dpop;
//! ```
//!
//! [`max_proof_length`]: DpopConfigBuilder::max_proof_length
//! [`algorithms`]: DpopConfigBuilder::algorithms
//! [`proof_max_age`]: DpopConfigBuilder::proof_max_age
//! [`proof_leeway`]: DpopConfigBuilder::proof_leeway

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{
    AuthError, Challenge, CheckFuture, ConfigError, ConfigErrorKind, Identity, Outcome,
};
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue, Request};
use jsonwebtoken::Algorithm;

use crate::identity::Claims;

mod nonce;
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
/// Shortest secret [`nonces`](DpopConfigBuilder::nonces) accepts, in bytes.
pub const MIN_NONCE_SECRET_LEN: usize = 32;
/// Longest nonce slot [`nonces`](DpopConfigBuilder::nonces) accepts.
pub const MAX_NONCE_SLOT: Duration = Duration::from_secs(3600);

/// The `DPoP-Nonce` header (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// An identity whose token may be bound to a DPoP key: what
/// [`DpopConfig::authenticate`] needs of another authenticator's identity. [`Claims`]
/// implements it.
pub trait DpopIdentity: Identity {
    /// The RFC 7638 thumbprint of the key the token is bound to (`cnf.jkt`), if any.
    fn dpop_thumbprint(&self) -> Option<&str>;

    /// The identity with `nonce` to send in the response's `DPoP-Nonce` header, returned
    /// from [`Identity::take_response_headers`].
    #[must_use]
    fn with_dpop_nonce(self, nonce: HeaderValue) -> Self;
}

impl<C: Send + Sync + 'static> DpopIdentity for Claims<C> {
    fn dpop_thumbprint(&self) -> Option<&str> {
        Claims::dpop_thumbprint(self)
    }

    fn with_dpop_nonce(mut self, nonce: HeaderValue) -> Self {
        self.dpop_nonce = Some(Box::new(nonce));
        self
    }
}

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
    nonces: Option<nonce::Nonces>,
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
            .field("nonces", &inner.nonces.is_some())
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
    /// The nonce secret (never printed) and slot.
    nonces: Option<(Vec<u8>, Duration)>,
}

impl fmt::Debug for DpopConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopConfigBuilder")
            .field("origin", &self.origin)
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("max_proof_length", &self.max_proof_length)
            .field("nonce_slot", &self.nonces.as_ref().map(|(_, slot)| slot))
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
            nonces: None,
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

    /// Require server-provided nonces (RFC 9449 §8): a proof must carry a `nonce` this
    /// server issued less than one to two `slot`s ago, else it is refused with
    /// `use_dpop_nonce` and a fresh nonce. Nonces are HMACs keyed by `secret` (at least
    /// [`MIN_NONCE_SECRET_LEN`] random bytes): give every instance serving the origin the
    /// same secret and they accept each other's nonces without sharing state. `slot` is
    /// between 1 s and [`MAX_NONCE_SLOT`]; a minute suits most clients (each refreshes its
    /// nonce about once per slot, from the `DPoP-Nonce` header of an admitted response).
    pub fn nonces(mut self, secret: impl AsRef<[u8]>, slot: Duration) -> Self {
        self.nonces = Some((secret.as_ref().to_vec(), slot));
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for an origin that is not an `https` URL (`http` on
    /// a loopback host) without query, fragment or credentials, no algorithm or a
    /// symmetric one, a zero or too long `proof_max_age` or `proof_leeway`, a zero
    /// `max_proof_length`, or a nonce secret shorter than [`MIN_NONCE_SECRET_LEN`] or a
    /// nonce slot under 1 s or over [`MAX_NONCE_SLOT`]; [`ConfigErrorKind::Unsupported`] with no crypto backend.
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
        if let Some((secret, slot)) = &self.nonces {
            if secret.len() < MIN_NONCE_SECRET_LEN {
                return invalid("nonces", "the nonce secret must be at least 32 bytes");
            }
            if slot.as_secs() == 0 || *slot > MAX_NONCE_SLOT {
                return invalid("nonces", "the nonce slot must be between 1 s and 1 h");
            }
        }
        let nonces = self.nonces.map(|(secret, slot)| {
            nonce::Nonces::new(&secret, origin.canonical().as_str(), slot.as_secs())
        });
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
                nonces,
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
pub(crate) fn refuse_bound<I: DpopIdentity>(result: Result<I, AuthError>) -> Result<I, AuthError> {
    match result {
        Ok(identity) if identity.dpop_thumbprint().is_some() => Err(AuthError::invalid_credential(
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

impl DpopConfig {
    /// Authenticates `request` for an authenticator of tokens that may be bound to a DPoP
    /// key: what [`JwtAuthenticator`](crate::JwtAuthenticator) does with DPoP configured, for
    /// another token format (tower-introspect's opaque tokens).
    ///
    /// `Authorization: DPoP <token>` has its proof checked (and its nonce, when
    /// [`nonces`](DpopConfigBuilder::nonces) are on), then `token` checks the token. The
    /// identity must be bound to the proof's key, and the proof is recorded in the replay
    /// store: on every request, whether `token` decided at once (a cache hit) or waited.
    /// `token` answering [`Outcome::Missing`] (a token of another format) is passed on.
    /// Anything else goes to `bearer`, whose refusals offer both challenges and whose bound
    /// identities are refused.
    pub fn authenticate<B, I: DpopIdentity>(
        &self,
        request: &Request<B>,
        bearer: impl FnOnce() -> Outcome<I, CheckFuture<I>>,
        token: impl FnOnce(&str) -> Outcome<I, CheckFuture<I>>,
    ) -> Outcome<I, CheckFuture<I>> {
        let presented = match scheme(request) {
            Scheme::Dpop(token) => token,
            Scheme::Other => {
                let config = self.clone();
                return match bearer() {
                    Outcome::Missing => {
                        Outcome::Decided(Err(config.both_challenges(AuthError::missing())))
                    }
                    Outcome::Decided(result) => Outcome::Decided(
                        refuse_bound(result).map_err(|e| config.both_challenges(e)),
                    ),
                    Outcome::Pending(check) => Outcome::Pending(CheckFuture::new(async move {
                        refuse_bound(check.await).map_err(|e| config.both_challenges(e))
                    })),
                };
            }
        };
        let proof = match proof_header(self, request) {
            Ok(proof) => proof,
            Err(e) => return Outcome::Decided(Err(self.proof_error(e))),
        };
        let target = proof::Target {
            method: request.method().as_str(),
            path: request.uri().path(),
        };
        let now = now_secs();
        let checked = match proof::check(&self.inner, proof, target, presented, now) {
            Ok(checked) => checked,
            Err(e) => return Outcome::Decided(Err(self.proof_error(e))),
        };
        let fresh_nonce = match &self.inner.nonces {
            None => None,
            Some(nonces) => match nonces.check(checked.nonce.as_deref(), now) {
                nonce::Freshness::Current => None,
                nonce::Freshness::Previous => nonce_value(nonces, now),
                nonce::Freshness::Refused => {
                    return Outcome::Decided(Err(self.use_nonce(nonces, now)));
                }
            },
        };
        let config = self.clone();
        let check = match token(presented) {
            Outcome::Missing => return Outcome::Missing,
            Outcome::Decided(Err(e)) => return Outcome::Decided(Err(self.token_error(e))),
            Outcome::Decided(Ok(identity)) => Ok(identity),
            Outcome::Pending(check) => Err(check),
        };
        Outcome::Pending(CheckFuture::new(async move {
            let identity = match check {
                Ok(identity) => identity,
                Err(check) => check.await.map_err(|e| config.token_error(e))?,
            };
            config.bind(&identity, &checked)?;
            config.first_use(&checked).await?;
            Ok(match fresh_nonce {
                Some(nonce) => identity.with_dpop_nonce(nonce),
                None => identity,
            })
        }))
    }

    /// Refuses `identity` unless its token is bound to the proof's key.
    fn bind<I: DpopIdentity>(
        &self,
        identity: &I,
        checked: &proof::Checked,
    ) -> Result<(), AuthError> {
        match identity.dpop_thumbprint() {
            Some(jkt) if jkt == checked.jkt => Ok(()),
            Some(_) => Err(self.proof_error(refused(
                "the DPoP proof is not signed by the key the token is bound to",
                "dpop_key_mismatch",
            ))),
            None => Err(self.token_error(
                AuthError::invalid_credential(
                    "the token is not bound to a DPoP key: present it as a Bearer token",
                )
                .with_reason("dpop_unbound"),
            )),
        }
    }

    /// Records the proof, refusing one used before.
    async fn first_use(&self, checked: &proof::Checked) -> Result<(), AuthError> {
        let inner = &self.inner;
        let window = Duration::from_secs(
            u64::try_from(inner.max_age + inner.leeway).unwrap_or(u64::MAX) + 1,
        );
        match inner
            .replay_store
            .first_use(&checked.replay_key, window)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.proof_error(refused(
                "the DPoP proof has been used before",
                "dpop_replay",
            ))),
            Err(e) => Err(AuthError::from(e)),
        }
    }

    /// RFC 9449 §9: 401 `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`.
    fn use_nonce(&self, nonces: &nonce::Nonces, now: i64) -> AuthError {
        let error = refused(
            "the DPoP proof must carry the nonce from the DPoP-Nonce header",
            "dpop_nonce",
        )
        .with_challenges([self.dpop_challenge().error("use_dpop_nonce")]);
        match nonce_value(nonces, now) {
            Some(value) => error.with_header(DPOP_NONCE, value),
            None => error,
        }
    }
}

/// The nonce of `now`'s slot as a header value (base64url always is one).
fn nonce_value(nonces: &nonce::Nonces, now: i64) -> Option<HeaderValue> {
    HeaderValue::try_from(nonces.mint(now)).ok()
}
