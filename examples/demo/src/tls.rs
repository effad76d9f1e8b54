//! HTTPS: the rustls server configuration read from `DEMO_TLS_CERT` / `DEMO_TLS_KEY`, its
//! reload at SIGHUP, and `demo cert`'s self-signed pair for local use.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsFiles;

/// The names a `demo cert` certificate is valid for when no `--host` is given.
pub(crate) const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The server configuration for `files`: TLS 1.2 and 1.3 (ring), no client certificates,
/// HTTP/2 and HTTP/1.1 offered by ALPN.
///
/// # Errors
///
/// A message naming the file that cannot be read or parsed, or saying that the key does
/// not belong to the certificate.
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
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "DEMO_TLS_CERT ({cert_path}) and DEMO_TLS_KEY ({key_path}) do not make a pair: {e}"
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// At each SIGHUP, reads `files` again: new handshakes use the new pair; a pair that does
/// not load is logged and the one in use kept. Runs until the process exits.
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
                    tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
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
}
