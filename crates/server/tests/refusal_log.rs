//! A flood of refused requests writes a bounded number of log lines and still says how many it
//! refused (`src/http/refusals.rs`). Its own binary, so the capturing subscriber is the
//! process's only one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use common::{Server, SERVICE};
use serde_json::{json, Value};
use softtoken_server::http::refusals::{LINES_PER_WINDOW, WINDOW_SECS};

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
    /// The JSON lines whose `event` is `event`.
    fn events(&self, event: &str) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["event"] == event)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_wrong_bearers_writes_a_bounded_log_that_still_counts_every_refusal() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt().json().with_writer(move || writer.clone()).init();
    let server = Server::start().await;
    let http = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)))
        .build()
        .unwrap();
    let body = json!({"service_id": SERVICE, "user_id": "999800000001", "code": "000000"});
    let mut statuses = (0, 0);
    for _ in 0..300 {
        let status = http
            .post(format!("{}/v1/admin/verify", server.admin_url))
            .bearer_auth("a-guess-at-the-bank-token")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        match status {
            401 => statuses.0 += 1,
            429 => statuses.1 += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!(statuses, (10, 290), "the address's bucket holds ten wrong bearers");
    let limit = LINES_PER_WINDOW as usize;
    assert_eq!(logs.events("admin_unauthorized").len(), 10);
    assert_eq!(logs.events("admin_rate_limited").len(), limit, "one line per refusal");
    assert!(logs.events("refusals_suppressed").is_empty(), "the window is still open");

    // The minute tick after the window: one line with the count of those not written.
    server.clock.advance(WINDOW_SECS);
    server.state.close_refusal_windows();
    let summaries = logs.events("refusals_suppressed");
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let fields = &summaries[0]["fields"];
    assert_eq!(fields["kind"], "admin_rate_limited");
    assert_eq!(fields["suppressed"].as_u64(), Some(290 - LINES_PER_WINDOW as u64));
    assert_eq!(fields["logged"].as_u64(), Some(u64::from(LINES_PER_WINDOW)));
    assert_eq!(summaries[0]["level"], "WARN");
    // A new window writes lines again.
    let status = http
        .post(format!("{}/v1/admin/verify", server.admin_url))
        .bearer_auth("a-guess-at-the-bank-token")
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 429);
    assert_eq!(logs.events("admin_rate_limited").len(), limit + 1);
    common::close(&server).await;
}
