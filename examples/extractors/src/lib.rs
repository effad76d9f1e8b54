//! # towerauth custom extractors example
//!
//! An axum app whose handlers say in their signatures what they need, on top of auth-core's
//! extractors ([`Principal`](auth_core::Principal),
//! [`Authenticated<I>`](auth_core::Authenticated), [`RequireScope<S>`](auth_core::RequireScope)):
//!
//! * [`CurrentUser`]: an app-defined extractor that loads the caller's account from the
//!   app's [`UserRepository`] by the principal's subject: 401 anonymous, 404 unknown
//!   account, 403 disabled account, JSON bodies. `Option<CurrentUser>` for pages anonymous
//!   callers may see.
//! * `RequireScope<Write>`: auth-core's typed scope guard over the example's scope marker
//!   types [`Read`] and [`Write`] (each implements [`ScopeName`](auth_core::ScopeName)). A
//!   caller without the scope gets 403 and an RFC 6750 `insufficient_scope` challenge
//!   naming it, before the handler runs.
//! * [`StaticTokens`]: a small custom authentication method (a static token table), so the
//!   example needs nothing else; `tokens.layer()` is its `AuthLayer`.
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use towerauth_extractors_example::{app, demo_users, StaticTokens};
//! use auth_core::{AuthMethod, Principal};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let tokens = StaticTokens::new().token(
//!     "t-bob",
//!     Principal::new("bob", AuthMethod::Custom("static".into())).with_scopes(["notes:read"]),
//! );
//! let app = app(tokens, demo_users());
//!
//! let post = |auth: &str| {
//!     Request::post("/notes")
//!         .header("authorization", auth)
//!         .header("content-type", "application/json")
//!         .body(Body::from(r#"{"text":"hi"}"#))
//!         .unwrap()
//! };
//! let res = app.clone().oneshot(post("Bearer t-bob")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! assert!(res.headers()["www-authenticate"].to_str().unwrap().ends_with(r#"scope="notes:write""#));
//!
//! let res = app.oneshot(post("Bearer t-nobody")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

mod current_user;
mod error;
mod routes;
mod scopes;
mod tokens;
mod users;

pub use current_user::{CurrentUser, CurrentUserRejection};
pub use routes::{AppState, MAX_NOTE_LENGTH, Note, app};
pub use scopes::{Read, Write};
pub use tokens::StaticTokens;
pub use users::{User, UserRepository};

/// The example's accounts: `alice` and `bob` (enabled), `carol` (disabled).
#[must_use]
pub fn demo_users() -> UserRepository {
    let users = UserRepository::new();
    users.insert(User::new("alice", "Alice", "alice@example.com"));
    users.insert(User::new("bob", "Bob", "bob@example.com"));
    users.insert(User::new("carol", "Carol", "carol@example.com").disabled());
    users
}
