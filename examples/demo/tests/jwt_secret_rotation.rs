//! `DEMO_JWT_SECRET` rotation: a comma-separated list, newest first. The newest signs;
//! tokens signed with an older secret keep working (chosen by `kid`) until that secret is
//! dropped from the list, so rotating after an exposure logs no one out unless it must.

mod common;

use common::{SECRET, Server, http};

const NEW: &str = "a-newer-test-secret-of-32-bytes-or-more";

async fn whoami(server: &Server, token: &str) -> u16 {
    http()
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn tokens_of_an_older_secret_work_until_it_is_dropped() {
    let old_server = Server::start(&[]);
    let old_token = old_server.cli(&["token", "--sub", "bob", "--scopes", "read"]);
    let old_token = old_token.trim();
    assert_eq!(whoami(&old_server, old_token).await, 200);

    // Rotated: the new secret signs, the old one still verifies.
    let rotated = Server::start(&[("DEMO_JWT_SECRET", &format!("{NEW},{SECRET}"))]);
    assert_eq!(whoami(&rotated, old_token).await, 200);
    let new_token = rotated.cli(&["token", "--sub", "carol", "--scopes", "read"]);
    let new_token = new_token.trim();
    assert_eq!(whoami(&rotated, new_token).await, 200);
    // The new token names another key, so the old server refuses it.
    assert_eq!(whoami(&old_server, new_token).await, 401);

    // Dropped: only the new secret is left, and the old token is refused.
    let dropped = Server::start(&[("DEMO_JWT_SECRET", NEW)]);
    assert_eq!(whoami(&dropped, old_token).await, 401);
    assert_eq!(whoami(&dropped, new_token).await, 200);
}

#[test]
fn a_short_secret_in_the_list_is_refused_at_start() {
    let stderr = common::refused_start(&[("DEMO_JWT_SECRET", &format!("{NEW},too-short"))]);
    assert!(
        stderr.contains("DEMO_JWT_SECRET: secret 2 must be at least 32 bytes"),
        "{stderr}"
    );
}
