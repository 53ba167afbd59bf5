//! Addresses: the `df://HOST:PORT` URL clients use to reach a cluster's scheduler
//! ([`ClusterUrl`]), and the `HOST:PORT` pairs servers bind to and executors dial
//! ([`HostPort`]).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use crate::error::{ClusterError, Result};

/// The scheduler's port when a URL gives none (Ballista's default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// A host and a port, as in `--bind 0.0.0.0:50050` or `--scheduler sched-1:50050`.
///
/// ```
/// let at: spate_cluster::HostPort = "10.0.0.7:50050".parse().unwrap();
/// assert_eq!((at.host.as_str(), at.port), ("10.0.0.7", 50050));
/// assert!("10.0.0.7".parse::<spate_cluster::HostPort>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// A name or an IP address (an IPv6 address in brackets).
    pub host: String,
    /// The port; 0 lets a server pick a free one.
    pub port: u16,
}

impl HostPort {
    /// Listens on this address; the address it got (with the port it got for port 0).
    pub async fn listen(&self) -> Result<(tokio::net::TcpListener, SocketAddr)> {
        let failed = |source| ClusterError::Bind {
            address: self.to_string(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(self.resolve()?)
            .await
            .map_err(failed)?;
        let local = listener.local_addr().map_err(failed)?;
        Ok((listener, local))
    }

    /// The socket address the host resolves to first.
    pub fn resolve(&self) -> Result<SocketAddr> {
        let bad = |reason: String| ClusterError::InvalidAddress {
            what: "address",
            value: self.to_string(),
            reason,
        };
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        (host, self.port)
            .to_socket_addrs()
            .map_err(|e| bad(e.to_string()))?
            .next()
            .ok_or_else(|| bad("the host resolves to no address".into()))
    }
}

impl FromStr for HostPort {
    type Err = ClusterError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: &str| ClusterError::InvalidAddress {
            what: "address",
            value: text.to_string(),
            reason: reason.to_string(),
        };
        let (host, port) = text
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| bad("expected HOST:PORT"))?;
        if host.is_empty() || host.contains('/') || (host.contains(':') && !host.starts_with('[')) {
            return Err(bad("expected HOST:PORT (an IPv6 host in brackets)"));
        }
        let port = port
            .parse()
            .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Where a cluster's scheduler listens, as users write it: `df://HOST[:PORT]`.
///
/// ```
/// let url: spate_cluster::ClusterUrl = "df://sched-1".parse().unwrap();
/// assert_eq!(url.to_string(), "df://sched-1:50050");
/// assert_eq!(url.scheduler_endpoint(), "http://sched-1:50050");
/// for bad in ["sched-1:50050", "http://sched-1:50050", "df://", "df://h:99999", "df://h:1/x"] {
///     assert!(bad.parse::<spate_cluster::ClusterUrl>().is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    address: HostPort,
}

impl ClusterUrl {
    /// The scheduler's host and port.
    pub fn address(&self) -> &HostPort {
        &self.address
    }

    /// The URL Ballista's gRPC client dials.
    pub fn scheduler_endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl FromStr for ClusterUrl {
    type Err = ClusterError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: &str| ClusterError::InvalidAddress {
            what: "cluster URL",
            value: text.to_string(),
            reason: format!("{reason}; expected df://HOST:PORT"),
        };
        let trimmed = text.trim();
        let rest = trimmed
            .strip_prefix("df://")
            .or_else(|| trimmed.strip_prefix("DF://"))
            .ok_or_else(|| bad("the scheme must be df://"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains(['/', '?', '#', '@']) {
            return Err(bad("only a host and a port may follow df://"));
        }
        // Validate the host the way URLs do (no blanks, valid IPv6 in brackets).
        let parsed = url::Url::parse(&format!("http://{authority}"))
            .map_err(|e| bad(&format!("bad host or port ({e})")))?;
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
        let port = match authority.rsplit_once(':') {
            Some((_, port)) if !authority.ends_with(']') => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
            _ => DEFAULT_SCHEDULER_PORT,
        };
        Ok(ClusterUrl {
            address: HostPort {
                host: host.to_string(),
                port,
            },
        })
    }
}

impl fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "df://{}", self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_host_and_port() {
        let url: Result<ClusterUrl> = "df://127.0.0.1:41000/".parse();
        assert_eq!(
            url.ok().map(|u| u.to_string()),
            Some("df://127.0.0.1:41000".to_string())
        );
        let v6: Result<ClusterUrl> = "df://[::1]:7".parse();
        assert_eq!(
            v6.ok().map(|u| u.scheduler_endpoint()),
            Some("http://[::1]:7".to_string())
        );
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        let err = "localhost:50050".parse::<ClusterUrl>().err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(
                "invalid cluster URL 'localhost:50050': the scheme must be df://; expected \
                 df://HOST:PORT"
                    .to_string()
            )
        );
        assert!("df://a b:1".parse::<ClusterUrl>().is_err());
        assert!("df://h:0".parse::<ClusterUrl>().is_err());
    }

    #[test]
    fn host_ports() {
        let v6: Result<HostPort> = "[::1]:0".parse();
        assert_eq!(
            v6.ok().map(|a| (a.host, a.port)),
            Some(("[::1]".to_string(), 0))
        );
        assert!(":50050".parse::<HostPort>().is_err());
        assert!("::1:50050".parse::<HostPort>().is_err());
        assert!("h:port".parse::<HostPort>().is_err());
        let resolved = "127.0.0.1:0".parse::<HostPort>().and_then(|a| a.resolve());
        assert_eq!(resolved.ok().map(|a| a.port()), Some(0));
    }
}
