//! A login's life after it was issued: refresh (with the family lifetime and the regrant
//! hook), logout, log out everywhere.

use std::time::SystemTime;

use serde::de::IgnoredAny;

use super::{ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE, TokenIssuer};
use crate::issuer::claims::{Grant, RefreshError, RefreshRef, TokenPair, from_unix};
use crate::issuer::family::Rotation;
use crate::issuer::regrant::Regrant;
use crate::revocation::Revocation;
use crate::time;

impl TokenIssuer {
    /// Exchanges a refresh token for a new pair: the presented token must be valid and the
    /// current one of its family; the new refresh token replaces it. Presenting a token that
    /// was already exchanged revokes the whole family (RFC 9700 §4.14): the successor stops
    /// working too. Access tokens already issued to the family stay valid until their `exp`
    /// (15 minutes by default); [`logout_everywhere`](Self::logout_everywhere) cuts them too.
    /// Two concurrent refreshes with one token count as reuse: one wins, then the family is
    /// revoked.
    ///
    /// A family lives at most the [family lifetime](super::TokenIssuerBuilder::family_lifetime)
    /// from its login (default 30 days), whatever its rotations: past it the refresh is
    /// refused with [`RefreshError::SessionExpired`] and the user signs in again. With a
    /// [`regrant`](super::TokenIssuerBuilder::regrant) hook, the scopes of the new pair are
    /// the hook's answer for the subject now, not a copy of the old token's.
    ///
    /// # Errors
    ///
    /// [`RefreshError`]: `Invalid`, `Reused`, `Revoked`, `SessionExpired`, `Denied` (all
    /// 401) or `Unavailable` (503); or what the regrant hook answered.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let verified = self.verify_refresh::<RefreshRef>(refresh_token).await?;
        let claims = verified.claims();
        let family = claims.fid.as_str();
        let authenticated_at = from_unix(claims.auth_time);
        if SystemTime::now() >= self.family_end(authenticated_at) {
            return Err(RefreshError::SessionExpired);
        }
        let mut grant = Grant {
            subject: verified.subject().to_owned(),
            scope: verified.principal().scopes().to_vec(),
            extra: claims.ext.clone(),
        };
        if let Some(hook) = &self.inner.regrant {
            let request = Regrant {
                subject: grant.subject.clone(),
                scopes: std::mem::take(&mut grant.scope),
                family: family.to_owned(),
                authenticated_at,
            };
            grant.scope = match hook(request).await {
                Ok(scopes) => scopes,
                Err(error @ RefreshError::Unavailable(_)) => return Err(error),
                Err(error) => {
                    // The grant is gone: so is the login, not only this refresh.
                    self.revoke_family(family, authenticated_at).await?;
                    return Err(error);
                }
            };
        }
        let (refresh, until) = self.issue_refresh(&grant, family, authenticated_at)?;
        let rotation = self
            .inner
            .families
            .rotate(
                family,
                verified.jti().unwrap_or_default(),
                &refresh.jti,
                until,
            )
            .await?;
        match rotation {
            Rotation::Rotated => {}
            Rotation::Reused => {
                tracing::warn!(
                    family = %family,
                    subject = %grant.subject,
                    "refresh token reuse detected; family revoked"
                );
                return Err(RefreshError::Reused);
            }
            // Revoked, or unknown (expired, or dropped by a full store): never accepted.
            _ => return Err(RefreshError::Revoked),
        }
        let access = self.issue_access(&grant)?;
        Ok(TokenPair {
            access,
            refresh,
            family: family.to_owned(),
        })
    }

    /// Logout: revokes the access token's `jti` (in the revocation store, until its `exp`)
    /// and the refresh token's whole family. Either may be omitted; an expired or already
    /// revoked token needs no revoking and is skipped.
    ///
    /// # Errors
    ///
    /// [`RefreshError::Invalid`] for a token that is not ours (bad signature, wrong `typ`...),
    /// [`RefreshError::Unavailable`] when a store fails.
    pub async fn logout(
        &self,
        access_token: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<(), RefreshError> {
        if let Some(token) = access_token
            && let Some(access) = self
                .verify_for_logout::<IgnoredAny>(token, ACCESS_TOKEN_TYPE)
                .await?
        {
            let revocation = Revocation::token(
                access.issuer(),
                access.jti().unwrap_or_default(),
                access.expires_at(),
            );
            self.inner.revocations.revoke(revocation).await?;
        }
        if let Some(token) = refresh_token
            && let Some(refresh) = self
                .verify_for_logout::<RefreshRef>(token, REFRESH_TOKEN_TYPE)
                .await?
        {
            let claims = refresh.claims();
            self.revoke_family(&claims.fid, from_unix(claims.auth_time))
                .await?;
        }
        Ok(())
    }

    /// "Log out everywhere": every access and refresh token of `subject` issued before now is
    /// revoked (a subject watermark in the revocation store, kept for a refresh lifetime).
    ///
    /// # Errors
    ///
    /// [`RefreshError::Unavailable`] when the revocation store fails.
    pub async fn logout_everywhere(&self, subject: &str) -> Result<(), RefreshError> {
        let now = SystemTime::now();
        let longest = self.inner.refresh_lifetime.max(self.inner.access_lifetime);
        let revocation =
            Revocation::subject(&*self.inner.issuer, subject, now, time::add(now, longest));
        Ok(self.inner.revocations.revoke(revocation).await?)
    }

    /// When a family whose login happened at `authenticated_at` ends.
    pub(super) fn family_end(&self, authenticated_at: SystemTime) -> SystemTime {
        time::add(authenticated_at, self.inner.family_lifetime)
    }

    /// Revokes `family` (its login at `authenticated_at`), remembered while any token of it
    /// could still be presented: until its end plus the leeway.
    async fn revoke_family(
        &self,
        family: &str,
        authenticated_at: SystemTime,
    ) -> Result<(), RefreshError> {
        let until = time::add(self.family_end(authenticated_at), self.inner.leeway);
        Ok(self.inner.families.revoke(family, until).await?)
    }
}
