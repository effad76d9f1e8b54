//! The real provider (oidc-provider, started here so a test can stop and resume its
//! process), a loopback proxy that counts introspection requests, and an app behind the
//! introspection layer.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::{AuthLayer, Authenticate, Authenticated, Principal, require_scopes};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_introspect::{Introspected, Introspection, IntrospectionBuilder};

/// The provider (`testkit`'s oidc-provider), killed on drop.
pub struct Provider {
    pub issuer: String,
    process: testkit::OidcProvider,
}

impl Provider {
    pub fn start() -> Self {
        let process = testkit::OidcProvider::start();
        Self {
            issuer: process.issuer.clone(),
            process,
        }
    }

    /// Stops the process (SIGSTOP): connections are accepted by the kernel, never answered.
    pub fn pause(&self) {
        self.process.pause();
    }

    /// Resumes a paused process (SIGCONT).
    pub fn resume(&self) {
        self.process.resume();
    }

    /// An opaque client-credentials access token of `client` (`intro-app`, `intro-short`).
    pub async fn opaque_token(&self, client: &str, scope: &str) -> String {
        self.token(
            client,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await
    }

    /// A JWT access token (RFC 9068) of `api-m2m` for `urn:towerauth:api`.
    pub async fn jwt_token(&self) -> String {
        self.token(
            "api-m2m",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "api:read"),
                ("resource", "urn:towerauth:api"),
            ],
        )
        .await
    }

    async fn token(&self, client: &str, form: &[(&str, &str)]) -> String {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .form(form)
            .send()
            .await
            .expect("the token endpoint")
            .json()
            .await
            .expect("a JSON token response");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {body}"))
            .to_owned()
    }

    /// Revokes `token` at the provider (RFC 7009), as the client it was issued to.
    pub async fn revoke(&self, client: &str, token: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .form(&[("token", token)])
            .send()
            .await
            .expect("the revocation endpoint");
        assert_eq!(response.status(), 200);
    }
}

/// A loopback HTTP proxy in front of the provider that counts the requests to its
/// introspection endpoint.
pub struct CountingProxy {
    pub url: String,
    count: Arc<AtomicUsize>,
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Self {
        let count = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_owned();
        let client = reqwest::Client::new();
        let counter = Arc::clone(&count);
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (client, upstream, counter) =
                    (client.clone(), upstream.clone(), Arc::clone(&counter));
                async move {
                    if uri.path() == "/token/introspection" {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    let mut request = client.request(method, format!("{upstream}{uri}"));
                    for name in ["authorization", "content-type", "accept"] {
                        if let Some(value) = headers.get(name) {
                            request = request.header(name, value);
                        }
                    }
                    match request.body(body).send().await {
                        Ok(response) => {
                            let status = response.status();
                            let content_type = response.headers().get("content-type").cloned();
                            let bytes = response.bytes().await.unwrap_or_default();
                            let mut answer = (status, bytes).into_response();
                            if let Some(content_type) = content_type {
                                answer.headers_mut().insert("content-type", content_type);
                            }
                            answer
                        }
                        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, count }
    }

    /// Introspection requests so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// The configuration the tests start from: `intro-rs` asking `endpoint` about tokens of
/// `issuer`.
pub fn builder(issuer: &str, endpoint: &str) -> IntrospectionBuilder {
    Introspection::builder(issuer)
        .endpoint(format!("{endpoint}/token/introspection"))
        .client_id("intro-rs")
        .client_secret("intro-rs-secret")
        .insecure_http_loopback()
}

/// `/read` needs scope `read`, `/write` scope `write`; both answer the caller as JSON.
pub fn app<A>(authenticator: A) -> Router
where
    A: Authenticate<Body> + Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
{
    async fn whoami(principal: Principal) -> axum::Json<Principal> {
        axum::Json(principal)
    }
    Router::new()
        .route("/read", get(whoami).layer(require_scopes(["read"])))
        .route("/write", get(whoami).layer(require_scopes(["write"])))
        .route(
            "/client",
            get(
                |Authenticated(id): Authenticated<Introspected>| async move {
                    id.client_id().unwrap_or_default().to_owned()
                },
            ),
        )
        .layer(AuthLayer::new(authenticator))
}

/// The status and the refusal's reason for one request to `/read` with `opaque-token`.
pub async fn read_verdict(introspection: &Introspection) -> (StatusCode, Option<&'static str>) {
    let request = Request::builder()
        .uri("/read")
        .header("authorization", "Bearer opaque-token")
        .body(Body::empty())
        .unwrap();
    let response = app(introspection.authenticator())
        .oneshot(request)
        .await
        .unwrap();
    let reason = response
        .extensions()
        .get::<auth_core::AuthError>()
        .map(auth_core::AuthError::reason);
    (response.status(), reason)
}

/// GET `path` with `token`: the status, the body as JSON (or `null`), and
/// `WWW-Authenticate`.
pub async fn get_with(
    app: &Router,
    path: &str,
    token: &str,
) -> (StatusCode, serde_json::Value, String) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    (status, body, challenge)
}
