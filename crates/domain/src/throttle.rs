//! Which address a sign-in throttle counts against: an IPv6 client controls a whole /64 (it
//! can pick any of 2^64 addresses), so a /64 is one address; IPv4 addresses count one by one.
use std::net::{IpAddr, Ipv6Addr};

/// The address block `ip` is throttled as: the address itself for IPv4 (also written as an
/// IPv4-mapped IPv6 address), `prefix::/64` for IPv6, and the text unchanged when it is not
/// an address at all (e.g. `unknown`).
#[must_use]
pub fn address_block(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Err(_) => ip.to_string(),
    }
}

/// Seconds until a window that started at `oldest_us` (and lasts `window_us`) frees a slot,
/// at least one and at most the window: what `Retry-After` says.
#[must_use]
pub fn retry_after_secs(oldest_us: i64, window_us: i64, now_us: i64) -> u64 {
    let free_at = oldest_us.saturating_add(window_us);
    // Never more than a window: an attempt recorded concurrently may carry a later instant than
    // the `now` it is compared with.
    u64::try_from((free_at - now_us).max(1_000_000).min(window_us.max(1_000_000)))
        .unwrap_or(1_000_000)
        .div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        assert_eq!(address_block("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_block("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(address_block("2001:db8:1:3::1"), address_block("2001:db8:1:2::1"));
        assert_eq!(address_block("::1"), "::/64");
    }

    #[test]
    fn ipv4_counts_per_address_however_written() {
        assert_eq!(address_block("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_block("::ffff:192.0.2.7"), "192.0.2.7");
        assert_ne!(address_block("192.0.2.7"), address_block("192.0.2.8"));
        assert_eq!(address_block("unknown"), "unknown");
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        assert_eq!(retry_after_secs(0, 900_000_000, 0), 900);
        assert_eq!(retry_after_secs(0, 900_000_000, 899_500_000), 1);
        assert_eq!(retry_after_secs(0, 900_000_000, 950_000_000), 1);
        assert_eq!(retry_after_secs(0, 900_000_000, 100_000_001), 800);
        assert_eq!(retry_after_secs(5, 900_000_000, 0), 900, "never more than the window");
    }
}
