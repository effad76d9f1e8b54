//! `DEMO_COOKIE_KEY` as a comma-separated list, newest first: a login started before a key
//! rotation finishes after it, and logins started after it are sealed with the new key.

mod common;

use common::oidc::{DemoEnv, Jar, OidcProvider, start_login};
use common::{Server, http};

/// The callback of a login at `server`: its status.
async fn finish_login(client: &reqwest::Client, server: &Server, jar: &Jar, query: &str) -> u16 {
    client
        .get(format!("{}/oauth/oidc/callback?{query}", server.url))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_login_in_progress_survives_a_cookie_key_rotation() {
    let provider = OidcProvider::start();
    let (old, new) = ("o".repeat(64), "n".repeat(64));
    let start = |keys: String| {
        let mut env = provider.demo_env();
        env.push(("DEMO_COOKIE_KEY", keys));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::start(&env)
    };
    let before = start(old.clone());
    let rotated = start(format!("{new},{old}"));
    let only_new = start(new.clone());
    let client = http();

    // Started before the rotation, finished after it.
    let (jar, query) = start_login(&client, &provider, &before.url).await;
    assert_eq!(finish_login(&client, &rotated, &jar, &query).await, 303);

    // Started after the rotation: sealed with the new key, which the old server lacks.
    let (jar, query) = start_login(&client, &provider, &rotated.url).await;
    assert_eq!(finish_login(&client, &before, &jar, &query).await, 400);
    assert_eq!(finish_login(&client, &only_new, &jar, &query).await, 303);
}
