//! RFC 9701 JWT introspection answers: `Accept: application/token-introspection+jwt`, and
//! an answer that is a JWS signed by a key of the issuer's JWKS, `typ`
//! `token-introspection+jwt`, `iss` the configured issuer, `aud` this client, `iat` recent,
//! whose `token_introspection` member is the RFC 7662 answer.
//!
//! Any failure is a malformed answer (503): the token can be neither accepted nor refused.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use tower_jwt::KeySet;
use url::Url;

/// The media type asked for and required.
pub(crate) const MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// Clock skew tolerated on `iat` (in the future) and the oldest answer accepted.
const LEEWAY_SECS: u64 = 30;
const MAX_AGE_SECS: u64 = 300;
/// The least time between two JWKS fetches for an unknown key.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// The largest JWKS read.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The issuer's signing keys, fetched at first use and again (at most every
/// [`REFETCH_COOLDOWN`]) when an answer names a key not among them.
pub(crate) struct ResponseKeys {
    pub(crate) jwks_url: Url,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching; holds when the last fetch started.
    fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl ResponseKeys {
    pub(crate) fn new(jwks_url: Url) -> Self {
        Self {
            jwks_url,
            keys: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(None),
        }
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.keys.read().ok().and_then(|keys| keys.clone())
    }

    /// Fetches the JWKS unless another request just did (then its keys are used) or the
    /// cooldown has not passed. Keeps the last good keys when the fetch fails.
    async fn refresh(&self, client: &reqwest::Client, seen: Option<&Arc<KeySet>>) {
        let mut last = self.fetch.lock().await;
        let now = self.current();
        let changed = match (&now, seen) {
            (Some(now), Some(seen)) => !Arc::ptr_eq(now, seen),
            (now, seen) => now.is_some() != seen.is_some(),
        };
        if changed || last.is_some_and(|at| at.elapsed() < REFETCH_COOLDOWN) {
            return;
        }
        *last = Some(Instant::now());
        match fetch_jwks(client, &self.jwks_url).await {
            Ok(keys) => {
                if let Ok(mut slot) = self.keys.write() {
                    *slot = Some(Arc::new(keys));
                }
            }
            Err(why) => {
                tracing::warn!(jwks_url = %self.jwks_url, why, "the issuer's JWKS cannot be fetched");
            }
        }
    }
}

async fn fetch_jwks(client: &reqwest::Client, url: &Url) -> Result<KeySet, &'static str> {
    let mut response = client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| "cannot be reached")?;
    if response.status() != reqwest::StatusCode::OK {
        return Err("answered a status other than 200");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| "was cut off")? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err("is too large");
        }
        body.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&body).map_err(|_| "is not UTF-8")?;
    let keys = KeySet::from_jwks(text).map_err(|_| "holds no usable key")?;
    // A published symmetric key is known to anyone: such a set is refused whole.
    if keys.keys().iter().any(|key| {
        matches!(
            key.algorithm(),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        )
    }) {
        return Err("holds a symmetric key");
    }
    Ok(keys)
}

/// The checks of a JWT answer, from the configuration.
pub(crate) struct JwtRules<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
}

/// Verifies `jws` and returns its `token_introspection` member. `Err` names what is wrong.
pub(crate) async fn read(
    jws: &str,
    keys: &ResponseKeys,
    client: &reqwest::Client,
    rules: &JwtRules<'_>,
    now: SystemTime,
) -> Result<Map<String, Value>, &'static str> {
    let mut current = keys.current();
    if current.is_none() {
        keys.refresh(client, None).await;
        current = keys.current();
    }
    let Some(mut set) = current else {
        return Err("the issuer's JWKS cannot be fetched");
    };
    let payload = match set.verify_jws(jws) {
        Err(error) if error.reason() == "unknown_key" => {
            keys.refresh(client, Some(&set)).await;
            set = keys.current().unwrap_or(set);
            set.verify_jws(jws)
        }
        other => other,
    }
    .map_err(|_| "the JWT answer's signature is not the issuer's")?;
    check_typ(jws)?;
    let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(&payload) else {
        return Err("the JWT answer's claims are not a JSON object");
    };
    if claims.get("iss").and_then(Value::as_str) != Some(rules.issuer) {
        return Err("the JWT answer's `iss` is not the issuer");
    }
    let audience = match claims.get("aud") {
        Some(Value::String(aud)) => aud == rules.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(rules.client_id)),
        _ => false,
    };
    if !audience {
        return Err("the JWT answer's `aud` is not this client");
    }
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) if iat > now.saturating_add(LEEWAY_SECS) => {
            return Err("the JWT answer is issued in the future");
        }
        Some(iat) if iat.saturating_add(MAX_AGE_SECS) < now => {
            return Err("the JWT answer is too old");
        }
        Some(_) => {}
        None => return Err("the JWT answer has no `iat`"),
    }
    let expired = |exp: &Value| {
        exp.as_u64()
            .is_none_or(|exp| exp.saturating_add(LEEWAY_SECS) <= now)
    };
    if claims.get("exp").is_some_and(expired) {
        return Err("the JWT answer has expired");
    }
    match claims.remove("token_introspection") {
        Some(Value::Object(answer)) => Ok(answer),
        _ => Err("the JWT answer has no `token_introspection` object"),
    }
}

/// `typ` must be `token-introspection+jwt` (RFC 9701 §5; the `application/` prefix may be
/// left out, compared case-insensitively). The header was checked by the signature check.
fn check_typ(jws: &str) -> Result<(), &'static str> {
    let header = jws
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok());
    let typ = header
        .as_ref()
        .and_then(|h| h.get("typ"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match typ.as_deref() {
        Some("token-introspection+jwt" | "application/token-introspection+jwt") => Ok(()),
        _ => Err("the JWT answer's `typ` is not token-introspection+jwt"),
    }
}
