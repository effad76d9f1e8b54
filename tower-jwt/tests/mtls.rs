//! Certificate-bound tokens (RFC 8705) end to end: an axum-server over rustls asking for
//! client certificates puts the client's [`ClientCertificate`] into every request of the
//! connection; a token bound to one certificate is accepted with it only. And RFC 9440's
//! `Client-Cert` header, read only from a configured trusted proxy.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::Authenticated;
use axum::Router;
use axum::routing::get;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tower::{Service, ServiceExt};
use tower_jwt::mtls::{ClientCertificate, MtlsConfig};
use tower_jwt::{Claims, IssuerConfig, JwtAuthenticator, JwtVerifier};

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "orders-api";
const SECRET: &[u8] = b"a 32-byte or longer HS256 secret!";

/// A test CA, the server's certificate and two client certificates it signed.
struct Pki {
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    /// PEM certificate + PKCS#8 key, and the DER certificate, of each client.
    clients: [(String, CertificateDer<'static>); 2],
}

impl Pki {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let client = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (
                format!("{}{}", cert.pem(), key.serialize_pem()),
                cert.der().clone(),
            )
        };
        Self {
            ca: ca.der().clone(),
            server: (
                server.der().clone(),
                PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
            ),
            clients: [
                client("robot-a.example.test"),
                client("robot-b.example.test"),
            ],
        }
    }

    /// Client certificates are asked for, verified against the CA, and optional: a client
    /// without one is refused per request, by the JWT layer.
    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server.0.clone()], self.server.1.clone_key())
            .unwrap();
        Arc::new(config)
    }

    /// A client trusting the CA only, presenting `identity` (a PEM pair) if given.
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        let ca = reqwest::Certificate::from_der(&self.ca).unwrap();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca);
        if let Some(pem) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }
}

/// Completes the TLS handshake, then serves the connection with its client certificate.
#[derive(Clone)]
struct ClientCertAcceptor {
    tls: RustlsAcceptor,
}

impl<I, S> Accept<I, S> for ClientCertAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Send + 'static,
{
    type Stream = <RustlsAcceptor as Accept<I, S>>::Stream;
    type Service = WithClientCertificate<S>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

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

/// A connection's service: inserts the connection's client certificate into each request.
#[derive(Clone)]
struct WithClientCertificate<S> {
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

fn authenticator() -> JwtAuthenticator {
    tower_jwt::ensure_crypto_backend().unwrap();
    let issuer = IssuerConfig::builder(ISSUER)
        .audience(AUDIENCE)
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    JwtVerifier::new(issuer).unwrap().authenticator()
}

fn token(cnf: Option<Value>) -> String {
    // With every feature on, jsonwebtoken has two backends and picks none by itself.
    tower_jwt::ensure_crypto_backend().unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "robot-a", "iat": now, "nbf": now,
        "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(cnf) = cnf {
        claims["cnf"] = cnf;
    }
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap()
}

fn bound_to(der: &[u8]) -> String {
    token(Some(
        json!({ "x5t#S256": ClientCertificate::from_der(der).thumbprint() }),
    ))
}

async fn handler(Authenticated(claims): Authenticated<Claims>) -> String {
    format!(
        "{} {}",
        claims.subject(),
        claims.certificate_thumbprint().unwrap_or("unbound")
    )
}

fn app(authenticator: &JwtAuthenticator) -> Router {
    Router::new()
        .route("/orders", get(handler))
        .route_layer(authenticator.layer())
}

/// Status, `WWW-Authenticate` and body of a GET of `url` with `token`.
async fn get_with(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> (StatusCode, String, String) {
    let res = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge, res.text().await.unwrap())
}

/// Without any configuration: the connection's certificate decides for bound tokens.
#[tokio::test]
async fn a_bound_token_is_accepted_over_mutual_tls_with_its_certificate_only() {
    let pki = Pki::new();
    let app = app(&authenticator());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = ClientCertAcceptor {
        tls: RustlsAcceptor::new(RustlsConfig::from_config(pki.server_config())),
    };
    tokio::spawn(
        axum_server::from_tcp(listener)
            .acceptor(acceptor)
            .serve(app.clone().into_make_service()),
    );
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_url = format!("http://{}/orders", plain.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(plain, app).await });

    let url = format!("https://{addr}/orders");
    let [(pem_a, der_a), (pem_b, _)] = &pki.clients;
    let robot_a = pki.client(Some(pem_a));
    let robot_b = pki.client(Some(pem_b));
    let anonymous = pki.client(None);
    let bound = bound_to(der_a);

    let (status, _, body) = get_with(&robot_a, &url, &bound).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        format!(
            "robot-a {}",
            ClientCertificate::from_der(der_a).thumbprint()
        )
    );

    for (client, url, description) in [
        (
            &robot_b,
            &url,
            "the client certificate is not the one the token is bound to",
        ),
        (
            &anonymous,
            &url,
            "the token is bound to a client certificate: present it over mutual TLS",
        ),
        (
            &reqwest::Client::new(),
            &plain_url,
            "the token is bound to a client certificate: present it over mutual TLS",
        ),
    ] {
        let (status, challenge, _) = get_with(client, url, &bound).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(
            challenge,
            format!(
                r#"Bearer realm="api", error="invalid_token", error_description="{description}""#
            )
        );
    }

    // A token without `cnf` is not affected, with a certificate or without TLS.
    let unbound = token(None);
    for (client, url) in [(&robot_b, &url), (&reqwest::Client::new(), &plain_url)] {
        let (status, _, body) = get_with(client, url, &unbound).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(body, "robot-a unbound");
    }
    // A `x5t#S256` that is not a string makes the token malformed.
    let (status, challenge, _) =
        get_with(&robot_a, &url, &token(Some(json!({ "x5t#S256": 7 })))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("the token is malformed"), "{challenge}");
}

async fn call(
    authenticator: &JwtAuthenticator,
    token: &str,
    headers: &[&str],
    extension: Option<ClientCertificate>,
) -> (StatusCode, String) {
    let mut request = Request::get("/orders").header("authorization", format!("Bearer {token}"));
    for value in headers {
        request = request.header("client-cert", *value);
    }
    let mut request = request.body(axum::body::Body::empty()).unwrap();
    if let Some(certificate) = extension {
        request.extensions_mut().insert(certificate);
    }
    let response = app(authenticator).oneshot(request).await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), challenge)
}

#[tokio::test]
async fn the_client_cert_header_is_read_only_from_a_trusted_proxy() {
    let pki = Pki::new();
    let der = &pki.clients[0].1;
    let forwarded = format!(":{}:", STANDARD.encode(der));
    let bound = bound_to(der);
    let proxied = authenticator().mtls(
        MtlsConfig::builder()
            .trusted_proxy_header("Client-Cert")
            .build()
            .unwrap(),
    );

    assert_eq!(
        call(&proxied, &bound, &[&forwarded], None).await.0,
        StatusCode::OK
    );
    // Behind the proxy, the connection's certificate is the proxy's: not read.
    let extension = Some(ClientCertificate::from_der(der));
    let (status, challenge) = call(&proxied, &bound, &[], extension.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains("present it over mutual TLS"),
        "{challenge}"
    );
    // Not configured: a client's own header is ignored, the connection decides.
    let (status, _) = call(&authenticator(), &bound, &[&forwarded], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&authenticator(), &bound, &[&forwarded], extension)
            .await
            .0,
        StatusCode::OK
    );

    let other = format!(":{}:", STANDARD.encode(&pki.clients[1].1));
    let (status, challenge) = call(&proxied, &bound, &[&other], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains("not the one the token is bound to"),
        "{challenge}"
    );

    // Hostile headers: 400 invalid_request, the token bound or not.
    let huge = format!(":{}:", "A".repeat(20_000));
    for (headers, description) in [
        (
            vec![forwarded.as_str(), forwarded.as_str()],
            "the request has more than one Client-Cert header",
        ),
        (
            vec![":bm90IGEgY2VydA==;"],
            "the Client-Cert header is not a base64 byte sequence (RFC 9440)",
        ),
        (
            vec![":***:"],
            "the Client-Cert header is not a base64 byte sequence (RFC 9440)",
        ),
        (vec![huge.as_str()], "the Client-Cert header is too large"),
    ] {
        for token in [&bound, &token(None)] {
            let (status, challenge) = call(&proxied, token, &headers, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{description}");
            assert_eq!(
                challenge,
                format!(
                    r#"Bearer realm="api", error="invalid_request", error_description="{description}""#
                )
            );
        }
    }

    // Required binding: an unbound token is refused even with a certificate.
    let required = authenticator().mtls(
        MtlsConfig::builder()
            .trusted_proxy_header("client-cert")
            .require_bound_tokens()
            .build()
            .unwrap(),
    );
    let (status, challenge) = call(&required, &token(None), &[&forwarded], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains("the token is not bound to a client certificate"),
        "{challenge}"
    );
    assert_eq!(
        call(&required, &bound, &[&forwarded], None).await.0,
        StatusCode::OK
    );
}
