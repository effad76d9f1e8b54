//! The [`Authenticate`] trait: the one thing an authentication method implements.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;
use pin_project_lite::pin_project;

use crate::error::AuthError;
use crate::principal::Identity;

/// Turns a request into an identity, or says why it cannot.
///
/// [`authenticate`](Authenticate::authenticate) is called with the request borrowed, and
/// says which of three things happened, as an [`Outcome`]:
///
/// * [`Outcome::Missing`]: the request carries no credential for this method.
///   [`first_of`](crate::first_of) then tries the next method, and an
///   [optional](crate::AuthLayer::optional) layer lets the request through anonymously.
/// * [`Outcome::Decided`]: the verdict is known now, an identity or a refusal (a malformed
///   credential, a cache hit, a signature checked on the spot). The layer calls the inner
///   service, or answers the refusal, without allocating or polling anything.
/// * [`Outcome::Pending`]: the check must wait (a store lookup, a key fetch); the layer polls
///   the future, which owns what it needs.
///
/// A refusal is never downgraded to "anonymous", and a credential that a method refuses is
/// never retried by another.
///
/// Closures `FnMut(&Request<B>) -> Result<I, AuthError>` implement the trait, so a custom
/// method fits in a few lines; [`AuthError::missing`] from a closure means
/// [`Outcome::Missing`]:
///
/// ```
/// use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
/// use http::Request;
///
/// let layer = AuthLayer::new(|req: &Request<String>| match req.headers().get("x-robot-serial") {
///     None => Err(AuthError::missing()),
///     Some(v) if v == "7" => Ok(Principal::new("robot-7", AuthMethod::Custom("robot".into()))),
///     Some(_) => Err(AuthError::invalid_credential("unknown robot serial")),
/// });
/// # let _ = layer;
/// ```
///
/// A method that must wait implements the trait and returns a [`CheckFuture`]:
///
/// ```
/// use auth_core::{AuthError, AuthMethod, Authenticate, CheckFuture, Credentials, Outcome, Principal};
/// use http::Request;
///
/// #[derive(Clone)]
/// struct Directory;
///
/// impl<B> Authenticate<B> for Directory {
///     type Identity = Principal;
///     type Future = CheckFuture<Principal>;
///
///     fn authenticate(&mut self, request: &Request<B>) -> Outcome<Principal, Self::Future> {
///         let token = match Credentials::bearer().find(request) {
///             Ok(credential) => credential.value().to_owned(),
///             Err(error) => return Outcome::from(Err(error)),
///         };
///         Outcome::Pending(CheckFuture::new(async move {
///             // Ask a directory service about `token`…
///             match token.as_str() {
///                 "t-7" => Ok(Principal::new("robot-7", AuthMethod::Custom("directory".into()))),
///                 _ => Err(AuthError::invalid_credential("unknown token")),
///             }
///         }))
///     }
/// }
/// ```
pub trait Authenticate<B> {
    /// The typed identity this method produces. The layer inserts it into the request's
    /// extensions beside a clone of its [`Principal`](crate::Principal) (see
    /// [`Identity::insert_into`]).
    type Identity: Identity;
    /// The future of a check that must wait ([`Outcome::Pending`]).
    type Future: Future<Output = Result<Self::Identity, AuthError>>;

    /// Reads the credential out of `request` and checks it, now or in a future.
    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Self::Identity, Self::Future>;
}

/// What [`Authenticate::authenticate`] found: no credential, a verdict, or a check to wait for.
#[derive(Debug)]
pub enum Outcome<I, F> {
    /// No credential for this method.
    Missing,
    /// The verdict, known now: an identity, or a refusal (never a "missing" error: that is
    /// [`Outcome::Missing`]).
    Decided(Result<I, AuthError>),
    /// The check continues in this future. It may still resolve to
    /// [`AuthError::missing`] (a session id the store does not know): `first_of` then falls
    /// through to the next method, which it asked while the request was at hand.
    Pending(F),
}

impl<I, F> Outcome<I, F> {
    /// Whether this is [`Outcome::Missing`].
    #[must_use]
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Missing)
    }
}

/// Awaiting an outcome gives the verdict, waiting only when it is [`Outcome::Pending`]
/// (`Missing` gives [`AuthError::missing`]): handy to call an authenticator directly.
///
/// ```
/// use auth_core::{AuthError, Authenticate, AuthMethod, Principal};
/// use http::Request;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut robots = |req: &Request<()>| match req.headers().get("x-robot") {
///     None => Err(AuthError::missing()),
///     Some(_) => Ok(Principal::new("r2", AuthMethod::Custom("robot".into()))),
/// };
/// let request = Request::builder().header("x-robot", "1").body(()).unwrap();
/// assert_eq!(robots.authenticate(&request).await.unwrap().subject(), "r2");
/// assert!(robots.authenticate(&Request::new(())).await.unwrap_err().is_missing());
/// # }
/// ```
impl<I, F> IntoFuture for Outcome<I, F>
where
    F: Future<Output = Result<I, AuthError>>,
{
    type Output = Result<I, AuthError>;
    type IntoFuture = OutcomeFuture<I, F>;

    fn into_future(self) -> Self::IntoFuture {
        let state = match self {
            Self::Missing => State::Ready {
                result: Some(Err(AuthError::missing())),
            },
            Self::Decided(result) => State::Ready {
                result: Some(result),
            },
            Self::Pending(future) => State::Pending { future },
        };
        OutcomeFuture { state }
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<I, F> {
        Ready { result: Option<Result<I, AuthError>> },
        Pending { #[pin] future: F },
    }
}

pin_project! {
    /// The future of an awaited [`Outcome`].
    #[derive(Debug)]
    pub struct OutcomeFuture<I, F> {
        #[pin]
        state: State<I, F>,
    }
}

impl<I, F> Future for OutcomeFuture<I, F>
where
    F: Future<Output = Result<I, AuthError>>,
{
    type Output = Result<I, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { result } => Poll::Ready(
                result
                    .take()
                    .expect("an awaited outcome polled after completion"),
            ),
            StateProj::Pending { future } => future.poll(cx),
        }
    }
}

/// A verdict: [`AuthError::missing`] becomes [`Outcome::Missing`].
impl<I, F> From<Result<I, AuthError>> for Outcome<I, F> {
    fn from(result: Result<I, AuthError>) -> Self {
        match result {
            Err(error) if error.is_missing() => Self::Missing,
            result => Self::Decided(result),
        }
    }
}

/// The future of a check that must wait: a boxed, `Send` future, built from any `async`
/// block with [`CheckFuture::new`]. See [`Authenticate`] for an example.
pub struct CheckFuture<I> {
    future: Pin<Box<dyn Future<Output = Result<I, AuthError>> + Send>>,
}

impl<I> CheckFuture<I> {
    /// Boxes `future`.
    pub fn new(future: impl Future<Output = Result<I, AuthError>> + Send + 'static) -> Self {
        Self {
            future: Box::pin(future),
        }
    }
}

impl<I> fmt::Debug for CheckFuture<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckFuture").finish_non_exhaustive()
    }
}

impl<I> Future for CheckFuture<I> {
    type Output = Result<I, AuthError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<B, F, I> Authenticate<B> for F
where
    F: FnMut(&Request<B>) -> Result<I, AuthError>,
    I: Identity,
{
    type Identity = I;
    type Future = CheckFuture<I>;

    fn authenticate(&mut self, request: &Request<B>) -> Outcome<I, CheckFuture<I>> {
        Outcome::from(self(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthMethod, Principal};

    #[test]
    fn a_missing_error_is_the_missing_outcome() {
        let outcome: Outcome<Principal, CheckFuture<Principal>> =
            Outcome::from(Err(AuthError::missing()));
        assert!(outcome.is_missing());
        let outcome: Outcome<Principal, CheckFuture<Principal>> =
            Outcome::from(Err(AuthError::invalid_credential("no")));
        assert!(matches!(outcome, Outcome::Decided(Err(e)) if e.status() == 401));
    }

    #[tokio::test]
    async fn closures_decide_and_futures_wait() {
        let mut closure = |req: &Request<()>| match req.headers().get("x") {
            None => Err(AuthError::missing()),
            Some(_) => Ok(Principal::new("a", AuthMethod::ApiKey)),
        };
        assert!(closure.authenticate(&Request::new(())).is_missing());
        let request = Request::builder().header("x", "1").body(()).unwrap();
        assert!(matches!(
            closure.authenticate(&request),
            Outcome::Decided(Ok(p)) if p.subject() == "a"
        ));

        let pending = CheckFuture::new(async { Ok(Principal::new("b", AuthMethod::Jwt)) });
        assert_eq!(pending.await.unwrap().subject(), "b");
    }
}
