//! `/bench/whoami*` (only with `DEMO_BENCH_FLOORS=on`): the whoami JSON for a fixed
//! principal, with no credential checked, so a load run can split the gap between
//! `/health` and an authenticated `/api/whoami` into what the route costs, what axum
//! charges any layered route, and what the authentication engine adds before any method:
//!
//! * `/bench/whoami`: the handler alone, no layer;
//! * `/bench/whoami/layered`: behind a tower layer that does nothing;
//! * `/bench/whoami/engine`: behind an [`AuthLayer`] whose authenticator accepts every
//!   request as the fixed principal;
//! * `/bench/api/whoami-limited`: `/api/whoami` as it is served (the API throttle, the
//!   API-key / JWT / session layer) with a [`RateLimiter`] behind the authentication layer
//!   whose limit never refuses, so that a row beside `/api/whoami` gives what a rate
//!   limit adds to an authenticated request.
//!
//! The criterion bench `whoami` measures the same three in process.

use auth_core::{AuthError, AuthLayer, AuthMethod, Principal, first_of};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_ratelimit::{Limit, RateLimiter};

use super::api;
use crate::app::AppState;

/// The fixed principal of the floor routes: no scopes, no roles, method `bench_floor`.
fn principal() -> Principal {
    Principal::new("bench-floor", AuthMethod::Custom("bench_floor".into()))
}

/// The floor routes (see the module docs).
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let fixed = principal();
    let bare = move || {
        let principal = fixed.clone();
        async move { api::body(&principal) }
    };
    let fixed = principal();
    let accept_all = move |_: &Request<Body>| -> Result<Principal, AuthError> { Ok(fixed.clone()) };
    Router::new()
        .route("/bench/whoami", get(bare.clone()))
        .route(
            "/bench/whoami/layered",
            get(bare).layer(MapRequestLayer::new(|request: Request<Body>| request)),
        )
        .route(
            "/bench/whoami/engine",
            get(api::whoami).layer(AuthLayer::new(accept_all)),
        )
        .route(
            "/bench/api/whoami-limited",
            get(api::whoami).layer(
                ServiceBuilder::new()
                    .layer(state.api_throttle.layer())
                    .layer(AuthLayer::new(
                        first_of(state.keys.authenticator(), state.jwt.clone())
                            .or(state.sessions.clone()),
                    ))
                    .layer(limiter().layer()),
            ),
        )
}

/// A limit no load run reaches: a million requests a second per identity.
fn limiter() -> RateLimiter {
    RateLimiter::builder()
        .limit(Limit::per_second("bench", 1_000_000))
        .build()
        .expect("a valid limit")
}
