//! Hostile callbacks against a real OpenID provider: state, `iss`, nonce, code injection,
//! mix-up, provider errors and outages.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;

#[tokio::test]
async fn missing_forged_replayed_and_expired_state() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    let path = path_and_query(&callback);
    let code = param(callback.as_str(), "code").unwrap();
    let iss = urlencode(&op.issuer);

    // Missing state.
    let no_state = format!("/oauth/op/callback?code={code}&iss={iss}");
    assert_refused(
        &app,
        &no_state,
        &jar,
        StatusCode::BAD_REQUEST,
        "missing_state",
    )
    .await;
    // Forged state: no transaction cookie for it.
    let forged = format!("/oauth/op/callback?code={code}&state=forged&iss={iss}");
    assert_refused(
        &app,
        &forged,
        &jar,
        StatusCode::BAD_REQUEST,
        "unknown_state",
    )
    .await;
    // The right state twice in the query.
    let doubled = format!("{path}&state=forged");
    assert_refused(
        &app,
        &doubled,
        &jar,
        StatusCode::BAD_REQUEST,
        "duplicate_parameter",
    )
    .await;
    // The right state without its cookie (another browser): foreign.
    assert_refused(
        &app,
        &path,
        &Jar::new(),
        StatusCode::BAD_REQUEST,
        "unknown_state",
    )
    .await;

    // The genuine callback works once...
    let res = app.get(&path, &jar).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // ...and a replay (same URL, the old cookie kept) is refused before any token request.
    assert_refused(&app, &path, &jar, StatusCode::BAD_REQUEST, "replayed_state").await;

    // Expired: a 1 s transaction lifetime, a callback 2 s later.
    let quick = TestApp::new(
        builder(&Users::default())
            .provider(oidc("op", &op, "rp-rs256"))
            .transaction_ttl(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    let authorize = quick.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_refused(
        &quick,
        &path_and_query(&callback),
        &jar,
        StatusCode::BAD_REQUEST,
        "expired_state",
    )
    .await;
}

#[tokio::test]
async fn provider_error_responses_are_generic_and_escaped() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "", &mut jar).await;
    let state = param(&authorize, "state").unwrap();
    let path = format!(
        "/oauth/op/callback?state={state}&iss={}&error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        urlencode(&op.issuer)
    );
    let res = app.get(&path, &jar).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let page = body_text(res).await;
    assert!(!page.contains("<script>"));
    assert!(page.contains("provider_error"));
}

#[tokio::test]
async fn error_responses_are_checked_for_iss_too() {
    // RFC 9207 §2.4: an error response from another issuer (a mix-up), or one without the
    // `iss` this provider announces, is refused as such before the error is acted on.
    let op = OidcProvider::start();
    let app = app(&op);
    for (iss, reason) in [
        (Some("https://attacker.example"), "issuer_mismatch"),
        (None, "missing_iss"),
    ] {
        let mut jar = Jar::new();
        let authorize = app.start_login("op", "", &mut jar).await;
        let state = param(&authorize, "state").unwrap();
        let iss = iss
            .map(|i| format!("&iss={}", urlencode(i)))
            .unwrap_or_default();
        let path = format!("/oauth/op/callback?state={state}{iss}&error=access_denied");
        assert_refused(&app, &path, &jar, StatusCode::BAD_REQUEST, reason).await;
    }
}

#[tokio::test]
async fn code_injection_from_another_transaction_is_refused() {
    let op = OidcProvider::start();
    let app = app(&op);
    // The attacker logs in as himself and stops before the callback: a valid code for
    // HIS transaction (his PKCE verifier).
    let mut attacker = Jar::new();
    let his = app
        .start_login("op", "?login_hint=mallet", &mut attacker)
        .await;
    let his_callback = ProviderBrowser::new().authorize(&his).await;
    let stolen_code = param(his_callback.as_str(), "code").unwrap();

    // The victim starts a login; the attacker injects his code into her callback.
    let mut victim = Jar::new();
    let hers = app
        .start_login("op", "?login_hint=alice", &mut victim)
        .await;
    let her_callback = ProviderBrowser::new().authorize(&hers).await;
    let injected = with_param(her_callback.as_str(), "code", &stolen_code);
    let injected = path_and_query(&url::Url::parse(&injected).unwrap());
    // Her PKCE verifier does not match his code's challenge: the provider refuses.
    assert_refused(
        &app,
        &injected,
        &victim,
        StatusCode::BAD_REQUEST,
        "code_rejected",
    )
    .await;
    assert_eq!(app.whoami(&victim).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn mix_up_with_a_second_provider_is_refused() {
    let good = OidcProvider::start();
    let evil = OidcProvider::start();
    let app = TestApp::new(
        builder(&Users::default())
            .provider(oidc("op", &good, "rp-rs256"))
            .provider(oidc("op2", &evil, "rp-rs256"))
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;

    // The response claims to come from the other provider.
    let wrong_iss = with_param(callback.as_str(), "iss", &evil.issuer);
    let wrong_iss = path_and_query(&url::Url::parse(&wrong_iss).unwrap());
    assert_refused(
        &app,
        &wrong_iss,
        &jar,
        StatusCode::BAD_REQUEST,
        "issuer_mismatch",
    )
    .await;

    // Without `iss` from a provider that announces it.
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    let path = path_and_query(&callback);
    let without_iss: String = path
        .split('&')
        .filter(|p| !p.starts_with("iss="))
        .collect::<Vec<_>>()
        .join("&");
    assert_ne!(without_iss, path);
    assert_refused(
        &app,
        &without_iss,
        &jar,
        StatusCode::BAD_REQUEST,
        "missing_iss",
    )
    .await;

    // The response of a login at `op` delivered to `op2`'s callback.
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    let elsewhere = path_and_query(&callback).replace("/oauth/op/", "/oauth/op2/");
    assert_refused(
        &app,
        &elsewhere,
        &jar,
        StatusCode::BAD_REQUEST,
        "wrong_provider",
    )
    .await;
}

#[tokio::test]
async fn nonce_mismatch_is_refused() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    // The provider is asked with another nonce than the one sealed in the transaction.
    let tampered = with_param(&authorize, "nonce", "attacker-chosen-nonce");
    let callback = ProviderBrowser::new().authorize(&tampered).await;
    assert_refused(
        &app,
        &path_and_query(&callback),
        &jar,
        StatusCode::BAD_REQUEST,
        "nonce_mismatch",
    )
    .await;
}

#[tokio::test]
async fn denied_users_get_403_and_no_session() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    let res = app
        .login("op", "mallory", &mut jar, &mut ProviderBrowser::new())
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&res, "__Host-session=").is_empty());
    assert_eq!(app.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unreachable_or_lying_providers_answer_503() {
    let op = OidcProvider::start();
    // Discovery's issuer must match exactly: a trailing slash is another issuer.
    let lying = TestApp::new(
        builder(&Users::default())
            .provider(tower_oauth::Provider::oidc(
                "op",
                &format!("{}/", op.issuer),
                "rp-rs256",
                "rp-rs256-secret",
            ))
            .build()
            .unwrap(),
    );
    let res = lying.get("/oauth/op/login", &Jar::new()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Nothing listening: 503 at login, and the application keeps serving.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = TestApp::new(
        builder(&Users::default())
            .provider(tower_oauth::Provider::oidc(
                "op",
                &format!("http://127.0.0.1:{port}"),
                "c",
                "s",
            ))
            .build()
            .unwrap(),
    );
    let res = down.get("/oauth/op/login", &Jar::new()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        down.get("/oauth/nope/login", &Jar::new()).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(down.whoami(&Jar::new()).await.0, StatusCode::UNAUTHORIZED);
}
