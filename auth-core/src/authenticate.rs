//! The [`Authenticate`] trait: the one thing an authentication method implements.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;

use crate::error::AuthError;
use crate::principal::Identity;

/// Turns a request into an identity, or says why it cannot.
///
/// `authenticate` is called synchronously with a borrowed request. It reads the credential
/// (see [`Credentials::find`](crate::credential::Credentials::find)) and may settle what is
/// cheap right there, on the borrowed value: a malformed credential, a cache hit. The
/// expensive part (a signature check, a store lookup) belongs in the returned future, which
/// owns what it needs. Combinators rely on this: [`FirstOf`](crate::combinator::FirstOf)
/// polls the next branch only when the one before found no credential, so a branch's future
/// must cost nothing until polled. Implement [`presence`](Authenticate::presence) too when
/// the future already knows whether a credential was found: `FirstOf` then skips the later
/// branches' `authenticate` altogether for requests this method decides.
///
/// Three outcomes, kept apart:
/// * `Ok(identity)`: authenticated;
/// * `Err(e)` with [`e.is_missing()`](AuthError::is_missing): no credential for this method;
/// * any other `Err`: a credential was presented and refused (or could not be checked). It is
///   never downgraded to "anonymous".
///
/// A CPU-only check should return [`Decided`] and implement [`settle`](Authenticate::settle)
/// (see its example), so the layer neither allocates nor polls; a closure can return
/// [`std::future::Ready`].
///
/// Closures implement the trait, so a custom method fits in a few lines:
///
/// ```
/// use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
/// use http::Request;
/// use std::future::{ready, Ready};
///
/// let layer = AuthLayer::new(|req: &Request<String>| -> Ready<Result<Principal, AuthError>> {
///     ready(match req.headers().get("x-robot-serial") {
///         None => Err(AuthError::missing()),
///         Some(v) if v == "7" => Ok(Principal::new("robot-7", AuthMethod::Custom("robot".into()))),
///         Some(_) => Err(AuthError::invalid_credential("unknown robot")),
///     })
/// });
/// # let _ = layer;
/// ```
pub trait Authenticate<B> {
    /// The typed identity this method produces; inserted into the request's extensions
    /// beside a clone of its [`Principal`](crate::Principal).
    type Identity: Identity + Clone + Send + Sync + 'static;
    /// The future that finishes the check.
    type Future: Future<Output = Result<Self::Identity, AuthError>>;

    /// Reads the credential out of `request` and returns the future that checks it.
    fn authenticate(&mut self, request: &Request<B>) -> Self::Future;

    /// What `future`, just returned by [`authenticate`](Authenticate::authenticate), already
    /// knows about the credential, without polling it.
    ///
    /// [`FirstOf`](crate::combinator::FirstOf) calls the next branch's `authenticate` only
    /// when this is not [`Presence::Present`]. The default, [`Presence::Unknown`], is always
    /// correct; an answer other than `Unknown` must match what the future resolves to
    /// ([`Presence::Absent`] exactly when it resolves to a "missing" error).
    fn presence(future: &Self::Future) -> Presence {
        let _ = future;
        Presence::Unknown
    }

    /// Takes `future`'s outcome out of it if it can be had without waiting: a refusal, a
    /// cache hit, or CPU-only work done right now. `None` leaves `future` to be polled.
    ///
    /// [`AuthLayer`](crate::AuthLayer) asks this right after `authenticate`. A settled
    /// request goes straight to the inner service, which then need not be cloned, and the
    /// response future keeps no copy of the request. After `Some`, `future` is dropped
    /// unpolled. The default, `None`, is always correct.
    fn settle(future: &mut Self::Future) -> Option<Result<Self::Identity, AuthError>> {
        let _ = future;
        None
    }
}

/// Whether a request carries a credential for a method, as far as its
/// [`Authenticate`] future knows before being polled (see [`Authenticate::presence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// No credential for this method: the future resolves to
    /// [`AuthError::missing`](crate::AuthError::missing).
    Absent,
    /// A credential for this method was found; the future resolves to an identity or to a
    /// refusal, never to "missing".
    Present,
    /// Known only once the future resolves.
    Unknown,
}

impl<B, F, Fut, I> Authenticate<B> for F
where
    F: FnMut(&Request<B>) -> Fut,
    Fut: Future<Output = Result<I, AuthError>>,
    I: Identity + Clone + Send + Sync + 'static,
{
    type Identity = I;
    type Future = Fut;

    fn authenticate(&mut self, request: &Request<B>) -> Self::Future {
        self(request)
    }
}

/// The future of a check decided inside [`Authenticate::authenticate`]: ready at once, and
/// handed over by [`Decided::take`] without being polled. Return it from a CPU-only method
/// and implement [`Authenticate::settle`] (and [`Authenticate::presence`]) with it:
///
/// ```
/// use auth_core::{AuthError, AuthMethod, Authenticate, Decided, Presence, Principal};
/// use http::Request;
///
/// #[derive(Clone)]
/// struct Robots;
///
/// impl<B> Authenticate<B> for Robots {
///     type Identity = Principal;
///     type Future = Decided<Principal>;
///
///     fn authenticate(&mut self, request: &Request<B>) -> Decided<Principal> {
///         Decided::new(match request.headers().get("x-robot-serial") {
///             None => Err(AuthError::missing()),
///             Some(v) if v == "7" => Ok(Principal::new("robot-7", AuthMethod::Custom("robot".into()))),
///             Some(_) => Err(AuthError::invalid_credential("unknown robot")),
///         })
///     }
///
///     fn settle(future: &mut Decided<Principal>) -> Option<Result<Principal, AuthError>> {
///         future.take()
///     }
///
///     fn presence(future: &Decided<Principal>) -> Presence {
///         future.presence()
///     }
/// }
///
/// let request = Request::builder().header("x-robot-serial", "7").body(()).unwrap();
/// let mut future = Robots.authenticate(&request);
/// assert_eq!(<Robots as Authenticate<()>>::presence(&future), Presence::Present);
/// let identity = <Robots as Authenticate<()>>::settle(&mut future).unwrap().unwrap();
/// assert_eq!(identity.subject(), "robot-7");
/// ```
#[derive(Debug)]
pub struct Decided<I> {
    outcome: Option<Result<I, AuthError>>,
}

impl<I> Decided<I> {
    /// A future that resolves to `outcome`.
    pub fn new(outcome: Result<I, AuthError>) -> Self {
        Self {
            outcome: Some(outcome),
        }
    }

    /// The outcome, once: `None` after it was taken (or polled out).
    pub fn take(&mut self) -> Option<Result<I, AuthError>> {
        self.outcome.take()
    }

    /// [`Presence::Absent`] for a "missing" error, [`Presence::Present`] for any other
    /// outcome, [`Presence::Unknown`] once taken.
    pub fn presence(&self) -> Presence {
        match &self.outcome {
            Some(Err(error)) if error.is_missing() => Presence::Absent,
            Some(_) => Presence::Present,
            None => Presence::Unknown,
        }
    }
}

// Never pinned structurally: the outcome is moved out.
impl<I> Unpin for Decided<I> {}

impl<I> Future for Decided<I> {
    type Output = Result<I, AuthError>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(
            self.take()
                .expect("Decided polled after its outcome was taken"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthMethod, Principal};

    #[tokio::test]
    async fn decided_hands_its_outcome_over_once() {
        let mut ok = Decided::new(Ok(Principal::new("a", AuthMethod::ApiKey)));
        assert_eq!(ok.presence(), Presence::Present);
        assert_eq!(ok.take().unwrap().unwrap().subject(), "a");
        assert_eq!(ok.presence(), Presence::Unknown);
        assert!(ok.take().is_none());

        let missing = Decided::<Principal>::new(Err(AuthError::missing()));
        assert_eq!(missing.presence(), Presence::Absent);
        assert!(missing.await.unwrap_err().is_missing());

        let refused = Decided::<Principal>::new(Err(AuthError::invalid_credential("no")));
        assert_eq!(refused.presence(), Presence::Present);
        assert_eq!(refused.await.unwrap_err().status(), 401);
    }
}
