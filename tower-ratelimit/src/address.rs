//! The client's address: the TCP peer, or a hop of a header set by a proxy you trust.

use std::net::{IpAddr, SocketAddr};

use http::header::HeaderName;
use http::{Extensions, HeaderMap};

/// The TCP peer's address, from axum's `ConnectInfo<SocketAddr>` (feature `axum`, served with
/// `into_make_service_with_connect_info::<SocketAddr>()`) or a plain `SocketAddr` extension
/// (inserted by your own hyper server).
pub(crate) fn peer(extensions: &Extensions) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    extensions.get::<SocketAddr>().map(SocketAddr::ip)
}

/// Where the client's address is read from.
///
/// **Trust model.** The TCP peer cannot be forged, but behind a reverse proxy it is the
/// proxy, so every client would share one budget. A forwarding header can be forged by any
/// client *unless* a proxy you run overwrites or appends to it: read it only when every
/// request reaches the service through such proxies, and count hops from the right, since
/// entries to the left of the ones your proxies appended are the client's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The TCP peer (default).
    Peer,
    /// The `hop`-th address from the right of the comma-separated header `header` (1 is the
    /// last: the address your one proxy saw). A request whose header is missing or does
    /// not hold an IP address there is counted by its TCP peer.
    TrustedProxyHeader {
        /// The header, e.g. `x-forwarded-for`.
        header: HeaderName,
        /// Hops from the right, at least 1: the number of proxies you run in front.
        hop: usize,
    },
}

impl ClientAddress {
    /// The last `X-Forwarded-For` hop: one trusted proxy in front.
    #[must_use]
    pub fn x_forwarded_for() -> Self {
        Self::TrustedProxyHeader {
            header: HeaderName::from_static("x-forwarded-for"),
            hop: 1,
        }
    }

    /// The client's address from a request's headers and extensions, or `None` if neither
    /// the header nor the peer is known.
    pub(crate) fn of(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        if let Self::TrustedProxyHeader { header, hop } = self {
            let mut values = headers.get_all(header).iter().rev();
            // Hops across repeated header lines count as one list, last line last.
            let mut seen = 0;
            let found = values.find_map(|value| {
                let text = value.to_str().ok()?;
                text.rsplit(',').find_map(|entry| {
                    seen += 1;
                    (seen == *hop).then(|| entry.trim().parse::<IpAddr>().ok())
                })
            });
            if let Some(Some(ip)) = found {
                return Some(ip);
            }
        }
        peer(extensions)
    }
}

#[cfg(test)]
mod tests {
    use http::request::Parts;

    use super::*;

    impl ClientAddress {
        fn of_parts(&self, parts: &Parts) -> Option<IpAddr> {
            self.of(&parts.headers, &parts.extensions)
        }
    }

    fn parts(xff: &[&str], peer: Option<&str>) -> Parts {
        let mut builder = http::Request::builder();
        for value in xff {
            builder = builder.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts.extensions.insert(peer.parse::<SocketAddr>().unwrap());
        }
        parts
    }

    #[test]
    fn the_peer_by_default_and_the_trusted_hop_when_asked() {
        let p = parts(&["6.6.6.6, 1.2.3.4"], Some("10.0.0.1:4000"));
        assert_eq!(
            ClientAddress::Peer.of_parts(&p),
            Some("10.0.0.1".parse().unwrap())
        );
        let xff = ClientAddress::x_forwarded_for();
        assert_eq!(xff.of_parts(&p), Some("1.2.3.4".parse().unwrap()));
        let two = ClientAddress::TrustedProxyHeader {
            header: HeaderName::from_static("x-forwarded-for"),
            hop: 2,
        };
        assert_eq!(two.of_parts(&p), Some("6.6.6.6".parse().unwrap()));
        let lines = parts(&["6.6.6.6", "1.2.3.4"], None);
        assert_eq!(two.of_parts(&lines), Some("6.6.6.6".parse().unwrap()));
    }

    #[test]
    fn a_missing_or_garbled_header_falls_back_to_the_peer() {
        let xff = ClientAddress::x_forwarded_for();
        let peer = Some("10.0.0.1".parse().unwrap());
        assert_eq!(xff.of_parts(&parts(&[], Some("10.0.0.1:1"))), peer);
        assert_eq!(
            xff.of_parts(&parts(&["1.2.3.4, junk"], Some("10.0.0.1:1"))),
            peer
        );
        assert_eq!(xff.of_parts(&parts(&["junk"], None)), None);
    }

    #[cfg(feature = "axum")]
    #[test]
    fn axum_connect_info_is_the_peer() {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        let addr: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        parts.extensions.insert(axum::extract::ConnectInfo(addr));
        assert_eq!(ClientAddress::Peer.of_parts(&parts), Some(addr.ip()));
    }
}
