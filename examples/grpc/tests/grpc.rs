//! The notes service over loopback with a real tonic client: UNAUTHENTICATED,
//! PERMISSION_DENIED and success, with API keys and JWTs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Request};
use tower_apikey::{ApiKeys, MemoryStore, NewKey, store};
use tower_jwt::JwtAuthenticator;
use towerauth_grpc_example::pb::notes_client::NotesClient;
use towerauth_grpc_example::pb::{CreateNoteRequest, ListNotesRequest, WhoAmIRequest};
use towerauth_grpc_example::{
    MAX_NOTE_LENGTH, NotesService, READ_SCOPE, WRITE_SCOPE, auth_layer, hs256_verifier, serve,
};

const SECRET: &[u8] = b"grpc-example-test-secret-0123456789abcdef";
const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "notes-api";

struct Server {
    channel: Channel,
    keys: ApiKeys,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Server {
    start_with(ApiKeys::builder(MemoryStore::new()).build().unwrap()).await
}

async fn start_with(keys: ApiKeys) -> Server {
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

struct Claims<'a> {
    secret: &'a [u8],
    typ: &'a str,
    sub: &'a str,
    scope: &'a str,
    exp_in: i64,
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

fn jwt(claims: &Claims<'_>) -> String {
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

fn with<T>(message: T, header: &'static str, value: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(header, value.parse().unwrap());
    request
}

fn bearer<T>(message: T, token: &str) -> Request<T> {
    with(message, "authorization", &format!("Bearer {token}"))
}

#[tokio::test]
async fn no_or_bad_credentials_are_unauthenticated() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());

    let status = client
        .who_am_i(Request::new(WhoAmIRequest {}))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "authentication is required");

    let refused = [
        // Signed with another secret.
        bearer(
            WhoAmIRequest {},
            &jwt(&Claims {
                secret: b"another-secret-another-secret-0123456789",
                ..Claims::default()
            }),
        ),
        // Expired, well past the leeway.
        bearer(
            WhoAmIRequest {},
            &jwt(&Claims {
                exp_in: -600,
                ..Claims::default()
            }),
        ),
        // An ID token where an access token is expected.
        bearer(
            WhoAmIRequest {},
            &jwt(&Claims {
                typ: "JWT",
                ..Claims::default()
            }),
        ),
        bearer(WhoAmIRequest {}, "not-a-token"),
        // Key-shaped but unknown (bad checksum), in each place a key is read.
        bearer(WhoAmIRequest {}, &format!("sk_live_{}", "A".repeat(61))),
        with(WhoAmIRequest {}, "x-api-key", "sk_live_garbage"),
    ];
    for request in refused {
        let status = client.who_am_i(request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_unauthenticated() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let created = server
        .keys
        .create(NewKey::new("acme").scopes([READ_SCOPE]))
        .await
        .unwrap();
    let key = created.key.expose();
    assert!(
        client
            .who_am_i(with(WhoAmIRequest {}, "x-api-key", key))
            .await
            .is_ok()
    );

    server.keys.revoke(&created.info.id).await.unwrap();
    let status = client
        .who_am_i(with(WhoAmIRequest {}, "x-api-key", key))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the API key is not valid");
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let reader = server
        .keys
        .create(NewKey::new("acme").scopes([READ_SCOPE]))
        .await
        .unwrap();

    let note = || CreateNoteRequest {
        text: "hello".to_owned(),
    };
    let status = client
        .create_note(bearer(note(), reader.key.expose()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "the credential lacks a required scope");

    let read_only = jwt(&Claims {
        scope: READ_SCOPE,
        ..Claims::default()
    });
    let status = client
        .create_note(bearer(note(), &read_only))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // Reading is allowed with the same token, and nothing was written.
    let listed = client
        .list_notes(bearer(ListNotesRequest {}, &read_only))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.notes.is_empty());

    let no_scopes = jwt(&Claims {
        scope: "",
        ..Claims::default()
    });
    let status = client
        .list_notes(bearer(ListNotesRequest {}, &no_scopes))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // WhoAmI needs no scope.
    assert!(
        client
            .who_am_i(bearer(WhoAmIRequest {}, &no_scopes))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn api_key_callers_reach_the_handler() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let created = server
        .keys
        .create(NewKey::new("acme").scopes([READ_SCOPE, WRITE_SCOPE]))
        .await
        .unwrap();
    let key = created.key.expose();

    // Both places a key is read: `authorization: Bearer` and `x-api-key`.
    for request in [
        bearer(WhoAmIRequest {}, key),
        with(WhoAmIRequest {}, "x-api-key", key),
    ] {
        let me = client.who_am_i(request).await.unwrap().into_inner();
        assert_eq!(me.subject, "acme");
        assert_eq!(me.method, "api_key");
        assert_eq!(me.credential_id, created.info.id);
        assert_eq!(me.scopes, [READ_SCOPE, WRITE_SCOPE]);
    }

    let note = client
        .create_note(with(
            CreateNoteRequest {
                text: "from a key".to_owned(),
            },
            "x-api-key",
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.author, "acme");
    assert_eq!(note.text, "from a key");
}

#[tokio::test]
async fn jwt_callers_reach_the_handler() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let token = jwt(&Claims::default());

    let me = client
        .who_am_i(bearer(WhoAmIRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject, "alice");
    assert_eq!(me.method, "jwt");
    assert!(me.credential_id.starts_with("jti-"));
    assert_eq!(me.scopes, [READ_SCOPE, WRITE_SCOPE]);

    let created = client
        .create_note(bearer(
            CreateNoteRequest {
                text: "from a token".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.author, "alice");

    // Notes are per subject: bob sees none of alice's.
    let listed = client
        .list_notes(bearer(ListNotesRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.notes, [created]);
    let bob = jwt(&Claims {
        sub: "bob",
        ..Claims::default()
    });
    let listed = client
        .list_notes(bearer(ListNotesRequest {}, &bob))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.notes.is_empty());
}

#[tokio::test]
async fn bad_note_text_is_invalid_argument() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let token = jwt(&Claims::default());
    for text in [" ".to_owned(), "x".repeat(MAX_NOTE_LENGTH + 1)] {
        let status = client
            .create_note(bearer(CreateNoteRequest { text }, &token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn a_key_store_outage_is_unavailable_not_unauthenticated() {
    let sql = store::connect("sqlite::memory:").await.unwrap();
    let server = start_with(ApiKeys::builder(sql.clone()).build().unwrap()).await;
    let mut client = NotesClient::new(server.channel.clone());
    let used = server.keys.create(NewKey::new("acme")).await.unwrap();
    let unused = server.keys.create(NewKey::new("acme")).await.unwrap();
    // First use caches the key's record.
    assert!(
        client
            .who_am_i(with(WhoAmIRequest {}, "x-api-key", used.key.expose()))
            .await
            .is_ok()
    );

    sql.close().await;
    // Cached: still served while the store is down.
    assert!(
        client
            .who_am_i(with(WhoAmIRequest {}, "x-api-key", used.key.expose()))
            .await
            .is_ok()
    );
    // Not cached: the key cannot be checked, which is not the caller's fault.
    let status = client
        .who_am_i(with(WhoAmIRequest {}, "x-api-key", unused.key.expose()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}
