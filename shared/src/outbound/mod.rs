//! Where the functions may send a request: the one set of rules every
//! outbound HTTP request (health checks, build-log downloads) is held to.
//!
//! A URL comes from people the stack does not trust: whoever deploys the
//! site (its redirects, its DNS), whoever names a branch (substituted into
//! URL templates), and a function sends it with an IAM role from inside
//! AWS, where `169.254.169.254` answers with credentials. So, by default:
//!
//! * **https only**, and no credentials in the URL (`user:pass@`);
//! * **public addresses only**, checked where the connection is made: a
//!   name is resolved by [`PublicOnly`] (the client's resolver, asked for
//!   every connection, every redirect hop), which refuses a name when any
//!   of its addresses is not global (loopback, private, link-local and the
//!   metadata service, shared, documentation, multicast, IPv4-mapped or
//!   NAT64 forms of those, …). A DNS answer that changes between a check
//!   and the connection (rebinding) cannot get past it, because the
//!   addresses it returns are the ones connected to. An IP-literal host
//!   never reaches a resolver, so [`Outbound::check`] refuses a non-global
//!   literal itself;
//! * **no proxy** from the environment (it would resolve the name instead);
//! * the caller pins scheme and port across redirects
//!   ([`Outbound::check_hop`]).
//!
//! A local stack, the tests, or a person at the CLI name **local origins**
//! (scheme, host, port) that are exempt: `SENTINEL_SITE_ORIGINS` /
//! `SENTINEL_LOG_ORIGINS` in the functions' environment (never set by the
//! template), the URL the user typed in the CLI. An exemption is for that
//! origin exactly: another port or scheme on the same host is not exempt.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// An origin (scheme, host, port) exempt from the public-only rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// `scheme://host[:port]`, with no path, query or credentials.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw.trim()).map_err(|e| format!("{raw:?}: {e}"))?;
        if url.path() != "/" || url.query().is_some() {
            return Err(format!("{raw:?}: an origin has no path or query"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{raw:?}: an origin has no credentials"));
        }
        Self::of(&url).ok_or_else(|| format!("{raw:?} has no host"))
    }

    /// The origin of a URL (`None` without a host).
    pub fn of(url: &url::Url) -> Option<Self> {
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default(),
        })
    }
}

/// Why a request was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The rules, and the local origins exempt from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbound {
    local: Vec<Origin>,
}

impl Outbound {
    /// A deployed function's rules: nothing is exempt.
    pub fn public() -> Self {
        Self::default()
    }

    /// The rules, with these origins exempt.
    pub fn with_local(local: Vec<Origin>) -> Self {
        Self { local }
    }

    /// The origins a local stack names in `variable` (comma-separated,
    /// unset or empty in a deployed stack).
    pub fn from_env(variable: &str) -> Result<Self, String> {
        Self::parse_list(&std::env::var(variable).unwrap_or_default())
    }

    /// A comma-separated list of origins.
    pub fn parse_list(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .filter(|o| !o.trim().is_empty())
            .map(Origin::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::with_local)
    }

    /// The rules with the origin of `url` exempt, because a person typed
    /// it (the CLI's `sentinel check http://127.0.0.1:3000`): every other
    /// origin, and every redirect, stays held to them.
    pub fn named_by_a_person(url: &str) -> Self {
        let origin = url::Url::parse(url).ok().and_then(|u| Origin::of(&u));
        Self::with_local(origin.into_iter().collect())
    }

    /// Whether `url`'s origin is one of the exempt ones.
    pub fn is_local(&self, url: &url::Url) -> bool {
        Origin::of(url).is_some_and(|o| self.local.contains(&o))
    }

    /// Whether a request to `url` may be made at all: https (unless a local
    /// origin), no credentials in it, and an IP-literal host only when it is
    /// global. A name's addresses are checked when it is resolved
    /// ([`PublicOnly`], in [`Outbound::client`]).
    pub fn check(&self, url: &url::Url) -> Result<(), Refused> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused(format!(
                "refused {}: credentials in the URL",
                shown(url)
            )));
        }
        if self.is_local(url) {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(Refused(format!(
                "refused {}: only https is requested",
                shown(url)
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(Refused(format!("refused {}: no host", shown(url)))),
        };
        match is_global(ip) {
            true => Ok(()),
            false => Err(Refused(format!(
                "refused {}: {ip} is not a public address",
                shown(url)
            ))),
        }
    }

    /// [`Outbound::check`], and the hop keeps the first URL's scheme and
    /// port: a redirect may not switch to http or to another port.
    pub fn check_hop(&self, first: &url::Url, hop: &url::Url) -> Result<(), Refused> {
        if hop.scheme() != first.scheme()
            || hop.port_or_known_default() != first.port_or_known_default()
        {
            return Err(Refused(format!(
                "refused the redirect to {}: it leaves {}://…:{} (scheme and port are pinned)",
                shown(hop),
                first.scheme(),
                first.port_or_known_default().unwrap_or_default()
            )));
        }
        self.check(hop)
    }

    /// A client builder held to the rules: names resolved by
    /// [`PublicOnly`] (local origins' hosts excepted), no proxy.
    pub fn client(&self) -> reqwest::ClientBuilder {
        let resolver = PublicOnly {
            local_hosts: self.local.iter().map(|o| o.host.clone()).collect(),
        };
        reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
    }
}

/// The URL as shown in a reason: scheme, host, port and path; never its
/// query (a signature) or credentials.
fn shown(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The resolver every outbound client uses: the system's resolution, then
/// a name with any address that is not global is refused (whole: a name
/// answering both a public and a private address is a rebinding attempt
/// or a mistake, not a site). Local origins' hosts are resolved as they
/// are.
pub struct PublicOnly {
    local_hosts: Vec<String>,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let local = self.local_hosts.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !local && !is_global(a.ip())) {
                return Err(Box::new(Refused(format!(
                    "refused {host}: it resolves to {}, not a public address",
                    bad.ip()
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The first [`Refused`] in an error's chain of sources, if any: how a
/// caller tells "not requested" from "could not connect".
pub fn refusal<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e Refused> {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = err.source();
    }
    None
}

/// Whether an address is reachable on the public internet and nothing
/// else: std's `is_global` is not stable, so the IANA special-purpose
/// registries are spelled out here.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16: the metadata service
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10: shared (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24: protocol assignments
        || ip.is_documentation() // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15: benchmarking
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || ip.is_multicast() // 224/4
        || a >= 240) // 240/4 reserved, 255.255.255.255
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Forms that carry an IPv4 address: judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_global_v4(v4); // ::ffff:a.b.c.d
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // 64:ff9b::/96, NAT64: reaches the embedded IPv4 address.
        return is_global_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 2002::/16, 6to4: the embedded address is the relay's.
        return is_global_v4(embedded_v4(s[1], s[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[..6] == [0; 6] // ::/96 IPv4-compatible (deprecated)
        || s[..4] == [0x64, 0xff9b, 1, 0] // 64:ff9b:1::/48 local NAT64
        || s[..4] == [0x100, 0, 0, 0] // 100::/64 discard
        || (s[0] == 0x2001 && s[1] < 0x200) // 2001::/23 IETF protocols (Teredo, ORCHID, …)
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32 documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20 documentation
        || ip.is_unique_local() // fc00::/7 (fd00:ec2::254: the metadata service)
        || ip.is_unicast_link_local() // fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || ip.is_multicast()) // ff00::/8
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}
