//! The one error every towerauth store returns.

use std::error::Error;
use std::fmt;

/// What kind of store failure happened.
///
/// The request path only meets [`Unavailable`](Self::Unavailable) (and
/// [`Corrupt`](Self::Corrupt)); the other kinds answer administrative calls (create, revoke,
/// rotate) and bounded memory stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or did not answer in time. Requests it would have
    /// answered get 503, never 401: a credential that cannot be checked is not refused as bad.
    Unavailable,
    /// No record with this id (or none the operation may change).
    NotFound,
    /// A record with this id exists already, or a concurrent write changed it first.
    Conflict,
    /// A bounded store holds its configured maximum; the new entry was not recorded (refused
    /// loudly rather than forgotten silently).
    CapacityExceeded,
    /// A stored record could not be read back.
    Corrupt,
    /// This store cannot do what was asked.
    Unsupported,
}

impl StoreErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Unavailable => "the store is unavailable",
            Self::NotFound => "no such record",
            Self::Conflict => "the record exists or was changed concurrently",
            Self::CapacityExceeded => "the store is full",
            Self::Corrupt => "a stored record is corrupt",
            Self::Unsupported => "the store does not support this operation",
        }
    }
}

/// A store operation failed: an opaque error with a [`StoreErrorKind`] and, when there is
/// one, the underlying cause as its [`source`](Error::source).
///
/// Every `…Store` trait of the towerauth crates (`ApiKeyStore`, `RevocationStore`,
/// `RefreshFamilyStore`, `SessionStore`, the rate limiter's shared budget) returns it, so a
/// store of your own reports failures the same way. A failure on the request path becomes a
/// 503 through `From<StoreError> for AuthError`.
///
/// The cause is logged: never build one from a message that holds a key, token or session id.
///
/// ```
/// use auth_core::{AuthError, AuthErrorKind, StoreError, StoreErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
/// let err = StoreError::new(StoreErrorKind::Unavailable, io);
/// assert_eq!(err.kind(), StoreErrorKind::Unavailable);
/// assert_eq!(err.to_string(), "the store is unavailable: reset by peer");
/// assert!(std::error::Error::source(&err).is_some());
///
/// let refusal = AuthError::from(err);
/// assert_eq!(refusal.kind(), AuthErrorKind::Unavailable);
/// assert_eq!(refusal.status(), http::StatusCode::SERVICE_UNAVAILABLE);
/// ```
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl StoreError {
    /// A failure of `kind` caused by `source` (a driver error, or a message as a `&str` or
    /// `String`).
    pub fn new(kind: StoreErrorKind, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// The store could not be reached or did not answer in time.
    pub fn unavailable(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::new(StoreErrorKind::Unavailable, source)
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl From<StoreErrorKind> for StoreError {
    /// A failure of this kind with no further cause.
    fn from(kind: StoreErrorKind) -> Self {
        Self { kind, source: None }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl From<StoreError> for crate::AuthError {
    /// 503 `temporarily unavailable`: the credential can be neither accepted nor refused. The
    /// store's cause is logged at `WARN`, never sent to the client.
    fn from(error: StoreError) -> Self {
        tracing::warn!(error = %error, "a credential store failed; answering 503");
        crate::AuthError::unavailable("the credential store is temporarily unavailable")
            .with_reason("store_unavailable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_then_the_cause() {
        let bare = StoreError::from(StoreErrorKind::CapacityExceeded);
        assert_eq!(bare.to_string(), "the store is full");
        assert!(bare.source().is_none());

        let caused = StoreError::new(StoreErrorKind::Corrupt, "bad scope list");
        assert_eq!(
            caused.to_string(),
            "a stored record is corrupt: bad scope list"
        );
        assert_eq!(caused.source().unwrap().to_string(), "bad scope list");
    }

    #[test]
    fn every_kind_is_answered_with_503() {
        for kind in [
            StoreErrorKind::Unavailable,
            StoreErrorKind::NotFound,
            StoreErrorKind::Conflict,
            StoreErrorKind::CapacityExceeded,
            StoreErrorKind::Corrupt,
            StoreErrorKind::Unsupported,
        ] {
            let refusal = crate::AuthError::from(StoreError::new(kind, "cause"));
            assert_eq!(refusal.status(), http::StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(refusal.reason(), "store_unavailable");
            assert!(!refusal.description().contains("cause"));
        }
    }
}
