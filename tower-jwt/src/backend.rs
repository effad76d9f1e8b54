//! Making sure a crypto backend is usable before the first request.
//!
//! jsonwebtoken panics at first use when it cannot pick a backend (no feature, or both
//! features and nothing installed). Builders call [`ensure`] so a misconfigured build fails at
//! construction with a [`ConfigError`] instead.

use auth_core::{ConfigError, ConfigErrorKind};
use jsonwebtoken::crypto::CryptoProvider;

/// Makes sure jsonwebtoken has a process-wide crypto provider, installing this crate's
/// preferred one (`aws_lc_rs`, else `rust_crypto`) when none is set yet.
///
/// Every builder of this crate calls it; call it yourself before using jsonwebtoken
/// directly (e.g. `encode`) when both backend features are enabled.
///
/// # Errors
///
/// [`ConfigErrorKind::Unsupported`] when no backend feature is enabled and no provider was
/// installed.
pub fn ensure() -> Result<(), ConfigError> {
    if CryptoProvider::try_get_default().is_some() {
        return Ok(());
    }
    install();
    if CryptoProvider::try_get_default().is_some() {
        Ok(())
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::Unsupported,
            "crypto backend",
            "no JWT crypto backend: enable the `aws_lc_rs` or `rust_crypto` feature of tower-jwt, \
             or install a jsonwebtoken CryptoProvider",
        ))
    }
}

#[cfg(feature = "aws_lc_rs")]
fn install() {
    // Losing the race to another installer is fine: a provider is then set.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
fn install() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
fn install() {}

#[cfg(test)]
mod tests {
    /// Built with `--no-default-features`: every builder fails with a `ConfigError`
    /// instead of jsonwebtoken panicking at the first request.
    #[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
    #[test]
    fn without_a_backend_construction_fails_cleanly() {
        let err = crate::IssuerConfig::builder("https://issuer.test")
            .audience("api")
            .jwks_url("https://issuer.test/jwks")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), auth_core::ConfigErrorKind::Unsupported);
        let err = crate::Key::hmac(jsonwebtoken::Algorithm::HS256, &[7; 32]).unwrap_err();
        assert_eq!(err.kind(), auth_core::ConfigErrorKind::Unsupported);
    }

    #[cfg(any(feature = "aws_lc_rs", feature = "rust_crypto"))]
    #[test]
    fn a_backend_is_available_with_the_test_features() {
        assert!(super::ensure().is_ok());
        assert!(jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some());
    }
}
