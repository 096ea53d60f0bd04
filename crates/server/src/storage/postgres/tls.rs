//! TLS to the database: rustls on ring (`tokio-postgres-rustls`), the stack the server already
//! serves HTTPS with, trusting the configured CA file or else the system's roots. rustls checks
//! the certificate's chain and that it names the host the URL gives, so `sslmode=require` here
//! is what libpq calls `verify-full` (which is accepted as a synonym).
//!
//! Off this machine TLS is required: `prefer` (tokio-postgres' default when `sslmode` is not
//! given) falls back to plain text when whoever answers for the database says it has no TLS,
//! so an attacker on the bank's network could read every seed the server writes. Only a Unix
//! socket or a loopback address may go without.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_postgres::config::{Host, SslMode};

use crate::error::{Error, Result};

/// The parsed configuration of a database URL, once its transport is allowed: TLS with
/// verification for a remote host, anything for a Unix socket or loopback.
///
/// # Errors
/// [`Error::Config`] for a URL that does not parse, or one naming a host off this machine
/// without `sslmode=require` (or `verify-full`); checked before any connection is made.
pub(super) fn checked_config(url: &str) -> Result<tokio_postgres::Config> {
    let named = sslmode_named(url);
    // libpq's names for what this connector does (and more), which tokio-postgres does not parse.
    let url = match named.as_deref() {
        Some(mode @ ("verify-full" | "verify-ca")) => {
            url.replacen(&format!("sslmode={mode}"), "sslmode=require", 1)
        }
        Some("allow") => url.replacen("sslmode=allow", "sslmode=prefer", 1),
        _ => url.to_owned(),
    };
    let config: tokio_postgres::Config =
        url.parse().map_err(|e| Error::Config(format!("the database URL does not parse: {e}")))?;
    if config.get_ssl_mode() != SslMode::Require {
        if let Some(remote) = remote_host(&config) {
            let mode = named.unwrap_or_else(|| "(not given, which means prefer)".into());
            return Err(Error::Config(format!(
                "refusing sslmode={mode} for the database at {remote}: it is not on this \
                 machine, and without sslmode=require whoever answers for it may talk in clear \
                 and read every secret the server writes. Add sslmode=require to database_url \
                 (the certificate and the host name are verified against database_ca_file or \
                 the system's roots), or reach the database by a Unix socket or loopback"
            )));
        }
    }
    Ok(config)
}

/// The value of `sslmode` as written in the URL (either form), if any.
fn sslmode_named(url: &str) -> Option<String> {
    let at = url.find("sslmode=")? + "sslmode=".len();
    let value: String =
        url[at..].chars().take_while(|c| !matches!(c, '&' | ' ' | '\t' | '\'')).collect();
    Some(value)
}

/// The first address the configuration would reach off this machine: for each host, its
/// `hostaddr` when one is given (then the name is only for the certificate), else the host.
fn remote_host(config: &tokio_postgres::Config) -> Option<String> {
    let (hosts, addrs) = (config.get_hosts(), config.get_hostaddrs());
    (0..hosts.len().max(addrs.len())).find_map(|i| match (addrs.get(i), hosts.get(i)) {
        (Some(addr), _) => (!addr.is_loopback()).then(|| addr.to_string()),
        (None, Some(Host::Tcp(name))) => (!is_loopback_name(name)).then(|| name.clone()),
        (None, Some(Host::Unix(_)) | None) => None,
    })
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The connector for a database URL whose `sslmode` is not `disable`.
///
/// # Errors
/// [`Error::Config`] when the CA file cannot be read or holds a certificate rustls refuses.
pub(super) fn connector(
    ca_file: Option<&PathBuf>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::Config(format!(
                        "cannot read the database CA file {}: {e}",
                        path.display()
                    ))
                })?;
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::Config(format!("a bad certificate in {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system root rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refusal(url: &str) -> String {
        match checked_config(url) {
            Err(Error::Config(message)) => message,
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_database_off_this_machine_without_required_tls_is_refused() {
        for (url, mode) in [
            ("postgres://softtoken@db.bank.example:5432/softtoken", "(not given"),
            ("postgres://softtoken@db.bank.example/softtoken?sslmode=prefer", "prefer"),
            ("postgres://softtoken@192.0.2.7/softtoken?sslmode=disable", "disable"),
            ("postgres://softtoken@db.bank.example/softtoken?sslmode=allow", "allow"),
            ("host=db.bank.example user=softtoken sslmode=prefer", "prefer"),
            // A loopback name does not help when the address connected to is remote.
            ("host=localhost hostaddr=192.0.2.7 user=softtoken sslmode=disable", "disable"),
            ("host=/run/postgresql,db.bank.example user=softtoken", "(not given"),
        ] {
            let message = refusal(url);
            assert!(message.contains(&format!("refusing sslmode={mode}")), "{url}: {message}");
            assert!(message.contains("sslmode=require"), "{message}");
        }
    }

    #[test]
    fn required_tls_anywhere_and_any_mode_on_this_machine_are_accepted() {
        for url in [
            "postgres://softtoken@db.bank.example/softtoken?sslmode=require",
            "postgres://softtoken@db.bank.example/softtoken?sslmode=verify-full",
            "postgres://softtoken@127.0.0.1:5432/softtoken?sslmode=disable",
            "postgres://softtoken@localhost/softtoken",
            "postgres://softtoken@[::1]:5432/softtoken?sslmode=prefer",
            "host=/run/postgresql user=softtoken sslmode=disable",
            "host=db.bank.example hostaddr=127.0.0.1 user=softtoken sslmode=disable",
        ] {
            assert!(checked_config(url).is_ok(), "{url}: {:?}", checked_config(url).err());
        }
        let verified = checked_config("postgres://u@db.bank.example/x?sslmode=verify-ca").unwrap();
        assert_eq!(verified.get_ssl_mode(), SslMode::Require);
    }
}
