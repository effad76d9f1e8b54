//! The login flow against a real OpenID provider (oidc-provider 9, started by the test).

mod common;

use common::*;
use http::StatusCode;
use http::header::{CACHE_CONTROL, REFERRER_POLICY};

#[tokio::test]
async fn full_login_with_pkce_nonce_and_iss() {
    let op = OidcProvider::start();
    let users = Users::default();
    let app = TestApp::new(
        builder(&users)
            .provider(oidc("op", &op, "rp-rs256"))
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    let authorize = app
        .start_login("op", "?return_to=/dashboard&login_hint=alice", &mut jar)
        .await;

    // The authorization request: code flow, PKCE S256, nonce, state, the static redirect URI.
    assert!(authorize.starts_with(&format!("{}/auth?", op.issuer)));
    assert_eq!(param(&authorize, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&authorize, "client_id").as_deref(), Some("rp-rs256"));
    assert_eq!(
        param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        param(&authorize, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert_eq!(param(&authorize, "nonce").map(|n| n.len()), Some(43));
    assert_eq!(param(&authorize, "state").map(|s| s.len()), Some(43));
    assert_eq!(
        param(&authorize, "redirect_uri").as_deref(),
        Some("https://app.example.test/oauth/op/callback")
    );
    assert_eq!(
        param(&authorize, "scope").as_deref(),
        Some("openid email profile")
    );
    assert_eq!(jar.transactions().len(), 1);

    let mut browser = ProviderBrowser::new();
    let callback = browser.authorize(&authorize).await;
    // RFC 9207: the provider names itself in the response.
    assert_eq!(
        param(callback.as_str(), "iss").as_deref(),
        Some(op.issuer.as_str())
    );
    assert_eq!(
        param(callback.as_str(), "state"),
        param(&authorize, "state")
    );

    let res = app.get(&path_and_query(&callback), &jar).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/dashboard");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    // The session cookie, with every attribute.
    let session = set_cookies(&res, "__Host-session=");
    assert_eq!(session.len(), 1, "{session:?}");
    let attrs: Vec<&str> = session[0].split("; ").collect();
    for needed in ["HttpOnly", "Secure", "Path=/", "SameSite=Lax"] {
        assert!(attrs.contains(&needed), "{needed} missing: {session:?}");
    }
    assert!(attrs.iter().any(|a| a.starts_with("Max-Age=")));
    assert!(!session[0].to_ascii_lowercase().contains("domain"));
    // The transaction cookie is cleared.
    let cleared = set_cookies(&res, "__Host-oauth-tx-");
    assert_eq!(cleared.len(), 1);
    assert!(cleared[0].contains("Max-Age=0"));
    jar.store(&res);
    assert!(jar.transactions().is_empty());

    let (status, me) = app.whoami(&jar).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["subject"], "user-1");
    assert_eq!(me["method"], "session");
    assert_eq!(me["scopes"], serde_json::json!(["read"]));
    assert_eq!(me["provider"], "op");
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(app.get("/dashboard", &jar).await.status(), StatusCode::OK);

    // A second login of the same person maps to the same user (created once).
    let mut jar2 = Jar::new();
    let res = app
        .login("op", "alice", &mut jar2, &mut ProviderBrowser::new())
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.whoami(&jar2).await.1["subject"], "user-1");
    assert_eq!(users.lock().unwrap().len(), 1);
    // Two sessions, two ids.
    assert_ne!(jar.get("__Host-session"), jar2.get("__Host-session"));
}

#[tokio::test]
async fn es256_id_tokens_and_provider_access_tokens() {
    let op = OidcProvider::start();
    let users = Users::default();
    let client = builder(&users)
        .provider(oidc("es", &op, "rp-es256"))
        .provider(oidc("short", &op, "rp-short"))
        .build()
        .unwrap();
    let app = TestApp::new(client.clone());
    let mut op_browser = ProviderBrowser::new();

    let mut jar = Jar::new();
    assert_eq!(
        app.login("es", "erin", &mut jar, &mut op_browser)
            .await
            .status(),
        303
    );
    let session = session_of(&app, &jar).await;
    // Long-lived token: handed out as is, twice the same.
    let first = client.access_token(&session).await.unwrap();
    let again = client.access_token(&session).await.unwrap();
    assert_eq!(first.secret(), again.secret());
    assert!(
        !format!("{first:?}").contains(first.secret()),
        "Debug must redact"
    );

    // rp-short's access tokens live 5 s: asking for one refreshes it (refresh grant).
    let mut jar = Jar::new();
    assert_eq!(
        app.login("short", "sam", &mut jar, &mut op_browser)
            .await
            .status(),
        303
    );
    let session = session_of(&app, &jar).await;
    let a = client.access_token(&session).await.unwrap();
    let b = client.access_token(&session).await.unwrap();
    assert_ne!(a.secret(), b.secret(), "each expired token is refreshed");
    // The provider accepts the refreshed token.
    let userinfo = reqwest::Client::new()
        .get(format!("{}/me", op.issuer))
        .bearer_auth(b.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);

    // After logout the session's tokens are gone too.
    let csrf = app.whoami(&jar).await.1["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.logout(&jar, Some(&csrf)).await.status(), 303);
    let err = client.access_token(&session).await.unwrap_err();
    assert_eq!(err.status(), 401);
}

/// The typed session of `jar`, through the authenticator.
async fn session_of(app: &TestApp, jar: &Jar) -> tower_oauth::OAuthSession<User> {
    use auth_core::Authenticate;
    let req = http::Request::get("/")
        .header("cookie", jar.header())
        .body(())
        .unwrap();
    app.client.authenticator().authenticate(&req).await.unwrap()
}
