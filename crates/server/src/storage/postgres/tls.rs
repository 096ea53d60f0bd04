//! TLS to the database: rustls on ring (`tokio-postgres-rustls`), the stack the server already
//! serves HTTPS with, trusting the configured CA file or else the system's roots.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};

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
