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

use crate::authenticate::{Authenticate, Presence};
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

    /// Calls `first`; calls `second` too unless `first` already knows it found a credential
    /// ([`Presence::Present`]): the request is only borrowed now, so a branch that may be
    /// needed must be asked now. Its future is polled only if `first` finds nothing.
    fn authenticate(&mut self, request: &Request<Req>) -> Self::Future {
        let first = self.first.authenticate(request);
        let second = match A::presence(&first) {
            Presence::Present => None,
            Presence::Absent | Presence::Unknown => Some(self.second.authenticate(request)),
        };
        FirstOfFuture {
            first,
            second,
            first_missing: false,
        }
    }

    /// Settles the first branch; if it found nothing, the second.
    fn settle(future: &mut Self::Future) -> Option<Result<Self::Identity, AuthError>> {
        if !future.first_missing {
            match A::settle(&mut future.first)? {
                Ok(identity) => return Some(Ok(Either::Left(identity))),
                // The first branch is spent: polling goes straight to the second.
                Err(error) if error.is_missing() => future.first_missing = true,
                Err(error) => return Some(Err(error)),
            }
        }
        match future.second.as_mut() {
            Some(second) => B::settle(second).map(|outcome| outcome.map(Either::Right)),
            None => Some(Err(AuthError::missing())),
        }
    }

    fn presence(future: &Self::Future) -> Presence {
        let second = future.second.as_ref().map_or(Presence::Absent, B::presence);
        match (A::presence(&future.first), second) {
            (Presence::Present, _) | (_, Presence::Present) => Presence::Present,
            (Presence::Absent, Presence::Absent) => Presence::Absent,
            _ => Presence::Unknown,
        }
    }
}

pin_project! {
    /// The future of [`FirstOf`]: polls the second branch only once the first found no
    /// credential. `second` is `None` when the first branch knew it had one.
    #[derive(Debug)]
    pub struct FirstOfFuture<FA, FB> {
        #[pin]
        first: FA,
        #[pin]
        second: Option<FB>,
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
        match this.second.as_pin_mut() {
            Some(second) => second.poll(cx).map_ok(Either::Right),
            // The first branch said `Present`, then found nothing: nothing is what we have.
            None => Poll::Ready(Err(AuthError::missing())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthMethod;
    use std::future::{Ready, ready};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// Reads header `name`, knows at once whether it was there (or claims `claim`), and
    /// counts its calls.
    #[derive(Clone)]
    struct Knowing {
        name: &'static str,
        claim: Option<Presence>,
        calls: Arc<AtomicUsize>,
    }

    impl Knowing {
        fn new(name: &'static str) -> Self {
            Self {
                name,
                claim: None,
                calls: Arc::default(),
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    /// A ready result, with what its authenticator says of it.
    struct Known(Option<Result<Principal, AuthError>>, Presence);

    impl Future for Known {
        type Output = Result<Principal, AuthError>;
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            Poll::Ready(self.0.take().expect("polled once"))
        }
    }

    impl Authenticate<()> for Knowing {
        type Identity = Principal;
        type Future = Known;

        fn authenticate(&mut self, request: &Request<()>) -> Known {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let (result, presence) = match request.headers().get(self.name) {
                None => (Err(AuthError::missing()), Presence::Absent),
                Some(_) => (
                    Ok(Principal::new(
                        self.name,
                        AuthMethod::Custom(self.name.into()),
                    )),
                    Presence::Present,
                ),
            };
            Known(Some(result), self.claim.unwrap_or(presence))
        }

        fn presence(future: &Known) -> Presence {
            future.1
        }
    }

    fn presence_of<A: Authenticate<()>>(_: &A, future: &A::Future) -> Presence {
        A::presence(future)
    }

    fn request(headers: &[&'static str]) -> Request<()> {
        let mut builder = Request::builder();
        for name in headers {
            builder = builder.header(*name, "good");
        }
        builder.body(()).unwrap()
    }

    #[tokio::test]
    async fn a_branch_that_knows_it_found_a_credential_spares_the_next_ones() {
        let (a, b, c) = (Knowing::new("a"), Knowing::new("b"), Knowing::new("c"));
        let mut chain = first_of(a.clone(), b.clone()).or(c.clone());

        let future = chain.authenticate(&request(&["a", "b"]));
        assert_eq!(presence_of(&chain, &future), Presence::Present);
        assert_eq!(future.await.unwrap().principal().subject(), "a");
        assert_eq!((a.calls(), b.calls(), c.calls()), (1, 0, 0));

        let identity = chain.authenticate(&request(&["b"])).await.unwrap();
        assert_eq!(identity.principal().subject(), "b");
        assert_eq!((a.calls(), b.calls(), c.calls()), (2, 1, 0));

        let future = chain.authenticate(&request(&[]));
        assert_eq!(presence_of(&chain, &future), Presence::Absent);
        assert!(future.await.unwrap_err().is_missing());
        assert_eq!((a.calls(), b.calls(), c.calls()), (3, 2, 1));
    }

    #[tokio::test]
    async fn a_branch_that_cannot_tell_is_followed_eagerly() {
        let b = Knowing::new("b");
        let mut chain = first_of(header_auth("a", "from-a"), b.clone());
        let future = chain.authenticate(&request(&["a"]));
        // The closure cannot tell, `b` found nothing: only polling decides.
        assert_eq!(presence_of(&chain, &future), Presence::Unknown);
        assert_eq!(b.calls(), 1);
        assert_eq!(future.await.unwrap().principal().subject(), "from-a");
        let future = chain.authenticate(&request(&["b"]));
        assert_eq!(presence_of(&chain, &future), Presence::Present);
        assert_eq!(future.await.unwrap().principal().subject(), "b");
    }

    #[tokio::test]
    async fn a_wrong_present_claim_still_ends_in_missing() {
        let mut a = Knowing::new("a");
        a.claim = Some(Presence::Present);
        let b = Knowing::new("b");
        let mut chain = first_of(a, b.clone());
        let error = chain.authenticate(&request(&["b"])).await.unwrap_err();
        assert!(error.is_missing());
        assert_eq!(b.calls(), 0);
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
