//! The egress policy at the moment of connecting: resolve the name once, check every
//! address with [`EgressPolicy::check`], and hand the checked addresses to the driver so
//! it connects to them and never looks the name up again (a DNS answer that changes
//! between the check and the connect cannot slip through).
//!
//! The policy is per process: the runner installs the one its assignment carries, the
//! probe worker the one its request carries, and the app installs "nothing" for itself
//! (it connects to no tenant address). A process that installs none, such as the runner
//! CLI run by an operator on their own config, reaches everything.
//!
//! HTTP has one client for every tenant-directed request ([`http::HttpClient`]: warehouse
//! APIs, token endpoints, webhooks), and object stores get theirs from the same builder
//! ([`http::ObjectStoreConnector`]); both resolve names with [`CheckedResolver`].

pub mod http;

use hakobu_core::egress::{EgressPolicy, EgressRefusal};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

static POLICY: RwLock<Option<EgressPolicy>> = RwLock::new(None);

/// Sets this process's policy for every later connection.
pub fn install(policy: EgressPolicy) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = Some(policy);
}

/// This process's policy.
pub fn policy() -> EgressPolicy {
    POLICY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(EgressPolicy::everything)
}

/// Why a host cannot be connected to.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The policy refused an address the host resolved to.
    #[error("{0}")]
    Refused(EgressRefusal),
    /// The name did not resolve.
    #[error("cannot find the host {host}: {reason}")]
    Unresolved {
        /// The host as written.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// Not a network host at all (a socket path, an empty name).
    #[error("{host:?} is not a host name or a network address")]
    NotAHost {
        /// The host as written.
        host: String,
    },
}

/// The checked addresses of `host`, or `None` when this process reaches everything and
/// the driver may connect by the name itself (a local socket path included).
pub async fn pinned_addresses(host: &str, port: u16) -> Result<Option<Vec<IpAddr>>, EgressError> {
    let policy = policy();
    if policy.reach == hakobu_core::egress::Reach::Everything {
        return Ok(None);
    }
    let addresses = resolve_with(&policy, host, port).await?;
    Ok(Some(addresses.into_iter().map(|a| a.ip()).collect()))
}

/// Resolves `host` and checks every address it resolves to against `policy`.
pub async fn resolve_with(
    policy: &EgressPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, EgressError> {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    // A path would make PostgreSQL's driver open a local socket, and a name with spaces or
    // slashes is no host; neither is resolved.
    if bare.is_empty() || bare.contains(['/', '\\']) || bare.contains(char::is_whitespace) {
        return Err(EgressError::NotAHost {
            host: host.to_owned(),
        });
    }
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| EgressError::Unresolved {
                host: host.to_owned(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(EgressError::Unresolved {
            host: host.to_owned(),
            reason: "no address".to_owned(),
        });
    }
    // Every address, not the first: a name with one public and one private address
    // would otherwise reach the private one on the driver's second try.
    for address in &addresses {
        policy
            .check(bare, address.ip(), port)
            .map_err(EgressError::Refused)?;
    }
    Ok(addresses)
}

/// Checks a URL's host when it is an address literal; names are checked when they are
/// resolved ([`CheckedResolver`]), which literals skip.
pub fn check_literal_host(policy: &EgressPolicy, host: &str, port: u16) -> Result<(), EgressError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => policy.check(bare, ip, port).map_err(EgressError::Refused),
        Err(_) => Ok(()),
    }
}

/// Resolves the host names of one port through a policy: every name an HTTP client
/// (`reqwest`, the one inside `object_store` included) looks up is checked, every address it
/// resolves to, before a socket opens. The drivers ask a resolver for a name only, never
/// the port, so a resolver belongs to one port; a request to another port needs another
/// client ([`http::HttpClient`] keeps one per port).
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    policy: Arc<EgressPolicy>,
    port: u16,
}

impl CheckedResolver {
    /// A resolver for names reached on `port` under `policy`.
    pub fn new(policy: Arc<EgressPolicy>, port: u16) -> Self {
        CheckedResolver { policy, port }
    }

    async fn checked(self, host: String) -> Result<Vec<SocketAddr>, EgressError> {
        resolve_with(&self.policy, &host, self.port).await
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = this.checked(host).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hakobu_core::egress::RefusalReason;

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let strict = EgressPolicy::public(vec![], vec![]);
        let refused = resolve_with(&strict, "localhost", 5432).await.unwrap_err();
        match refused {
            EgressError::Refused(r) => {
                assert!(matches!(r.reason, RefusalReason::PrivateNetwork(_)));
                assert_eq!(r.host, "localhost");
            }
            other => panic!("expected a refusal, got {other}"),
        }
    }

    #[tokio::test]
    async fn odd_spellings_of_loopback_are_refused_after_resolution() {
        let strict = EgressPolicy::public(vec![], vec![]);
        // getaddrinfo reads these as 127.0.0.1; the check sees what it resolved to.
        for host in ["2130706433", "0x7f.1", "127.1", "[::1]", "::ffff:127.0.0.1"] {
            let answer = resolve_with(&strict, host, 80).await;
            assert!(
                matches!(answer, Err(EgressError::Refused(_))),
                "{host}: {answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn socket_paths_and_empty_hosts_are_not_hosts() {
        let strict = EgressPolicy::public(vec![], vec![]);
        for host in ["/var/run/postgresql", "", "a b"] {
            assert!(matches!(
                resolve_with(&strict, host, 5432).await,
                Err(EgressError::NotAHost { .. })
            ));
        }
    }

    #[tokio::test]
    async fn an_opened_address_resolves() {
        let opened =
            EgressPolicy::public(EgressPolicy::parse_allow_list("127.0.0.1").unwrap(), vec![]);
        let addresses = resolve_with(&opened, "127.0.0.1", 5432).await.unwrap();
        assert_eq!(addresses, vec!["127.0.0.1:5432".parse().unwrap()]);
    }
}
