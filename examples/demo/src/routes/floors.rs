//! `/bench/whoami*` (only with `DEMO_BENCH_FLOORS=on`): the whoami JSON for a fixed
//! principal, with no credential checked, so a load run can split the gap between
//! `/health` and an authenticated `/api/whoami` into what the route costs, what axum
//! charges any layered route, and what the authentication engine adds before any method:
//!
//! * `/bench/whoami`: the handler alone, no layer;
//! * `/bench/whoami/layered`: behind a tower layer that does nothing;
//! * `/bench/whoami/engine`: behind an [`AuthLayer`] whose authenticator accepts every
//!   request as the fixed principal.
//!
//! What a key's own rate limit adds is measured on `/api/whoami` itself, with a key that
//! has one. The criterion bench `whoami` measures the same routes in process.

use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::util::MapRequestLayer;

use super::api;
use crate::app::AppState;

/// The fixed principal of the floor routes: no scopes, no roles, method `bench_floor`.
fn principal() -> Principal {
    Principal::new("bench-floor", AuthMethod::Custom("bench_floor".into()))
}

/// The floor routes (see the module docs).
pub(crate) fn router() -> Router<AppState> {
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
}
