//! The refusals this crate answers with: one place for their client-facing descriptions
//! (which never contain the token) and their log/metrics reason codes.

use auth_core::AuthError;

pub(crate) fn malformed() -> AuthError {
    AuthError::invalid_credential("the token is malformed").with_reason("malformed")
}

pub(crate) fn too_long() -> AuthError {
    AuthError::invalid_credential("the token is too long").with_reason("too_long")
}

pub(crate) fn algorithm() -> AuthError {
    AuthError::invalid_credential("the token's algorithm is not accepted").with_reason("algorithm")
}

pub(crate) fn signature() -> AuthError {
    AuthError::invalid_credential("the token's signature is invalid").with_reason("signature")
}

pub(crate) fn unknown_key() -> AuthError {
    AuthError::invalid_credential("the token's signing key is unknown").with_reason("unknown_key")
}

#[cfg(feature = "remote-keys")]
pub(crate) fn keys_unavailable() -> AuthError {
    AuthError::unavailable("the token's signing keys cannot be fetched yet").with_reason("jwks")
}

pub(crate) fn issuer() -> AuthError {
    AuthError::invalid_credential("the token's issuer is not trusted").with_reason("issuer")
}

/// A token whose `typ` header is missing or not one of `accepted`: the refusal names what is
/// expected (`at+jwt` for access tokens), so a client sending an ID token learns why.
pub(crate) fn typ(accepted: &[String]) -> AuthError {
    let expected = accepted
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    AuthError::invalid_credential(format!(
        "the token's type (`typ` header) is not accepted here: expected {expected}"
    ))
    .with_reason("typ")
}

pub(crate) fn missing_claim(claim: &'static str) -> AuthError {
    let description = match claim {
        "exp" => "the token lacks the `exp` claim",
        "nbf" => "the token lacks the `nbf` claim",
        "iat" => "the token lacks the `iat` claim",
        "iss" => "the token lacks the `iss` claim",
        "aud" => "the token lacks the `aud` claim",
        "jti" => "the token lacks the `jti` claim",
        _ => "the token lacks the `sub` claim",
    };
    AuthError::invalid_credential(description).with_reason("missing_claim")
}

pub(crate) fn expired() -> AuthError {
    AuthError::invalid_credential("the token has expired").with_reason("expired")
}

pub(crate) fn not_yet_valid() -> AuthError {
    AuthError::invalid_credential("the token is not valid yet").with_reason("not_yet_valid")
}

pub(crate) fn issued_in_future() -> AuthError {
    AuthError::invalid_credential("the token was issued in the future").with_reason("iat")
}

pub(crate) fn too_old() -> AuthError {
    AuthError::invalid_credential("the token is too old").with_reason("too_old")
}

pub(crate) fn lifetime() -> AuthError {
    AuthError::invalid_credential("the token's lifetime is too long").with_reason("lifetime")
}

pub(crate) fn audience() -> AuthError {
    AuthError::invalid_credential("the token is not meant for this audience")
        .with_reason("audience")
}

pub(crate) fn claims_shape() -> AuthError {
    AuthError::invalid_credential("the token's claims are not of the expected shape")
        .with_reason("claims")
}

pub(crate) fn revoked() -> AuthError {
    AuthError::invalid_credential("the token has been revoked").with_reason("revoked")
}

pub(crate) fn revocation_unavailable() -> AuthError {
    AuthError::unavailable("the revocation list cannot be checked").with_reason("revocation")
}
