//! [`CurrentUser`]: the caller's account, loaded from the [`UserRepository`] by the
//! [`Principal`]'s subject.

use auth_core::{AuthError, Principal};
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::error::json_error;
use crate::users::{User, UserRepository};

/// The authenticated caller's account.
///
/// | request | answer |
/// |---|---|
/// | anonymous (behind an optional layer) | 401, RFC 6750 challenge (from auth-core) |
/// | subject with no account | 404 `account_not_found` |
/// | disabled account | 403 `account_disabled` |
/// | route without an authentication layer | 500 (a configuration error, never a pass) |
///
/// `Option<CurrentUser>` is `None` for an anonymous request and refuses the rest the same
/// way. The repository comes from the router state (`UserRepository: FromRef<S>`).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub user: User,
    /// The credential's view of the caller (method, scopes, expiry).
    pub principal: Principal,
}

/// Why [`CurrentUser`] refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum CurrentUserRejection {
    /// auth-core's `Principal` extractor refused: no authenticated caller (401), or no
    /// authentication layer in front of the route (500). Answered as auth-core answers it.
    Auth(AuthError),
    /// The subject names no account.
    NotFound,
    /// The account is disabled.
    Disabled,
}

impl IntoResponse for CurrentUserRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(error) => error.into_response(),
            Self::NotFound => json_error(
                StatusCode::NOT_FOUND,
                "account_not_found",
                "no account exists for this credential",
            ),
            Self::Disabled => json_error(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "this account is disabled",
            ),
        }
    }
}

async fn load(
    principal: Principal,
    users: &UserRepository,
) -> Result<CurrentUser, CurrentUserRejection> {
    match users.find(principal.subject()).await {
        None => Err(CurrentUserRejection::NotFound),
        Some(user) if user.disabled => Err(CurrentUserRejection::Disabled),
        Some(user) => Ok(CurrentUser { user, principal }),
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    UserRepository: FromRef<S>,
{
    type Rejection = CurrentUserRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = <Principal as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map_err(CurrentUserRejection::Auth)?;
        load(principal, &UserRepository::from_ref(state)).await
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    UserRepository: FromRef<S>,
{
    type Rejection = CurrentUserRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let principal =
            <Principal as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
                .await
                .map_err(CurrentUserRejection::Auth)?;
        match principal {
            None => Ok(None),
            Some(principal) => load(principal, &UserRepository::from_ref(state))
                .await
                .map(Some),
        }
    }
}
