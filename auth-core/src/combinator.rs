//! [`first_of`]: accept one of several authentication methods on the same route.

use http::{Extensions, Request};

use crate::authenticate::{Authenticate, CheckFuture, Outcome};
use crate::principal::{Identity, Principal};

/// Tries `first`, then `second` only if `first` found no credential for itself.
///
/// A credential that `first` refuses stops the chain with `first`'s error: a bad API key is
/// never retried as something else, and never becomes anonymous. Chains grow with
/// [`FirstOf::or`]. Whichever method authenticates, the layer inserts that method's own
/// identity and its [`Principal`], so handlers extract `Authenticated<ApiKeyIdentity>`,
/// `Authenticated<Claims>`… or the `Principal` common to all.
///
/// ```
/// use auth_core::{first_of, AuthError, AuthLayer, AuthMethod, Principal};
/// use http::Request;
///
/// let by_header = |req: &Request<()>| match req.headers().get("x-api-key") {
///     None => Err(AuthError::missing()),
///     Some(_) => Ok(Principal::new("service", AuthMethod::ApiKey)),
/// };
/// let by_cookie = |req: &Request<()>| match req.headers().get("cookie") {
///     None => Err(AuthError::missing()),
///     Some(_) => Ok(Principal::new("browser-user", AuthMethod::Session)),
/// };
/// let layer = AuthLayer::new(first_of(by_header, by_cookie));
/// # let _ = layer;
/// ```
///
/// When `first` must wait (a store lookup), `second` is asked at once too, while the request
/// is at hand, and its verdict is used only if `first` then finds nothing after all.
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
    /// Adds `next` to the end of the chain: `first_of(a, b).or(c)`.
    pub fn or<C>(self, next: C) -> FirstOf<Self, C> {
        FirstOf {
            first: self,
            second: next,
        }
    }
}

/// The identity of a [`FirstOf`]: the branch that authenticated. The layer inserts the
/// branch's own identity, never this wrapper.
#[derive(Debug, Clone)]
pub enum OneOf<L, R> {
    /// The first method authenticated.
    First(L),
    /// The second method authenticated.
    Second(R),
}

impl<L: Identity, R: Identity> Identity for OneOf<L, R> {
    fn principal(&self) -> &Principal {
        match self {
            Self::First(l) => l.principal(),
            Self::Second(r) => r.principal(),
        }
    }

    fn insert_into(self, extensions: &mut Extensions) {
        match self {
            Self::First(l) => l.insert_into(extensions),
            Self::Second(r) => r.insert_into(extensions),
        }
    }
}

impl<Req, A, B> Authenticate<Req> for FirstOf<A, B>
where
    A: Authenticate<Req>,
    B: Authenticate<Req>,
    A::Future: Send + 'static,
    B::Future: Send + 'static,
{
    type Identity = OneOf<A::Identity, B::Identity>;
    type Future = CheckFuture<Self::Identity>;

    fn authenticate(&mut self, request: &Request<Req>) -> Outcome<Self::Identity, Self::Future> {
        match self.first.authenticate(request) {
            Outcome::Decided(Ok(identity)) => Outcome::Decided(Ok(OneOf::First(identity))),
            Outcome::Decided(Err(error)) if !error.is_missing() => Outcome::Decided(Err(error)),
            Outcome::Missing | Outcome::Decided(Err(_)) => {
                match self.second.authenticate(request) {
                    Outcome::Missing => Outcome::Missing,
                    Outcome::Decided(result) => Outcome::Decided(result.map(OneOf::Second)),
                    Outcome::Pending(second) => Outcome::Pending(CheckFuture::new(async move {
                        second.await.map(OneOf::Second)
                    })),
                }
            }
            Outcome::Pending(first) => {
                let next = self.second.authenticate(request);
                Outcome::Pending(CheckFuture::new(async move {
                    match first.await {
                        Ok(identity) => Ok(OneOf::First(identity)),
                        Err(error) if error.is_missing() => match next {
                            Outcome::Missing => Err(error),
                            Outcome::Decided(result) => result.map(OneOf::Second),
                            Outcome::Pending(second) => second.await.map(OneOf::Second),
                        },
                        Err(error) => Err(error),
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthMethod;
    use crate::error::AuthError;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn header_auth(
        name: &'static str,
        subject: &'static str,
    ) -> impl FnMut(&Request<()>) -> Result<Principal, AuthError> + Clone {
        move |req: &Request<()>| match req.headers().get(name) {
            None => Err(AuthError::missing()),
            Some(v) if v == "good" => Ok(Principal::new(subject, AuthMethod::Custom(name.into()))),
            Some(_) => Err(AuthError::invalid_credential("bad").with_reason(name)),
        }
    }

    /// Reads header `name` and waits: its verdict comes from a future. `unknown` makes a
    /// present header resolve to "missing" (a session the store does not know). Counts calls.
    #[derive(Clone)]
    struct Waiting {
        name: &'static str,
        unknown: bool,
        calls: Arc<AtomicUsize>,
    }

    impl Waiting {
        fn new(name: &'static str) -> Self {
            Self {
                name,
                unknown: false,
                calls: Arc::default(),
            }
        }
    }

    impl Authenticate<()> for Waiting {
        type Identity = Principal;
        type Future = CheckFuture<Principal>;

        fn authenticate(&mut self, request: &Request<()>) -> Outcome<Principal, Self::Future> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if request.headers().get(self.name).is_none() {
                return Outcome::Missing;
            }
            let (name, unknown) = (self.name, self.unknown);
            Outcome::Pending(CheckFuture::new(async move {
                tokio::task::yield_now().await;
                if unknown {
                    Err(AuthError::missing())
                } else {
                    Ok(Principal::new(name, AuthMethod::Custom(name.into())))
                }
            }))
        }
    }

    async fn verdict<A: Authenticate<()>>(
        auth: &mut A,
        headers: &[&'static str],
    ) -> Result<A::Identity, AuthError> {
        let mut builder = Request::builder();
        for name in headers {
            builder = builder.header(*name, "good");
        }
        match auth.authenticate(&builder.body(()).unwrap()) {
            Outcome::Missing => Err(AuthError::missing()),
            Outcome::Decided(result) => result,
            Outcome::Pending(future) => future.await,
        }
    }

    fn subject<I: Identity>(result: Result<I, AuthError>) -> String {
        result.unwrap().principal().subject().to_owned()
    }

    #[tokio::test]
    async fn falls_through_only_on_missing() {
        let mut chain = first_of(header_auth("a", "from-a"), header_auth("b", "from-b"))
            .or(header_auth("c", "from-c"));
        assert_eq!(subject(verdict(&mut chain, &["a"]).await), "from-a");
        assert_eq!(subject(verdict(&mut chain, &["b"]).await), "from-b");
        assert_eq!(subject(verdict(&mut chain, &["c"]).await), "from-c");
        assert!(verdict(&mut chain, &[]).await.unwrap_err().is_missing());
    }

    #[tokio::test]
    async fn a_bad_credential_stops_the_chain() {
        let mut chain = first_of(header_auth("a", "x"), header_auth("b", "y"));
        let request = Request::builder()
            .header("a", "bad")
            .header("b", "good")
            .body(())
            .unwrap();
        assert!(matches!(
            chain.authenticate(&request),
            Outcome::Decided(Err(e)) if e.reason() == "a"
        ));
    }

    #[tokio::test]
    async fn a_decided_branch_spares_the_next_ones() {
        let (b, c) = (Waiting::new("b"), Waiting::new("c"));
        let mut chain = first_of(header_auth("a", "from-a"), b.clone()).or(c.clone());
        assert_eq!(subject(verdict(&mut chain, &["a", "b"]).await), "from-a");
        assert_eq!(b.calls.load(Ordering::SeqCst), 0);
        // `b` must wait, so `c` is asked too while the request is at hand; `b` answers.
        assert_eq!(subject(verdict(&mut chain, &["b"]).await), "b");
        assert_eq!(
            (
                b.calls.load(Ordering::SeqCst),
                c.calls.load(Ordering::SeqCst)
            ),
            (1, 1)
        );
    }

    #[tokio::test]
    async fn a_pending_branch_that_finds_nothing_falls_through() {
        let mut stale = Waiting::new("a");
        stale.unknown = true;
        let mut chain = first_of(stale, header_auth("b", "from-b"));
        assert_eq!(subject(verdict(&mut chain, &["a", "b"]).await), "from-b");
        assert!(verdict(&mut chain, &["a"]).await.unwrap_err().is_missing());

        let mut chain = first_of(Waiting::new("a"), Waiting::new("b"));
        assert_eq!(subject(verdict(&mut chain, &["a", "b"]).await), "a");
        let mut stale = Waiting::new("a");
        stale.unknown = true;
        let mut chain = first_of(stale, Waiting::new("b"));
        assert_eq!(subject(verdict(&mut chain, &["a", "b"]).await), "b");
    }

    #[tokio::test]
    async fn the_identity_inserts_the_branch_that_authenticated() {
        #[derive(Clone, Debug)]
        struct Robot(Principal);
        impl Identity for Robot {
            fn principal(&self) -> &Principal {
                &self.0
            }
        }
        let robot = |req: &Request<()>| match req.headers().get("robot") {
            None => Err(AuthError::missing()),
            Some(_) => Ok(Robot(Principal::new(
                "r2",
                AuthMethod::Custom("robot".into()),
            ))),
        };
        let mut chain = first_of(header_auth("a", "from-a"), robot);
        let identity = verdict(&mut chain, &["robot"]).await.unwrap();
        let mut extensions = Extensions::new();
        identity.insert_into(&mut extensions);
        assert_eq!(extensions.get::<Robot>().unwrap().0.subject(), "r2");
        assert_eq!(extensions.get::<Principal>().unwrap().subject(), "r2");
        assert!(extensions.get::<OneOf<Principal, Robot>>().is_none());
    }
}
