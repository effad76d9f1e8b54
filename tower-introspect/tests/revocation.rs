//! The revocation store, checked on every request: a local endpoint vouches for the token,
//! the store refuses it, and no request reaches the endpoint again.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use auth_core::StoreError;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use common::read_verdict;
use tower_introspect::Introspection;
use tower_jwt::revocation::{
    MemoryRevocationStore, Revocation, RevocationStatus, RevocationStore, TokenRef,
};

const ISSUER: &str = "https://as.example";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// An endpoint answering `body` for every token, and how many requests reached it.
async fn endpoint(body: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = Router::new().route(
        "/introspect",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

/// alice's token `j-1`, issued 10 s ago, for 10 minutes.
fn alice() -> String {
    let now = now();
    format!(
        r#"{{"active":true,"sub":"alice","jti":"j-1","scope":"read","iat":{},"exp":{}}}"#,
        now - 10,
        now + 600
    )
}

fn introspection(url: &str, store: Arc<dyn RevocationStore>) -> Introspection {
    Introspection::builder(ISSUER)
        .endpoint(url)
        .client_id("intro-rs")
        .client_secret("intro-rs-secret")
        .insecure_http_loopback()
        .revocation(store)
        .build()
        .unwrap()
}

const OK: (StatusCode, Option<&str>) = (StatusCode::OK, None);
const REVOKED: (StatusCode, Option<&str>) = (StatusCode::UNAUTHORIZED, Some("revoked"));

#[tokio::test]
async fn a_cached_token_revoked_by_jti_is_refused_without_asking() {
    let (url, hits) = endpoint(alice()).await;
    let store = Arc::new(MemoryRevocationStore::new());
    let introspection = introspection(&url, store.clone());
    assert_eq!(read_verdict(&introspection).await, OK);
    assert_eq!(read_verdict(&introspection).await, OK);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Another issuer's `j-1` is another token.
    let exp = at(now() + 600);
    store
        .revoke(Revocation::token("https://other.example", "j-1", exp))
        .await
        .unwrap();
    assert_eq!(read_verdict(&introspection).await, OK);

    store
        .revoke(Revocation::token(ISSUER, "j-1", exp))
        .await
        .unwrap();
    assert_eq!(read_verdict(&introspection).await, REVOKED);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_fresh_answer_for_a_revoked_token_is_refused() {
    let (url, hits) = endpoint(alice()).await;
    let store = Arc::new(MemoryRevocationStore::new());
    store
        .revoke(Revocation::token(ISSUER, "j-1", at(now() + 600)))
        .await
        .unwrap();
    assert_eq!(read_verdict(&introspection(&url, store)).await, REVOKED);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_subject_revocation_covers_tokens_issued_before_it_only() {
    let store = Arc::new(MemoryRevocationStore::new());
    let until = at(now() + 3600);
    // Before alice's token was issued: her token stands.
    store
        .revoke(Revocation::subject(ISSUER, "alice", at(now() - 60), until))
        .await
        .unwrap();
    let (url, _) = endpoint(alice()).await;
    let before = introspection(&url, store.clone());
    assert_eq!(read_verdict(&before).await, OK);
    // After it: refused, cached or not.
    store
        .revoke(Revocation::subject(ISSUER, "alice", at(now()), until))
        .await
        .unwrap();
    assert_eq!(read_verdict(&before).await, REVOKED);
    assert_eq!(
        read_verdict(&introspection(&url, store.clone())).await,
        REVOKED
    );

    // An answer without `iat` counts as issued at the epoch: covered by any such revocation.
    let no_iat = format!(r#"{{"active":true,"sub":"alice","exp":{}}}"#, now() + 600);
    let (url, _) = endpoint(no_iat).await;
    assert_eq!(read_verdict(&introspection(&url, store)).await, REVOKED);
}

/// A store that has lost its source of truth and fails closed.
#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl RevocationStore for Unreachable {
    fn check(&self, _: &TokenRef<'_>) -> RevocationStatus {
        RevocationStatus::Unavailable
    }
    async fn revoke(&self, _: Revocation) -> Result<(), StoreError> {
        Ok(())
    }
    fn leeway(&self) -> Duration {
        Duration::MAX
    }
}

#[tokio::test]
async fn a_store_that_cannot_answer_is_503() {
    let (url, _) = endpoint(alice()).await;
    assert_eq!(
        read_verdict(&introspection(&url, Arc::new(Unreachable))).await,
        (StatusCode::SERVICE_UNAVAILABLE, Some("revocation"))
    );
}
