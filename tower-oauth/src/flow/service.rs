//! [`OAuthRoutes`]: the login routes as one tower service, for any router.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Body;
use tower_service::Service;

use super::response::{Failure, OAuthResponse};
use crate::client::OAuthClient;
use crate::session::SessionUser;

/// The future of [`OAuthRoutes`].
pub type RoutesFuture = Pin<Box<dyn Future<Output = Result<OAuthResponse, Infallible>> + Send>>;

/// The login routes as a tower service. It dispatches on the end of the path, so it works
/// mounted at any prefix and with or without the prefix stripped:
///
/// * `…/{provider}/login` → [`OAuthClient::login`]
/// * `…/{provider}/callback` → [`OAuthClient::callback`]
/// * `…/logout` → [`OAuthClient::logout`]
/// * `…/backchannel-logout` → [`OAuthClient::backchannel_logout`]
/// * anything else: 404.
///
/// With axum: `Router::new().nest_service("/oauth", client.routes())`.
pub struct OAuthRoutes<U> {
    client: OAuthClient<U>,
}

impl<U> Clone for OAuthRoutes<U> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
        }
    }
}

impl<U> fmt::Debug for OAuthRoutes<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthRoutes")
            .field("client", &self.client)
            .finish()
    }
}

impl<U: SessionUser> OAuthClient<U> {
    /// The login routes as one tower service.
    #[must_use]
    pub fn routes(&self) -> OAuthRoutes<U> {
        OAuthRoutes {
            client: self.clone(),
        }
    }
}

enum Route {
    Login(String),
    Callback(String),
    Logout,
    BackchannelLogout,
    NotFound,
}

fn route(path: &str) -> Route {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    match (segments.next(), segments.next()) {
        (Some("logout"), _) => Route::Logout,
        (Some("backchannel-logout"), _) => Route::BackchannelLogout,
        (Some("login"), Some(provider)) if !provider.is_empty() => {
            Route::Login(provider.to_owned())
        }
        (Some("callback"), Some(provider)) if !provider.is_empty() => {
            Route::Callback(provider.to_owned())
        }
        _ => Route::NotFound,
    }
}

impl<U, B> Service<Request<B>> for OAuthRoutes<U>
where
    U: SessionUser,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = OAuthResponse;
    type Error = Infallible;
    type Future = RoutesFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            Ok(match route(request.uri().path()) {
                Route::Login(provider) => client.login(&provider, request).await,
                Route::Callback(provider) => client.callback(&provider, request).await,
                Route::Logout => client.logout(request).await,
                Route::BackchannelLogout => client.backchannel_logout(request).await,
                Route::NotFound => Failure::new(StatusCode::NOT_FOUND, "not_found").page(&[]),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Route, route};

    #[test]
    fn routes_by_path_suffix() {
        assert!(matches!(route("/oauth/github/login"), Route::Login(p) if p == "github"));
        assert!(matches!(route("/github/callback"), Route::Callback(p) if p == "github"));
        assert!(matches!(route("/oauth/logout"), Route::Logout));
        assert!(matches!(route("/logout"), Route::Logout));
        assert!(matches!(
            route("/oauth/backchannel-logout"),
            Route::BackchannelLogout
        ));
        assert!(matches!(route("/login"), Route::NotFound));
        assert!(matches!(route("/oauth/github"), Route::NotFound));
    }
}
