//! Certificate-bound access tokens (RFC 8705 §3): a token whose `cnf` claim has
//! `x5t#S256` is accepted only from a client that presented, over mutual TLS, the
//! certificate with that SHA-256 thumbprint.
//!
//! The client certificate comes from one of two places:
//!
//! * **the connection** (the default): the server that terminates TLS puts a
//!   [`ClientCertificate`] into each request's extensions. A client cannot forge an
//!   extension, so it is always read, without any configuration.
//! * **a trusted proxy** ([`MtlsConfigBuilder::trusted_proxy_header`]): the proxy that
//!   terminates TLS forwards the certificate in RFC 9440's `Client-Cert` header, a
//!   structured-field byte sequence (`Client-Cert: :MIIB…=:`). Read only when configured,
//!   and then instead of the extension: a client that reaches the server without the proxy,
//!   or a proxy that passes the client's own `Client-Cert` header on, would let anyone
//!   claim any certificate. The proxy must remove the header from incoming requests.
//!
//! Rules, whether [`JwtAuthenticator::mtls`](crate::JwtAuthenticator::mtls) is configured
//! or not:
//!
//! * a token with `cnf.x5t#S256` and no client certificate, or another certificate, is
//!   refused with 401 `invalid_token` ("the protected resource MUST reject", RFC 8705 §3);
//! * a token without it is accepted as usual, unless
//!   [`require_bound_tokens`](MtlsConfigBuilder::require_bound_tokens) is set;
//! * a `Client-Cert` header that is repeated, longer than
//!   [`MAX_CLIENT_CERT_HEADER_LENGTH`], or not a base64 byte sequence is refused with 400
//!   `invalid_request` (only where the header is trusted; elsewhere it is ignored).
//!
//! The accepted token's thumbprint is [`Claims::certificate_thumbprint`].
//!
//! ```
//! use http::{Request, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt::mtls::{ClientCertificate, MtlsConfig};
//! use tower_jwt::{IssuerConfig, JwtVerifier};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = b"a 32-byte or longer HS256 secret!";
//! let verifier = JwtVerifier::new(
//!     IssuerConfig::builder("https://auth.example.com")
//!         .audience("orders-api")
//!         .hmac_secret(secret)
//!         .build()
//!         .unwrap(),
//! )
//! .unwrap();
//! let mtls = MtlsConfig::builder().require_bound_tokens().build().unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(verifier.authenticator().mtls(mtls).layer())
//!     .service(service_fn(|_req: Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//!
//! // The DER certificate the client presented in the TLS handshake.
//! let certificate_der = b"\x30\x82 (a client certificate, DER)";
//! let certificate = ClientCertificate::from_der(certificate_der);
//!
//! let now = jsonwebtoken::get_current_timestamp();
//! let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
//! header.typ = Some("at+jwt".into());
//! let token = jsonwebtoken::encode(&header, &serde_json::json!({
//!     "iss": "https://auth.example.com", "aud": "orders-api", "sub": "robot",
//!     "iat": now, "exp": now + 60, "nbf": now, "jti": "1",
//!     "cnf": { "x5t#S256": certificate.thumbprint() },
//! }), &jsonwebtoken::EncodingKey::from_secret(secret).unwrap()).unwrap();
//!
//! let mut request = Request::get("/orders")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(())
//!     .unwrap();
//! request.extensions_mut().insert(certificate);
//! assert_eq!(svc.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
//!
//! // The same token without the certificate.
//! let request = Request::get("/orders")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(())
//!     .unwrap();
//! assert_eq!(svc.oneshot(request).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```
//!
//! ## Filling the extension from a rustls connection
//! The server's rustls `ServerConfig` asks for client certificates with a
//! `WebPkiClientVerifier` (`allow_unauthenticated()` lets clients without one in, to be
//! refused per request rather than at the handshake). Once the handshake is done, the
//! first certificate of `peer_certificates()` on the connection is the client's: wrap the
//! connection's service in one that inserts it into every request. With axum-server, an
//! acceptor around its `RustlsAcceptor` does it:
//!
//! ```ignore
//! impl<I, S> Accept<I, S> for ClientCertAcceptor
//! where
//!     I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
//!     S: Send + 'static,
//! {
//!     type Stream = <RustlsAcceptor as Accept<I, S>>::Stream;
//!     type Service = WithClientCertificate<S>; // inserts `certificate` into each request
//!     type Future = BoxFuture<'static, io::Result<(Self::Stream, Self::Service)>>;
//!
//!     fn accept(&self, stream: I, service: S) -> Self::Future {
//!         let tls = self.tls.clone();
//!         Box::pin(async move {
//!             let (stream, service) = tls.accept(stream, service).await?;
//!             let certificate = stream.get_ref().1.peer_certificates()
//!                 .and_then(|chain| chain.first())
//!                 .map(|der| ClientCertificate::from_der(der));
//!             Ok((stream, WithClientCertificate { service, certificate }))
//!         })
//!     }
//! }
//! ```
//! `tests/mtls.rs` in this crate's repository runs this with a real client certificate.
//! With tokio-rustls directly, `peer_certificates()` is on the accepted stream's
//! connection the same way.

use std::fmt;
use std::sync::Arc;

use auth_core::{AuthError, CheckFuture, ConfigError, ConfigErrorKind, Outcome};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderName, Request};
use sha2::{Digest, Sha256};

use crate::identity::Claims;

/// The longest `Client-Cert` header read (16 KiB): a certificate of several kilobytes
/// fits; a longer value is refused before it is decoded.
pub const MAX_CLIENT_CERT_HEADER_LENGTH: usize = 16 * 1024;

/// The certificate the client presented in the TLS handshake, as RFC 8705 compares it:
/// the base64url (no padding) SHA-256 thumbprint of its DER encoding. The server puts it
/// into the extensions of each request of the connection (see the [module docs](self)).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    thumbprint: Arc<str>,
}

impl ClientCertificate {
    /// The certificate whose DER encoding is `der` (the first certificate of the chain the
    /// client presented).
    #[must_use]
    pub fn from_der(der: &[u8]) -> Self {
        Self {
            thumbprint: Arc::from(URL_SAFE_NO_PAD.encode(Sha256::digest(der))),
        }
    }

    /// The `x5t#S256` thumbprint: base64url (no padding) of the SHA-256 of the DER.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientCertificate")
            .field(&self.thumbprint)
            .finish()
    }
}

/// How [`JwtAuthenticator`](crate::JwtAuthenticator) reads client certificates and
/// whether it requires certificate-bound tokens (see the [module docs](self)). Without
/// it, the connection's [`ClientCertificate`] is read and bound tokens are checked all
/// the same.
#[derive(Clone, Debug)]
pub struct MtlsConfig {
    proxy_header: Option<HeaderName>,
    require_bound: bool,
}

/// Builds an [`MtlsConfig`].
#[derive(Debug)]
#[must_use]
pub struct MtlsConfigBuilder {
    proxy_header: Option<String>,
    require_bound: bool,
}

impl MtlsConfig {
    /// A builder: the certificate from the connection, bound tokens not required.
    pub fn builder() -> MtlsConfigBuilder {
        MtlsConfigBuilder {
            proxy_header: None,
            require_bound: false,
        }
    }
}

impl MtlsConfigBuilder {
    /// Read the client certificate from this header (RFC 9440 names it `Client-Cert`),
    /// set by the proxy in front of this server that terminates mutual TLS, instead of the
    /// connection's [`ClientCertificate`]. Only for a server that no client reaches except
    /// through that proxy, which must remove the header from what clients send.
    pub fn trusted_proxy_header(mut self, name: impl Into<String>) -> Self {
        self.proxy_header = Some(name.into());
        self
    }

    /// Refuse tokens that are not bound to a client certificate (no `cnf.x5t#S256`).
    pub fn require_bound_tokens(mut self) -> Self {
        self.require_bound = true;
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for a header name that is not a valid HTTP field
    /// name.
    pub fn build(self) -> Result<MtlsConfig, ConfigError> {
        let proxy_header = match self.proxy_header {
            Some(name) => Some(HeaderName::try_from(name).map_err(|_| {
                ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "trusted_proxy_header",
                    "not a valid HTTP header name",
                )
            })?),
            None => None,
        };
        Ok(MtlsConfig {
            proxy_header,
            require_bound: self.require_bound,
        })
    }
}

/// The thumbprint of the certificate a request comes with, from the trusted header when one
/// is configured, else from the connection's extension.
fn presented<B>(
    config: Option<&MtlsConfig>,
    request: &Request<B>,
) -> Result<Option<Arc<str>>, AuthError> {
    match config.and_then(|c| c.proxy_header.as_ref()) {
        Some(name) => Ok(client_cert_header(request.headers(), name)?
            .map(|der| ClientCertificate::from_der(&der).thumbprint)),
        None => Ok(request
            .extensions()
            .get::<ClientCertificate>()
            .map(|c| Arc::clone(&c.thumbprint))),
    }
}

fn malformed_header(description: &'static str, reason: &'static str) -> AuthError {
    AuthError::invalid_request(description).with_reason(reason)
}

/// Standard base64, padded or not (RFC 8941 §4.2.7 asks parsers to accept both).
const BYTE_SEQUENCE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The DER certificate in the one `name` header, an RFC 9440 `Client-Cert` value: an
/// RFC 8941 byte sequence (`:base64:`), parameters after it ignored.
fn client_cert_header(
    headers: &HeaderMap,
    name: &HeaderName,
) -> Result<Option<Vec<u8>>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(None),
        (Some(value), None) => value,
        (Some(_), Some(_)) => {
            return Err(malformed_header(
                "the request has more than one Client-Cert header",
                "client_cert_duplicate",
            ));
        }
    };
    if value.len() > MAX_CLIENT_CERT_HEADER_LENGTH {
        return Err(malformed_header(
            "the Client-Cert header is too large",
            "client_cert_too_large",
        ));
    }
    let malformed = || {
        malformed_header(
            "the Client-Cert header is not a base64 byte sequence (RFC 9440)",
            "client_cert_malformed",
        )
    };
    let text = value.to_str().map_err(|_| malformed())?.trim_matches(' ');
    let rest = text.strip_prefix(':').ok_or_else(malformed)?;
    let (base64, parameters) = rest.split_once(':').ok_or_else(malformed)?;
    if !(parameters.is_empty() || parameters.starts_with(';')) {
        return Err(malformed());
    }
    match BYTE_SEQUENCE.decode(base64) {
        Ok(der) if !der.is_empty() => Ok(Some(der)),
        _ => Err(malformed()),
    }
}

/// The refusal of a token bound to a certificate that the request does not come with.
fn refused(description: &'static str, reason: &'static str) -> AuthError {
    AuthError::invalid_credential(description).with_reason(reason)
}

/// Applies RFC 8705 §3 to a verified token: its `cnf.x5t#S256` must be the thumbprint of
/// the certificate presented; an unbound token passes unless `require_bound`.
fn check<C>(
    claims: Claims<C>,
    presented: Option<&str>,
    require_bound: bool,
) -> Result<Claims<C>, AuthError> {
    match (claims.certificate_thumbprint(), presented) {
        (Some(bound), Some(presented)) if bound == presented => Ok(claims),
        (Some(_), Some(_)) => Err(refused(
            "the client certificate is not the one the token is bound to",
            "mtls_mismatch",
        )),
        (Some(_), None) => Err(refused(
            "the token is bound to a client certificate: present it over mutual TLS",
            "mtls_missing",
        )),
        (None, _) if require_bound => Err(refused(
            "the token is not bound to a client certificate",
            "mtls_unbound",
        )),
        (None, _) => Ok(claims),
    }
}

/// `outcome` (the token's verdict for `request`) with the certificate binding checked. A
/// refused token keeps its refusal; a bad `Client-Cert` header refuses an accepted one.
#[inline]
pub(crate) fn bind<B, C: Send + Sync + 'static>(
    config: Option<&MtlsConfig>,
    request: &Request<B>,
    outcome: Outcome<Claims<C>, CheckFuture<Claims<C>>>,
) -> Outcome<Claims<C>, CheckFuture<Claims<C>>> {
    let require_bound = config.is_some_and(|c| c.require_bound);
    let proxy_header = config.is_some_and(|c| c.proxy_header.is_some());
    match outcome {
        // The common case, on every cache hit: an unbound token, no certificate required,
        // none to parse from a header. Nothing to look up.
        Outcome::Decided(Ok(claims))
            if claims.certificate_thumbprint().is_none() && !require_bound && !proxy_header =>
        {
            Outcome::Decided(Ok(claims))
        }
        Outcome::Decided(Ok(claims)) => Outcome::Decided(
            presented(config, request)
                .and_then(|presented| check(claims, presented.as_deref(), require_bound)),
        ),
        Outcome::Pending(future) => {
            let presented = presented(config, request);
            Outcome::Pending(CheckFuture::new(async move {
                let claims = future.await?;
                check(claims, presented?.as_deref(), require_bound)
            }))
        }
        outcome => outcome,
    }
}

#[cfg(test)]
mod tests {
    use auth_core::{AuthMethod, Principal};
    use http::{HeaderValue, StatusCode};

    use super::*;
    use crate::identity::Parts;

    fn header(values: &[&[u8]]) -> Result<Option<Vec<u8>>, AuthError> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("client-cert", HeaderValue::from_bytes(value).unwrap());
        }
        client_cert_header(&headers, &HeaderName::from_static("client-cert"))
    }

    fn claims(x5t: Option<&str>) -> Claims<()> {
        Claims::new(Parts {
            principal: Principal::new("robot", AuthMethod::Jwt),
            claims: (),
            issuer: Arc::from("https://issuer.example"),
            jti: None,
            jkt: None,
            x5t: x5t.map(str::to_owned),
            issued_at: 0,
            expires_at: i64::MAX,
            issuer_index: 0,
        })
    }

    #[test]
    fn the_thumbprint_is_base64url_sha256_of_the_der() {
        // SHA-256("abc") = ba7816bf…f20015ad.
        let certificate = ClientCertificate::from_der(b"abc");
        assert_eq!(
            certificate.thumbprint(),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(
            format!("{certificate:?}"),
            r#"ClientCertificate("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")"#
        );
    }

    #[test]
    fn a_client_cert_header_is_an_rfc_8941_byte_sequence() {
        assert_eq!(header(&[]).unwrap(), None);
        assert_eq!(header(&[b":YWJj:"]).unwrap().unwrap(), b"abc");
        assert_eq!(header(&[b"  :YWI=: "]).unwrap().unwrap(), b"ab");
        assert_eq!(
            header(&[b":YWI:"]).unwrap().unwrap(),
            b"ab",
            "padding is optional"
        );
        assert_eq!(
            header(&[b":YWJj:;a=1;b"]).unwrap().unwrap(),
            b"abc",
            "parameters are ignored"
        );
    }

    #[test]
    fn a_malformed_client_cert_header_is_a_bad_request() {
        for value in [
            &b"YWJj"[..],
            b":YWJj",
            b"YWJj:",
            b"::",
            b":YWJj:x",
            b":YW Jj:",
            b":not base64!:",
            b":YWJj-_:",
            b":YWJj:, :YWJj:",
            b"\"YWJj\"",
            b":YWJj\xff:",
            b"",
        ] {
            let error = header(&[value]).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{value:?}");
            assert_eq!(error.reason(), "client_cert_malformed", "{value:?}");
        }
    }

    #[test]
    fn two_or_huge_client_cert_headers_are_bad_requests() {
        let error = header(&[b":YWJj:", b":YWJj:"]).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.reason(), "client_cert_duplicate");

        let mut huge = vec![b'A'; MAX_CLIENT_CERT_HEADER_LENGTH - 1];
        huge[0] = b':';
        huge.push(b':');
        assert_eq!(header(&[&huge]).unwrap().unwrap().len(), 12_286);
        huge.insert(1, b'A');
        let error = header(&[&huge]).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.reason(), "client_cert_too_large");
    }

    #[test]
    fn a_bound_token_needs_its_certificate() {
        let bound = ClientCertificate::from_der(b"the client's certificate");
        let other = ClientCertificate::from_der(b"another certificate");
        let token = || claims(Some(bound.thumbprint()));
        assert!(check(token(), Some(bound.thumbprint()), false).is_ok());
        for (presented, reason) in [
            (Some(other.thumbprint()), "mtls_mismatch"),
            (None, "mtls_missing"),
        ] {
            let error = check(token(), presented, false).unwrap_err();
            assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(error.reason(), reason);
        }
        assert!(check(claims(None), None, false).is_ok());
        assert!(check(claims(None), Some(other.thumbprint()), false).is_ok());
        let error = check(claims(None), Some(other.thumbprint()), true).unwrap_err();
        assert_eq!(error.reason(), "mtls_unbound");
    }

    #[test]
    fn the_proxy_header_name_must_be_a_header_name() {
        let error = MtlsConfig::builder()
            .trusted_proxy_header("client cert")
            .build()
            .unwrap_err();
        assert_eq!(error.field(), "trusted_proxy_header");
        let config = MtlsConfig::builder()
            .trusted_proxy_header("Client-Cert")
            .build()
            .unwrap();
        assert_eq!(config.proxy_header.unwrap().as_str(), "client-cert");
    }
}
