//! Rotating the cookie key: sealed with the first key, opened with any, so logins in
//! progress and the provider tokens of sessions survive a rotation.

mod common;

use common::token_server::{TokenServer, log_in, session_of};
use common::*;
use http::StatusCode;
use tower_oauth::store::MemorySessionStore;

#[tokio::test]
async fn logins_in_progress_and_session_tokens_survive_a_rotation() {
    let provider = TokenServer::start().await;
    let (old, new) = (rand_key(), rand_key());
    let store = MemorySessionStore::new();
    let users = Users::default();
    // Instances sharing one store, before and after the rotation.
    let instance = |keys: &[&Vec<u8>]| {
        TestApp::new(
            builder(&users)
                .cookie_keys(keys)
                .provider(provider.provider())
                .store(store.clone())
                .build()
                .unwrap(),
        )
    };
    let before = instance(&[&old]);
    let rotated = instance(&[&new, &old]);
    let only_new = instance(&[&new]);

    // A session made before the rotation, and a login started before it.
    let session_jar = log_in(&before).await;
    let mut pending = Jar::new();
    let authorize = before.start_login("rt", "", &mut pending).await;
    let state = param(&authorize, "state").unwrap();

    // The login finishes after the rotation.
    let res = rotated
        .get(
            &format!("/oauth/rt/callback?code=good-code&state={state}"),
            &pending,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        body_text(res).await
    );

    // The old session's provider tokens were sealed with the old key: the rotated instance
    // opens them (and refreshes them, resealing with the new key).
    let session = session_of(&rotated, &session_jar).await;
    let error = only_new.client.access_token(&session).await.unwrap_err();
    assert_eq!(error.status(), 401);
    assert_eq!(error.reason(), "tokens_unreadable");
    let refreshed = rotated.client.access_token(&session).await.unwrap();
    let resealed = only_new.client.access_token(&session).await.unwrap();
    assert_eq!(resealed.secret(), refreshed.secret());
    assert_eq!(
        before
            .client
            .access_token(&session)
            .await
            .unwrap_err()
            .reason(),
        "tokens_unreadable",
        "sealed again with the new key"
    );

    // A login started after the rotation is sealed with the new key.
    let mut jar = Jar::new();
    let authorize = rotated.start_login("rt", "", &mut jar).await;
    let callback = format!(
        "/oauth/rt/callback?code=good-code&state={}",
        param(&authorize, "state").unwrap()
    );
    assert_refused(
        &before,
        &callback,
        &jar,
        StatusCode::BAD_REQUEST,
        "invalid_transaction",
    )
    .await;
    let res = only_new.get(&callback, &jar).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        body_text(res).await
    );
}

#[test]
fn the_key_list_is_checked() {
    let users = Users::default();
    let build = |keys: Vec<Vec<u8>>| {
        builder(&users)
            .cookie_keys(keys)
            .provider(tower_oauth::Provider::github("id", "secret"))
            .build()
    };
    let field_and_kind = |keys| {
        let error = build(keys).unwrap_err();
        (error.field(), error.kind())
    };
    use auth_core::ConfigErrorKind::{InvalidValue, Missing, WeakKey};
    assert_eq!(field_and_kind(vec![]), ("cookie_key", Missing));
    assert_eq!(
        field_and_kind(vec![rand_key(), vec![1; 63]]),
        ("cookie_key", WeakKey),
        "every key is 64 bytes or more"
    );
    assert_eq!(
        field_and_kind(vec![rand_key(); 9]),
        ("cookie_key", InvalidValue)
    );
    assert!(build(vec![rand_key(); 8]).is_ok());
}
