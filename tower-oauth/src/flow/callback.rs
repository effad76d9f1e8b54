//! `GET {prefix}/{provider}/callback`: finish a login attempt.
//!
//! Order matters: the `state` and its transaction cookie are checked and the state consumed
//! before anything else is looked at, so a forged, foreign, expired or replayed callback
//! never reaches the token endpoint. Then RFC 9207 `iss`, for error responses too (RFC 9207
//! §2.4: an error from another provider is refused as a mix-up, not reported as this
//! provider's), then the code exchange (with the attempt's PKCE verifier), then the ID token
//! (with the attempt's nonce) or GitHub's user.

use std::collections::HashMap;

use cookie::Cookie;
use http::request::Parts;
use http::{Request, StatusCode};
use oauth2::{AuthorizationCode, PkceCodeVerifier, RequestTokenError, TokenResponse as _};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::response::{Failure, OAuthResponse, see_other};
use super::transaction::{self, Transaction};
use crate::client::OAuthClient;
use crate::client::{OidcSession, ProviderLogin};
use crate::http_client::FetchError;
use crate::provider::{ProviderIdentity, Resolved, github};
use crate::random;
use crate::session::SessionUser;
use crate::session::record::{ProviderTokens, token_expiry, unix_now};

impl<U: SessionUser> OAuthClient<U> {
    /// Finishes a login with `provider`: checks the attempt, exchanges the code, validates
    /// the ID token, maps the user, and answers 303 to the attempt's `return_to` with a new
    /// session cookie (any previous session of this browser is destroyed).
    ///
    /// Every refusal is a generic HTML page (400 for a bad or replayed callback or a
    /// provider error, 403 when the mapping hook denies, 502/503 when the provider
    /// misbehaves or is down) and changes no session.
    pub async fn callback<B>(&self, provider: &str, request: Request<B>) -> OAuthResponse {
        let (parts, _) = request.into_parts();
        let mut set_cookies = Vec::new();
        match self.finish(provider, &parts, &mut set_cookies).await {
            Ok(response) => response,
            Err(failure) => {
                tracing::info!(provider, reason = failure.reason, "oauth callback refused");
                failure.page(&set_cookies)
            }
        }
    }

    async fn finish(
        &self,
        provider: &str,
        request: &Parts,
        set_cookies: &mut Vec<Cookie<'static>>,
    ) -> Result<OAuthResponse, Failure> {
        let (state, params) = super::get_route(&self.inner.providers, provider, request)?;
        let transaction = self
            .transaction(provider, &params, request, set_cookies)
            .await?;

        let resolved = state.resolve(&self.inner.http).await.map_err(|error| {
            tracing::warn!(provider, %error, "provider unavailable");
            Failure::new(StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable")
        })?;
        check_iss(&resolved, params.get("iss"))?;
        if params.contains_key("error") {
            return Err(Failure::bad_request("provider_error"));
        }
        let code = params
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or(Failure::bad_request("missing_code"))?;

        let tokens = resolved
            .oauth
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(transaction.verifier.clone()))
            .request_async(&self.inner.http)
            .await
            .map_err(|error| token_failure(&error))?;
        let access_token = tokens.access_token().secret().clone();
        let identity = self
            .identify(
                provider,
                &resolved,
                &transaction,
                &tokens.extra_fields().id_token,
                &access_token,
            )
            .await?;

        // The OpenID session the logout index links: the ID token's `sid` and `sub`.
        let oidc_session = identity.issuer.as_ref().map(|_| OidcSession {
            sid: identity
                .claims
                .get("sid")
                .and_then(Value::as_str)
                .filter(|sid| !sid.is_empty())
                .map(str::to_owned),
            sub: identity.subject.clone(),
        });
        let mapper = self
            .inner
            .mapper
            .as_ref()
            .ok_or(Failure::new(StatusCode::NOT_FOUND, "unknown_provider"))?;
        let user = mapper(identity).await.map_err(|error| {
            tracing::info!(provider, %error, "user mapping refused the login");
            if error.is_denied() {
                Failure::new(StatusCode::FORBIDDEN, "user_denied")
            } else {
                Failure::new(StatusCode::SERVICE_UNAVAILABLE, "user_mapping_failed")
            }
        })?;
        let login = ProviderLogin {
            provider: provider.to_owned(),
            tokens: ProviderTokens {
                access_token,
                refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
                expires_at: tokens.expires_in().map(|d| token_expiry(unix_now(), d)),
                id_token: tokens.extra_fields().id_token.clone(),
            },
            oidc: oidc_session,
        };
        let session_cookie = self.begin(&request.headers, user, Some(login)).await?;
        set_cookies.push(session_cookie);
        Ok(see_other(&transaction.return_to, set_cookies))
    }

    /// Finds, opens, checks and consumes the attempt's transaction.
    async fn transaction(
        &self,
        provider: &str,
        params: &HashMap<String, String>,
        request: &Parts,
        set_cookies: &mut Vec<Cookie<'static>>,
    ) -> Result<Transaction, Failure> {
        let state = params
            .get("state")
            .filter(|s| !s.is_empty())
            .ok_or(Failure::bad_request("missing_state"))?;
        let name = transaction::cookie_name(&self.inner.policy, state);
        let value = match auth_core::read_cookie(&request.headers, &name) {
            Ok(Some(value)) => value,
            Ok(None) => return Err(Failure::bad_request("unknown_state")),
            Err(error) if error.kind() == auth_core::AuthErrorKind::InvalidRequest => {
                return Err(Failure::bad_request("duplicate_cookie"));
            }
            Err(_) => return Err(Failure::bad_request("invalid_transaction")),
        };
        set_cookies.push(self.inner.policy.removal(name.clone()));
        let transaction = Transaction::open(&self.inner.keys, &name, value, state)
            .ok_or(Failure::bad_request("invalid_transaction"))?;
        if transaction.provider != provider {
            return Err(Failure::bad_request("wrong_provider"));
        }
        if transaction.expired(self.inner.transaction_ttl) {
            return Err(Failure::bad_request("expired_state"));
        }
        let claimed = self
            .inner
            .sessions
            .store
            .claim(
                &format!("state:{}", random::digest_hex(state)),
                self.inner.transaction_ttl,
            )
            .await?;
        if !claimed {
            return Err(Failure::bad_request("replayed_state"));
        }
        Ok(transaction)
    }

    /// The provider identity: the validated ID token (OpenID) or GitHub's user.
    async fn identify(
        &self,
        provider: &str,
        resolved: &Resolved,
        transaction: &Transaction,
        id_token: &Option<String>,
        access_token: &str,
    ) -> Result<ProviderIdentity, Failure> {
        if let Some(api) = &resolved.github_api {
            return github::fetch_user(&self.inner.http, api, provider, access_token)
                .await
                .map_err(|error| {
                    tracing::warn!(provider, %error, "GitHub user fetch failed");
                    Failure::new(StatusCode::BAD_GATEWAY, "user_fetch_failed")
                });
        }
        let (Some(validator), Some(nonce)) = (&resolved.id_tokens, &transaction.nonce) else {
            return Err(Failure::bad_request("invalid_transaction"));
        };
        let id_token = id_token
            .as_deref()
            .ok_or(Failure::new(StatusCode::BAD_GATEWAY, "no_id_token"))?;
        let mut claims = validator.validate(id_token, nonce).await.map_err(|error| {
            tracing::info!(provider, %error, "ID token refused");
            error.failure()
        })?;
        if let Some(userinfo) = &resolved.userinfo {
            let extra: Value = self
                .inner
                .http
                .json(
                    self.inner
                        .http
                        .inner()
                        .get(userinfo)
                        .bearer_auth(access_token),
                )
                .await
                .map_err(|_| Failure::new(StatusCode::BAD_GATEWAY, "userinfo_failed"))?;
            let same_sub = extra.get("sub").and_then(Value::as_str).is_some_and(|sub| {
                claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .is_some_and(|own| bool::from(own.as_bytes().ct_eq(sub.as_bytes())))
            });
            if !same_sub {
                return Err(Failure::new(StatusCode::BAD_GATEWAY, "userinfo_subject"));
            }
            if let (Value::Object(own), Value::Object(more)) = (&mut claims, extra) {
                for (k, v) in more {
                    own.entry(k).or_insert(v);
                }
            }
        }
        Ok(identity_from_claims(
            provider,
            resolved.issuer.clone(),
            claims,
        ))
    }
}

/// Maps a failed code exchange. GitHub answers a refused code with `200 OK` and an error
/// object, which the `oauth2` crate reports as a parse failure: that is a refusal too.
fn token_failure(
    error: &RequestTokenError<FetchError, oauth2::basic::BasicErrorResponse>,
) -> Failure {
    match error {
        RequestTokenError::ServerResponse(_) => Failure::bad_request("code_rejected"),
        RequestTokenError::Parse(_, body)
            if serde_json::from_slice::<Value>(body)
                .is_ok_and(|v| v.get("error").is_some_and(Value::is_string)) =>
        {
            Failure::bad_request("code_rejected")
        }
        RequestTokenError::Request(FetchError::Transport(_)) => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "token_endpoint_unreachable",
        ),
        _ => Failure::new(StatusCode::BAD_GATEWAY, "token_response_invalid"),
    }
}

/// RFC 9207: a provider announcing `iss` in authorization responses must send it; any `iss`
/// sent must equal the provider's issuer. A provider without an issuer (GitHub) must not
/// send one at all.
fn check_iss(resolved: &Resolved, iss: Option<&String>) -> Result<(), Failure> {
    match (iss, &resolved.issuer) {
        (None, _) if resolved.iss_required => Err(Failure::bad_request("missing_iss")),
        (None, _) => Ok(()),
        (Some(iss), Some(expected)) if iss == expected => Ok(()),
        (Some(_), _) => Err(Failure::bad_request("issuer_mismatch")),
    }
}

fn identity_from_claims(provider: &str, issuer: Option<String>, claims: Value) -> ProviderIdentity {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    ProviderIdentity {
        provider: provider.to_owned(),
        issuer,
        subject: text("sub").unwrap_or_default(),
        email: text("email"),
        email_verified: claims
            .get("email_verified")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name: text("name"),
        username: text("preferred_username"),
        claims,
    }
}
