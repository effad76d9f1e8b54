//! The command line: `demo` (serve), `demo keys …`, `demo token …`.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tower_apikey::cli::{KeysCommand, parse_duration};
use tower_jwt::issuer::{Grant, SigningKey, TokenIssuer};

use crate::config::{Config, DEMO_AUDIENCE};

/// The towerauth demo: an API taking API keys, JWTs and sessions, with a dashboard.
#[derive(Debug, Parser)]
#[command(name = "demo", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve on `DEMO_ADDR` (the default).
    Serve,
    /// Manage API keys in the store of `DEMO_DATABASE_URL`.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print a demo access token signed with `DEMO_JWT_SECRET`.
    Token {
        /// The subject (`sub`).
        #[arg(long)]
        sub: String,
        /// Space-separated scopes.
        #[arg(long, default_value = "")]
        scopes: String,
        /// Lifetime: `90s`, `15m`, `24h`, `30d`.
        #[arg(long, value_parser = parse_duration, default_value = "15m")]
        ttl: Duration,
    },
}

/// Runs `cli`: serves until SIGTERM / Ctrl-C, or runs one command and prints its JSON.
///
/// # Errors
///
/// A message for the user (the process exits with status 1).
pub async fn run(cli: Cli, config: Config) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Keys(command) => {
            let (keys, store) = crate::app::api_keys(&config).await?;
            let mut out = std::io::stdout().lock();
            let result = command
                .run(&keys, &mut out)
                .await
                .map_err(|e| e.to_string());
            store.close().await;
            result
        }
        Command::Token { sub, scopes, ttl } => {
            let token = token(&config, &sub, &scopes, ttl)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{token}").map_err(|e| e.to_string())
        }
    }
}

/// A demo access token, as the server issues at login.
fn token(config: &Config, sub: &str, scopes: &str, ttl: Duration) -> Result<String, String> {
    let Some(secret) = config.jwt_secrets.first() else {
        return Err(
            "DEMO_JWT_SECRET is not set: the server would not accept a token signed \
                    with any other secret; set the same DEMO_JWT_SECRET for both"
                .to_owned(),
        );
    };
    if sub.is_empty() {
        return Err("--sub must not be empty".to_owned());
    }
    if ttl.is_zero() {
        return Err("--ttl must be positive".to_owned());
    }
    let key = SigningKey::hs256(crate::app::signing_kid(secret), secret)
        .map_err(|e| format!("DEMO_JWT_SECRET: {e}"))?;
    let issuer = TokenIssuer::builder(&config.jwt_issuer, DEMO_AUDIENCE, key)
        .access_lifetime(ttl)
        .build()
        .map_err(|e| e.to_string())?;
    let grant = Grant::new(sub).scope(scopes.split_whitespace());
    issuer
        .issue_access(&grant)
        .map(tower_jwt::issuer::IssuedToken::into_string)
        .map_err(|e| e.to_string())
}

async fn serve(mut config: Config) -> Result<(), String> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    if std::env::var_os("DEMO_PUBLIC_URL").is_none() {
        // With `DEMO_ADDR=127.0.0.1:0`, name the port actually bound.
        config.public_url = format!("http://{addr}");
    }
    let demo = crate::app::build(&config).await?;
    if config.bench_floors {
        tracing::warn!(
            "DEMO_BENCH_FLOORS=on: /bench/whoami* answer without checking any credential \
             (for load runs only)"
        );
    }
    tracing::info!(
        key_cache_ttl = ?demo.keys.cache_ttl(),
        push_invalidation = demo.listener.is_some(),
        "API keys revoked elsewhere are refused within the key cache TTL"
    );
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    // At the signal the listener closes (new connections are refused) and requests in
    // flight run to completion; connections still open SHUTDOWN_GRACE later (a client
    // holding a request half-sent) are dropped, so the exit is bounded.
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel();
    // Handlers see the client's address (the failed-login throttle counts by it).
    let app = demo
        .router
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        shutdown().await;
        let _ = signalled_tx.send(());
    });
    tokio::select! {
        served = server.into_future() => served.map_err(|e| format!("server error: {e}"))?,
        () = async {
            if signalled_rx.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => tracing::warn!(
            grace = ?SHUTDOWN_GRACE,
            "connections still open after the grace period; closing them"
        ),
    }
    drop(demo.listener);
    tracing::info!("shut down cleanly");
    Ok(())
}

/// How long requests in flight at SIGTERM or Ctrl-C may take before the server exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Resolves at SIGTERM or Ctrl-C.
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
