//! A provider's endpoints once known: the `oauth2` client, the issuer and the ID-token
//! validator. Resolved at first use and kept; a failed resolution is retried at the next
//! login.

use std::sync::Arc;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RedirectUrl,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::discovery::{self, DiscoveryError};
use super::{Provider, ProviderKind};
use crate::http_client::CappedClient;
use crate::id_token::IdTokenValidator;
use crate::logout_token::LogoutTokenValidator;

/// The token endpoint's answer: the standard members plus OpenID's `id_token`.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenField")
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ExtraTokenFields for IdTokenField {}

pub(crate) type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// The `oauth2` client with authorization and token endpoints set.
pub(crate) type OAuth2Client = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the login flow needs of a provider once its endpoints are known.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) oauth: OAuth2Client,
    /// The issuer (OpenID providers only).
    pub(crate) issuer: Option<String>,
    /// RFC 9207: the provider announced `iss` in authorization responses, so it is required.
    pub(crate) iss_required: bool,
    pub(crate) id_tokens: Option<IdTokenValidator>,
    /// OpenID providers: the validator of back-channel `logout_token`s.
    pub(crate) logout_tokens: Option<LogoutTokenValidator>,
    /// OpenID RP-Initiated Logout: the provider's end-session endpoint.
    pub(crate) end_session: Option<String>,
    pub(crate) userinfo: Option<String>,
    pub(crate) github_api: Option<String>,
}

/// A configured provider and, once resolved, its endpoints.
#[derive(Debug)]
pub(crate) struct ProviderState {
    pub(crate) config: Provider,
    pub(crate) redirect_uri: RedirectUrl,
    resolved: OnceCell<Arc<Resolved>>,
}

impl ProviderState {
    pub(crate) fn new(config: Provider, redirect_uri: RedirectUrl) -> Self {
        Self {
            config,
            redirect_uri,
            resolved: OnceCell::new(),
        }
    }

    /// The provider's endpoints, discovering them at first use.
    pub(crate) async fn resolve(
        &self,
        http: &CappedClient,
    ) -> Result<Arc<Resolved>, DiscoveryError> {
        self.resolved
            .get_or_try_init(|| async { self.build(http).await.map(Arc::new) })
            .await
            .cloned()
    }

    fn client(&self, auth: &str, token: &str) -> Result<OAuth2Client, DiscoveryError> {
        let auth = AuthUrl::new(auth.to_owned()).map_err(|_| DiscoveryError::BadEndpoint)?;
        let token = TokenUrl::new(token.to_owned()).map_err(|_| DiscoveryError::BadEndpoint)?;
        Ok(
            oauth2::Client::new(ClientId::new(self.config.client_id.clone()))
                .set_client_secret(ClientSecret::new(self.config.client_secret.clone()))
                .set_auth_uri(auth)
                .set_token_uri(token)
                .set_redirect_uri(self.redirect_uri.clone()),
        )
    }

    async fn build(&self, http: &CappedClient) -> Result<Resolved, DiscoveryError> {
        match &self.config.kind {
            ProviderKind::GitHub { web, api } => Ok(Resolved {
                oauth: self.client(
                    &format!("{web}/login/oauth/authorize"),
                    &format!("{web}/login/oauth/access_token"),
                )?,
                issuer: None,
                iss_required: false,
                id_tokens: None,
                logout_tokens: None,
                end_session: None,
                userinfo: None,
                github_api: Some(api.clone()),
            }),
            ProviderKind::Oidc { issuer } => {
                let metadata =
                    discovery::discover(http, issuer, self.config.insecure_allow_unadvertised_pkce)
                        .await?;
                // The userinfo endpoint receives the access token: https like the others,
                // whether or not this client reads it.
                let endpoints = [&metadata.authorization_endpoint, &metadata.token_endpoint]
                    .into_iter()
                    .chain(metadata.userinfo_endpoint.as_ref())
                    .chain(metadata.end_session_endpoint.as_ref());
                for endpoint in endpoints {
                    crate::config::check_endpoint(endpoint)
                        .map_err(|_| DiscoveryError::BadEndpoint)?;
                }
                Ok(Resolved {
                    oauth: self
                        .client(&metadata.authorization_endpoint, &metadata.token_endpoint)?,
                    id_tokens: Some(
                        IdTokenValidator::new(
                            issuer,
                            &metadata.jwks_uri,
                            &self.config.client_id,
                            http,
                        )
                        .map_err(|_| DiscoveryError::BadEndpoint)?,
                    ),
                    logout_tokens: Some(
                        LogoutTokenValidator::new(
                            issuer,
                            &metadata.jwks_uri,
                            &self.config.client_id,
                            http,
                        )
                        .map_err(|_| DiscoveryError::BadEndpoint)?,
                    ),
                    end_session: metadata.end_session_endpoint,
                    issuer: Some(metadata.issuer),
                    iss_required: metadata.authorization_response_iss_parameter_supported,
                    userinfo: metadata.userinfo_endpoint.filter(|_| self.config.userinfo),
                    github_api: None,
                })
            }
        }
    }
}
