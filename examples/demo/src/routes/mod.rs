//! The routes: `/health`, `/api/*`, `/auth/*`, `/oauth/*` and the dashboard.

mod api;
mod auth;
mod dashboard;
mod floors;
mod login;

use auth_core::first_of;
use auth_core::require_scopes;
use auth_core::{AuthLayer, Rejection};
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::header::CONTENT_TYPE;
use tower::ServiceBuilder;
use tower_oauth::LoginRedirect;

use crate::app::AppState;

/// The stylesheet, embedded.
const STYLE: &str = include_str!("../../templates/style.css");
/// The dashboard's one script (the new key's copy button), embedded.
const SCRIPT: &str = include_str!("../../templates/dashboard.js");

/// Every route; with `bench_floors`, also the `/bench/whoami*` floor routes (no
/// credential checked: `DEMO_BENCH_FLOORS=on`, for load runs only).
pub(crate) fn router(state: AppState, bench_floors: bool) -> Router {
    let api_auth = first_of(state.keys.authenticator(), state.introspection.clone())
        .or(state.jwt.clone())
        .or(state.sessions.clone());
    // Every challenge names the RFC 9728 metadata, served at its well-known path.
    let rejection = match &state.resource_metadata {
        Some(metadata) => Rejection::new().resource_metadata(metadata),
        None => Rejection::new(),
    };
    let mut api = Router::new()
        .route("/api/whoami", get(api::whoami))
        .route(
            "/api/admin",
            get(api::whoami).route_layer(require_scopes(["admin"]).on_rejection(rejection.clone())),
        )
        // One `layer` call for the three (outermost first): axum boxes each call's result
        // and clones every box per request.
        .layer(
            ServiceBuilder::new()
                // Refused credentials counted per client address.
                .layer(state.api_throttle.layer())
                .layer(AuthLayer::new(api_auth).on_rejection(rejection))
                // Each API key's own rate and quota (refusals counted in the key's usage).
                .layer(
                    api::key_limiter()
                        .layer()
                        .on_rejection(api::CountLimited::new(state.keys.clone())),
                ),
        );
    if let Some(metadata) = &state.resource_metadata {
        api = api.route_service(metadata.path(), metadata.service());
    }

    let auth = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route(
            "/auth/logout",
            post(auth::logout).route_layer(AuthLayer::new(state.jwt.clone())),
        );

    let to_home = LoginRedirect::to("/").expect("`/` is a same-origin path");
    let forms = Router::new()
        .route("/dashboard/keys", post(dashboard::create_key))
        .route(
            "/dashboard/keys/{id}/revoke",
            get(dashboard::confirm_revoke).post(dashboard::revoke_key),
        )
        .route(
            "/dashboard/keys/{id}/rotate",
            get(dashboard::confirm_rotate).post(dashboard::rotate_key),
        )
        .layer(AuthLayer::new(state.sessions.clone()).on_rejection(to_home));
    let home = Router::new()
        .route("/", get(dashboard::home))
        .layer(AuthLayer::new(state.sessions.clone()).optional());

    let mut router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/static/style.css", get(style))
        .route("/static/dashboard.js", get(script))
        .merge(api)
        .merge(auth)
        .merge(forms)
        .merge(home)
        .route("/dashboard/login", post(login::login))
        .nest_service("/oauth", state.oauth.routes());
    if bench_floors {
        router = router.merge(floors::router());
    }
    router.with_state(state)
}

async fn style() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

async fn script() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}
