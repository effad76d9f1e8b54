//! Provider-token refreshes: one per session at a time, and never written over a session
//! that ended while the refresh ran.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::token_server::{
    TokenServer, log_in, logout_during_refresh_stays_logged_out, session_of,
};
use common::*;
use tower_oauth::store::MemorySessionStore;

#[tokio::test]
async fn a_logout_during_a_refresh_is_not_undone() {
    logout_during_refresh_stays_logged_out(MemorySessionStore::new()).await;
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let provider = TokenServer::start().await;
    let client = builder(&Users::default())
        .provider(provider.provider())
        .build()
        .unwrap();
    let app = TestApp::new(client.clone());
    let jar = log_in(&app).await;
    let session = session_of(&app, &jar).await;

    provider.state.hold.store(true, Ordering::SeqCst);
    let call = || {
        let client = client.clone();
        let session = session.clone();
        tokio::spawn(async move { client.access_token(&session).await })
    };
    let (first, second) = (call(), call());
    provider.state.arrived.notified().await;
    // Time for the second caller to reach the provider too, if it were allowed to.
    tokio::time::sleep(Duration::from_millis(300)).await;
    provider.state.gate.add_permits(2);
    let first = first.await.unwrap().expect("the refreshed token");
    let second = second.await.unwrap().expect("the same refreshed token");

    assert_eq!(
        provider.state.refreshes.load(Ordering::SeqCst),
        1,
        "one refresh for both callers"
    );
    assert_eq!(first.secret(), second.secret());
    let issued = provider.issued();
    assert_eq!(first.secret(), issued[2], "the token of the one refresh");
    // Fresh now: handed out without another refresh.
    let again = client.access_token(&session).await.unwrap();
    assert_eq!(again.secret(), first.secret());
    assert_eq!(provider.state.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn instances_sharing_a_store_settle_on_the_first_refresh() {
    let provider = TokenServer::start().await;
    let store = MemorySessionStore::new();
    let key = rand_key();
    let users = Users::default();
    // Two instances: each has its own refresh gate, they share the sessions.
    let instance = || {
        builder(&users)
            .cookie_key(&key)
            .provider(provider.provider())
            .store(store.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let app = TestApp::new(a.clone());
    let jar = log_in(&app).await;
    let session = session_of(&app, &jar).await;

    provider.state.hold.store(true, Ordering::SeqCst);
    let call = |client: &tower_oauth::OAuthClient<User>| {
        let client = client.clone();
        let session = session.clone();
        tokio::spawn(async move { client.access_token(&session).await })
    };
    let on_a = call(&a);
    provider.state.arrived.notified().await;
    let on_b = call(&b);
    provider.state.arrived.notified().await;
    // A's refresh is answered first and rotates the refresh token B also presented.
    provider.state.gate.add_permits(1);
    let on_a = on_a.await.unwrap().expect("A refreshes");
    provider.state.gate.add_permits(1);
    let on_b = on_b.await.unwrap().expect("B finds A's tokens");

    assert_eq!(on_a.secret(), on_b.secret());
    assert_eq!(provider.state.refreshes.load(Ordering::SeqCst), 1);
}
