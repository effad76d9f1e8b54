//! [`RequireScope<S>`]: a typed scope guard. `S` is a marker type naming the scope, since
//! `&str` const generics are not stable.

use std::fmt;
use std::marker::PhantomData;

use auth_core::rejection::{BodyFormat, http_response};
use auth_core::{AuthError, Principal};
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// A scope, named at the type level.
///
/// ```
/// use towerauth_extractors_example::ScopeName;
///
/// struct Billing;
/// impl ScopeName for Billing {
///     const NAME: &'static str = "billing";
/// }
/// ```
pub trait ScopeName {
    /// The scope as it appears in credentials.
    const NAME: &'static str;
}

/// Scope `notes:read`.
#[derive(Debug, Clone, Copy)]
pub struct Read;

impl ScopeName for Read {
    const NAME: &'static str = "notes:read";
}

/// Scope `notes:write`.
#[derive(Debug, Clone, Copy)]
pub struct Write;

impl ScopeName for Write {
    const NAME: &'static str = "notes:write";
}

/// Extracts the [`Principal`] only if it holds scope `S::NAME`.
///
/// Anonymous: 401 (from auth-core's `Principal` extractor). Without the scope: 403 with
/// `WWW-Authenticate: Bearer realm="api", error="insufficient_scope", …, scope="<S::NAME>"`
/// (RFC 6750 §3.1) and a JSON body naming the scope. The handler never runs.
pub struct RequireScope<S> {
    /// The caller, who holds the scope.
    pub principal: Principal,
    _scope: PhantomData<fn() -> S>,
}

impl<S> RequireScope<S> {
    /// The caller.
    #[must_use]
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

impl<S: ScopeName> fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("scope", &S::NAME)
            .field("principal", &self.principal)
            .finish()
    }
}

/// Why a [`RequireScope`] refused: the [`AuthError`], answered as auth-core answers it.
#[derive(Debug, Clone)]
pub struct ScopeRejection {
    error: AuthError,
}

impl ScopeRejection {
    /// The error behind the rejection.
    #[must_use]
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl IntoResponse for ScopeRejection {
    fn into_response(self) -> Response {
        let mut response = http_response(&self.error, "api", BodyFormat::Json).map(Body::from);
        response.extensions_mut().insert(self.error);
        response
    }
}

impl<St, S> FromRequestParts<St> for RequireScope<S>
where
    St: Send + Sync,
    S: ScopeName,
{
    type Rejection = ScopeRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ScopeRejection {
                error: rejection.error().clone(),
            })?;
        if principal.has_scope(S::NAME) {
            Ok(Self {
                principal,
                _scope: PhantomData,
            })
        } else {
            Err(ScopeRejection {
                error: AuthError::insufficient_scope(S::NAME),
            })
        }
    }
}
