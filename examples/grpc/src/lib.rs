//! # towerauth gRPC example
//!
//! A tonic notes service behind the same API-key and JWT layers an HTTP API uses, stacked
//! with [`tower::ServiceBuilder`]:
//!
//! 1. [`auth_layer`]: `AuthLayer::new(first_of(api_keys, jwt))`. An `sk_…` key (in
//!    `authorization: Bearer` or `x-api-key` metadata) is checked by `tower-apikey`; any
//!    other bearer token by `tower-jwt`. No credential, or a refused one, answers
//!    `UNAUTHENTICATED` before the service runs; a store or key-set outage `UNAVAILABLE`.
//! 2. auth-core's [`require_scopes_per_path`] over the [`notes_scopes`] table, keyed by the
//!    method's path (`/towerauth.example.v1.Notes/…`): `WhoAmI` for any authenticated
//!    caller, `ListNotes` needs `notes:read`, `CreateNote` needs `notes:write`. A method not
//!    listed is refused (`PERMISSION_DENIED`), so an RPC added to the `.proto` stays closed
//!    until it is given a rule.
//! 3. [`NotesService`]: handlers read the [`Principal`](auth_core::Principal) from
//!    `tonic::Request::extensions()` and, for what only one method knows, the identity of
//!    the method that authenticated the call: `tower_apikey::ApiKeyIdentity` or
//!    `tower_jwt::Claims`.
//!
//! auth-core answers gRPC requests in gRPC's form (HTTP 200, `grpc-status` 16 / 7 / 14), so
//! clients see ordinary `tonic::Status` codes.
//!
//! ```
//! use tonic::{Code, Request};
//! use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey};
//! use tower_jwt::JwtAuthenticator;
//! use towerauth_grpc_example::pb::{notes_client::NotesClient, WhoAmIRequest};
//! use towerauth_grpc_example::{NotesService, auth_layer, hs256_verifier, serve};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build()?;
//! let verifier = hs256_verifier("https://auth.example.com", "notes-api", b"a 32-byte or longer HS256 secret!")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let auth = auth_layer(&keys, JwtAuthenticator::new(verifier));
//! tokio::spawn(serve(listener, auth, NotesService::new(), std::future::pending()));
//!
//! let mut client = NotesClient::connect(format!("http://{addr}")).await?;
//! let status = client.who_am_i(WhoAmIRequest {}).await.unwrap_err();
//! assert_eq!(status.code(), Code::Unauthenticated);
//!
//! let created = keys.create(NewKey::new("acme")).await?;
//! let mut request = Request::new(WhoAmIRequest {});
//! request.metadata_mut().insert("x-api-key", created.key.expose().parse()?);
//! assert_eq!(client.who_am_i(request).await?.into_inner().subject, "acme");
//! # Ok(()) }
//! ```

use std::future::Future;

use auth_core::{AuthLayer, ConfigError, FirstOf, first_of, require_scopes_per_path};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower::ServiceBuilder;
use tower_apikey::{ApiKeyAuthenticator, ApiKeys};
use tower_jwt::{IssuerConfig, JwtAuthenticator, JwtVerifier};

mod service;

pub use service::{MAX_NOTE_LENGTH, NotesService};

/// The code generated from `proto/notes.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("towerauth.example.v1");
}

/// The authenticator: an API key first, else a JWT. The layer inserts the identity of the
/// method that authenticated the call (`tower_apikey::ApiKeyIdentity` or
/// `tower_jwt::Claims`) beside its [`Principal`](auth_core::Principal).
pub type CallerAuthenticator = FirstOf<ApiKeyAuthenticator, JwtAuthenticator>;

/// Scope needed by `ListNotes`.
pub const READ_SCOPE: &str = "notes:read";
/// Scope needed by `CreateNote`.
pub const WRITE_SCOPE: &str = "notes:write";

/// The authentication layer: API keys from `keys`, then JWTs through `jwt`.
#[must_use]
pub fn auth_layer(keys: &ApiKeys, jwt: JwtAuthenticator) -> AuthLayer<CallerAuthenticator> {
    AuthLayer::new(first_of(keys.authenticator(), jwt))
}

/// The access rules of the `Notes` service: each method's path and the scopes it needs.
/// `WhoAmI` needs none (any authenticated caller), `ListNotes` [`READ_SCOPE`], `CreateNote`
/// [`WRITE_SCOPE`]. [`serve`] enforces them with [`require_scopes_per_path`] inside the
/// authentication layer, so a call to a path not listed here is refused with
/// `PERMISSION_DENIED`.
#[must_use]
pub fn notes_scopes() -> Vec<(String, Vec<&'static str>)> {
    use pb::notes_server::NotesServer;
    use tonic::server::NamedService;

    let path = |method: &str| format!("/{}/{method}", NotesServer::<NotesService>::NAME);
    vec![
        (path("WhoAmI"), vec![]),
        (path("ListNotes"), vec![READ_SCOPE]),
        (path("CreateNote"), vec![WRITE_SCOPE]),
    ]
}

/// A JWT verifier for HS256 access tokens (`typ: at+jwt`) from `issuer` for `audience`.
///
/// # Errors
///
/// A [`ConfigError`] for a secret shorter than 32 bytes or an empty issuer or audience.
pub fn hs256_verifier(
    issuer: &str,
    audience: &str,
    secret: &[u8],
) -> Result<JwtVerifier, ConfigError> {
    JwtVerifier::new(
        IssuerConfig::builder(issuer)
            .audience(audience)
            .hmac_secret(secret)
            .build()?,
    )
}

/// Serves `notes` on `listener` behind `auth` and the [`notes_scopes`] rules, until
/// `shutdown` completes.
///
/// # Errors
///
/// A transport error from tonic.
pub async fn serve<F>(
    listener: TcpListener,
    auth: AuthLayer<CallerAuthenticator>,
    notes: NotesService,
    shutdown: F,
) -> Result<(), tonic::transport::Error>
where
    F: Future<Output = ()> + Send,
{
    let layers = ServiceBuilder::new()
        .layer(auth)
        .layer(require_scopes_per_path(notes_scopes()))
        .into_inner();
    Server::builder()
        .layer(layers)
        .add_service(pb::notes_server::NotesServer::new(notes))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}
