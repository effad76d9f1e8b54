//! Combinators: accept one of several authentication methods on the same route.
//!
//! [`first_of`]`(a, b)` tries `a`; only when `a` finds **no credential at all** does it try
//! `b`. A credential that `a` refuses stops the chain with `a`'s error: a bad API key is never
//! retried as something else, and never becomes anonymous. Chains grow with
//! [`FirstOf::or`]. The identity is an [`Either`] of the branches' identities; its
//! [`Principal`] is the common view.
//!
//! ```
//! use auth_core::combinator::{first_of, Either};
//! use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
//! use http::Request;
//! use std::future::{ready, Ready};
//!
//! type Check = Ready<Result<Principal, AuthError>>;
//! let by_header = |req: &Request<()>| -> Check {
//!     ready(match req.headers().get("x-api-key") {
//!         None => Err(AuthError::missing()),
//!         Some(_) => Ok(Principal::new("service", AuthMethod::ApiKey)),
//!     })
//! };
//! let by_cookie = |req: &Request<()>| -> Check {
//!     ready(match req.headers().get("cookie") {
//!         None => Err(AuthError::missing()),
//!         Some(_) => Ok(Principal::new("browser-user", AuthMethod::Session)),
//!     })
//! };
//! let layer = AuthLayer::new(first_of(by_header, by_cookie));
//! # let _ = layer;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Request;
use pin_project_lite::pin_project;

use crate::authenticate::Authenticate;
use crate::error::AuthError;
use crate::principal::{Identity, Principal};

/// Tries `first`, then `second` only if `first` found no credential.
#[must_use]
pub fn first_of<A, B>(first: A, second: B) -> FirstOf<A, B> {
    FirstOf { first, second }
}

/// The authenticator built by [`first_of`].
#[derive(Debug, Clone)]
pub struct FirstOf<A, B> {
    first: A,
    second: B,
}

impl<A, B> FirstOf<A, B> {
    /// Adds `next` to the end of the chain.
    pub fn or<C>(self, next: C) -> FirstOf<Self, C> {
        FirstOf {
            first: self,
            second: next,
        }
    }
}

/// The identity of a [`FirstOf`]: which branch authenticated, with its typed identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Either<L, R> {
    /// The first branch authenticated.
    Left(L),
    /// The second branch authenticated.
    Right(R),
}

impl<L, R> Either<L, R> {
    /// The first branch's identity, if it authenticated.
    pub fn left(&self) -> Option<&L> {
        match self {
            Self::Left(l) => Some(l),
            Self::Right(_) => None,
        }
    }

    /// The second branch's identity, if it authenticated.
    pub fn right(&self) -> Option<&R> {
        match self {
            Self::Left(_) => None,
            Self::Right(r) => Some(r),
        }
    }
}

impl<L: Identity, R: Identity> Identity for Either<L, R> {
    fn principal(&self) -> &Principal {
        match self {
            Self::Left(l) => l.principal(),
            Self::Right(r) => r.principal(),
        }
    }
}

impl<Req, A, B> Authenticate<Req> for FirstOf<A, B>
where
    A: Authenticate<Req>,
    B: Authenticate<Req>,
{
    type Identity = Either<A::Identity, B::Identity>;
    type Future = FirstOfFuture<A::Future, B::Future>;

    fn authenticate(&mut self, request: &Request<Req>) -> Self::Future {
        FirstOfFuture {
            first: self.first.authenticate(request),
            second: self.second.authenticate(request),
            first_missing: false,
        }
    }
}

pin_project! {
    /// The future of [`FirstOf`]: polls the second branch only once the first found no
    /// credential.
    #[derive(Debug)]
    pub struct FirstOfFuture<FA, FB> {
        #[pin]
        first: FA,
        #[pin]
        second: FB,
        first_missing: bool,
    }
}

impl<FA, FB, IA, IB> Future for FirstOfFuture<FA, FB>
where
    FA: Future<Output = Result<IA, AuthError>>,
    FB: Future<Output = Result<IB, AuthError>>,
{
    type Output = Result<Either<IA, IB>, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !*this.first_missing {
            match ready!(this.first.poll(cx)) {
                Ok(identity) => return Poll::Ready(Ok(Either::Left(identity))),
                Err(error) if error.is_missing() => *this.first_missing = true,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        this.second.poll(cx).map_ok(Either::Right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthMethod;
    use std::future::{Ready, ready};

    type Check = Ready<Result<Principal, AuthError>>;

    fn header_auth(
        name: &'static str,
        subject: &'static str,
    ) -> impl FnMut(&Request<()>) -> Check + Clone {
        move |req: &Request<()>| {
            ready(match req.headers().get(name) {
                None => Err(AuthError::missing()),
                Some(v) if v == "good" => {
                    Ok(Principal::new(subject, AuthMethod::Custom(name.into())))
                }
                Some(_) => Err(AuthError::invalid_credential("bad").with_reason(name)),
            })
        }
    }

    async fn run(headers: &[(&'static str, &'static str)]) -> Result<String, AuthError> {
        let mut chain = first_of(header_auth("a", "from-a"), header_auth("b", "from-b"))
            .or(header_auth("c", "from-c"));
        let mut builder = Request::builder();
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(()).unwrap();
        chain
            .authenticate(&request)
            .await
            .map(|id| id.principal().subject().to_owned())
    }

    #[tokio::test]
    async fn falls_through_only_on_missing() {
        assert_eq!(run(&[("a", "good")]).await.unwrap(), "from-a");
        assert_eq!(run(&[("b", "good")]).await.unwrap(), "from-b");
        assert_eq!(run(&[("c", "good")]).await.unwrap(), "from-c");
        assert!(run(&[]).await.unwrap_err().is_missing());
    }

    #[tokio::test]
    async fn a_bad_credential_stops_the_chain() {
        let err = run(&[("a", "bad"), ("b", "good")]).await.unwrap_err();
        assert_eq!(err.reason(), "a");
        let err = run(&[("b", "bad"), ("c", "good")]).await.unwrap_err();
        assert_eq!(err.reason(), "b");
    }

    #[tokio::test]
    async fn identity_says_which_branch() {
        let mut chain = first_of(header_auth("a", "x"), header_auth("b", "y"));
        let request = Request::builder().header("b", "good").body(()).unwrap();
        let id = chain.authenticate(&request).await.unwrap();
        assert!(id.left().is_none());
        assert_eq!(id.right().unwrap().subject(), "y");
    }
}
