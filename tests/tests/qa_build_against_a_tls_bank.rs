//! A QA build and a customer build of the app against the same bank, served over TLS with a
//! certificate from the QA labs' own certificate authority (core's test CA): the QA build, given
//! that CA, activates a token end to end; the customer build, which trusts only the platform's
//! roots, is refused at the TLS handshake, before the bank sees a request.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use softtoken_app::config::{Config, Inputs, ServerTrust};
use softtoken_app::ops::{self, AppState};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::totp::unix_now;
use softtoken_core::vault::MemoryKeyStore;
use softtoken_server::bank::IssueRequest;
use softtoken_server::testing::{BankOptions, TestBank};
use zeroize::Zeroizing;

const SERVICE: &str = "10112231";
const USER: &str = "999800000007";
const PASSWORD: &str = "8642";

fn tls_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/core/tests/fixtures/tls").join(name)
}

/// The bank on `https://localhost:<port>` with the QA CA's server certificate, holding one
/// issued registration.
async fn bank_over_tls() -> (String, Arc<TestBank>) {
    let bank = Arc::new(TestBank::open(BankOptions::default()).unwrap());
    bank.bank()
        .issue(
            IssueRequest {
                service_id: ServiceId::new(SERVICE).unwrap(),
                user_id: Some(UserId::new(USER).unwrap()),
                mail: "taro@example.invalid".into(),
                password: ActivationPassword::new(PASSWORD).unwrap(),
                expires_in_secs: None,
            },
            unix_now(),
        )
        .await
        .unwrap();
    softtoken_core::client::install_tls_provider();
    let tls =
        RustlsConfig::from_pem_file(tls_fixture("server-cert.pem"), tls_fixture("server-key.pem"))
            .await
            .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let service = bank.router().into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls).unwrap().serve(service).await
    });
    // The certificate names localhost and 127.0.0.1; the name is what a QA server would have.
    (format!("https://localhost:{port}"), bank)
}

/// The app's settings as a build resolves them from a tester's environment.
fn resolved(url: &str, qa_ca: Option<PathBuf>, dir: &Path, overrides_allowed: bool) -> Config {
    let inputs = Inputs {
        server_url: Some(url.to_owned()),
        data_dir: Some(dir.to_path_buf()),
        qa_ca,
        ..Inputs::default()
    };
    Config::resolve(inputs, dir, overrides_allowed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_build_given_the_qa_ca_activates_a_token_at_a_bank_with_its_own_ca() {
    let (url, bank) = bank_over_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let config = resolved(&url, Some(tls_fixture("ca.pem")), dir.path(), true);
    assert_eq!(config.server_url, url, "a QA build takes the server from its environment");
    let app = AppState::new(config, Arc::new(MemoryKeyStore::new()));

    let password = Zeroizing::new(PASSWORD.to_owned());
    let token = ops::activate(&app, SERVICE, USER, password, unix_now()).await.unwrap();
    assert!(!token.pending_delivery, "the bank acknowledged the delivery over TLS");

    let (s, u) = (ServiceId::new(SERVICE).unwrap(), UserId::new(USER).unwrap());
    let code = ops::list_tokens(&app, unix_now()).await.unwrap()[0].code.clone();
    assert!(bank.bank().verify(&s, &u, &code, unix_now()).await.unwrap().accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_build_refuses_a_bank_whose_ca_only_qa_trusts_before_sending_anything() {
    let (url, bank) = bank_over_tls().await;
    let dir = tempfile::tempdir().unwrap();
    // A customer build ignores the tester's environment: give it the same server as its own.
    let ignored = resolved(&url, Some(tls_fixture("ca.pem")), dir.path(), false);
    assert_eq!(ignored.server_trust, ServerTrust::default());
    let config = Config { server_url: url, ..ignored };
    let app = AppState::new(config, Arc::new(MemoryKeyStore::new()));
    let counters_before = bank.state.metrics().render();

    let password = Zeroizing::new(PASSWORD.to_owned());
    let refused = ops::activate(&app, SERVICE, USER, password, unix_now()).await;
    assert_eq!(refused.unwrap_err().kind, "tls");
    assert_eq!(bank.state.metrics().render(), counters_before, "no request reached the bank");
    assert!(ops::list_tokens(&app, unix_now()).await.unwrap().is_empty(), "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_build_given_an_unusable_ca_starts_and_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    for ca in [not_pem, dir.path().join("missing.pem")] {
        let config = resolved("https://localhost:9", Some(ca), dir.path(), true);
        let app = AppState::new(config, Arc::new(MemoryKeyStore::new()));
        assert!(ops::list_tokens(&app, unix_now()).await.unwrap().is_empty(), "the app works");
        let password = Zeroizing::new(PASSWORD.to_owned());
        let e = ops::activate(&app, SERVICE, USER, password, unix_now()).await.unwrap_err();
        assert_eq!(e.kind, "qa_ca_unusable");
        assert!(e.message.contains("SOFTTOKEN_QA_CA") && !e.message.contains('/'), "{e:?}");
    }
}
