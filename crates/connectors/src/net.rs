//! Checks on origins that users supply (a Mastodon instance, a Bluesky PDS) before Steward
//! sends anything there, so that a collaborator cannot point the server at its own network
//! (server-side request forgery).
//!
//! The check resolves the host once, at the moment it is called. It does not pin the answer
//! for later connections: a host whose DNS changes between the check and a call (rebinding)
//! is not caught here. Callers run the check whenever a user supplies or changes an origin,
//! and the connectors' entry points (`mastodon::register_app`, `bluesky::create_session`)
//! run it on every call.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

fn is_public_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = a.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a4, b4] = [s[6].to_be_bytes(), s[7].to_be_bytes()];
        return is_public_v4(Ipv4Addr::new(a4[0], a4[1], b4[0], b4[1]));
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
    fn other_reserved_ranges_are_not_public() {
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(!is_public("192.0.0.8".parse().unwrap()));
        assert!(!is_public("198.18.0.1".parse().unwrap()));
        assert!(!is_public("2001:db8::1".parse().unwrap()));
        assert!(is_public("2a00:1450:4001::1".parse().unwrap()));
    }
}
