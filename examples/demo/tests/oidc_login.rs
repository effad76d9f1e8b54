//! A full OpenID Connect login against a real authorization server (`oidc-provider`)
//! ending on the dashboard: create a key (shown once), use it, refuse forged forms, revoke
//! it, log out.

mod common;

use common::oidc::{DemoEnv, Jar, OidcProvider};
use common::{Server, assert_rejected, csrf_token, find_key, http, key_id};
use serde_json::Value;

/// Logs in through the provider; returns the demo's cookies, holding the session.
async fn log_in(client: &reqwest::Client, provider: &OidcProvider, server: &Server) -> Jar {
    let (jar, session_cookie) =
        common::oidc::log_in(client, provider, &server.url, "session").await;
    assert!(
        !session_cookie.contains("Secure"),
        "plain http on loopback: {session_cookie}"
    );
    jar
}

#[tokio::test]
async fn oidc_login_dashboard_keys_and_logout() {
    let provider = OidcProvider::start();
    let env = provider.demo_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    let client = http();
    // Anonymous dashboard: a log-in link.
    let home = client
        .get(format!("{}/", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains(r#"href="/oauth/oidc/login?return_to=/""#),
        "{home}"
    );

    let jar = log_in(&client, &provider, &server).await;

    let res = client
        .get(format!("{}/", server.url))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("oidc:alice"), "{page}");
    assert!(page.contains("No keys yet"), "{page}");
    let token = csrf_token(&page);

    // The session also works on the API.
    let me: Value = client
        .get(format!("{}/api/whoami", server.url))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["method"], "session");
    assert_eq!(me["subject"], "oidc:alice");

    let post = |path: &str, form: Vec<(&str, &str)>| {
        client
            .post(format!("{}{path}", server.url))
            .header("cookie", jar.header())
            .form(&form)
            .send()
    };
    // Without a valid CSRF token: 403, nothing created.
    let res = post("/dashboard/keys", vec![("name", "x"), ("scopes", "read")])
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = post(
        "/dashboard/keys",
        vec![("csrf_token", "forged"), ("scopes", "read")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("security token"));
    // A scope the dashboard cannot grant: a clear error.
    let res = post(
        "/dashboard/keys",
        vec![("csrf_token", &token), ("scopes", "admin")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The scope `admin` cannot be granted")
    );

    let res = post(
        "/dashboard/keys",
        vec![("csrf_token", &token), ("expires_in", "1000d")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Choose an expiry"));

    let res = post(
        "/dashboard/keys",
        vec![
            ("csrf_token", &token),
            ("name", "ci"),
            ("scopes", "read write"),
            ("expires_in", "30d"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("shown only once"), "{page}");
    let key = find_key(&page);
    let again = client
        .get(format!("{}/", server.url))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains(&key), "the key is shown once only");
    let id = key_id(&key);
    assert!(again.contains(id) && again.contains("never"), "{again}");
    let listed: Value =
        serde_json::from_str(&server.cli(&["keys", "list", "--account", "oidc:alice"])).unwrap();
    let expires_at = listed[0]["expires_at"].as_i64().expect("an expiry");
    let in_30_days = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
        + 30 * 86_400;
    assert!((in_30_days - expires_at).abs() < 60, "{listed}");

    let me: Value = client
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["method"], "api_key");
    assert_eq!(me["subject"], "oidc:alice");

    let revoke = format!("/dashboard/keys/{id}/revoke");
    let res = post(&revoke, vec![("csrf_token", "forged")]).await.unwrap();
    assert_eq!(res.status(), 403);
    let res = post(&revoke, vec![("csrf_token", &token)]).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("Key {id} revoked"))
    );
    let res = client
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_rejected(res, 401, "invalid_token", &key).await;
    // Someone else's (or no) key: not found.
    let res = post(
        "/dashboard/keys/AAAAAAAAAAAA/revoke",
        vec![("csrf_token", &token)],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);

    let res = post("/oauth/logout", vec![("csrf_token", &token)])
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let stale = jar.header();
    let res = client
        .get(format!("{}/api/whoami", server.url))
        .header("cookie", stale)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the session is destroyed server-side");
}

#[tokio::test]
async fn sessions_are_shared_through_redis() {
    let redis = testkit::require_redis();
    let provider = OidcProvider::start();
    let cookie_key = "k".repeat(64);
    let mut env = provider.demo_env();
    env.push(("DEMO_REDIS_URL", redis.clone()));
    env.push(("DEMO_COOKIE_KEY", cookie_key));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Server::start(&env);
    let b = Server::start(&env);
    let client = http();

    let jar = log_in(&client, &provider, &a).await;
    let page_on_b = || async {
        client
            .get(format!("{}/", b.url))
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let page = page_on_b().await;
    assert!(
        page.contains("oidc:alice"),
        "a session made on A works on B (Redis at {redis})"
    );
    let token = csrf_token(&page);
    let res = client
        .post(format!("{}/oauth/logout", b.url))
        .header("cookie", jar.header())
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = client
        .get(format!("{}/api/whoami", a.url))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_rejected(res, 401, "unauthorized", "").await;
}
