//! The command line: `demo` (serve), `demo keys …`, `demo token …`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use tower_apikey::cli::{KeysCommand, parse_duration};
use tower_jwt::issuer::{Grant, SigningKey, TokenIssuer};
use tower_jwt::mtls::ClientCertificate;

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
        /// Bind the token to the client certificate in this PEM file (its first
        /// certificate): it is then accepted only over mutual TLS with that certificate
        /// (RFC 8705 `cnf.x5t#S256`; see `DEMO_TLS_CLIENT_CA`).
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
    },
    /// Write a self-signed certificate and key for local HTTPS (`DEMO_TLS_CERT` /
    /// `DEMO_TLS_KEY`).
    Cert {
        /// The directory for `cert.pem` and `key.pem` (created; existing files replaced).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// A DNS name or IP address the certificate is valid for (repeatable; default:
        /// localhost, 127.0.0.1 and ::1).
        #[arg(long = "host", value_name = "NAME")]
        hosts: Vec<String>,
    },
}

/// Runs `cli`: serves until SIGTERM / Ctrl-C, or runs one command and prints its JSON.
///
/// # Errors
///
/// A message for the user (the process exits with status 1).
pub async fn run(cli: Cli, config: Config) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve::serve(config).await,
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
        Command::Token {
            sub,
            scopes,
            ttl,
            cert,
        } => {
            let token = token(&config, &sub, &scopes, ttl, cert.as_deref())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{token}").map_err(|e| e.to_string())
        }
        Command::Cert { out, hosts } => {
            let files = crate::tls::write_self_signed(&out, &hosts)?;
            let hosts = if hosts.is_empty() {
                crate::tls::DEFAULT_HOSTS.join(", ")
            } else {
                hosts.join(", ")
            };
            let (cert, key) = (files.cert.display(), files.key.display());
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "wrote {cert} and {key}: a self-signed certificate for {hosts}\n\
                 serve HTTPS with it:\n  DEMO_TLS_CERT={cert} DEMO_TLS_KEY={key} demo\n\
                 trust it in a client:\n  curl --cacert {cert} https://localhost:3000/health\n\
                 browsers warn about it (self-signed): for local use only"
            )
            .map_err(|e| e.to_string())
        }
    }
}

/// A demo access token, as the server issues at login; bound to the certificate in the PEM
/// file `cert` if given.
fn token(
    config: &Config,
    sub: &str,
    scopes: &str,
    ttl: Duration,
    cert: Option<&Path>,
) -> Result<String, String> {
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
    let mut grant = Grant::new(sub).scope(scopes.split_whitespace());
    if let Some(cert) = cert {
        let thumbprint = certificate_thumbprint(cert)?;
        grant = grant
            .claim("cnf", serde_json::json!({ "x5t#S256": thumbprint }))
            .map_err(|e| e.to_string())?;
    }
    issuer
        .issue_access(&grant)
        .map(tower_jwt::issuer::IssuedToken::into_string)
        .map_err(|e| e.to_string())
}

/// The RFC 8705 `x5t#S256` thumbprint of the first certificate in the PEM file `path`.
fn certificate_thumbprint(path: &Path) -> Result<String, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let shown = path.display();
    let first = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--cert ({shown}): {e}"))?
        .next()
        .ok_or_else(|| format!("--cert ({shown}): no PEM certificate in the file"))?
        .map_err(|e| format!("--cert ({shown}): {e}"))?;
    Ok(ClientCertificate::from_der(&first).thumbprint().to_owned())
}
