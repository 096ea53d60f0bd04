//! The real `softtoken-server` binary at its network edge, on loopback only: who the client is
//! behind proxies, slow and idle clients, connection caps, and which listener answers what.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use binary::spawn;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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

/// Files the server process holds open right now (sockets, database, log).
fn open_files(server: &binary::Proc) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.child.id())).unwrap().count()
}

/// What happened to a connection the server should not keep.
#[derive(Debug, PartialEq)]
enum Fate {
    /// The server closed it (at once, or when it timed out).
    Closed,
    /// Still open at the test's deadline.
    Held,
}

/// A slowloris client: a request line, then one more header line every `every`, never the
/// end of the header. Returns when the server closes the connection or at `deadline`.
async fn drip(addr: std::net::SocketAddr, every: Duration, deadline: Instant) -> Fate {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return Fate::Closed };
    let mut buf = [0u8; 256];
    let mut line = 0u32;
    let mut next = b"POST /v1/provision/start HTTP/1.1\r\nHost: bank\r\n".to_vec();
    loop {
        if s.write_all(&next).await.is_err() {
            return Fate::Closed;
        }
        line += 1;
        next = format!("X-Drip-{line}: {line}\r\n").into_bytes();
        tokio::select! {
            read = s.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Fate::Closed,
                // Whatever the server says, it must then close.
                Ok(_) => {}
            },
            () = tokio::time::sleep(every) => {}
        }
        if Instant::now() >= deadline {
            return Fate::Held;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_dripping_sockets_neither_silence_the_bank_nor_pile_up_its_open_files() {
    const SOCKETS: usize = 1_000;
    const PER_ADDRESS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(
        dir.path(),
        &["--header-read-timeout-secs", "2", "--max-connections-per-address", "32"],
    );
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let customer = client_from("127.0.0.2");
    let healthz = format!("{}/healthz", server.url);
    assert_eq!(customer.get(&healthz).send().await.unwrap().status(), 200);
    let before = open_files(&server);

    // Every socket drips a header line each second; the bank cuts each one off after its
    // 2-second header timeout, or at once beyond its cap. The test gives up after 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    let attack: Vec<_> =
        (0..SOCKETS).map(|_| tokio::spawn(drip(addr, Duration::from_secs(1), deadline))).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // While they drip, a customer from another address is answered promptly.
    let answered = customer.get(&healthz).timeout(Duration::from_secs(5)).send().await;
    assert_eq!(answered.unwrap().status(), 200);
    let during = open_files(&server);
    assert!(
        during <= before + PER_ADDRESS + 4,
        "{during} open files while {SOCKETS} sockets drip (before: {before})"
    );

    let mut held = 0;
    for socket in attack {
        if socket.await.unwrap() == Fate::Held {
            held += 1;
        }
    }
    assert_eq!(held, 0, "{held} dripping sockets were still held after 30 s");
    assert!(open_files(&server) <= before + 2);
    assert_eq!(customer.get(&healthz).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_trickles_in_is_answered_408_and_an_idle_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        spawn(dir.path(), &["--header-read-timeout-secs", "1", "--request-timeout-secs", "2"]);
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);

    // Slow POST: the whole header, then one byte of the promised body a second.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /v1/provision/start HTTP/1.1\r\nHost: bank\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = s.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                let _ = s.write_all(b" ").await;
            }
        }
        assert!(Instant::now() < deadline, "the slow POST was held: {answer:?}");
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");

    // Keep-alive: one whole request, then silence; the bank closes the idle connection.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bank\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    loop {
        let read = tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await;
        match read.expect("the idle connection was held") {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_public_listener_has_no_admin_power_and_the_web_tiers_token_only_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = binary::command(dir.path());
    let web_tier = binary::token_file(dir.path(), "verify.token", "web-tier-verify-only-token-77");
    command.env("SOFTTOKEN_VERIFY_TOKEN_FILE", web_tier);
    let server = binary::spawn_command(command, &[]);
    let http = client_from("127.0.0.1");
    let body = serde_json::json!({"service_id": binary::SERVICE, "mail": "taro@example.jp",
                                  "activation_password": "4821"});
    // Whoever reaches the public address finds no admin endpoint and no metrics.
    for (path, admin) in [("/v1/admin/registrations", true), ("/v1/admin/verify", true)] {
        let (status, answer) = binary::post(&server.url, path, &body, admin).await;
        assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")), "{path}");
    }
    let metrics = http.get(format!("{}/metrics", server.url)).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 404);
    // The admin listener has them, behind a credential.
    let metrics = http.get(format!("{}/metrics", server.admin_url)).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 401);
    let metrics = http.get(format!("{}/metrics", server.admin_url)).bearer_auth(binary::ADMIN);
    assert_eq!(metrics.send().await.unwrap().status().as_u16(), 200);
    let (status, issued) =
        binary::post(&server.admin_url, "/v1/admin/registrations", &body, true).await;
    assert_eq!(status, 201, "{issued}");
    // The web tier's token verifies, and may not issue.
    let as_web_tier = |path: &str, body: &Value| {
        http.post(format!("{}{path}", server.admin_url))
            .bearer_auth("web-tier-verify-only-token-77")
            .json(body)
            .send()
    };
    let verify = serde_json::json!({"service_id": binary::SERVICE,
                                    "user_id": issued["user_id"], "code": "123456"});
    let answer = as_web_tier("/v1/admin/verify", &verify).await.unwrap();
    // Not delivered yet: the bank answered the verify, the credential was good.
    assert_eq!(answer.status().as_u16(), 409);
    let answer = as_web_tier("/v1/admin/registrations", &body).await.unwrap();
    assert_eq!(answer.status().as_u16(), 401);
}
