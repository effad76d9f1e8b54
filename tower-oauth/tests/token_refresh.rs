//! Provider-token refreshes: one per session at a time, and never written over a session
//! that ended while the refresh ran.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::token_server::{
    TokenServer, log_in, logout_during_refresh_stays_logged_out, session_of,
};
use common::*;
use tower_oauth::store::MemoryStore;

#[tokio::test]
async fn a_logout_during_a_refresh_is_not_undone() {
    logout_during_refresh_stays_logged_out(MemoryStore::new()).await;
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
