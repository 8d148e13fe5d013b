//! Checks on origins that users supply (a Mastodon instance, a Bluesky PDS) before Steward
//! sends anything there, so that a collaborator cannot point the server at its own network
//! (server-side request forgery).
//!
//! The check resolves the host at the moment it is called. Callers run it whenever a user
//! supplies or changes an origin, and the connectors' entry points (`mastodon::register_app`,
//! `bluesky::create_session`) run it on every call. A host whose DNS changes between the check
//! and a call (rebinding) is caught by [`PublicOnlyResolver`], the resolver of the HTTP client
//! every call goes through: each connection resolves the name once, refuses it if any address is
//! not public, and connects to exactly the addresses it checked.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::ConnectorError;

/// The environment variable that lets Steward talk to private addresses (tests, a demo, a
/// self-hosted instance on the same network).
pub const ALLOW_PRIVATE_ENV: &str = "STEWARD_ALLOW_PRIVATE_NETWORKS";

/// Whether `STEWARD_ALLOW_PRIVATE_NETWORKS=true` is set.
#[must_use]
pub fn allow_private_from_env() -> bool {
    std::env::var(ALLOW_PRIVATE_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Checks a user-supplied origin and returns it normalized (`scheme://host[:port]/`).
///
/// Refused with `Rejected`: anything that is not an `https` origin (plain `http` is accepted
/// only with `allow_private`), user names or passwords in the URL, a path, query or fragment,
/// and hosts that are, or resolve to, loopback, private, carrier-grade NAT, link-local,
/// unique-local, multicast, broadcast, documentation or unspecified addresses (IPv4, IPv6,
/// and IPv4 embedded in IPv6), unless `allow_private`. A host that does not resolve is
/// `Transient` (DNS may come back).
pub async fn check_outbound_url(url: &str, allow_private: bool) -> Result<reqwest::Url, ConnectorError> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|e| ConnectorError::Rejected(format!("{url:?} is not a URL ({e})")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(ConnectorError::Rejected(format!(
                "{url:?} must use https (plain http is allowed only with {ALLOW_PRIVATE_ENV}=true)"
            )));
        }
        other => {
            return Err(ConnectorError::Rejected(format!("{url:?} uses the scheme {other:?}; only https is allowed")));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConnectorError::Rejected("the URL must not contain a user name or password".into()));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConnectorError::Rejected(format!(
            "{url:?} must be an origin only, like https://mastodon.example (no path, query or fragment)"
        )));
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let Some(host_str) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(ConnectorError::Rejected(format!("{url:?} has no host")));
    };
    // IPv6 literals come bracketed; the URL parser has already normalized IPv4 literals.
    let host = match host_str.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host_str.to_string()),
    };
    if !allow_private {
        let addrs: Vec<IpAddr> = match host {
            Host::Ip(ip) => vec![ip],
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|e| ConnectorError::Transient(format!("cannot resolve {name:?}: {e}")))?
                .map(|sa| sa.ip())
                .collect(),
        };
        if addrs.is_empty() {
            return Err(ConnectorError::Transient("the host resolved to no address".into()));
        }
        if let Some(bad) = addrs.iter().find(|ip| !is_public(**ip)) {
            return Err(ConnectorError::Rejected(format!(
                "{url:?} points to the non-public address {bad}; Steward refuses private networks unless {ALLOW_PRIVATE_ENV}=true"
            )));
        }
    }
    let mut origin = parsed;
    origin.set_path("/");
    Ok(origin)
}

/// Checks a user-supplied endpoint URL (an alert webhook) like [`check_outbound_url`] checks an
/// origin, but allowing a path and query: the scheme, credentials-in-URL and address rules are
/// the same. Returns the URL as parsed.
pub async fn check_outbound_endpoint(url: &str, allow_private: bool) -> Result<reqwest::Url, ConnectorError> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|e| ConnectorError::Rejected(format!("{url:?} is not a URL ({e})")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConnectorError::Rejected("the URL must not contain a user name or password".into()));
    }
    if parsed.fragment().is_some() {
        return Err(ConnectorError::Rejected(format!("{url:?} must not have a fragment")));
    }
    check_outbound_url(&parsed.origin().ascii_serialization(), allow_private).await?;
    Ok(parsed)
}

enum Host {
    Name(String),
    Ip(IpAddr),
}

/// The DNS resolver of Steward's HTTP client: resolves a name once per connection and hands
/// reqwest the very addresses it checked, so the connection goes where the check looked. Unless
/// private networks are allowed, a name with any non-public address (loopback, private,
/// link-local, and their 6to4, NAT64 and Teredo forms) is refused before anything connects.
/// IP-literal URLs do not reach a resolver: [`check_outbound_url`] checks those.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnlyResolver {
    allow_private: bool,
}

impl PublicOnlyResolver {
    #[must_use]
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// Resolves `host` and checks every address; the addresses to connect to.
    pub async fn resolve_checked(&self, host: &str) -> Result<Vec<SocketAddr>, ConnectorError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| ConnectorError::Transient(format!("cannot resolve {host:?}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(ConnectorError::Transient(format!("{host:?} resolved to no address")));
        }
        if !self.allow_private
            && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(ConnectorError::Rejected(format!(
                "{host:?} resolves to the non-public address {}; Steward refuses private networks unless {ALLOW_PRIVATE_ENV}=true",
                bad.ip()
            )));
        }
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = *self;
        Box::pin(async move {
            let addrs =
                this.resolve_checked(name.as_str()).await.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> {
                    Box::new(std::io::Error::other(e.to_string()))
                })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is a globally routable unicast address.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_documentation()
        || a.is_multicast()
        || o0 == 0 // "this network"
        || (o0 == 100 && (64..128).contains(&o1)) // carrier-grade NAT, 100.64/10
        || (o0 == 192 && o1 == 0 && o2 == 0) // IETF protocol assignments, 192.0.0/24
        || (o0 == 198 && (o1 == 18 || o1 == 19)) // benchmarking, 198.18/15
        || o0 >= 240) // reserved
}

fn v4_of(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = a.segments();
    // NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0, 0, 0, 0] || s[2] == 1) {
        return is_public_v4(v4_of(s[6], s[7]));
    }
    // 6to4 (2002::/16) carries the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_public_v4(v4_of(s[1], s[2]));
    }
    // Teredo (2001:0::/32): the server's IPv4 in bits 32..64, the client's, inverted, in the last 32.
    if s[0] == 0x2001 && s[1] == 0 {
        return is_public_v4(v4_of(s[2], s[3])) && is_public_v4(v4_of(!s[6], !s[7]));
    }
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d (deprecated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn refused(url: &str) -> String {
        match check_outbound_url(url, false).await {
            Err(ConnectorError::Rejected(m)) => m,
            other => panic!("{url} should be refused, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn public_https_origins_pass_and_are_normalized() {
        let u = check_outbound_url("https://93.184.215.14", false).await.unwrap();
        assert_eq!(u.as_str(), "https://93.184.215.14/");
        let u = check_outbound_url("https://[2606:4700::1111]:8443/", false).await.unwrap();
        assert_eq!(u.as_str(), "https://[2606:4700::1111]:8443/");
    }

    #[tokio::test]
    async fn schemes_credentials_and_paths_are_refused() {
        assert!(refused("http://93.184.215.14").await.contains("https"));
        assert!(refused("ftp://93.184.215.14").await.contains("scheme"));
        assert!(refused("file:///etc/passwd").await.contains("scheme"));
        assert!(refused("https://user:pw@93.184.215.14").await.contains("user name"));
        assert!(refused("https://user@93.184.215.14").await.contains("user name"));
        assert!(refused("https://93.184.215.14/api/v1").await.contains("origin only"));
        assert!(refused("https://93.184.215.14/?x=1").await.contains("origin only"));
        assert!(refused("https://93.184.215.14/#frag").await.contains("origin only"));
        assert!(refused("not a url").await.contains("not a URL"));
    }

    #[tokio::test]
    async fn private_literals_are_refused() {
        for url in [
            "https://127.0.0.1",
            "https://127.8.9.10:8080",
            "https://10.1.2.3",
            "https://172.16.0.1",
            "https://192.168.1.1",
            "https://169.254.169.254",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://255.255.255.255",
            "https://[::1]",
            "https://[::]",
            "https://[fd00::1]",
            "https://[fe80::1]",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:10.0.0.1]",
            "https://[64:ff9b::a9fe:a9fe]",
            "https://[ff02::1]",
        ] {
            assert!(refused(url).await.contains("non-public"), "{url}");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_to_loopback_are_refused() {
        assert!(refused("https://localhost").await.contains("non-public"));
        assert!(refused("https://localhost:3000/").await.contains("non-public"));
    }

    #[tokio::test]
    async fn allow_private_admits_local_http() {
        let u = check_outbound_url("http://127.0.0.1:4000", true).await.unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:4000/");
        check_outbound_url("http://localhost:4000/", true).await.unwrap();
        // Still only origins, still no credentials, still only http(s).
        assert!(check_outbound_url("http://127.0.0.1:4000/x", true).await.is_err());
        assert!(check_outbound_url("http://a:b@127.0.0.1:4000", true).await.is_err());
        assert!(check_outbound_url("gopher://127.0.0.1", true).await.is_err());
    }

    #[test]
    fn embedded_ipv4_forms_are_decoded() {
        for (addr, public) in [
            // 6to4 of 127.0.0.1, 10.0.0.1, 192.168.1.1, 169.254.169.254; then of 8.8.8.8.
            ("2002:7f00:1::1", false),
            ("2002:a00:1::", false),
            ("2002:c0a8:101::1", false),
            ("2002:a9fe:a9fe::", false),
            ("2002:808:808::1", true),
            // NAT64 well-known and local-use prefixes.
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a00:1", false),
            ("64:ff9b:1::a9fe:a9fe", false),
            ("64:ff9b::808:808", true),
            // Teredo: server 65.54.227.120 (public); client 127.0.0.1 / 10.0.0.1 inverted; then 8.8.8.8.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", false),
            ("2001:0:4136:e378:8000:63bf:f5ff:fffe", false),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", true),
            // Teredo with a private server address.
            ("2001:0:a00:1:8000:63bf:f7f7:f7f7", false),
            // IPv4-mapped and -compatible.
            ("::ffff:7f00:1", false),
            ("::7f00:1", false),
        ] {
            assert_eq!(is_public(addr.parse().unwrap()), public, "{addr}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_non_public_addresses_unless_allowed() {
        let strict = PublicOnlyResolver::new(false);
        for host in [
            "localhost",
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "::1",
            "2002:7f00:1::1",
            "64:ff9b::a00:1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            match strict.resolve_checked(host).await {
                Err(ConnectorError::Rejected(m)) => assert!(m.contains("non-public"), "{host}: {m}"),
                other => panic!("{host} must be refused, got {other:?}"),
            }
        }
        let addrs = strict.resolve_checked("93.184.215.14").await.unwrap();
        assert_eq!(addrs, vec!["93.184.215.14:0".parse().unwrap()], "the checked address is the one handed back");
        let lenient = PublicOnlyResolver::new(true);
        assert!(lenient.resolve_checked("localhost").await.unwrap().iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn a_client_with_the_resolver_never_connects_to_a_name_of_a_private_address() {
        // A listener on loopback that records whether anything connected.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move {
            tokio::time::timeout(std::time::Duration::from_millis(500), listener.accept()).await.is_ok()
        });
        let client = crate::http::client_for(false).unwrap();
        let err = client.get(format!("http://localhost:{port}/")).send().await.expect_err("refused");
        assert!(format!("{err:?}").contains("non-public"), "{err:?}");
        assert!(!accepted.await.unwrap(), "nothing connected to the loopback listener");
        // With private networks allowed (the tests' local doubles), the same name connects.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            sock.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await.unwrap();
        });
        let r = crate::http::client_for(true).unwrap().get(format!("http://localhost:{port}/")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204);
        server.await.unwrap();
    }

    #[test]
    fn other_reserved_ranges_are_not_public() {
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(!is_public("192.0.0.8".parse().unwrap()));
        assert!(!is_public("198.18.0.1".parse().unwrap()));
        assert!(!is_public("2001:db8::1".parse().unwrap()));
        assert!(is_public("2a00:1450:4001::1".parse().unwrap()));
    }
}
