//! The notes gRPC server.
//!
//! Environment:
//! * `GRPC_ADDR`: listen address (default `127.0.0.1:50051`).
//! * `GRPC_JWT_SECRET` (required): the HS256 secret access tokens are signed with, at least
//!   32 bytes.
//! * `GRPC_JWT_ISSUER` (default `https://auth.example.test`) and `GRPC_JWT_AUDIENCE`
//!   (default `notes-api`): the `iss` and `aud` tokens must carry.
//! * `APIKEY_DATABASE_URL`: the `tower-apikey` store (`sqlite://keys.db`, `postgres://…`;
//!   create keys with the `apikey` CLI). Unset: an in-memory store with one development key,
//!   printed once at start.

use std::env;
use std::error::Error;
use std::net::SocketAddr;

use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey, store};
use tower_jwt::JwtAuthenticator;
use towerauth_grpc_example::{
    NotesService, READ_SCOPE, WRITE_SCOPE, auth_layer, hs256_verifier, serve,
};

fn var_or(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = var_or("GRPC_ADDR", "127.0.0.1:50051")
        .parse()
        .map_err(|e| format!("GRPC_ADDR: {e}"))?;
    let secret = env::var("GRPC_JWT_SECRET").map_err(
        |_| "GRPC_JWT_SECRET must be set (at least 32 bytes, e.g. `openssl rand -hex 32`)",
    )?;
    let verifier = hs256_verifier(
        &var_or("GRPC_JWT_ISSUER", "https://auth.example.test"),
        &var_or("GRPC_JWT_AUDIENCE", "notes-api"),
        secret.as_bytes(),
    )?;

    let keys = match env::var("APIKEY_DATABASE_URL") {
        Ok(url) => ApiKeys::builder(store::connect(&url).await?).build()?,
        Err(_) => {
            let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build()?;
            let created = keys
                .create(NewKey::new("dev").scopes([READ_SCOPE, WRITE_SCOPE]))
                .await?;
            println!(
                "development API key (in-memory, shown once): {}",
                created.key.expose()
            );
            keys
        }
    };

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("notes gRPC service on {}", listener.local_addr()?);
    let shutdown = async {
        // If the signal handler cannot be installed, serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    serve(
        listener,
        auth_layer(&keys, JwtAuthenticator::new(verifier)),
        NotesService::new(),
        shutdown,
    )
    .await?;
    Ok(())
}
