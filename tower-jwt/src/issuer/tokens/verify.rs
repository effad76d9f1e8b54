//! Verifying our own refresh (and, at logout, access) tokens.

use std::time::SystemTime;

use jsonwebtoken::Validation;
use serde::de::DeserializeOwned;

use super::{ACCESS_TOKEN_TYPE, MAX_TOKEN_LENGTH, TokenIssuer};
use crate::issuer::RefreshError;
use crate::issuer::claims::from_unix;

impl TokenIssuer {
    /// Verifies one of our tokens strictly: length, `kid` routing to a live key, that key's
    /// one algorithm, `typ`, `iss` (a string), `aud`, `exp`, `nbf`, `sub` required.
    pub(super) fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        check_exp: bool,
    ) -> Result<T, RefreshError> {
        let inner = &self.inner;
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(RefreshError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| RefreshError::Invalid)?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|found| found.eq_ignore_ascii_case(typ));
        let ring = inner.keys.load();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.find(kid, SystemTime::now()))
            .filter(|key| key.algorithm() == header.alg && typ_ok)
            .ok_or(RefreshError::Invalid)?;
        let audience = if typ == ACCESS_TOKEN_TYPE {
            &inner.audience
        } else {
            &inner.refresh_audience
        };
        let mut validation = Validation::new(key.algorithm());
        validation.leeway = inner.leeway.as_secs();
        validation.validate_exp = check_exp;
        validation.validate_nbf = true;
        validation.set_issuer(&[&inner.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key.decoding(), &validation)
            .map_err(|_| RefreshError::Invalid)?;
        // RFC 7519: `iss` is a string (jsonwebtoken also accepts an array).
        if !data
            .claims
            .get("iss")
            .is_some_and(serde_json::Value::is_string)
        {
            return Err(RefreshError::Invalid);
        }
        serde_json::from_value(data.claims).map_err(|_| RefreshError::Invalid)
    }

    /// [`verify`](Self::verify), answering `None` for a token past `exp` + leeway.
    pub(super) fn verify_unexpired<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
    ) -> Result<Option<T>, RefreshError> {
        let claims: serde_json::Value = self.verify(token, typ, false)?;
        let exp = claims.get("exp").and_then(serde_json::Value::as_u64);
        let expired = exp.is_none_or(|exp| {
            crate::time::add(from_unix(exp), self.inner.leeway) <= SystemTime::now()
        });
        if expired {
            return Ok(None);
        }
        serde_json::from_value(claims)
            .map(Some)
            .map_err(|_| RefreshError::Invalid)
    }
}
