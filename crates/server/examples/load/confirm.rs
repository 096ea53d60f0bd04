//! Transaction confirmation over HTTP: full confirmations (the web tier's create, the app's
//! fetch and answer, the web tier's status read), one after another per connection and many
//! connections at once, and the long-poll wake-up: how long after the answer's `200` a status
//! read that was already waiting returns. On PostgreSQL with several instances the waiter and
//! the answer go to different instances, so the wake-up is the database poll's.
//!
//! The confirmations are sent, by default, on raw HTTP/1.1 keep-alive connections (one to each
//! listener per customer) by the app's own code (the proof, the request's MAC checked, the
//! answer's MAC), so that the load generator, which shares the process and its two CPUs with
//! the server, costs little; `--confirm-client reqwest` sends them with reqwest as before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use softtoken_core::confirm::{
    ConfirmationKeys, Decision, FetchRequest, FetchResponse, PATH_ANSWER, PATH_PENDING,
};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::totp::{ClockOffset, Totp};
use softtoken_server::bank::Bank;

use tokio::net::TcpStream;

use crate::driver::exchange;
use crate::measure::{cpu_secs, cpu_secs_by_thread, ms, percentile};
use crate::provisioning::provision_one;
use crate::servers::{Instance, CONFIRMER, SERVICE};

/// A customer whose token is in use, as the app holds it.
struct Customer {
    user: UserId,
    keys: ConfirmationKeys,
}

/// `n` tokens set up and put in use through the bank's own code (not timed).
async fn customers(bank: &Arc<Bank>, n: usize, t0: u64) -> Vec<Customer> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (user, token) = provision_one(bank, t0).await;
        let totp = Totp::new(token.issued.params, &token.seed, ClockOffset(0)).unwrap();
        let user = UserId::new(&user).unwrap();
        let code = totp.code_at_bank_time(t0);
        let service = ServiceId::new(SERVICE).unwrap();
        assert!(bank.verify(&service, &user, code.as_str(), t0).await.unwrap().accepted);
        out.push(Customer { user, keys: ConfirmationKeys::derive(&token.seed) });
    }
    out
}

/// A customer's two keep-alive connections: to the public listener (the app) and to the admin
/// listener (the web tier).
struct RawClient {
    public: TcpStream,
    admin: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    async fn connect(instance: &Instance) -> Self {
        let public = TcpStream::connect(instance.url.trim_start_matches("http://")).await.unwrap();
        let admin = TcpStream::connect(instance.admin).await.unwrap();
        public.set_nodelay(true).unwrap();
        admin.set_nodelay(true).unwrap();
        Self { public, admin, buf: Vec::with_capacity(4096) }
    }

    async fn send(&mut self, admin: bool, method: &str, path: &str, body: &str) -> (u16, Value) {
        let auth =
            if admin { format!("authorization: Bearer {CONFIRMER}\r\n") } else { String::new() };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{auth}content-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        let stream = if admin { &self.admin } else { &self.public };
        let (status, body) = exchange(stream, request.as_bytes(), &mut self.buf).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// One full confirmation, approved.
    async fn confirm(&mut self, c: &Customer, t0: u64) {
        let body =
            json!({ "service_id": SERVICE, "user_id": c.user.as_str(), "details": details() });
        let (status, created) =
            self.send(true, "POST", "/v1/admin/confirmations", &body.to_string()).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let service = ServiceId::new(SERVICE).unwrap();
        let fetch = FetchRequest::new(&c.keys, service.clone(), c.user.clone(), t0);
        let (_, fetched) =
            self.send(false, "POST", PATH_PENDING, &serde_json::to_string(&fetch).unwrap()).await;
        let fetched: FetchResponse = serde_json::from_value(fetched).unwrap();
        let request = fetched.requests[0].clone().open(&c.keys, &service, &c.user).unwrap();
        let answer = request.answer(&c.keys, Decision::Approve, None).unwrap();
        let (_, answered) =
            self.send(false, "POST", PATH_ANSWER, &serde_json::to_string(&answer).unwrap()).await;
        assert_eq!(answered["state"], "approved");
        let path = format!("/v1/admin/confirmations/{id}?wait=0");
        let (_, status) = self.send(true, "GET", &path, "").await;
        assert_eq!(status["state"], "approved");
    }
}

/// What each confirmation asks the customer to approve.
fn details() -> Value {
    json!({ "kind": "transfer", "amount_yen": 50000, "payee": {
        "bank": "みらい信用金庫", "branch": "本店営業部", "account_type": "ordinary",
        "account_number": "1234567", "holder": "ヤマダ　タロウ" } })
}

struct Endpoints {
    http: reqwest::Client,
    public: String,
    admin: String,
}

impl Endpoints {
    fn of(answer_to: &Instance, wait_on: &Instance) -> Self {
        softtoken_core::client::install_tls_provider();
        let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build().unwrap();
        Self { http, public: answer_to.url.clone(), admin: format!("http://{}", wait_on.admin) }
    }

    async fn create(&self, c: &Customer) -> String {
        let body =
            json!({ "service_id": SERVICE, "user_id": c.user.as_str(), "details": details() });
        let resp = self
            .http
            .post(format!("{}/v1/admin/confirmations", self.admin))
            .bearer_auth(CONFIRMER)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    async fn fetch_and_answer(&self, c: &Customer, t0: u64) {
        let service = ServiceId::new(SERVICE).unwrap();
        let fetch = FetchRequest::new(&c.keys, service.clone(), c.user.clone(), t0);
        let url = format!("{}{PATH_PENDING}", self.public);
        let fetched: FetchResponse =
            self.http.post(url).json(&fetch).send().await.unwrap().json().await.unwrap();
        let request = fetched.requests[0].clone().open(&c.keys, &service, &c.user).unwrap();
        let answer = request.answer(&c.keys, Decision::Approve, None).unwrap();
        let url = format!("{}{PATH_ANSWER}", self.public);
        let answered: Value =
            self.http.post(url).json(&answer).send().await.unwrap().json().await.unwrap();
        assert_eq!(answered["state"], "approved");
    }

    async fn status(&self, id: &str, wait: u64) -> Value {
        let url = format!("{}/v1/admin/confirmations/{id}?wait={wait}", self.admin);
        self.http.get(url).bearer_auth(CONFIRMER).send().await.unwrap().json().await.unwrap()
    }
}

/// Runs the confirmation benchmark: `total` full confirmations from `concurrency` connections
/// (each its own customer, so never more than one pending per registration; sent with reqwest
/// when `with_reqwest`), then `wakes` timed long-poll wake-ups.
pub async fn run(
    instances: &[Instance],
    total: usize,
    concurrency: usize,
    wakes: usize,
    with_reqwest: bool,
    t0: u64,
    deadline: Instant,
) {
    let bank = instances[0].bank.bank().clone();
    let concurrency = concurrency.clamp(1, total.max(1));
    let people = customers(&bank, concurrency + 1, t0).await;
    let (first, last) = (&instances[0], &instances[instances.len() - 1]);
    let endpoints = Arc::new(Endpoints::of(first, first));
    let people: Vec<Arc<Customer>> = people.into_iter().map(Arc::new).collect();

    let mut raw = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        raw.push(if with_reqwest { None } else { Some(RawClient::connect(first).await) });
    }
    let (cpu, threads) = (cpu_secs(), cpu_secs_by_thread());
    let begin = Instant::now();
    let mut tasks = Vec::new();
    for ((i, c), mut raw) in people.iter().take(concurrency).enumerate().zip(raw) {
        let (endpoints, c) = (endpoints.clone(), c.clone());
        let n = total / concurrency + usize::from(i < total % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(n);
            for _ in 0..n {
                if Instant::now() > deadline {
                    break;
                }
                let start = Instant::now();
                if let Some(raw) = raw.as_mut() {
                    raw.confirm(&c, t0).await;
                } else {
                    let id = endpoints.create(&c).await;
                    endpoints.fetch_and_answer(&c, t0).await;
                    assert_eq!(endpoints.status(&id, 0).await["state"], "approved");
                }
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = begin.elapsed();
    let cpu = cpu_secs() - cpu;
    latencies.sort();
    if !latencies.is_empty() {
        let client = if with_reqwest { "reqwest" } else { "raw HTTP/1.1" };
        println!(
            "confirmations over HTTP (create + fetch + answer + status, {} from {} connections, {client}): {:.0}/s; round trip p50 {}, p95 {}, p99 {}",
            latencies.len(),
            concurrency,
            latencies.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.95)),
            ms(percentile(&latencies, 0.99)),
        );
        let per = |secs: f64| secs * 1e6 / latencies.len() as f64;
        let by_thread: Vec<String> = cpu_secs_by_thread()
            .into_iter()
            .map(|(name, secs)| (name.clone(), secs - threads.get(&name).copied().unwrap_or(0.0)))
            .filter(|(_, secs)| *secs >= 0.01)
            .map(|(name, secs)| format!("{name} {:.0} µs", per(secs)))
            .collect();
        println!(
            "  CPU per confirmation (the process: server and load generator): {:.0} µs ({})",
            per(cpu),
            by_thread.join(", ")
        );
    }

    // The wake-up: the web tier waits on the first instance, the app answers on the last.
    let answering = Endpoints::of(last, first);
    let waiting = Arc::new(Endpoints::of(first, first));
    let c = people[concurrency].clone();
    let mut wakes_seen = Vec::with_capacity(wakes);
    for _ in 0..wakes {
        if Instant::now() > deadline {
            break;
        }
        let id = waiting.create(&c).await;
        let waiter = {
            let (waiting, id) = (waiting.clone(), id.clone());
            tokio::spawn(async move {
                let state = waiting.status(&id, 10).await;
                (Instant::now(), state)
            })
        };
        // Long enough for the wait to have begun reading.
        tokio::time::sleep(Duration::from_millis(30)).await;
        answering.fetch_and_answer(&c, t0).await;
        let answered = Instant::now();
        let (woke, state) = waiter.await.unwrap();
        assert_eq!(state["state"], "approved");
        wakes_seen.push(woke.saturating_duration_since(answered));
    }
    wakes_seen.sort();
    if !wakes_seen.is_empty() {
        let across = if instances.len() > 1 { "another instance" } else { "the same instance" };
        println!(
            "long-poll wake-up (answer's 200 to the waiting status read's, answered through {across}, {} runs): p50 {}, p95 {}, max {}",
            wakes_seen.len(),
            ms(percentile(&wakes_seen, 0.50)),
            ms(percentile(&wakes_seen, 0.95)),
            ms(*wakes_seen.last().unwrap()),
        );
    }
}
