//! The hook that re-checks a user's grant at every refresh.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use super::claims::RefreshError;

/// What a [`regrant`](super::TokenIssuerBuilder::regrant) hook is asked at a refresh: who is
/// refreshing, with which scopes, in which login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Regrant {
    /// The subject (`sub`) of the refresh token.
    pub subject: String,
    /// The scopes the refresh token carries (granted at login or at the previous refresh).
    pub scopes: Vec<String>,
    /// The refresh family (`fid`): one login.
    pub family: String,
    /// When the login that started the family happened (`auth_time`).
    pub authenticated_at: SystemTime,
}

/// What the boxed hook returns.
type RegrantFuture = Pin<Box<dyn Future<Output = Result<Vec<String>, RefreshError>> + Send>>;

/// The boxed hook.
pub(super) type RegrantHook = Arc<dyn Fn(Regrant) -> RegrantFuture + Send + Sync>;

pub(super) fn boxed<F, Fut>(hook: F) -> RegrantHook
where
    F: Fn(Regrant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<String>, RefreshError>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(hook(request)))
}

/// `Debug` for a builder or issuer holding a hook.
pub(super) struct Shown<'a>(pub(super) &'a Option<RegrantHook>);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}
