//! Where a connection a tenant configures may go: [`EgressPolicy`].
//!
//! Tenants are strangers, and every host name they type runs with the service's network
//! position. The policy is checked on the *resolved* address of every connection (the
//! engine resolves once, checks every address, and connects to the checked one), so a
//! name that resolves to loopback, an address spelled oddly (`2130706433`, `0x7f.1`) or a
//! DNS answer that changes between check and connect cannot slip through. The rules live
//! here, free of I/O, so the app, the probe worker and the runner apply the same ones.
//!
//! Refused unless the operator opens them (`HAKOBU_EGRESS_ALLOW`): loopback, the private
//! networks of RFC 1918, shared address space (100.64.0.0/10), link-local (the cloud
//! metadata services at 169.254.169.254 and fd00:ec2::254 included), unique-local,
//! multicast, unspecified and reserved addresses, and IPv6 forms that embed one of those
//! IPv4 addresses. The service's own database is refused even inside an opened network,
//! unless its exact `address:port` is opened.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How far tenant-directed connections may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Public addresses, plus what the allow list opens: the rule for tenants.
    #[default]
    Public,
    /// Anything: the runner CLI run by an operator on their own config.
    Everything,
    /// Nothing: a process that must never connect to a tenant's address (the app itself).
    Nothing,
}

/// An address range, e.g. `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The first address of the range.
    pub address: IpAddr,
    /// Leading bits that must match.
    pub prefix: u8,
}

impl Network {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Network {
            address: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Network {
            address: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// Whether `ip` lies in the range (an IPv4 range never contains an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an address or a network such as 10.0.0.0/8"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network { address, prefix })
    }
}

/// One entry of `HAKOBU_EGRESS_ALLOW`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowEntry {
    /// `10.1.0.0/16` or `10.1.2.3`: every port of these addresses.
    Network(Network),
    /// `10.1.2.3:5432`: one port of one address; the only way to open the service's own
    /// database (a demo whose sample data sits beside the service's tables).
    Endpoint { address: IpAddr, port: u16 },
    /// `db.internal` or `*.corp.example`: whatever these names resolve to. The operator
    /// vouches for the name's DNS.
    Host(String),
}

impl AllowEntry {
    /// Parses one entry; the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(network) = text.parse::<Network>() {
            return Ok(AllowEntry::Network(network));
        }
        if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
            return Ok(AllowEntry::Endpoint {
                address: socket.ip(),
                port: socket.port(),
            });
        }
        if text.contains('/') || text.parse::<IpAddr>().is_ok() {
            // A network with a bad prefix: say so instead of calling it a host name.
            return text.parse::<Network>().map(AllowEntry::Network);
        }
        let name = text.strip_prefix("*.").unwrap_or(text);
        let valid_name = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid_name {
            Ok(AllowEntry::Host(text.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{text:?} is not a network (10.0.0.0/8), an address (10.0.0.5), an address with a port (10.0.0.5:5432) or a host name (db.internal, *.corp.example)"
            ))
        }
    }

    fn allows_host(&self, host: &str) -> bool {
        let AllowEntry::Host(pattern) = self else {
            return false;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.')),
            None => host == *pattern,
        }
    }
}

/// An address and port of the service itself (its database), refused to tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoint {
    /// A resolved address of the service's endpoint.
    pub address: IpAddr,
    /// Its port.
    pub port: u16,
}

/// The rule for connections a tenant directs; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressPolicy {
    /// How far connections may reach.
    #[serde(default)]
    pub reach: Reach,
    /// What the operator opened (`HAKOBU_EGRESS_ALLOW`).
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
    /// The service's own endpoints, refused even inside an opened network.
    #[serde(default)]
    pub service_endpoints: Vec<ServiceEndpoint>,
}

/// Why a connection was refused, in words for the person who typed the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressRefusal {
    /// The host as the tenant wrote it.
    pub host: String,
    /// The address it resolved to.
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// Which rule refused it.
    pub reason: RefusalReason,
}

/// Which rule refused an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// Inside a range tenants may not reach; the range's plain name.
    PrivateNetwork(String),
    /// The service's own database.
    ServiceEndpoint,
    /// This process connects to no tenant address at all.
    NoTenantConnections,
}

impl fmt::Display for EgressRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.host == self.address.to_string() {
            format!("{}", self.address)
        } else {
            format!("{} ({})", self.host, self.address)
        };
        match &self.reason {
            RefusalReason::PrivateNetwork(range) => write!(
                f,
                "{at} is inside the service's private network ({range}), which connections you configure may not reach; an administrator can allow it"
            ),
            RefusalReason::ServiceEndpoint => write!(
                f,
                "{at} port {} is the service's own database, which connections you configure may not reach",
                self.port
            ),
            RefusalReason::NoTenantConnections => write!(
                f,
                "this part of the service does not connect to {at}; connections run in an isolated worker"
            ),
        }
    }
}

impl std::error::Error for EgressRefusal {}

/// Ranges tenants may not reach, with the names the refusal gives them.
const RESERVED: &[(Network, &str)] = &[
    (
        Network::v4(0, 0, 0, 0, 8),
        "unspecified addresses, 0.0.0.0/8",
    ),
    (Network::v4(10, 0, 0, 0, 8), "private network 10.0.0.0/8"),
    (
        Network::v4(100, 64, 0, 0, 10),
        "shared address space 100.64.0.0/10",
    ),
    (Network::v4(127, 0, 0, 0, 8), "loopback 127.0.0.0/8"),
    (
        Network::v4(169, 254, 0, 0, 16),
        "link-local 169.254.0.0/16, where the cloud metadata service answers",
    ),
    (
        Network::v4(172, 16, 0, 0, 12),
        "private network 172.16.0.0/12",
    ),
    (
        Network::v4(192, 0, 0, 0, 24),
        "protocol assignments 192.0.0.0/24",
    ),
    (
        Network::v4(192, 168, 0, 0, 16),
        "private network 192.168.0.0/16",
    ),
    (
        Network::v4(198, 18, 0, 0, 15),
        "benchmark network 198.18.0.0/15",
    ),
    (Network::v4(224, 0, 0, 0, 4), "multicast 224.0.0.0/4"),
    (Network::v4(240, 0, 0, 0, 4), "reserved 240.0.0.0/4"),
    (Network::v6([0; 8], 128), "unspecified address ::"),
    (Network::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback ::1"),
    (
        Network::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique-local fc00::/7, where fd00:ec2::254 serves cloud metadata",
    ),
    (
        Network::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "link-local fe80::/10",
    ),
    (
        Network::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        "multicast ff00::/8",
    ),
];

/// The IPv4 address an IPv6 address carries, for the forms that reach it: mapped
/// (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if u32::from(tail) > 1 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

/// The name of the reserved range `ip` lies in, if any.
pub fn reserved_range(ip: IpAddr) -> Option<&'static str> {
    let direct = RESERVED
        .iter()
        .find(|(net, _)| net.contains(ip))
        .map(|(_, name)| *name);
    direct.or_else(|| match ip {
        IpAddr::V6(v6) => embedded_v4(v6).and_then(|v4| reserved_range(IpAddr::V4(v4))),
        IpAddr::V4(_) => None,
    })
}

impl EgressPolicy {
    /// The tenant rule with what the operator opened.
    pub fn public(allow: Vec<AllowEntry>, service_endpoints: Vec<ServiceEndpoint>) -> Self {
        EgressPolicy {
            reach: Reach::Public,
            allow,
            service_endpoints,
        }
    }

    /// No restriction: for an operator running their own config.
    pub fn everything() -> Self {
        EgressPolicy {
            reach: Reach::Everything,
            ..Default::default()
        }
    }

    /// No tenant connection at all: for the process that holds the service's secrets.
    pub fn nothing() -> Self {
        EgressPolicy {
            reach: Reach::Nothing,
            ..Default::default()
        }
    }

    /// Parses `HAKOBU_EGRESS_ALLOW`: entries separated by commas or white space.
    pub fn parse_allow_list(text: &str) -> Result<Vec<AllowEntry>, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(AllowEntry::parse)
            .collect()
    }

    /// Whether `host` (as the tenant wrote it), resolved to `address`, may be reached on
    /// `port`. Call it for every address a name resolves to, then connect to a checked one.
    pub fn check(&self, host: &str, address: IpAddr, port: u16) -> Result<(), EgressRefusal> {
        let refuse = |reason| {
            Err(EgressRefusal {
                host: host.to_owned(),
                address,
                port,
                reason,
            })
        };
        match self.reach {
            Reach::Everything => return Ok(()),
            Reach::Nothing => return refuse(RefusalReason::NoTenantConnections),
            Reach::Public => {}
        }
        let canonical = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let endpoint_opened = |a: IpAddr, p: u16| {
            self.allow.iter().any(|entry| {
                matches!(entry, AllowEntry::Endpoint { address, port } if *address == a && *port == p)
            })
        };
        let is_service = self
            .service_endpoints
            .iter()
            .any(|s| s.port == port && (s.address == canonical || s.address == address));
        if is_service {
            return if endpoint_opened(canonical, port) || endpoint_opened(address, port) {
                Ok(())
            } else {
                refuse(RefusalReason::ServiceEndpoint)
            };
        }
        let opened = self.allow.iter().any(|entry| match entry {
            AllowEntry::Network(net) => net.contains(canonical) || net.contains(address),
            AllowEntry::Endpoint { .. } => false,
            AllowEntry::Host(_) => entry.allows_host(host),
        }) || endpoint_opened(canonical, port);
        if opened {
            return Ok(());
        }
        match reserved_range(canonical) {
            Some(range) => refuse(RefusalReason::PrivateNetwork(range.to_owned())),
            None => Ok(()),
        }
    }

    /// A short description for the log line at start ("public addresses, plus 127.0.0.1").
    pub fn describe(&self) -> String {
        match self.reach {
            Reach::Everything => "everything".to_owned(),
            Reach::Nothing => "nothing".to_owned(),
            Reach::Public if self.allow.is_empty() => "public addresses only".to_owned(),
            Reach::Public => {
                let opened: Vec<String> = self
                    .allow
                    .iter()
                    .map(|entry| match entry {
                        AllowEntry::Network(n) if n.prefix == 32 || n.prefix == 128 => {
                            n.address.to_string()
                        }
                        AllowEntry::Network(n) => n.to_string(),
                        AllowEntry::Endpoint { address, port } => format!("{address}:{port}"),
                        AllowEntry::Host(h) => h.clone(),
                    })
                    .collect();
                format!("public addresses, plus {}", opened.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn strict() -> EgressPolicy {
        EgressPolicy::public(
            vec![],
            vec![ServiceEndpoint {
                address: ip("10.0.0.5"),
                port: 5432,
            }],
        )
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for address in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::10.0.0.1",
        ] {
            let refused = strict().check("h", ip(address), 5432);
            assert!(
                matches!(
                    refused,
                    Err(EgressRefusal {
                        reason: RefusalReason::PrivateNetwork(_),
                        ..
                    })
                ),
                "{address} was not refused: {refused:?}"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(strict().check("h", ip(address), 443), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_allow_list_opens_networks_hosts_and_endpoints() {
        let allow =
            EgressPolicy::parse_allow_list("127.0.0.1, 10.9.0.0/16 db.internal *.corp.example")
                .unwrap();
        let policy = EgressPolicy::public(allow, vec![]);
        assert_eq!(policy.check("x", ip("127.0.0.1"), 1), Ok(()));
        assert!(policy.check("x", ip("127.0.0.2"), 1).is_err());
        assert_eq!(policy.check("x", ip("10.9.200.1"), 1), Ok(()));
        assert!(policy.check("x", ip("10.10.0.1"), 1).is_err());
        assert_eq!(policy.check("DB.internal.", ip("10.1.1.1"), 1), Ok(()));
        assert_eq!(policy.check("a.corp.example", ip("10.1.1.1"), 1), Ok(()));
        assert!(policy.check("corp.example", ip("10.1.1.1"), 1).is_err());
        assert!(policy.check("evilcorp.example", ip("10.1.1.1"), 1).is_err());
    }

    #[test]
    fn the_service_database_stays_closed_inside_an_opened_network() {
        let service = vec![ServiceEndpoint {
            address: ip("127.0.0.1"),
            port: 5432,
        }];
        let opened = EgressPolicy::public(
            EgressPolicy::parse_allow_list("127.0.0.0/8").unwrap(),
            service.clone(),
        );
        let refused = opened
            .check("localhost", ip("127.0.0.1"), 5432)
            .unwrap_err();
        assert_eq!(refused.reason, RefusalReason::ServiceEndpoint);
        assert!(refused.to_string().contains("service's own database"));
        assert_eq!(opened.check("localhost", ip("127.0.0.1"), 3306), Ok(()));
        // Mapped IPv6 spelling of the same endpoint is the same endpoint.
        assert!(opened.check("x", ip("::ffff:127.0.0.1"), 5432).is_err());
        let demo = EgressPolicy::public(
            EgressPolicy::parse_allow_list("127.0.0.1, 127.0.0.1:5432").unwrap(),
            service,
        );
        assert_eq!(demo.check("localhost", ip("127.0.0.1"), 5432), Ok(()));
    }

    #[test]
    fn reach_everything_and_nothing() {
        assert_eq!(
            EgressPolicy::everything().check("h", ip("127.0.0.1"), 1),
            Ok(())
        );
        let refused = EgressPolicy::nothing()
            .check("h", ip("8.8.8.8"), 1)
            .unwrap_err();
        assert_eq!(refused.reason, RefusalReason::NoTenantConnections);
    }

    #[test]
    fn bad_allow_entries_name_the_entry() {
        for bad in ["10.0.0.0/33", "not a host!", "::1/200", "http://x"] {
            let e = EgressPolicy::parse_allow_list(bad).unwrap_err();
            assert!(e.contains('"'), "{bad}: {e}");
        }
        assert_eq!(
            AllowEntry::parse("[::1]:5432").unwrap(),
            AllowEntry::Endpoint {
                address: ip("::1"),
                port: 5432
            }
        );
    }

    #[test]
    fn the_refusal_reads_in_plain_words() {
        let refused = strict()
            .check("metadata.internal", ip("169.254.169.254"), 80)
            .unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("metadata.internal (169.254.169.254)"),
            "{text}"
        );
        assert!(text.contains("private network"), "{text}");
        assert!(text.contains("an administrator can allow it"), "{text}");
    }
}
