//! The network edge: how many connections the server holds and for how long.
//!
//! On the documented direct-HTTPS deployment nothing stands between the internet and this
//! process, so slow clients must not be able to hold its sockets: a client that drips its
//! header (slowloris) is cut off after [`EdgeLimits::header_read_timeout`], which also bounds
//! the TLS handshake, the wait for the first request and a keep-alive connection's idle wait
//! for the next one; a request whose body trickles in (slow POST) is answered
//! `408 request_timeout` after [`EdgeLimits::request_timeout`]. Connections beyond
//! [`EdgeLimits::max_connections`] in all, or beyond [`EdgeLimits::max_connections_per_address`]
//! from one address (IPv6: one /64), are closed as soon as they are accepted, so one client
//! cannot take every socket and the process never runs out of file descriptors. A trusted
//! proxy carries many customers on its connections and is exempt from the per-address cap.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::ratelimit::bucket_key;

/// Timeouts and connection caps of the listener. Its `Default` is in `config/defaults.rs`,
/// with every other default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Time to finish a TLS handshake, and to send a request's whole header once its
    /// connection is open or idle between requests.
    pub header_read_timeout: Duration,
    /// Time to read a request's body and answer it.
    pub request_timeout: Duration,
    /// Connections held at once, from everyone.
    pub max_connections: usize,
    /// Connections held at once from one address (not counting trusted proxies).
    pub max_connections_per_address: usize,
}

/// Counts open connections and refuses those beyond the caps; an accepted stream gives its
/// place back when it is dropped.
#[derive(Debug, Clone)]
pub struct ConnectionCaps(Arc<Caps>);

#[derive(Debug)]
struct Caps {
    limits: EdgeLimits,
    exempt: Vec<IpNet>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionCaps {
    /// Caps of `limits`; peers in `trusted_proxies` have no per-address cap.
    pub fn new(limits: EdgeLimits, trusted_proxies: Vec<IpNet>) -> Self {
        Self(Arc::new(Caps { limits, exempt: trusted_proxies, open: Mutex::default() }))
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // The counts stay plain numbers even if a holder panicked.
        self.0.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a connection from `peer`, or `None` when a cap is reached.
    pub fn admit(&self, peer: IpAddr) -> Option<Place> {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            IpAddr::V4(_) => peer,
        };
        let key = (!self.0.exempt.iter().any(|net| net.contains(&peer))).then(|| bucket_key(peer));
        let mut open = self.open();
        if open.total >= self.0.limits.max_connections {
            return None;
        }
        if let Some(key) = key {
            let n = open.by_address.entry(key).or_default();
            if *n >= self.0.limits.max_connections_per_address {
                return None;
            }
            *n += 1;
        }
        open.total += 1;
        Some(Place { caps: self.clone(), key })
    }
}

/// One admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Place {
    caps: ConnectionCaps,
    key: Option<IpAddr>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.caps.open();
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key {
            if let Some(n) = open.by_address.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.by_address.remove(&key);
                }
            }
        }
    }
}

/// A TCP stream holding its place.
#[derive(Debug)]
pub struct Admitted {
    stream: TcpStream,
    _place: Place,
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl<S: Send + 'static> axum_server::accept::Accept<TcpStream, S> for ConnectionCaps {
    type Stream = Admitted;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Admitted, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let admitted = stream.peer_addr().and_then(|peer| match self.admit(peer.ip()) {
            Some(place) => Ok((Admitted { stream, _place: place }, service)),
            None => {
                tracing::debug!(event = "connection_refused", client = %peer.ip(),
                    "connection cap reached; closing");
                Err(io::Error::other("connection cap reached"))
            }
        });
        std::future::ready(admitted)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn caps(total: usize, per: usize) -> ConnectionCaps {
        let limits = EdgeLimits {
            max_connections: total,
            max_connections_per_address: per,
            ..EdgeLimits::default()
        };
        ConnectionCaps::new(limits, vec!["10.0.0.0/8".parse().unwrap()])
    }

    #[test]
    fn one_address_gets_its_share_and_the_rest_stay_for_others() {
        let c = caps(5, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..2).map(|_| c.admit(a).unwrap()).collect();
        assert!(c.admit(a).is_none());
        assert!(c.admit("::ffff:192.0.2.1".parse().unwrap()).is_none());
        assert!(c.admit("192.0.2.2".parse().unwrap()).is_some());
        drop(held);
        assert!(c.admit(a).is_some());
        assert!(c.open().by_address.is_empty());
    }

    #[test]
    fn the_total_cap_holds_for_everyone_and_a_trusted_proxy_has_no_share_cap() {
        let c = caps(3, 1);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| c.admit(proxy).unwrap()).collect();
        assert!(c.admit(proxy).is_none());
        assert!(c.admit("192.0.2.9".parse().unwrap()).is_none());
        drop(held);
        assert_eq!(c.open().total, 0);
    }
}
