//! A bank's confirmation endpoints on 127.0.0.1 for the app's tests: a plain HTTP/1.1 loop over
//! a tokio socket (the app's tests link no web framework), running core's bank-side rules
//! (`FetchRequest::is_authentic`, `Request::judge`) over the requests it holds, and recording
//! every answer it received.

use std::sync::{Arc, Mutex};

use softtoken_core::confirm::{
    AnswerRequest, ConfirmationId, ConfirmationKeys, ConfirmationState, Details, FetchRequest,
    FetchResponse, MatchNumber, Request, Verdict, PATH_ANSWER, PATH_PENDING,
};
use softtoken_core::ids::{ServiceId, UserId};
use softtoken_core::protocol::wire::{ErrorBody, ErrorCode};
use softtoken_core::totp::Seed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

pub const SERVICE: &str = "10112231";
pub const USER: &str = "999800000001";

#[derive(Default)]
pub struct Books {
    /// Requests with the number the bank's page shows, and their state.
    pub requests: Vec<(Request, Option<MatchNumber>, ConfirmationState)>,
    /// A relay on the way to the app changes this text in every request it passes.
    pub tamper: Option<(String, String)>,
    /// Every answer received, as sent.
    pub answers: Vec<AnswerRequest>,
}

pub struct ConfirmBank {
    pub url: String,
    pub books: Arc<Mutex<Books>>,
    keys: ConfirmationKeys,
}

pub fn keys_of(seed: &[u8]) -> ConfirmationKeys {
    ConfirmationKeys::derive(&Seed::new(Zeroizing::new(seed.to_vec())).unwrap())
}

/// A transfer of `yen` to ヤマダ　タロウ made at `now` (bank time).
pub fn transfer(yen: u64, now: u64, match_required: bool) -> Request {
    let details: Details = serde_json::from_value(serde_json::json!({
        "kind": "transfer",
        "amount_yen": yen,
        "payee": {
            "bank": "みらい信用金庫", "branch": "本店営業部", "account_type": "ordinary",
            "account_number": "1234567", "holder": "ヤマダ　タロウ"
        },
        "note": "家賃 12月分"
    }))
    .unwrap();
    Request::new(
        ConfirmationId::random().unwrap(),
        ServiceId::new(SERVICE).unwrap(),
        UserId::new(USER).unwrap(),
        details,
        now,
        120,
        match_required,
    )
    .unwrap()
}

impl ConfirmBank {
    /// A bank for the token whose seed is `seed`, whose clock reads `now`.
    pub async fn start(seed: &[u8], now: u64) -> Self {
        let keys = keys_of(seed);
        let books = Arc::new(Mutex::new(Books::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (k, b) = (keys.clone(), books.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (k, b) = (k.clone(), b.clone());
                tokio::spawn(async move {
                    let Some((path, body)) = read_request(&mut socket).await else { return };
                    let (status, answer) = handle(&k, &b, now, &path, &body);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        answer.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Self { url, books, keys }
    }

    pub fn add(&self, request: Request, number: Option<&str>) {
        let number = number.map(|n| MatchNumber::new(n).unwrap());
        self.books.lock().unwrap().requests.push((request, number, ConfirmationState::Pending));
    }

    pub fn state(&self, i: usize) -> ConfirmationState {
        self.books.lock().unwrap().requests[i].2
    }

    pub fn answers(&self) -> usize {
        self.books.lock().unwrap().answers.len()
    }

    pub fn keys(&self) -> &ConfirmationKeys {
        &self.keys
    }
}

/// The path and body of one HTTP/1.1 request.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split(' ').nth(1)?.to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((path, String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned()))
}

fn refusal(code: ErrorCode) -> (u16, String) {
    (code.http_status(), serde_json::to_string(&ErrorBody::new(code, code.as_str())).unwrap())
}

fn handle(
    keys: &ConfirmationKeys,
    books: &Mutex<Books>,
    now: u64,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut books = books.lock().unwrap();
    if path == PATH_PENDING {
        let fetch: FetchRequest = serde_json::from_str(body).unwrap();
        if !fetch.is_authentic(keys, now) {
            return refusal(ErrorCode::NotAuthenticated);
        }
        let requests = books
            .requests
            .iter()
            .filter(|(_, _, s)| *s == ConfirmationState::Pending)
            .map(|(r, _, _)| r.sign(keys))
            .collect();
        let mut json =
            serde_json::to_string(&FetchResponse::new(keys, &fetch, requests, now)).unwrap();
        if let Some((from, to)) = &books.tamper {
            json = json.replace(from.as_str(), to);
        }
        return (200, json);
    }
    assert_eq!(path, PATH_ANSWER, "the app called an unknown path");
    let answer: AnswerRequest = serde_json::from_str(body).unwrap();
    books.answers.push(answer.clone());
    let Some((request, number, state)) =
        books.requests.iter_mut().find(|(r, _, _)| *r.id() == answer.id)
    else {
        return refusal(ErrorCode::UnknownConfirmation);
    };
    if *state == ConfirmationState::Pending {
        *state = match request.judge(keys, &answer, number.as_ref(), now) {
            Verdict::NotAuthenticated => return refusal(ErrorCode::NotAuthenticated),
            Verdict::Approved => ConfirmationState::Approved,
            Verdict::Denied => ConfirmationState::Denied,
            Verdict::WrongNumber => ConfirmationState::WrongNumber,
            Verdict::Late => ConfirmationState::Expired,
        };
    }
    (200, serde_json::json!({ "id": answer.id, "state": state }).to_string())
}
