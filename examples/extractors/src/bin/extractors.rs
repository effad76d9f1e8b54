//! The custom-extractors example server.
//!
//! `EXTRACTORS_ADDR` (default `127.0.0.1:3001`). Tokens are random at each start and printed
//! once: alice (`notes:read notes:write`), bob (`notes:read`), carol (disabled account) and
//! dave (no account).

use std::env;
use std::error::Error;
use std::net::SocketAddr;

use auth_core::{AuthMethod, Principal, ScopeName};
use rand::Rng;
use rand::distr::Alphanumeric;
use towerauth_extractors_example::{Read, StaticTokens, Write, app, demo_users};

fn random_token() -> String {
    let secret: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("tok_{secret}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = env::var("EXTRACTORS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3001".to_owned())
        .parse()
        .map_err(|e| format!("EXTRACTORS_ADDR: {e}"))?;

    let mut tokens = StaticTokens::new();
    println!("tokens for this run (shown once):");
    for (subject, scopes) in [
        ("alice", &[Read::NAME, Write::NAME][..]),
        ("bob", &[Read::NAME][..]),
        ("carol", &[Read::NAME, Write::NAME][..]),
        ("dave", &[Read::NAME][..]),
    ] {
        let token = random_token();
        println!("  {subject:<6} {token}  ({})", scopes.join(" "));
        let principal = Principal::new(subject, AuthMethod::Custom("static".into()))
            .with_scopes(scopes.iter().copied());
        tokens = tokens.token(&token, principal);
    }

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(tokens, demo_users()))
        .with_graceful_shutdown(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}
