//! Transaction confirmation in the app's real window (docs/confirmation.md §10), against the
//! reference server in demo mode on 127.0.0.1: a token set up through the screens and put in
//! use with a code, then the bank web tier's admin API creates a transfer to confirm; the app
//! finds it by itself, shows it, and the customer answers; the admin API's status read says
//! what the bank recorded. In Japanese (approve, with the number of the bank's page, and the
//! offline code) and in English (a request changed on the way is refused without being shown;
//! a transfer to a payee the customer never asked for is denied).
//!
//! Like tests/app_e2e.rs these run when `SOFTTOKEN_E2E=1` and take screenshots of the new
//! screens into `target/screenshots/` (or `docs/screenshots/` with
//! `SOFTTOKEN_UPDATE_SCREENSHOTS=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// Shared with the other window-test files; each uses part of it.
#[allow(dead_code, unused_imports)]
mod app_e2e_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app_e2e_support::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const DEMO_SERVICE: &str = "10112231";
const DEMO_USER: &str = "999800000001";
/// The app looks every 5 s; a request must be on screen well within this.
const FOUND_WITHIN: Duration = Duration::from_secs(30);

/// The bank web tier: the admin API's confirmation endpoints.
struct WebTier {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl WebTier {
    fn new(bank: &Bank) -> Self {
        softtoken_core::client::install_tls_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(40)).build().unwrap();
        Self { http, url: bank.admin_url.clone(), token: bank.admin_token.clone() }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A transfer of ¥50,000 to `holder`'s account `account` waiting for the customer.
    async fn ask(&self, account: &str, holder: &str, match_required: bool) -> Value {
        let body = json!({
            "service_id": DEMO_SERVICE,
            "user_id": DEMO_USER,
            "details": {
                "kind": "transfer",
                "amount_yen": 50000,
                "payee": {
                    "bank": "みらい信用金庫", "branch": "本店営業部", "account_type": "ordinary",
                    "account_number": account, "holder": holder
                },
                "note": "家賃 12月分"
            },
            // Long enough for the screenshots taken while it waits.
            "lifetime_secs": 300,
            "match_required": match_required,
        });
        let (status, created) = self.post("/v1/admin/confirmations", body).await;
        assert_eq!(status, 201, "the bank could not create the confirmation: {created}");
        assert_eq!(created["state"], "pending");
        created
    }

    /// The request's state, waiting up to `wait` seconds for a final one.
    async fn state(&self, id: &str, wait: u32) -> String {
        let r = self
            .http
            .get(format!("{}/v1/admin/confirmations/{id}?wait={wait}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        v["state"].as_str().unwrap().to_owned()
    }

    async fn cancel(&self, id: &str) {
        let (status, _) =
            self.post(&format!("/v1/admin/confirmations/{id}/cancel"), json!({})).await;
        assert_eq!(status, 200);
    }

    async fn offline_valid(&self, account: &str, amount: u64, code: &str) -> bool {
        let body = json!({
            "service_id": DEMO_SERVICE, "user_id": DEMO_USER,
            "account_number": account, "amount_yen": amount, "code": code,
        });
        let (status, v) = self.post("/v1/admin/confirmations/offline", body).await;
        assert_eq!(status, 200, "{v}");
        v["valid"].as_bool().unwrap()
    }
}

/// A relay between the app and the bank that, while `tamper` is on, changes the payee's account
/// number in the confirmation requests it passes; everything else goes through unchanged.
struct Relay {
    url: String,
    tamper: Arc<AtomicBool>,
}

impl Relay {
    async fn start(bank_url: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tamper = Arc::new(AtomicBool::new(false));
        let (bank, flag) = (bank_url.to_owned(), tamper.clone());
        // The relay may be the test binary's first HTTP client (tests run in any order).
        softtoken_core::client::install_tls_provider();
        let http = reqwest::Client::new();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (bank, flag, http) = (bank.clone(), flag.clone(), http.clone());
                tokio::spawn(relay_one(socket, bank, flag, http));
            }
        });
        Self { url, tamper }
    }
}

async fn relay_one(
    mut socket: tokio::net::TcpStream,
    bank: String,
    tamper: Arc<AtomicBool>,
    http: reqwest::Client,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let Ok(n) = socket.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = socket.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    let Ok(answer) = http
        .post(format!("{bank}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    else {
        return;
    };
    let status = answer.status().as_u16();
    let mut text = answer.text().await.unwrap_or_default();
    if path == "/v1/confirmations/pending" && tamper.load(Ordering::SeqCst) {
        text = text.replace("1234567", "7654321");
    }
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        text.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(text.as_bytes()).await;
}

/// The demo token set up through the screens and put in use at the bank with its first code;
/// the app back on its token list.
async fn token_in_use(world: &World, app: &App) {
    app.phone_size().await;
    app.wait_ready().await;
    app.activate_demo(world).await;
    app.wait_visible("screen-otp").await;
    let code = app.current_code().await;
    assert!(world.bank.verify(DEMO_SERVICE, DEMO_USER, &code), "the bank accepts the code");
    app.click("otp-back").await;
    app.wait_visible("screen-list").await;
}

async fn wait_for_request(app: &App) {
    app.wait_until_for(
        "return !document.getElementById('screen-confirm').hidden \
         && !document.getElementById('confirm-request').hidden",
        FOUND_WITHIN,
    )
    .await;
}

/// The second press of a decision is armed a moment after the first: wait, then press.
async fn press_final(app: &App) {
    app.wait_visible("confirm-step").await;
    // The first choice is gone while the second press is awaited: a second tap in the same
    // place presses nothing.
    assert!(!app.displayed("confirm-approve").await, "Approve is still on screen");
    assert!(!app.displayed("confirm-not-me").await, "the denial is still on screen");
    app.wait_until("return !document.getElementById('confirm-final').disabled").await;
    app.click("confirm-final").await;
    app.wait_visible("confirm-result").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_approves_a_transfer_in_japanese_with_the_pages_number_and_the_bank_records_it() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let app = world.launch(&[("LANG", "ja_JP.UTF-8"), ("LANGUAGE", "ja")], &[]).await;
    token_in_use(&world, &app).await;
    let web = WebTier::new(&world.bank);

    let created = web.ask("1234567", "ヤマダ　タロウ", true).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let number = created["match_number"].as_str().unwrap().to_owned();
    wait_for_request(&app).await;
    assert_eq!(app.text("confirm-heading").await, "振込の確認");
    assert_eq!(app.text("confirm-amount").await, "¥50,000");
    assert_eq!(app.attr("confirm-amount", "aria-label").await, "金額 50,000円");
    assert_eq!(app.text("confirm-holder").await, "ヤマダ　タロウ");
    assert_eq!(app.text("confirm-bank").await, "みらい信用金庫");
    assert_eq!(app.text("confirm-branch").await, "本店営業部");
    assert_eq!(app.text("confirm-account").await, "普通 1234567");
    assert_eq!(app.text("confirm-note").await, "家賃 12月分");
    assert!(app.displayed("confirm-number").await, "the number of the bank's page is asked");
    app.shoot("10-confirm").await;

    // Approving without the number asks for it; nothing is sent.
    app.click("confirm-approve").await;
    app.wait_visible("confirm-number-error").await;
    assert!(!app.displayed("confirm-step").await);
    // The first press of a decision answers nothing: the bank still waits.
    app.set_value("confirm-number", &number).await;
    app.click("confirm-approve").await;
    app.wait_visible("confirm-step").await;
    assert!(app.text("confirm-step-text").await.contains("¥50,000"));
    assert!(app.text("confirm-step-text").await.contains("ヤマダ　タロウ"));
    assert_eq!(web.state(&id, 0).await, "pending", "one press approved nothing");
    app.shoot("11-confirm-step").await;
    press_final(&app).await;
    assert_eq!(web.state(&id, 10).await, "approved");
    assert!(app.text("confirm-result-text").await.contains("承認しました"));
    app.shoot("12-confirm-approved").await;
    app.click("confirm-done").await;
    app.wait_visible("screen-list").await;

    // The offline code for the same payee and amount, typed as a customer may type them.
    app.click_in_token(0, "show").await;
    app.wait_visible("screen-otp").await;
    app.click("otp-offline").await;
    app.wait_visible("screen-offline").await;
    app.set_value("offline-account", "１２３４５６７").await;
    app.set_value("offline-amount", "50,000").await;
    app.click("offline-submit").await;
    app.wait_visible("offline-result").await;
    let code: String =
        app.text("offline-code").await.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 8, "{code}");
    assert!(app.text("offline-for").await.contains("¥50,000"));
    app.shoot("13-offline").await;
    assert!(web.offline_valid("1234567", 50000, &code).await, "the bank accepts the shown code");
    assert!(!web.offline_valid("1234567", 50000, &code).await, "once");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_in_english_is_never_shown_a_changed_request_and_denies_a_payee_they_never_chose()
{
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let relay = Relay::start(&world.bank.url).await;
    let env = [("LANG", "en_US.UTF-8"), ("LANGUAGE", "en"), ("SOFTTOKEN_SERVER_URL", &relay.url)];
    let app = world.launch(&env, &[]).await;
    token_in_use(&world, &app).await;
    let web = WebTier::new(&world.bank);

    // Changed on the way to the app: refused, not shown, told; the bank still waits for it.
    relay.tamper.store(true, Ordering::SeqCst);
    let changed = web.ask("1234567", "ヤマダ　タロウ", false).await;
    let changed_id = changed["id"].as_str().unwrap().to_owned();
    app.wait_until_for(
        "return document.getElementById('notice').textContent.includes('changed on the way')",
        FOUND_WITHIN,
    )
    .await;
    assert!(app.displayed("screen-list").await, "nothing of the changed request is shown");
    assert!(!app.js_str("return document.body.innerText").await.contains("7654321"));
    app.shoot("14-confirm-tampered").await;
    assert_eq!(web.state(&changed_id, 0).await, "pending", "the app sent no answer");
    web.cancel(&changed_id).await;
    relay.tamper.store(false, Ordering::SeqCst);

    // A relay's own transfer at the bank: the app shows the relay's payee, in the bank's words.
    let foreign = web.ask("7654321", "サギ　ジロウ", false).await;
    let id = foreign["id"].as_str().unwrap().to_owned();
    wait_for_request(&app).await;
    assert_eq!(app.text("confirm-heading").await, "Confirm a transfer");
    assert_eq!(app.text("confirm-holder").await, "サギ　ジロウ");
    assert_eq!(app.text("confirm-account").await, "Ordinary 7654321");
    assert_eq!(app.attr("confirm-amount", "aria-label").await, "Amount 50,000 yen");
    assert!(!app.displayed("confirm-number").await, "no number asked for this one");
    app.click("confirm-not-me").await;
    app.wait_visible("confirm-step").await;
    assert_eq!(web.state(&id, 0).await, "pending", "one press denied nothing");
    // Back returns to the choice; the request is still there to answer.
    app.wait_until("return !document.getElementById('confirm-final').disabled").await;
    app.click("confirm-back").await;
    app.wait_visible("confirm-choose").await;
    app.click("confirm-not-me").await;
    press_final(&app).await;
    assert_eq!(web.state(&id, 10).await, "denied");
    let told = app.text("confirm-result-text").await;
    assert!(told.contains("call the bank"), "{told}");
    app.shoot("15-confirm-denied").await;
    app.click("confirm-done").await;
    app.wait_visible("screen-list").await;
    app.quit().await;
}
