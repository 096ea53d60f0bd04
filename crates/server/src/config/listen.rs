//! Where the server listens and whom it believes: the two addresses, TLS, the proxies in front,
//! and the refusals of plain HTTP off loopback (for the admin API even behind a proxy) and of
//! demo mode anywhere but one machine.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use ipnet::IpNet;
use serde::Deserialize;

use super::defaults::{DEFAULT_ADMIN_BIND, DEFAULT_BIND, DEFAULT_PROXIES_BEHIND_TLS};
use super::layer::concern;
use crate::error::{Error, Result};

concern! {
    /// The two listen addresses: top-level keys of the file.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct Addresses {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "SOFTTOKEN_BIND")]
        pub bind: Option<SocketAddr>,
        /// Address of the admin API and /metrics, for the bank's own network only
        /// [default: 127.0.0.1:8081].
        #[arg(long, env = "SOFTTOKEN_ADMIN_BIND")]
        pub admin_bind: Option<SocketAddr>,
    }
}

concern! {
    /// TLS and the proxies in front: top-level keys of the file.
    #[derive(Debug, Args, Default, Deserialize)]
    #[serde(default)]
    pub struct Front {
        /// TLS certificate chain (PEM); serves HTTPS with rustls.
        #[arg(long, env = "SOFTTOKEN_TLS_CERT", requires = "tls_key")]
        pub tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, env = "SOFTTOKEN_TLS_KEY", requires = "tls_cert")]
        pub tls_key: Option<PathBuf>,
        /// Serve plain HTTP on a non-loopback address because a TLS-terminating proxy is in front;
        /// the client address is then taken from the proxy's X-Forwarded-For.
        #[arg(long, env = "SOFTTOKEN_BEHIND_TLS_PROXY")]
        pub behind_tls_proxy: bool,
        /// Networks (CIDRs, comma-separated) of the proxies whose X-Forwarded-For is believed
        /// [default: none; with --behind-tls-proxy, loopback: 127.0.0.0/8,::1/128].
        #[arg(long, env = "SOFTTOKEN_TRUSTED_PROXIES", value_delimiter = ',')]
        pub trusted_proxies: Vec<String>,
    }
}

/// TLS certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// The listeners' settings, checked.
pub(super) struct Listeners {
    pub(super) bind: SocketAddr,
    pub(super) admin_bind: SocketAddr,
    pub(super) tls: Option<TlsFiles>,
    pub(super) trusted_proxies: Vec<IpNet>,
}

/// The listeners of `serve` (`serving`) or of an admin command, which only checks the values:
/// the addresses and the front, layered.
pub(super) fn listeners(
    addresses: &Addresses,
    front: &Front,
    serving: bool,
    demo_on: bool,
) -> Result<Listeners> {
    let bind = match addresses.bind {
        Some(b) => b,
        None => DEFAULT_BIND.parse().map_err(|_| Error::Internal("default bind address"))?,
    };
    let admin_bind = match addresses.admin_bind {
        Some(b) => b,
        None => DEFAULT_ADMIN_BIND.parse().map_err(|_| Error::Internal("default admin address"))?,
    };
    let tls = match (front.tls_cert.clone(), front.tls_key.clone()) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => return Err(Error::Config("give both tls_cert and tls_key, or neither".into())),
    };
    let behind_tls_proxy = front.behind_tls_proxy;
    let plain = serving && tls.is_none() && !behind_tls_proxy;
    if plain && !bind.ip().is_loopback() {
        return Err(Error::Config(format!(
            "refusing plain HTTP on {bind}: it is not a loopback address. Give --tls-cert and \
             --tls-key, or --behind-tls-proxy when a TLS-terminating proxy is in front"
        )));
    }
    // The admin listener carries bearer credentials: off this machine it speaks TLS itself,
    // whatever proxy is said to be in front (a proxy's hop to it would cross the bank's network
    // in clear, and nothing here can tell that the proxy is on this host).
    if serving && tls.is_none() && !admin_bind.ip().is_loopback() {
        return Err(Error::Config(format!(
            "refusing plain HTTP for the admin API on {admin_bind}: it is not a loopback address, \
             and bearer credentials must not cross the network in clear (--behind-tls-proxy does \
             not lift this). Give --tls-cert and --tls-key, or bind the admin API to loopback"
        )));
    }
    if serving && admin_bind == bind && bind.port() != 0 {
        return Err(Error::Config(format!(
            "the admin API needs an address of its own, not {bind}: set admin_bind"
        )));
    }

    let trusted_proxies = trusted_proxies(&front.trusted_proxies, behind_tls_proxy)?;

    // Demo mode hands out a public password and re-arms without a credential; it is for one
    // machine (a kiosk, a laptop), never for a network or a proxy in front of one. This checks
    // the listener's own address, not a caller's: who may call the demo routes is
    // `http::demo::on_this_computer`, applied to each request.
    let behind_proxy = behind_tls_proxy || !trusted_proxies.is_empty();
    if demo_on && (!bind.ip().is_loopback() || behind_proxy) {
        return Err(Error::Config(format!(
            "refusing demo mode on {bind}{}: the demo is served on a loopback address only \
             (127.0.0.1 or ::1) and never behind a proxy",
            if behind_proxy { " behind a proxy" } else { "" }
        )));
    }
    Ok(Listeners { bind, admin_bind, tls, trusted_proxies })
}

/// The proxies whose `X-Forwarded-For` is believed. A proxy in front (`behind_tls_proxy`)
/// with none named is taken to be on this host: loopback.
fn trusted_proxies(given: &[String], behind_tls_proxy: bool) -> Result<Vec<IpNet>> {
    let mut given: Vec<&str> = given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if given.is_empty() && behind_tls_proxy {
        given = DEFAULT_PROXIES_BEHIND_TLS.to_vec();
    }
    given
        .iter()
        .map(|s| {
            s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                Error::Config(format!(
                    "trusted_proxies: {s:?} is not a network (10.0.0.0/8, 2001:db8::/32) or an address"
                ))
            })
        })
        .collect()
}
