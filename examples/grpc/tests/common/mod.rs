//! The test server and clients: a notes service on loopback behind the example's layers,
//! HS256 tokens signed here, and requests carrying credentials in metadata.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::uri::PathAndQuery;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_prost::ProstCodec;
use tower_apikey::{ApiKeys, MemoryApiKeyStore};
use tower_jwt::JwtAuthenticator;
use towerauth_grpc_example::pb::{WhoAmIRequest, WhoAmIResponse};
use towerauth_grpc_example::{NotesService, auth_layer, hs256_verifier, serve};

const SECRET: &[u8] = b"grpc-example-test-secret-0123456789abcdef";
const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "notes-api";

pub(crate) struct Server {
    pub(crate) channel: Channel,
    pub(crate) keys: ApiKeys,
    _stop: oneshot::Sender<()>,
}

pub(crate) async fn start() -> Server {
    start_with(ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap()).await
}

pub(crate) async fn start_with(keys: ApiKeys) -> Server {
    let verifier = hs256_verifier(ISSUER, AUDIENCE, SECRET).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        auth_layer(&keys, JwtAuthenticator::new(verifier)),
        NotesService::new(),
        async {
            let _ = stopped.await;
        },
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    Server {
        channel,
        keys,
        _stop: stop,
    }
}

pub(crate) struct Claims<'a> {
    pub(crate) secret: &'a [u8],
    pub(crate) typ: &'a str,
    pub(crate) sub: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) exp_in: i64,
}

impl Default for Claims<'_> {
    fn default() -> Self {
        Self {
            secret: SECRET,
            typ: "at+jwt",
            sub: "alice",
            scope: "notes:read notes:write",
            exp_in: 300,
        }
    }
}

pub(crate) fn jwt(claims: &Claims<'_>) -> String {
    static JTI: AtomicU64 = AtomicU64::new(1);
    // jsonwebtoken needs a process-wide crypto provider when several backends are built in.
    tower_jwt::ensure_crypto_backend().unwrap();
    let now = i64::try_from(get_current_timestamp()).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(claims.typ.to_owned());
    let body = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": claims.sub,
        "iat": now - 10, "nbf": now - 10, "exp": now + claims.exp_in,
        "jti": format!("jti-{}", JTI.fetch_add(1, Ordering::Relaxed)),
        "scope": claims.scope,
    });
    encode(
        &header,
        &body,
        &EncodingKey::from_secret(claims.secret).unwrap(),
    )
    .unwrap()
}

pub(crate) fn with<T>(message: T, header: &'static str, value: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(header, value.parse().unwrap());
    request
}

pub(crate) fn bearer<T>(message: T, token: &str) -> Request<T> {
    with(message, "authorization", &format!("Bearer {token}"))
}

/// Calls `path` with a `WhoAmI` message, as a client built from another `.proto` would.
pub(crate) async fn call_path(
    channel: Channel,
    path: &'static str,
    token: Option<&str>,
) -> Result<WhoAmIResponse, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let request = match token {
        Some(token) => bearer(WhoAmIRequest {}, token),
        None => Request::new(WhoAmIRequest {}),
    };
    let codec = ProstCodec::<WhoAmIRequest, WhoAmIResponse>::default();
    grpc.unary(request, PathAndQuery::from_static(path), codec)
        .await
        .map(tonic::Response::into_inner)
}
