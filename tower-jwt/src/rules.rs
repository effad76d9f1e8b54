//! The claim rules an [`IssuerConfig`] applies once the signature is verified.

use auth_core::AuthError;

use crate::claims::Registered;
use crate::config::IssuerConfig;
use crate::error;

pub(crate) fn check_typ(cfg: &IssuerConfig, typ: Option<&str>) -> Result<(), AuthError> {
    match typ {
        None if cfg.allow_missing_typ => Ok(()),
        None => Err(error::typ(&cfg.typ)),
        Some(typ) => {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            if cfg.typ.iter().any(|accepted| accepted == typ) {
                Ok(())
            } else {
                Err(error::typ(&cfg.typ))
            }
        }
    }
}

pub(crate) fn check_claims(
    cfg: &IssuerConfig,
    claims: &Registered,
    now: i64,
) -> Result<(), AuthError> {
    let exp = claims.exp.ok_or_else(|| error::missing_claim("exp"))?;
    let iat = claims.iat.ok_or_else(|| error::missing_claim("iat"))?;
    let aud = claims
        .aud
        .as_ref()
        .ok_or_else(|| error::missing_claim("aud"))?;
    if cfg.require_sub && claims.sub.as_deref().is_none_or(str::is_empty) {
        return Err(error::missing_claim("sub"));
    }
    if cfg.require_nbf && claims.nbf.is_none() {
        return Err(error::missing_claim("nbf"));
    }
    if cfg.require_jti && claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(error::missing_claim("jti"));
    }
    let leeway = cfg.leeway;
    if now.saturating_sub(leeway) >= exp {
        return Err(error::expired());
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(error::not_yet_valid());
    }
    if iat > now.saturating_add(leeway) {
        return Err(error::issued_in_future());
    }
    if let Some(max_age) = cfg.max_age
        && now.saturating_sub(iat) > max_age.saturating_add(leeway)
    {
        return Err(error::too_old());
    }
    // Both dates are within 1970..=9999: no overflow.
    if let Some(max_lifetime) = cfg.max_lifetime
        && exp - iat > max_lifetime
    {
        return Err(error::lifetime());
    }
    if !aud
        .iter()
        .any(|a| cfg.audiences.iter().any(|accepted| accepted == a))
    {
        return Err(error::audience());
    }
    Ok(())
}
