//! HTTPS for the tests: a pair made by `demo cert`, and clients trusting only it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::BIN;

/// The PEM files `demo cert --out DIR` wrote.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    /// Runs `demo cert --out dir` (default hosts: localhost, 127.0.0.1, ::1).
    pub fn generate(dir: &Path) -> Self {
        let out = std::process::Command::new(BIN)
            .args(["cert", "--out"])
            .arg(dir)
            .env_remove("DEMO_TLS_CERT")
            .env_remove("DEMO_TLS_KEY")
            .output()
            .expect("could not run demo cert");
        assert!(
            out.status.success(),
            "demo cert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pair = Self {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        assert!(pair.cert.is_file() && pair.key.is_file());
        pair
    }

    /// `DEMO_TLS_CERT` / `DEMO_TLS_KEY` for this pair.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("DEMO_TLS_CERT", self.cert.display().to_string()),
            ("DEMO_TLS_KEY", self.key.display().to_string()),
        ]
    }

    /// The certificate, DER (as a TLS handshake presents it).
    pub fn cert_der(&self) -> Vec<u8> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        CertificateDer::from_pem_file(&self.cert).unwrap().to_vec()
    }

    /// A client trusting this certificate only (no built-in roots), reporting the peer's
    /// certificate, not following redirects, opening a new connection per request.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(&self.cert).unwrap();
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }
}

/// The DER certificate the server presented for `res`.
pub fn peer_certificate(res: &reqwest::Response) -> Vec<u8> {
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(reqwest::tls::TlsInfo::peer_certificate)
        .expect("a TLS connection with a peer certificate")
        .to_vec()
}
