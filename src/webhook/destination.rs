//! Where a webhook may go.
//!
//! Webhook URLs are chosen by API users, so without a guard any user could
//! make the server POST into its own network (cloud metadata at
//! 169.254.169.254, an admin port on localhost, a database on 10.x): the
//! classic server-side request forgery. The guard sits in the DNS resolver,
//! so the address that is checked is the very address that is connected to;
//! checking a name first and letting the HTTP client resolve it again would
//! let a DNS server answer differently the second time (DNS rebinding).

use std::error::Error;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest webhook URL accepted; longer ones are almost surely a mistake and
/// would bloat every outbox row.
const MAX_URL_LEN: usize = 2048;

/// Validates a webhook URL at configuration time: absolute http or https URL
/// with a host, no `user:password@` part (credentials would be stored and
/// shown in clear; receivers authenticate us by the signature instead), at
/// most 2048 characters. The caller turns Err into its 422 message; the
/// reason here is short and never quotes the URL.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("longer than {MAX_URL_LEN} characters"));
    }
    let parsed = Url::parse(url).map_err(|error| error.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".to_string());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_string());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not contain a user name or password".to_string());
    }
    Ok(())
}

/// True for addresses a webhook must not reach unless private destinations
/// are allowed: loopback, private, link-local, CGNAT, unspecified ("this
/// network" 0.0.0.0/8, which Linux routes to the local host), broadcast,
/// multicast, unique-local, and IPv4-mapped IPv6 forms of those.
pub(crate) fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_forbidden_v4(v4),
            None => is_forbidden_v6(v6),
        },
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments 192.0.0.0/24, benchmarking 198.18.0.0/15,
        // reserved 240.0.0.0/4: never a public receiver.
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let first = s[0];
    // IPv6 forms that carry an IPv4 address are judged by that address:
    // IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16.
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let compatible = s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let embedded = if compatible || nat64 {
        Some(v4(s[6], s[7]))
    } else if first == 0x2002 {
        Some(v4(s[1], s[2]))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return is_forbidden_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        // Link-local fe80::/10 and the deprecated site-local fec0::/10.
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
}

/// A destination refused by the guard. Sent through reqwest's error chain
/// and found again by type, so the attempt can say exactly why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefusedDestination {
    /// The host name as written in the URL, when it was not an IP literal.
    pub(crate) host: Option<String>,
    pub(crate) ip: IpAddr,
}

impl fmt::Display for RefusedDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(f, "destination {host} ({})", self.ip)?,
            None => write!(f, "destination {}", self.ip)?,
        }
        f.write_str(" is a loopback/private address; set --webhook-allow-private to allow")
    }
}

impl Error for RefusedDestination {}

/// The refusal for a URL whose host is an IP literal. Such hosts never reach
/// the resolver, so they are checked before sending.
pub(crate) fn refuse_literal(url: &Url) -> Option<RefusedDestination> {
    // The parser has already normalised IP hosts (`0x7f.1` is `127.0.0.1`,
    // IPv6 comes in brackets); anything else that fails to parse is a name.
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = bare.parse().ok()?;
    is_forbidden(ip).then_some(RefusedDestination { host: None, ip })
}

/// A resolver that drops forbidden addresses and fails when none remain.
#[derive(Debug, Default)]
pub(crate) struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's (or the scheme's) port in later.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| !is_forbidden(addr.ip()))
                .collect();
            match (allowed.is_empty(), resolved.first()) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
                (true, Some(first)) => Err(Box::new(RefusedDestination {
                    host: Some(host),
                    ip: first.ip(),
                }) as Box<dyn Error + Send + Sync>),
                (true, None) => Err(format!("no address found for {host}").into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_and_allowed_addresses() {
        let forbidden = [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "fec0::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
        ];
        for ip in forbidden {
            assert!(
                is_forbidden(ip.parse().expect("an IP")),
                "{ip} must be refused"
            );
        }
        let allowed = [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "192.0.2.1",
            "198.20.0.1",
            "223.255.255.254",
        ];
        for ip in allowed {
            assert!(
                !is_forbidden(ip.parse().expect("an IP")),
                "{ip} must be allowed"
            );
        }
    }

    #[test]
    fn literal_hosts_are_checked_before_sending() {
        let refused = |url: &str| refuse_literal(&Url::parse(url).expect("a URL"));
        assert!(refused("http://127.0.0.1:8080/hook").is_some());
        assert!(refused("http://[::1]/hook").is_some());
        assert!(refused("http://[::ffff:192.168.0.1]/").is_some());
        // The WHATWG parser normalises odd IPv4 spellings, so they are caught too.
        assert!(refused("http://0x7f.1/").is_some());
        assert!(refused("http://2130706433/").is_some());
        assert!(refused("http://93.184.215.14/").is_none());
        assert!(
            refused("http://localhost/").is_none(),
            "names go to the resolver"
        );
        let message = refused("http://10.0.0.1/").expect("refused").to_string();
        assert_eq!(
            message,
            "destination 10.0.0.1 is a loopback/private address; set --webhook-allow-private to allow"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        let name: Name = "localhost".parse().expect("a name");
        let error = match GuardedResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        let refused = error
            .downcast_ref::<RefusedDestination>()
            .expect("a refusal");
        assert_eq!(refused.host.as_deref(), Some("localhost"));
        assert!(refused.to_string().contains("loopback/private"));
    }

    #[test]
    fn url_checks() {
        for ok in [
            "https://example.com/hooks/callbase",
            "http://example.com:8080/x?token=abc#frag",
            "https://10.0.0.1/hook",
            "https://[2001:db8::1]/",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        for (bad, reason) in [
            ("", "relative URL"),
            ("/relative/path", "relative URL"),
            ("example.com/hook", "relative URL"),
            ("ftp://example.com/", "http or https"),
            ("mailto:ops@example.com", "http or https"),
            ("file:///etc/passwd", "http or https"),
            ("https://user:pass@example.com/", "user name or password"),
            ("https://user@example.com/", "user name or password"),
            ("http://exa mple.com/", "invalid"),
            ("https://", "empty host"),
            (long.as_str(), "longer than 2048"),
        ] {
            let error = check_url(bad).expect_err(bad);
            assert!(error.contains(reason), "{bad:?}: {error}");
        }
        let exactly = format!("https://example.com/{}", "a".repeat(2048 - 20));
        assert_eq!(exactly.len(), 2048);
        assert_eq!(check_url(&exactly), Ok(()));
    }
}
