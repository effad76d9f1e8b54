//! OpenID Connect discovery (OpenID Connect Discovery 1.0 §4).

use serde::Deserialize;

use crate::http_client::{CappedClient, FetchError};

/// The members of a provider's metadata the login flow uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub(crate) code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: bool,
}

/// Why a provider's metadata was refused.
#[derive(Debug)]
pub(crate) enum DiscoveryError {
    Fetch(FetchError),
    IssuerMismatch,
    NoS256,
    BadEndpoint,
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fetch(e) => write!(f, "discovery failed: {e}"),
            Self::IssuerMismatch => {
                f.write_str("the discovery document's issuer differs from the configured issuer")
            }
            Self::NoS256 => f.write_str("the provider does not support PKCE S256"),
            Self::BadEndpoint => {
                f.write_str("an endpoint in the provider's metadata is not usable")
            }
        }
    }
}

/// The discovery URL of `issuer` (`/.well-known/openid-configuration` appended to its path).
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks `issuer`'s metadata: the `issuer` member must equal `issuer` exactly,
/// and PKCE S256 must not be excluded.
pub(crate) async fn discover(
    http: &CappedClient,
    issuer: &str,
) -> Result<Metadata, DiscoveryError> {
    let request = http
        .inner()
        .get(discovery_url(issuer))
        .header(http::header::ACCEPT, "application/json");
    let metadata: Metadata = http.json(request).await.map_err(DiscoveryError::Fetch)?;
    check(metadata, issuer)
}

fn check(metadata: Metadata, issuer: &str) -> Result<Metadata, DiscoveryError> {
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch);
    }
    if metadata
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|methods| !methods.iter().any(|m| m == "S256"))
    {
        return Err(DiscoveryError::NoS256);
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(issuer: &str) -> Metadata {
        serde_json::from_value(serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": "https://op.example/auth",
            "token_endpoint": "https://op.example/token",
            "jwks_uri": "https://op.example/jwks",
            "code_challenge_methods_supported": ["S256"],
        }))
        .unwrap()
    }

    #[test]
    fn issuer_must_match_exactly() {
        assert!(check(metadata("https://op.example"), "https://op.example").is_ok());
        for other in [
            "https://op.example/",
            "https://OP.example",
            "https://op.example.evil",
        ] {
            assert!(matches!(
                check(metadata(other), "https://op.example"),
                Err(DiscoveryError::IssuerMismatch)
            ));
        }
    }

    #[test]
    fn plain_pkce_only_is_refused() {
        let mut m = metadata("https://op.example");
        m.code_challenge_methods_supported = Some(vec!["plain".to_owned()]);
        assert!(matches!(
            check(m, "https://op.example"),
            Err(DiscoveryError::NoS256)
        ));
        assert_eq!(
            discovery_url("https://op.example/tenant/"),
            "https://op.example/tenant/.well-known/openid-configuration"
        );
    }
}
