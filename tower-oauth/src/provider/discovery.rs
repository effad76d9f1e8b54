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
    /// OpenID RP-Initiated Logout 1.0.
    #[serde(default)]
    pub(crate) end_session_endpoint: Option<String>,
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
            Self::NoS256 => f.write_str(
                "the provider's metadata does not list S256 in code_challenge_methods_supported",
            ),
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
/// and `code_challenge_methods_supported` must list `S256` (see [`advertises_s256`]).
pub(crate) async fn discover(
    http: &CappedClient,
    issuer: &str,
    allow_unadvertised_pkce: bool,
) -> Result<Metadata, DiscoveryError> {
    let request = http
        .inner()
        .get(discovery_url(issuer))
        .header(http::header::ACCEPT, "application/json");
    let metadata: Metadata = http.json(request).await.map_err(DiscoveryError::Fetch)?;
    check(metadata, issuer, allow_unadvertised_pkce)
}

fn check(
    metadata: Metadata,
    issuer: &str,
    allow_unadvertised_pkce: bool,
) -> Result<Metadata, DiscoveryError> {
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch);
    }
    if !advertises_s256(metadata.code_challenge_methods_supported.as_deref()) {
        if !allow_unadvertised_pkce {
            return Err(DiscoveryError::NoS256);
        }
        tracing::warn!(
            issuer,
            "tower-oauth: the provider does not advertise PKCE S256, accepted by \
             insecure_allow_unadvertised_pkce()"
        );
    }
    Ok(metadata)
}

/// Whether the metadata's `code_challenge_methods_supported` lists `S256`. A provider
/// whose metadata omits the member is refused too: RFC 8414 §2 reads an omitted member as
/// "does not support PKCE", and a provider that ignores the challenge would leave the
/// login without PKCE's protection against stolen or injected codes. A provider known to
/// enforce PKCE without saying so is accepted with
/// [`Provider::insecure_allow_unadvertised_pkce`](crate::Provider::insecure_allow_unadvertised_pkce).
fn advertises_s256(methods: Option<&[String]>) -> bool {
    methods.is_some_and(|methods| methods.iter().any(|m| m == "S256"))
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
        assert!(check(metadata("https://op.example"), "https://op.example", false).is_ok());
        for other in [
            "https://op.example/",
            "https://OP.example",
            "https://op.example.evil",
        ] {
            assert!(matches!(
                check(metadata(other), "https://op.example", false),
                Err(DiscoveryError::IssuerMismatch)
            ));
        }
    }

    #[test]
    fn plain_pkce_only_is_refused() {
        let mut m = metadata("https://op.example");
        m.code_challenge_methods_supported = Some(vec!["plain".to_owned()]);
        assert!(matches!(
            check(m.clone(), "https://op.example", false),
            Err(DiscoveryError::NoS256)
        ));
        assert!(check(m, "https://op.example", true).is_ok(), "the opt-in");
    }

    #[test]
    fn metadata_without_pkce_methods_is_refused_unless_allowed() {
        for methods in [None, Some(vec![])] {
            let mut m = metadata("https://op.example");
            m.code_challenge_methods_supported = methods;
            assert!(matches!(
                check(m.clone(), "https://op.example", false),
                Err(DiscoveryError::NoS256)
            ));
            assert!(check(m, "https://op.example", true).is_ok());
        }
    }

    #[test]
    fn discovery_url_appends_the_well_known_path() {
        assert_eq!(
            discovery_url("https://op.example/tenant/"),
            "https://op.example/tenant/.well-known/openid-configuration"
        );
    }
}
