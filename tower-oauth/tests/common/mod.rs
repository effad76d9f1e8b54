//! Shared harness: the real provider, a browser for it, and an application using
//! tower-oauth behind axum.
#![allow(dead_code, unused_imports, unreachable_pub, missing_docs)]

pub mod browser;
pub mod provider;
pub mod token_server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_oauth::{
    LoginRedirect, MapUserError, OAuthClient, OAuthClientBuilder, OAuthSession, Provider,
    ProviderIdentity, SessionUser,
};

pub use browser::{APP, ProviderBrowser, param, path_and_query, with_param};
pub use provider::OidcProvider;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

impl SessionUser for User {
    fn subject(&self) -> String {
        self.id.clone()
    }
    fn scopes(&self) -> Vec<String> {
        vec!["read".to_owned()]
    }
}

/// Users created by the mapping hook, keyed by (provider, subject).
pub type Users = Arc<Mutex<HashMap<(String, String), User>>>;

/// The provider `name` for client `client_id` of a running oidc-provider.
pub fn oidc(name: &str, op: &OidcProvider, client_id: &str) -> Provider {
    Provider::oidc(name, &op.issuer, client_id, &format!("{client_id}-secret"))
}

/// A builder with a random cookie key and a mapping hook creating users at first login.
pub fn builder(users: &Users) -> OAuthClientBuilder<User> {
    let users = Arc::clone(users);
    OAuthClient::<User>::builder(APP)
        .cookie_key(&rand_key())
        .map_user(move |who: ProviderIdentity| {
            let users = Arc::clone(&users);
            async move {
                if who.subject == "mallory" {
                    return Err(MapUserError::denied("mallory is banned"));
                }
                let mut users = users.lock().unwrap();
                let next = users.len() + 1;
                let user = users
                    .entry((who.provider.clone(), who.subject.clone()))
                    .or_insert_with(|| User {
                        id: format!("user-{next}"),
                        email: who.email.clone(),
                        name: who.name.clone(),
                    });
                Ok(user.clone())
            }
        })
}

pub fn rand_key() -> Vec<u8> {
    (0..64).map(|_| rand::random::<u8>()).collect()
}

async fn whoami(Extension(session): Extension<OAuthSession<User>>) -> Json<Value> {
    Json(json!({
        "subject": session.principal().subject(),
        "method": session.principal().method().as_str(),
        "scopes": session.principal().scopes(),
        "provider": session.provider(),
        "email": session.user().email,
        "csrf_token": session.csrf_token(),
    }))
}

use auth_core::Identity as _;

/// The application: `/api/whoami` (401 JSON when anonymous), `/dashboard` (303 to `/`
/// when anonymous), `/oauth/...` login routes.
pub struct TestApp {
    pub client: OAuthClient<User>,
    router: Router,
}

impl TestApp {
    pub fn new(client: OAuthClient<User>) -> Self {
        let router = Router::new()
            .route("/api/whoami", get(whoami).route_layer(client.layer()))
            .route(
                "/dashboard",
                get(whoami)
                    .route_layer(client.layer().on_rejection(LoginRedirect::to("/").unwrap())),
            )
            .nest_service("/oauth", client.routes());
        Self { client, router }
    }

    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    pub async fn get(&self, path: &str, jar: &Jar) -> Response<Body> {
        self.send(
            Request::get(path)
                .header(COOKIE, jar.header())
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// `(status, JSON body)` of `/api/whoami` with `jar`'s cookies.
    pub async fn whoami(&self, jar: &Jar) -> (StatusCode, Value) {
        let res = self.get("/api/whoami", jar).await;
        let status = res.status();
        (status, body_json(res).await)
    }

    /// `GET /oauth/{provider}/login?return_to=...`: the response (303 to the provider).
    pub async fn start_login(&self, provider: &str, query: &str, jar: &mut Jar) -> String {
        let res = self
            .get(&format!("/oauth/{provider}/login{query}"), jar)
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login must redirect");
        jar.store(&res);
        location(&res)
    }

    /// A whole login with `user` at `provider`; the callback's response.
    pub async fn login(
        &self,
        provider: &str,
        user: &str,
        jar: &mut Jar,
        op: &mut ProviderBrowser,
    ) -> Response<Body> {
        let authorize = self
            .start_login(
                provider,
                &format!("?login_hint={user}&return_to=/dashboard"),
                jar,
            )
            .await;
        let callback = op.authorize(&authorize).await;
        let res = self.get(&path_and_query(&callback), jar).await;
        jar.store(&res);
        res
    }

    /// `POST /oauth/logout` with `csrf_token`.
    pub async fn logout(&self, jar: &Jar, csrf: Option<&str>) -> Response<Body> {
        let body = csrf.map(|c| format!("csrf_token={c}")).unwrap_or_default();
        self.send(
            Request::post("/oauth/logout")
                .header(COOKIE, jar.header())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

pub fn location(res: &Response<Body>) -> String {
    res.headers()[LOCATION].to_str().unwrap().to_owned()
}

pub async fn body_text(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub async fn body_json(res: Response<Body>) -> Value {
    let text = body_text(res).await;
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The raw `Set-Cookie` headers of `res` that set or clear `prefix*`.
pub fn set_cookies(res: &Response<Body>, prefix: &str) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|c| c.starts_with(prefix))
        .collect()
}

pub use testkit::Jar;

/// What these tests read from a jar beyond the kit's.
pub trait JarExt {
    /// Names of transaction cookies in the jar.
    fn transactions(&self) -> Vec<String>;
}

impl JarExt for Jar {
    fn transactions(&self) -> Vec<String> {
        self.names()
            .filter(|k| k.contains("oauth-tx-"))
            .map(str::to_owned)
            .collect()
    }
}

/// An application with one OpenID provider `op` (client `rp-rs256`).
pub fn app(op: &OidcProvider) -> TestApp {
    TestApp::new(
        builder(&Users::default())
            .provider(oidc("op", op, "rp-rs256"))
            .build()
            .unwrap(),
    )
}

/// A refused callback: the status, the reason code on the generic page, and no session.
pub async fn assert_refused(
    app: &TestApp,
    path: &str,
    jar: &Jar,
    status: StatusCode,
    reason: &str,
) {
    let res = app.get(path, jar).await;
    assert_eq!(res.status(), status, "{path}");
    assert!(
        set_cookies(&res, "__Host-session=").is_empty(),
        "a refused callback must not set a session"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = body_text(res).await;
    assert!(
        page.contains(&format!("<code>{reason}</code>")),
        "expected {reason}: {page}"
    );
    assert!(
        !page.contains("code="),
        "the page must not echo the request"
    );
}

/// Form-encodes `s`.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
