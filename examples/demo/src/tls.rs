//! HTTPS: the rustls server configuration read from `DEMO_TLS_CERT` / `DEMO_TLS_KEY` (and
//! `DEMO_TLS_CLIENT_CA`), its reload at SIGHUP, the acceptor that hands each request its
//! connection's client certificate, and `demo cert`'s self-signed pair for local use.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use http::Request;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tower::Service;
use tower_jwt::mtls::ClientCertificate;

use crate::config::TlsFiles;

/// The names a `demo cert` certificate is valid for when no `--host` is given.
pub(crate) const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The server configuration for `files`: TLS 1.2 and 1.3 (ring), HTTP/2 and HTTP/1.1
/// offered by ALPN. Without a client CA, no client certificate is asked for; with one,
/// every client is asked, a client without a certificate is let in, and a presented
/// certificate that does not chain to the CA fails the handshake.
///
/// # Errors
///
/// A message naming the variable and the file that cannot be read or parsed, or saying
/// that the key does not belong to the certificate.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let cert_path = files.cert.display();
    let key_path = files.key.display();
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("DEMO_TLS_CERT ({cert_path}): {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "DEMO_TLS_CERT ({cert_path}): no PEM certificate in the file"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("DEMO_TLS_KEY ({key_path}): {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, provider)?),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        format!("DEMO_TLS_CERT ({cert_path}) and DEMO_TLS_KEY ({key_path}) do not make a pair: {e}")
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `DEMO_TLS_CLIENT_CA`'s verifier: client certificates are asked for and, when presented,
/// must chain to one of the CA certificates in the PEM file `ca`; clients without one are
/// let in (to be refused per request where a certificate-bound token needs one).
fn client_verifier(
    ca: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let ca_path = ca.display();
    let certificates = CertificateDer::pem_file_iter(ca)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("DEMO_TLS_CLIENT_CA ({ca_path}): {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "DEMO_TLS_CLIENT_CA ({ca_path}): no PEM certificate in the file"
        ));
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|e| format!("DEMO_TLS_CLIENT_CA ({ca_path}): {e}"))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("DEMO_TLS_CLIENT_CA ({ca_path}): {e}"))
}

/// At each SIGHUP, reads `files` again (the client CA too): new handshakes use the new
/// configuration; one that does not load is logged and the one in use kept. Runs until the
/// process exits.
///
/// # Errors
///
/// When the signal handler cannot be installed (the process would otherwise die at the
/// first SIGHUP).
#[cfg(unix)]
pub(crate) fn reload_on_sighup(config: RustlsConfig, files: TlsFiles) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups =
        signal(SignalKind::hangup()).map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match server_config(&files) {
                Ok(new) => {
                    config.reload_from_config(new);
                    tracing::info!(
                        cert = %files.cert.display(),
                        client_ca = ?files.client_ca,
                        "TLS certificate reloaded"
                    );
                }
                Err(error) => tracing::error!(
                    %error,
                    "TLS certificate not reloaded: new connections keep the previous pair"
                ),
            }
        }
    });
    Ok(())
}

/// Without SIGHUP, the pair is read once.
#[cfg(not(unix))]
pub(crate) fn reload_on_sighup(_config: RustlsConfig, _files: TlsFiles) -> Result<(), String> {
    Ok(())
}

/// Completes the TLS handshake with [`RustlsAcceptor`], then serves the connection with its
/// client certificate: the first certificate the client presented becomes a
/// [`ClientCertificate`] extension of every request on the connection, which tower-jwt
/// compares with a certificate-bound token's `cnf.x5t#S256` (RFC 8705). A client cannot
/// set a request extension, so nothing but the handshake decides it.
#[derive(Clone)]
pub(crate) struct ClientCertAcceptor {
    tls: RustlsAcceptor,
}

impl ClientCertAcceptor {
    /// Handshakes with `config` (reloadable).
    pub(crate) fn new(config: RustlsConfig) -> Self {
        Self {
            tls: RustlsAcceptor::new(config),
        }
    }
}

impl<I, S> Accept<I, S> for ClientCertAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Send + 'static,
{
    type Stream = <RustlsAcceptor as Accept<I, S>>::Stream;
    type Service = WithClientCertificate<S>;
    type Future =
        Pin<Box<dyn Future<Output = std::io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let (stream, service) = tls.accept(stream, service).await?;
            let certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| ClientCertificate::from_der(der));
            Ok((
                stream,
                WithClientCertificate {
                    service,
                    certificate,
                },
            ))
        })
    }
}

/// A connection's service: inserts the connection's client certificate, if any, into each
/// request.
#[derive(Clone)]
pub(crate) struct WithClientCertificate<S> {
    service: S,
    certificate: Option<ClientCertificate>,
}

impl<S: Service<Request<B>>, B> Service<Request<B>> for WithClientCertificate<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        if let Some(certificate) = &self.certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        self.service.call(request)
    }
}

/// Writes a self-signed certificate for `hosts` (DNS names or IP addresses) and its key as
/// `cert.pem` and `key.pem` (mode 0600) in `out`, creating the directory.
///
/// # Errors
///
/// A message when a host name is not acceptable or a file cannot be written.
pub(crate) fn write_self_signed(out: &Path, hosts: &[String]) -> Result<TlsFiles, String> {
    let hosts: Vec<String> = if hosts.is_empty() {
        DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect()
    } else {
        hosts.to_vec()
    };
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(hosts).map_err(|e| format!("--host: {e}"))?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let files = TlsFiles {
        cert: out.join("cert.pem"),
        key: out.join("key.pem"),
        client_ca: None,
    };
    write_file(&files.cert, cert.pem().as_bytes(), 0o644)?;
    write_file(&files.key, signing_key.serialize_pem().as_bytes(), 0o600)?;
    Ok(files)
}

/// Writes `contents` to `path`, replacing it, with `mode` on Unix.
fn write_file(path: &PathBuf, contents: &[u8], mode: u32) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(contents)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("towerauth-demo-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_generated_pair_loads_and_offers_h2_then_http1() {
        let dir = temp_dir("pair");
        let files = write_self_signed(&dir, &[]).unwrap();
        let config = server_config(&files).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_of_another_certificate_or_a_bad_file_is_refused() {
        let (a, b) = (temp_dir("a"), temp_dir("b"));
        let first = write_self_signed(&a, &["a.test".to_owned()]).unwrap();
        let second = write_self_signed(&b, &["b.test".to_owned()]).unwrap();
        let mixed = TlsFiles {
            cert: first.cert.clone(),
            key: second.key.clone(),
            client_ca: None,
        };
        let error = server_config(&mixed).unwrap_err();
        assert!(error.contains("do not make a pair"), "{error}");

        std::fs::write(&first.cert, "not a certificate").unwrap();
        let error = server_config(&first).unwrap_err();
        assert!(
            error.contains("DEMO_TLS_CERT") && error.contains("no PEM certificate"),
            "{error}"
        );
        let missing = TlsFiles {
            cert: second.cert,
            key: a.join("absent.pem"),
            client_ca: None,
        };
        let error = server_config(&missing).unwrap_err();
        assert!(error.contains("DEMO_TLS_KEY"), "{error}");
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn a_bad_host_name_is_refused() {
        let dir = temp_dir("bad-host");
        let error = write_self_signed(&dir, &["exämple.test".to_owned()]).unwrap_err();
        assert!(error.starts_with("--host"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A self-signed CA certificate, PEM.
    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_client_ca_file_loads_and_one_without_a_certificate_is_refused() {
        let dir = temp_dir("client-ca");
        let mut files = write_self_signed(&dir, &[]).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, format!("{}{}", ca_pem(), ca_pem())).unwrap();
        files.client_ca = Some(ca.clone());
        let config = server_config(&files).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        // The key instead of the CA: a PEM file, but no certificate in it.
        files.client_ca = Some(files.key.clone());
        let error = server_config(&files).unwrap_err();
        assert_eq!(
            error,
            format!(
                "DEMO_TLS_CLIENT_CA ({}): no PEM certificate in the file",
                files.key.display()
            )
        );
        std::fs::write(&ca, "").unwrap();
        files.client_ca = Some(ca.clone());
        let error = server_config(&files).unwrap_err();
        assert!(error.contains("no PEM certificate in the file"), "{error}");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = server_config(&files).unwrap_err();
        assert!(
            error.starts_with(&format!("DEMO_TLS_CLIENT_CA ({}): ", ca.display())),
            "{error}"
        );
        let absent = dir.join("absent.pem");
        files.client_ca = Some(absent.clone());
        let error = server_config(&files).unwrap_err();
        assert!(
            error.starts_with(&format!("DEMO_TLS_CLIENT_CA ({}): ", absent.display())),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
