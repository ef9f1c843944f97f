//! Who is asking: the client's address and whether it came over HTTPS,
//! believing `X-Forwarded-For`, `X-Real-IP` and `X-Forwarded-Proto` only when
//! the connection comes from a configured reverse proxy
//! (`application.trusted_proxies`). From anyone else those headers are
//! ignored: they are trivial to forge.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use actix_web::web;

use crate::state::AppState;

/// The client as far as we can trust what we are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub address: Option<IpAddr>,
    /// The proxy that forwarded the request, when it is a trusted one.
    pub proxy: Option<IpAddr>,
    /// Whether the client's connection (to us or to the proxy) is HTTPS.
    pub https: bool,
}

impl ClientInfo {
    /// Works out the client of a request from `peer` with `headers`, arriving
    /// on a listener that is (`tls`) or is not encrypted.
    pub fn new(peer: Option<IpAddr>, headers: &HeaderMap, tls: bool, trusted: &[IpAddr]) -> Self {
        let Some(proxy) = peer.filter(|peer| trusted.contains(peer)) else {
            return Self {
                address: peer,
                proxy: None,
                https: tls,
            };
        };
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        // X-Real-IP is set (not appended to) by the proxy itself; failing
        // that, the rightmost address in X-Forwarded-For that no trusted
        // proxy added is the client.
        let forwarded_for = header("x-forwarded-for").and_then(|chain| {
            chain
                .rsplit(',')
                .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
                .find(|hop| !trusted.contains(hop))
        });
        let real_ip = header("x-real-ip").and_then(|value| value.trim().parse().ok());
        let https = header("x-forwarded-proto")
            .map(|proto| proto.trim().eq_ignore_ascii_case("https"))
            .unwrap_or(tls);
        Self {
            address: real_ip.or(forwarded_for).or(Some(proxy)),
            proxy: Some(proxy),
            https,
        }
    }

    /// The client of `request`, trusting the proxies the application is configured with.
    pub fn of(request: &HttpRequest) -> Self {
        let trusted = request
            .app_data::<web::Data<AppState>>()
            .map(|state| state.trusted_proxies.as_ref())
            .unwrap_or_default();
        Self::new(
            request.peer_addr().map(|peer| peer.ip()),
            request.headers(),
            request.app_config().secure(),
            trusted,
        )
    }

    /// The client's address for logs and pages.
    pub fn address_text(&self) -> String {
        self.address
            .map(|address| address.to_string())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_from_strangers_are_ignored() {
        let forged = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = ClientInfo::new(Some(ip("203.0.113.9")), &forged, false, &[ip("127.0.0.1")]);
        assert_eq!(client.address, Some(ip("203.0.113.9")));
        assert_eq!(client.proxy, None);
        assert!(!client.https);
    }

    #[test]
    fn a_trusted_proxy_is_believed() {
        let forwarded = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2"),
            ("x-forwarded-proto", "https"),
        ]);
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        let client = ClientInfo::new(Some(ip("127.0.0.1")), &forwarded, false, &trusted);
        assert_eq!(
            client.address,
            Some(ip("198.51.100.7")),
            "the client prepends what it likes"
        );
        assert_eq!(client.proxy, Some(ip("127.0.0.1")));
        assert!(client.https);
    }

    #[test]
    fn a_proxy_without_headers_is_the_client() {
        let client = ClientInfo::new(
            Some(ip("127.0.0.1")),
            &HeaderMap::new(),
            false,
            &[ip("127.0.0.1")],
        );
        assert_eq!(client.address, Some(ip("127.0.0.1")));
        assert!(!client.https);
    }

    #[test]
    fn x_real_ip_from_the_proxy_wins_over_a_forged_chain() {
        let forwarded = headers(&[
            ("x-real-ip", "127.0.0.1"),
            ("x-forwarded-for", "6.6.6.6, 127.0.0.1"),
        ]);
        let client = ClientInfo::new(Some(ip("127.0.0.1")), &forwarded, false, &[ip("127.0.0.1")]);
        assert_eq!(client.address, Some(ip("127.0.0.1")));
    }

    #[test]
    fn x_real_ip_alone_is_believed() {
        let forwarded = headers(&[("x-real-ip", "198.51.100.7")]);
        let client = ClientInfo::new(Some(ip("127.0.0.1")), &forwarded, false, &[ip("127.0.0.1")]);
        assert_eq!(client.address, Some(ip("198.51.100.7")));
    }
}
