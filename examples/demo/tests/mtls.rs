//! Certificate-bound access tokens (RFC 8705) over the demo's HTTPS listener: with
//! `DEMO_TLS_CLIENT_CA`, the server asks clients for a certificate, verifies it against that
//! CA, and a token of `demo token --cert FILE` (`cnf.x5t#S256`) is accepted from the client
//! presenting that certificate only. Clients without a certificate still connect; one from
//! another CA fails the handshake. SIGHUP reads the client CA again.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{SECRET, Server, TempDir, assert_rejected, command, refused_start, resource_metadata};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A CA, a server pair it signed and a client certificate of its own, as PEM files and
/// client identities.
struct Pki {
    /// `DEMO_TLS_CLIENT_CA`: the CA's certificate.
    ca: PathBuf,
    /// `DEMO_TLS_CERT` / `DEMO_TLS_KEY`, signed by the CA for 127.0.0.1.
    cert: PathBuf,
    key: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
}

impl Pki {
    fn new(dir: &TempDir, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let pki = Self {
            ca: dir.0.join(format!("{name}-ca.pem")),
            cert: dir.0.join(format!("{name}-cert.pem")),
            key: dir.0.join(format!("{name}-key.pem")),
            issuer,
            ca_pem,
        };
        std::fs::write(&pki.ca, &pki.ca_pem).unwrap();
        std::fs::write(&pki.cert, server.pem()).unwrap();
        std::fs::write(&pki.key, server_key.serialize_pem()).unwrap();
        pki
    }

    /// A client certificate for `name` signed by this CA, its PEM written to `dir`.
    fn client_certificate(&self, dir: &TempDir, name: &str) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let file = dir.0.join(format!("{name}.pem"));
        std::fs::write(&file, cert.pem()).unwrap();
        ClientCert {
            identity: format!("{}{}", cert.pem(), key.serialize_pem()),
            file: file.display().to_string(),
            der: cert.der().to_vec(),
        }
    }

    fn env(&self) -> [(&'static str, String); 3] {
        [
            ("DEMO_TLS_CERT", self.cert.display().to_string()),
            ("DEMO_TLS_KEY", self.key.display().to_string()),
            ("DEMO_TLS_CLIENT_CA", self.ca.display().to_string()),
        ]
    }

    /// A client trusting this CA only, presenting `identity` (PEM certificate and key).
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        self.client_builder(identity).build().unwrap()
    }

    fn client_builder(&self, identity: Option<&str>) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(30));
        if let Some(pem) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder
    }
}

/// A client's certificate.
struct ClientCert {
    /// The PEM certificate and key (a reqwest identity).
    identity: String,
    /// The PEM file of the certificate.
    file: String,
    der: Vec<u8>,
}

/// The `x5t#S256` of a DER certificate: base64url (no padding) of its SHA-256.
fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// `demo token --sub SUB --scopes read`, with `--cert` if given.
fn token(server: &Server, sub: &str, cert: Option<&ClientCert>) -> String {
    let mut args = vec!["token", "--sub", sub, "--scopes", "read"];
    if let Some(cert) = cert {
        args.extend(["--cert", cert.file.as_str()]);
    }
    server.cli(&args).trim().to_owned()
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn whoami(
    server: &Server,
    client: &reqwest::Client,
    token: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(token)
        .send()
        .await
}

/// Asserts 401 `invalid_token` with `description` in the challenge.
async fn assert_refused(res: reqwest::Response, token: &str, description: &str) {
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#)
            && challenge.contains(&format!(r#"error_description="{description}""#)),
        "{challenge}"
    );
    assert_rejected(res, 401, "invalid_token", token).await;
}

#[tokio::test]
async fn a_bound_token_is_accepted_with_its_client_certificate_only() {
    let dir = TempDir::new();
    let pki = Pki::new(&dir, "trusted");
    let env = pki.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    assert!(server.url.starts_with("https://"), "{}", server.url);

    let robot_a_cert = pki.client_certificate(&dir, "robot-a.example.test");
    let robot_b_cert = pki.client_certificate(&dir, "robot-b.example.test");
    let robot_a = pki.client(Some(&robot_a_cert.identity));
    let robot_b = pki.client(Some(&robot_b_cert.identity));
    let anonymous = pki.client(None);
    let bound = token(&server, "robot-a", Some(&robot_a_cert));
    assert_eq!(
        claims(&bound)["cnf"],
        json!({ "x5t#S256": thumbprint(&robot_a_cert.der) })
    );

    // Twice: the second request reads the certificate again (a cached token included).
    for _ in 0..2 {
        let res = whoami(&server, &robot_a, &bound).await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["subject"], "robot-a", "{body}");
        assert_eq!(body["method"], "jwt", "{body}");
    }

    let res = whoami(&server, &robot_b, &bound).await.unwrap();
    assert_refused(
        res,
        &bound,
        "the client certificate is not the one the token is bound to",
    )
    .await;
    let res = whoami(&server, &anonymous, &bound).await.unwrap();
    assert_refused(
        res,
        &bound,
        "the token is bound to a client certificate: present it over mutual TLS",
    )
    .await;

    // RFC 9728: the metadata says certificate-bound tokens are taken.
    let metadata = resource_metadata(&anonymous, &server).await;
    assert_eq!(
        metadata["tls_client_certificate_bound_access_tokens"], true,
        "{metadata}"
    );

    // The listener asks for a certificate but does not demand one.
    let unbound = token(&server, "carol", None);
    assert!(claims(&unbound).get("cnf").is_none());
    let res = whoami(&server, &anonymous, &unbound).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["subject"], "carol", "{body}");

    // A certificate of another CA fails the handshake: no answer at all. Over TLS 1.3 the
    // client may have sent its request when the server's alert arrives; over TLS 1.2 the
    // client waits for the server's Finished, so the connection itself fails with the alert.
    let other = Pki::new(&dir, "other");
    let stranger = other.client_certificate(&dir, "stranger.example.test");
    let stranger_token = token(&server, "stranger", Some(&stranger));
    let error = whoami(
        &server,
        &pki.client(Some(&stranger.identity)),
        &stranger_token,
    )
    .await
    .unwrap_err();
    assert!(error.status().is_none(), "{error:?}");
    let tls12 = pki
        .client_builder(Some(&stranger.identity))
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    let error = whoami(&server, &tls12, &stranger_token).await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    assert!(chain.contains("received fatal alert: UnknownCA"), "{chain}");

    // SIGHUP reads the client CA again: the other CA's certificates are now the trusted ones.
    std::fs::copy(&other.ca, &pki.ca).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("`kill` is needed to send SIGHUP");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let res = loop {
        if let Ok(res) = whoami(&server, &tls12, &stranger_token).await {
            break res;
        }
        assert!(
            Instant::now() < deadline,
            "the new client CA was not loaded within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(res.status(), 200);
    // Open connections keep the CA they were verified with; a new one is refused.
    let robot_a = pki.client(Some(&robot_a_cert.identity));
    let error = whoami(&server, &robot_a, &bound).await.unwrap_err();
    assert!(error.status().is_none(), "{error:?}");
}

#[test]
fn a_client_ca_without_https_or_without_a_certificate_is_refused_at_start() {
    let dir = TempDir::new();
    let pki = Pki::new(&dir, "trusted");
    let ca = pki.ca.display().to_string();
    let stderr = refused_start(&[("DEMO_TLS_CLIENT_CA", &ca)]);
    assert!(
        stderr.contains("DEMO_TLS_CLIENT_CA needs DEMO_TLS_CERT and DEMO_TLS_KEY"),
        "{stderr}"
    );

    // The server's key in place of the CA: a PEM file without a certificate.
    let [cert, key, _] = pki.env();
    let stderr = refused_start(&[
        (cert.0, &cert.1),
        (key.0, &key.1),
        ("DEMO_TLS_CLIENT_CA", &key.1),
    ]);
    assert!(
        stderr.contains(&format!(
            "DEMO_TLS_CLIENT_CA ({}): no PEM certificate in the file",
            key.1
        )),
        "{stderr}"
    );
}

#[test]
fn demo_token_refuses_a_cert_file_without_a_certificate() {
    let dir = TempDir::new();
    let pki = Pki::new(&dir, "trusted");
    let key = pki.key.display().to_string();
    let env = [("DEMO_JWT_SECRET".to_owned(), SECRET.to_owned())];
    let out = command(&env)
        .args(["token", "--sub", "robot", "--cert", &key])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("--cert ({key}): no PEM certificate in the file")),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no token printed");
}
