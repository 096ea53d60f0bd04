//! The phone move's test vector in `docs/protocol.md` §4.5.5, read from the document itself so
//! the two cannot drift: the inputs go through the real code and every printed value must come
//! out exactly; `docs/move_vectors.py` recomputes the HMAC values with Python's standard
//! library (it has no AES-GCM, so the seal is checked here only, and by its opening).

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::*;
use crate::totp::Seed;

const PROTOCOL: &str = include_str!("../../../../../docs/protocol.md");

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The `key = value` lines of the vector block (`"text"`, a number or hex; continuation lines
/// are indented, spaces in hex ignored).
fn vector() -> BTreeMap<String, String> {
    let begin = "<!-- move-vector:begin -->";
    let start = PROTOCOL.find(begin).expect("protocol.md lacks the move vector") + begin.len();
    let stop = PROTOCOL[start..].find("<!-- move-vector:end -->").expect("vector end") + start;
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in PROTOCOL[start..stop].lines() {
        if line.starts_with("```") || line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ') {
            let key = last.as_ref().expect("a continuation line comes after a key");
            out.get_mut(key).expect("key").push_str(line.trim());
            continue;
        }
        let (k, v) = line.split_once('=').expect("key = value");
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
        out.insert(k.trim().to_owned(), v.replace(' ', ""));
        last = Some(k.trim().to_owned());
    }
    out
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// What the code computes from the vector's inputs.
fn compute(v: &BTreeMap<String, String>) -> BTreeMap<&'static str, String> {
    let seed = Seed::new(Zeroizing::new(unhex(&v["seed"]))).unwrap();
    let keys = ConfirmationKeys::derive(&seed);
    let service = ServiceId::new(&v["service_id"]).unwrap();
    let old = UserId::new(&v["old_user_id"]).unwrap();
    let new = UserId::new(&v["new_user_id"]).unwrap();
    let time: u64 = v["time"].parse().unwrap();
    let nonce: [u8; SEAL_NONCE_LEN] = unhex(&v["nonce"]).try_into().unwrap();
    let password = ActivationPassword::new(&v["password"]).unwrap();
    let start =
        StartMoveRequest::with_nonce(&keys, service.clone(), old.clone(), &password, time, nonce)
            .unwrap();
    assert_eq!(start.open_password(&keys).unwrap(), password);
    let seal_key = Frames::default()
        .field(SEAL_KEY_LABEL.as_bytes())
        .field(service.as_str().as_bytes())
        .field(old.as_str().as_bytes())
        .into_bytes();
    let status = MoveQuery::new(&keys, MoveQueryKind::Status, service.clone(), old.clone(), time);
    let cancel = MoveQuery::new(&keys, MoveQueryKind::Cancel, service.clone(), old.clone(), time);
    let completed_at: u64 = v["completed_at"].parse().unwrap();
    let receipt = MoveReceipt::new(&keys, &service, &old, new, completed_at);
    let mut out = BTreeMap::new();
    out.insert("k_app", hex(keys.app.expose()));
    out.insert("k_seal", hex(keys.app.mac(&seal_key).as_bytes()));
    out.insert("start_aad", hex(&start_aad(&service, &old, time)));
    out.insert("sealed_password", hex(start.sealed_password.as_bytes()));
    out.insert("start_proof", hex(start.proof.as_bytes()));
    out.insert("status_proof", hex(status.proof.as_bytes()));
    out.insert("cancel_proof", hex(cancel.proof.as_bytes()));
    out.insert("receipt_mac", hex(receipt.mac.as_bytes()));
    out.insert("start_body", serde_json::to_string(&start).unwrap());
    out
}

#[test]
fn the_documented_move_vector_comes_out_of_the_code_exactly() {
    let v = vector();
    let computed = compute(&v);
    for (k, value) in &computed {
        if *k == "start_body" {
            continue;
        }
        assert_eq!(v.get(*k), Some(value), "{k}");
    }
    let body = "<!-- example:move-start-request -->";
    let at = PROTOCOL.find(body).expect("the start example") + body.len();
    let json_start = PROTOCOL[at..].find('{').unwrap() + at;
    let json_end = PROTOCOL[json_start..].find("```").unwrap() + json_start;
    let documented: serde_json::Value =
        serde_json::from_str(&PROTOCOL[json_start..json_end]).unwrap();
    let ours: serde_json::Value = serde_json::from_str(&computed["start_body"]).unwrap();
    assert_eq!(documented, ours);
}

#[test]
fn python_recomputes_the_move_vector_independently() {
    crate::python_check::python_agrees("move_vectors.py");
}

/// `cargo test -p softtoken-core --lib phone_move::vectors::print -- --ignored --nocapture`
#[test]
#[ignore = "prints the vector for docs/protocol.md"]
fn print() {
    let mut v = BTreeMap::new();
    for (k, x) in [
        ("seed", "9edbf01dd351f6f28de48dd2b9436454861b11f88eb88a21deaef71dccf30d53"),
        ("service_id", "10112231"),
        ("old_user_id", "999800000001"),
        ("new_user_id", "999800000002"),
        ("time", "1767225640"),
        ("nonce", "000102030405060708090a0b"),
        ("password", "7305"),
        ("completed_at", "1767229240"),
    ] {
        v.insert(k.to_owned(), x.to_owned());
    }
    for (k, value) in compute(&v) {
        println!("{k} = {value}");
    }
}
