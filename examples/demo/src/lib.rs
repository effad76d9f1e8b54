//! The towerauth demo server: one axum application using the three authentication
//! methods of the workspace the way a product would.
//!
//! * `/api/whoami` and `/api/admin` accept an API key (`tower-apikey`), a JWT access token
//!   (`tower-jwt`: the demo's own HS256 tokens, or an OpenID provider's), or a session
//!   cookie (`tower-oauth`), through `auth_core::first_of`.
//! * `/auth/login`, `/auth/refresh`, `/auth/logout`: password login issuing access and
//!   refresh tokens, refresh rotation with reuse detection, logout.
//! * `/oauth/{provider}/…`: "Log in with OIDC / GitHub", creating a session.
//! * `/`: the dashboard where a logged-in user creates, sees and revokes API keys.
//!
//! The binary (`demo`) serves it (HTTPS with `DEMO_TLS_CERT` / `DEMO_TLS_KEY`) and offers
//! `demo keys …`, `demo token …` and `demo cert`; see the
//! crate's README for the environment variables.

pub mod app;
pub mod cli;
pub mod config;
mod routes;
mod serve;
pub mod session;
mod templates;
mod tls;
pub mod users;

pub use app::{Demo, build};
pub use config::Config;

/// The workspace README's Rust examples, compiled as doc tests so they cannot drift from
/// the crates (`cargo test -p towerauth-demo --doc`).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
