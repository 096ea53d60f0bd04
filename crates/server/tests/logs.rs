//! What the server writes to its log: the line an operator alarms on, the events of a
//! registration's life, and never a secret. One test in its own binary, so the capturing
//! subscriber is the process's only one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Server, Setup};
use softtoken_core::Error;
use softtoken_server::http::HttpOptions;
use softtoken_server::ratelimit::RateLimits;

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn the_log_names_events_and_rate_limits_but_never_a_password_a_code_or_the_admin_token() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || writer.clone())
        .init();

    let http = HttpOptions {
        rate_limits: RateLimits {
            per_address_burst: 2,
            per_address_per_minute: 1,
            total_burst: 100,
            total_per_minute: 100,
        },
        ..Setup::default().http
    };
    let bank = Server::start_with(Setup { http, ..Setup::default() }).await;
    let user = bank.issue(None, "73914826").await;
    assert!(matches!(
        bank.provision(&user, "73914827").await,
        Err(Error::WrongActivationPassword { .. })
    ));
    let (token, _) = bank.provision(&user, "73914826").await.unwrap();
    let code = bank.code(&token);
    bank.verify(&user, &code).await;
    assert!(matches!(
        bank.provision("111122223333", "1234").await,
        Err(Error::UnknownRegistration)
    ));
    assert!(matches!(bank.provision(&user, "73914826").await, Err(Error::RateLimited { .. })));

    let text = logs.text();
    for event in [
        "registration_issued",
        "provision_wrong_password",
        "provision_confirmed",
        "provision_delivered",
        "token_in_use",
        "provision_failed",
    ] {
        assert!(text.contains(event), "{event} missing from the log");
    }
    // The line an operator alarms on: WARN, a stable event name, the scope and the address.
    let line =
        text.lines().find(|l| l.contains("provision_rate_limited")).expect("a rate-limit line");
    let line: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["event"], "provision_rate_limited");
    assert_eq!(line["fields"]["scope"], "address");
    assert_eq!(line["fields"]["client"], "127.0.0.1");
    // The code quoted, as any field would carry it (bare digits could match a timestamp).
    let quoted = format!("\"{code}\"");
    for secret in ["73914826", "73914827", quoted.as_str(), common::ADMIN_TOKEN] {
        assert!(!text.contains(secret), "{secret} is in the log");
    }
}
