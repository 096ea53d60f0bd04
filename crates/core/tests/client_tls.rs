//! The client over real TLS on 127.0.0.1: a certificate the device does not trust stops the
//! app before anything is sent; a bank's test lab can be trusted explicitly with its own CA.
//! The certificates in `fixtures/tls/` are for these tests only (CN=localhost, 127.0.0.1).
#![cfg(feature = "client")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use softtoken_core::client::{ClientOptions, ProvisioningClient};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::Error;

const CA: &[u8] = include_bytes!("fixtures/tls/ca.pem");
const CERT: &[u8] = include_bytes!("fixtures/tls/server-cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/tls/server-key.pem");

/// An HTTPS server that answers every request with `200 {}` (not a start answer), for at most
/// `connections` connections. Returns its port.
fn tls_server(connections: usize) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(CERT).unwrap()],
            PrivateKeyDer::from_pem_slice(KEY).unwrap(),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(tcp) = stream else { continue };
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // Read the request head; a client that refused the certificate ends here.
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            if seen.is_empty() {
                continue;
            }
            let _ = tls.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

async fn provision(client: &ProvisioningClient) -> Error {
    let service = ServiceId::new("10112231").unwrap();
    let user = UserId::new("999800000001").unwrap();
    let pw = ActivationPassword::new("4321").unwrap();
    client.handshake(&service, &user, &pw, 0).await.unwrap_err()
}

#[tokio::test]
async fn a_server_with_a_certificate_the_device_does_not_trust_is_a_tls_failure() {
    let port = tls_server(2);
    let client = ProvisioningClient::new(&format!("https://127.0.0.1:{port}")).unwrap();
    let err = provision(&client).await;
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn a_bank_lab_with_its_own_ca_is_trusted_when_configured() {
    let port = tls_server(2);
    let options = ClientOptions { extra_root_pem: Some(CA.to_vec()), ..ClientOptions::default() };
    let client =
        ProvisioningClient::with_options(&format!("https://localhost:{port}"), options).unwrap();
    // TLS holds; what fails is the server's `{}`, which is no start answer.
    let err = provision(&client).await;
    assert!(matches!(err, Error::ProtocolViolation(_)), "{err:?}");
}

#[test]
fn an_unreadable_extra_root_certificate_is_refused() {
    let options =
        ClientOptions { extra_root_pem: Some(b"not a pem".to_vec()), ..ClientOptions::default() };
    let r = ProvisioningClient::with_options("https://localhost", options);
    assert!(matches!(r, Err(Error::Tls(_))), "{r:?}");
}
