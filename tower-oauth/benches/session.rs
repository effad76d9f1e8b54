//! The cost of authenticating a request by its session cookie (memory store), against a
//! closure authenticator that does no work (the engine's floor) in the same run.
#![allow(missing_docs)]

use std::future::{Ready, ready};
use std::hint::black_box;

use auth_core::{AuthError, AuthMethod, Authenticate, Principal};
use axum::routing::{get, post};
use axum::{Json, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower::ServiceExt;
use tower_oauth::{MapUserError, OAuthClient, Provider, SessionUser};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    id: String,
    name: Option<String>,
}

impl SessionUser for User {
    fn subject(&self) -> String {
        self.id.clone()
    }
    fn scopes(&self) -> Vec<String> {
        vec!["read".to_owned(), "write".to_owned()]
    }
}

/// A loopback stand-in for GitHub, so the bench holds a real session.
async fn github() -> String {
    let app = Router::new()
        .route(
            "/login/oauth/access_token",
            post(|| async { Json(json!({"access_token": "gho_bench", "token_type": "bearer"})) }),
        )
        .route(
            "/api/user",
            get(|| async { Json(json!({"id": 1, "login": "bench", "name": "Bench"})) }),
        )
        .route(
            "/api/user/emails",
            get(|| async {
                Json(json!([{"email": "b@example.test", "primary": true, "verified": true}]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Logs in once; returns the client and the `Cookie` header of the session.
async fn session() -> (OAuthClient<User>, String) {
    let base = github().await;
    let client = OAuthClient::<User>::builder("https://app.example.test")
        .cookie_key(&[9; 64])
        .provider(Provider::github("id", "secret").github_urls(&base, &format!("{base}/api")))
        .map_user(|who| async move {
            Ok::<_, MapUserError>(User {
                id: who.subject,
                name: who.name,
            })
        })
        .build()
        .unwrap();
    let login = client
        .routes()
        .oneshot(
            Request::get("/oauth/github/login")
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let location = login.headers()["location"].to_str().unwrap();
    let state = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let tx = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = client
        .routes()
        .oneshot(
            Request::get(format!("/oauth/github/callback?code=c&state={state}"))
                .header("cookie", tx)
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(callback.status(), 303);
    let cookie = callback
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("__Host-session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (client, cookie)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, cookie) = rt.block_on(session());
    let with_session = Request::get("/api/whoami")
        .header("cookie", format!("theme=dark; {cookie}; lang=en"))
        .body(())
        .unwrap();
    let anonymous = Request::get("/api/whoami")
        .header("cookie", "theme=dark")
        .body(())
        .unwrap();

    let mut group = c.benchmark_group("authenticate");
    let floor = |_: &Request<()>| -> Ready<Result<Principal, AuthError>> {
        ready(Ok(Principal::new("u", AuthMethod::Session)))
    };
    group.bench_function("baseline_closure", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(floor(black_box(&with_session)).await.unwrap()) });
    });
    let mut sessions = client.authenticator();
    group.bench_function("session_memory_hit", |b| {
        b.to_async(&rt).iter(|| {
            let future = sessions.authenticate(black_box(&with_session));
            async move { black_box(future.await.unwrap()) }
        });
    });
    let mut sessions = client.authenticator();
    group.bench_function("session_no_cookie", |b| {
        b.to_async(&rt).iter(|| {
            let future = sessions.authenticate(black_box(&anonymous));
            async move { black_box(future.await.unwrap_err()) }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
