//! [`RejectionBody`]: the layers keep the inner service's response body type.

use bytes::Bytes;
use http_body_util::Full;
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};

/// A response body type that can carry a refusal's bytes.
///
/// The engine's layers answer with the inner service's own body type, so stacking them
/// (authentication, then scopes) changes no types: an axum router still returns axum's
/// `Body`, a tonic server tonic's. Implemented for axum's body (feature `axum`), tonic's
/// (feature `tonic`), `http-body-util`'s `Full<Bytes>`, `BoxBody` and `UnsyncBoxBody`, and
/// `String`. Implement it for your own body type if a hyper service uses another:
///
/// ```
/// use auth_core::RejectionBody;
/// use bytes::Bytes;
///
/// struct MyBody(Bytes);
///
/// impl RejectionBody for MyBody {
///     fn from_rejection(bytes: Bytes) -> Self {
///         MyBody(bytes)
///     }
/// }
/// ```
pub trait RejectionBody {
    /// A body holding `bytes` (a JSON error document, or nothing for gRPC).
    fn from_rejection(bytes: Bytes) -> Self;
}

impl RejectionBody for Full<Bytes> {
    fn from_rejection(bytes: Bytes) -> Self {
        Full::new(bytes)
    }
}

impl<E: 'static> RejectionBody for BoxBody<Bytes, E> {
    fn from_rejection(bytes: Bytes) -> Self {
        use http_body_util::BodyExt;
        Full::new(bytes)
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed()
    }
}

impl<E: 'static> RejectionBody for UnsyncBoxBody<Bytes, E> {
    fn from_rejection(bytes: Bytes) -> Self {
        use http_body_util::BodyExt;
        Full::new(bytes)
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync()
    }
}

/// The bytes as text; an engine rejection's body is always UTF-8 JSON.
impl RejectionBody for String {
    fn from_rejection(bytes: Bytes) -> Self {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(feature = "axum")]
impl RejectionBody for axum_core::body::Body {
    fn from_rejection(bytes: Bytes) -> Self {
        Self::from(bytes)
    }
}

#[cfg(feature = "tonic")]
impl RejectionBody for tonic::body::Body {
    fn from_rejection(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            Self::default()
        } else {
            Self::new(Full::new(bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn each_body_carries_the_bytes() {
        let full = Full::from_rejection(Bytes::from_static(b"{}"));
        assert_eq!(full.collect().await.unwrap().to_bytes().as_ref(), b"{}");
        let boxed = BoxBody::<Bytes, std::io::Error>::from_rejection(Bytes::from_static(b"x"));
        assert_eq!(boxed.collect().await.unwrap().to_bytes().as_ref(), b"x");
        let unsync = UnsyncBoxBody::<Bytes, std::io::Error>::from_rejection(Bytes::new());
        assert!(unsync.collect().await.unwrap().to_bytes().is_empty());
        assert_eq!(String::from_rejection(Bytes::from_static(b"ok")), "ok");
    }
}
