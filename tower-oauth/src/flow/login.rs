//! `GET {prefix}/{provider}/login?return_to=/path`: start a login attempt.

use http::request::Parts;
use http::{Request, StatusCode};
use oauth2::{CsrfToken, PkceCodeChallenge, Scope};

use super::response::{Failure, OAuthResponse, see_other};
use super::transaction::{self, Transaction};
use crate::client::OAuthClient;
use crate::random;
use crate::return_to;
use crate::session::SessionUser;

/// Longest `login_hint` forwarded to the provider.
const MAX_LOGIN_HINT: usize = 256;

impl<U: SessionUser> OAuthClient<U> {
    /// Starts a login with `provider`: a fresh `state`, PKCE S256 verifier and (OpenID)
    /// `nonce`, sealed into this attempt's transaction cookie, and a 303 to the provider.
    ///
    /// `return_to` (optional, default `/`) must be a same-origin path, else 400. A
    /// `login_hint` is forwarded to the provider.
    pub async fn login<B>(&self, provider: &str, request: Request<B>) -> OAuthResponse {
        let (parts, _) = request.into_parts();
        match self.start(provider, &parts).await {
            Ok(response) => response,
            Err(failure) => {
                tracing::info!(provider, reason = failure.reason, "oauth login refused");
                failure.page(&[])
            }
        }
    }

    async fn start(&self, provider: &str, request: &Parts) -> Result<OAuthResponse, Failure> {
        let (state, params) = super::get_route(&self.inner.providers, provider, request)?;
        let return_to = match params.get("return_to") {
            None => "/".to_owned(),
            Some(raw) => return_to::validate(raw).ok_or(Failure::bad_request("return_to"))?,
        };
        let login_hint = params.get("login_hint").filter(|hint| {
            hint.len() <= MAX_LOGIN_HINT && hint.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        });
        let resolved = state.resolve(&self.inner.http).await.map_err(|error| {
            tracing::warn!(provider, %error, "provider unavailable");
            Failure::new(StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable")
        })?;

        let csrf_state = random::token();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = resolved.id_tokens.is_some().then(random::token);
        let mut authorize = resolved
            .oauth
            .authorize_url(|| CsrfToken::new(csrf_state.clone()))
            .add_scopes(state.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if let Some(nonce) = &nonce {
            authorize = authorize.add_extra_param("nonce", nonce.clone());
        }
        if let Some(hint) = login_hint {
            authorize = authorize.add_extra_param("login_hint", hint.clone());
        }
        let (url, _) = authorize.url();

        let transaction = Transaction {
            provider: provider.to_owned(),
            state: csrf_state,
            verifier: verifier.into_secret(),
            nonce,
            return_to,
            created_at: transaction::unix_millis(),
        };
        let inner = &self.inner;
        let mut cookies = transaction::prune(
            &request.headers,
            &inner.keys,
            &inner.policy,
            inner.transaction_ttl,
        );
        let sealed = transaction
            .seal(&inner.keys, &inner.policy, inner.transaction_ttl)
            .ok_or(Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "seal"))?;
        cookies.push(sealed);
        Ok(see_other(url.as_str(), &cookies))
    }
}
