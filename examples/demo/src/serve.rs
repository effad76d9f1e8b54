//! `demo` (serve): plain HTTP on loopback or behind an HTTPS proxy, HTTPS with
//! `DEMO_TLS_CERT` / `DEMO_TLS_KEY` (client certificates with `DEMO_TLS_CLIENT_CA`);
//! security headers on every response; graceful shutdown.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Response;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use http::HeaderValue;
use http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};

use crate::config::Config;

/// How long requests in flight at SIGTERM or Ctrl-C may take before the server exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The pages' policy: scripts, styles, images and requests from the demo's origin only (no
/// inline script or style), no plugins, no `<base>`, forms posting to the demo only, and no
/// framing by any page.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One year, the value HSTS preload lists ask for.
const HSTS_VALUE: &str = "max-age=31536000";

/// Serves until SIGTERM / Ctrl-C.
///
/// # Errors
///
/// A message when the configuration may not be served (plain http others can reach, a TLS
/// pair that does not load), the address cannot be bound, or the application cannot be
/// built.
pub(crate) async fn serve(mut config: Config) -> Result<(), String> {
    config.check_listener()?;
    let tls = match &config.tls {
        Some(files) => Some((
            RustlsConfig::from_config(crate::tls::server_config(files)?),
            files.clone(),
        )),
        None => None,
    };
    let listener = std::net::TcpListener::bind(config.addr)
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // With `DEMO_ADDR=127.0.0.1:0`, the default public URL names the port actually bound.
    config.bound_to(addr);
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
    if let Some((rustls, files)) = &tls {
        crate::tls::reload_on_sighup(rustls.clone(), files.clone())?;
    }
    // Handlers see the client's address (the failed-login throttle counts by it).
    let app = with_security_headers(demo.router, config.hsts())
        .into_make_service_with_connect_info::<SocketAddr>();

    // At the signal the listener closes (new connections are refused) and requests in
    // flight run to completion; connections still open SHUTDOWN_GRACE later (a client
    // holding a request half-sent) are dropped, so the exit is bounded.
    let handle = Handle::new();
    let signalled = std::sync::Arc::new(std::sync::OnceLock::new());
    tokio::spawn({
        let (handle, signalled) = (handle.clone(), signalled.clone());
        async move {
            shutdown().await;
            let _ = signalled.set(Instant::now());
            handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        }
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {scheme}://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    let server = axum_server::from_tcp(listener).handle(handle);
    let served = match tls {
        Some((rustls, _)) => {
            server
                .acceptor(crate::tls::ClientCertAcceptor::new(rustls))
                .serve(app)
                .await
        }
        None => server.serve(app).await,
    };
    served.map_err(|e| format!("server error: {e}"))?;
    if signalled
        .get()
        .is_some_and(|at: &Instant| at.elapsed() >= SHUTDOWN_GRACE)
    {
        tracing::warn!(
            grace = ?SHUTDOWN_GRACE,
            "connections still open after the grace period were closed"
        );
    }
    drop(demo.listener);
    tracing::info!("shut down cleanly");
    Ok(())
}

/// `router` with the security headers on every response that does not set its own:
/// `Content-Security-Policy`, `X-Content-Type-Options: nosniff`, `Referrer-Policy:
/// same-origin` (nothing to other sites; under `no-referrer` browsers post forms with
/// `Origin: null`, which the password login refuses as cross-site), and with `hsts`, `Strict-Transport-Security`.
fn with_security_headers(router: Router, hsts: bool) -> Router {
    router.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            let headers = response.headers_mut();
            let fixed = [
                (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (REFERRER_POLICY, "same-origin"),
            ];
            for (name, value) in fixed {
                headers
                    .entry(name)
                    .or_insert(HeaderValue::from_static(value));
            }
            if hsts {
                headers
                    .entry(STRICT_TRANSPORT_SECURITY)
                    .or_insert(HeaderValue::from_static(HSTS_VALUE));
            }
            response
        },
    ))
}

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
