//! The real `softtoken-server` binary at its network edge, on loopback only: who the client is
//! behind proxies, slow and idle clients, connection caps, and which listener answers what.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;

use std::net::IpAddr;

use binary::spawn;
use serde_json::Value;

/// A client whose connections come from `source` (any 127.0.0.0/8 address is this host).
fn client_from(source: &str) -> reqwest::Client {
    softtoken_core::client::install_tls_provider();
    reqwest::Client::builder().local_address(source.parse::<IpAddr>().unwrap()).build().unwrap()
}

/// A provisioning start the bank refuses as malformed: a failure that costs the caller's
/// rate-limit bucket. Returns the status (400 while the bucket lasts, then 429).
async fn bad_start(client: &reqwest::Client, url: &str, forwarded_for: Option<&str>) -> u16 {
    let mut req = client
        .post(format!("{url}/v1/provision/start"))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    let expected = match status {
        400 => "invalid_request",
        429 => "rate_limited",
        _ => panic!("unexpected answer {status} {body}"),
    };
    assert_eq!(body["code"], expected, "{body}");
    status
}

const BURST: &[&str] = &["--rate-per-address-burst", "3", "--rate-per-address-per-minute", "1"];

#[tokio::test(flavor = "multi_thread")]
async fn a_guesser_behind_the_banks_own_proxy_cannot_hide_behind_an_address_it_wrote_itself() {
    // The proxy on this host appends `ip:port`, as some do; before trusted proxies were
    // configured the client's own leftmost entry was taken as its address.
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[&["--behind-tls-proxy"], BURST].concat());
    let proxy = client_from("127.0.0.1");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let xff = format!("10.9.9.{i}, 203.0.113.7:{}", 40000 + i);
        statuses.push(bad_start(&proxy, &server.url, Some(&xff)).await);
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429, 429]);
    // Another customer behind the same proxy has a bucket of its own: the proxy's address is
    // not everyone's.
    assert_eq!(bad_start(&proxy, &server.url, Some("203.0.113.8")).await, 400);
    assert_eq!(bad_start(&proxy, &server.url, Some("[2001:db8::8]:443")).await, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_from_a_caller_that_is_not_a_trusted_proxy_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(
        dir.path(),
        &[&["--behind-tls-proxy", "--trusted-proxies", "127.0.0.2/32"], BURST].concat(),
    );
    // A guesser reaching the server directly writes a new address into every request.
    let direct = client_from("127.0.0.3");
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(bad_start(&direct, &server.url, Some(&format!("198.51.100.{i}"))).await);
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429]);
    // Through the trusted proxy, the address it saw counts, and the guesser's bucket is empty
    // there too (127.0.0.3 forwarded by the proxy).
    let proxy = client_from("127.0.0.2");
    assert_eq!(bad_start(&proxy, &server.url, Some("127.0.0.3")).await, 429);
    assert_eq!(bad_start(&proxy, &server.url, Some("198.51.100.77")).await, 400);
}
