//! The test vectors of `docs/protocol.md`, read from the document itself so the two cannot
//! drift: the inputs are fed through the real handshake with a scripted random generator, and
//! every printed value (and every JSON example of the vector) must come out exactly.

use std::collections::HashMap;

use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::handshake::Transcript;
use super::wire::{
    AckRequest, AckResponse, ConfirmRequest, ConfirmResponse, DeliveryState, ErrorBody, ErrorCode,
    StartRequest, StartResponse, TokenInfo,
};
use super::*;
use crate::ids::{ActivationPassword, ServiceId, UserId};
use crate::totp::Algorithm;

const DOC: &str = include_str!("../../../../docs/protocol.md");

/// Hands out scripted bytes in order, as a random generator would.
struct Script(Vec<u8>);

impl RngCore for Script {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len(), "the script ran out of bytes");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Script {}

fn between<'a>(doc: &'a str, begin: &str, end: &str) -> &'a str {
    let start = doc.find(begin).unwrap_or_else(|| panic!("protocol.md lacks {begin}"));
    let rest = &doc[start + begin.len()..];
    let stop = rest.find(end).unwrap_or_else(|| panic!("protocol.md lacks {end}"));
    &rest[..stop]
}

/// The `key = value` lines of the vector block: `"text"` or hex (spaces ignored).
fn vector() -> HashMap<String, String> {
    let block = between(DOC, "<!-- test-vector:begin -->", "<!-- test-vector:end -->");
    let body = between(block, "```text\n", "```");
    let mut v = HashMap::new();
    let mut last = String::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some((key, value)) = line.split_once('=') else {
            // A long hex value continues on the next line.
            let prev: &mut String = v.get_mut(&last).expect("a continuation follows a key");
            prev.push_str(&line.replace(' ', ""));
            continue;
        };
        let value = value.trim();
        let value = match value.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(text) => text.to_owned(),
            None => value.replace(' ', ""),
        };
        last = key.trim().to_owned();
        v.insert(last.clone(), value);
    }
    v
}

fn json_example(name: &str) -> serde_json::Value {
    let block = between(DOC, &format!("<!-- vector-json:{name} -->"), "<!-- /vector-json -->");
    let body = between(block, "```json\n", "```");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().unwrap()
}

/// The vector's token parameters and bank clock (inputs of `server_confirm`), also shown in the
/// document's confirm answer.
fn vector_token(v: &HashMap<String, String>) -> (TokenInfo, u64) {
    let algorithm: Algorithm =
        serde_json::from_value(serde_json::Value::String(v["token_algorithm"].clone())).unwrap();
    (
        TokenInfo {
            algorithm,
            digits: v["token_digits"].parse().unwrap(),
            period: v["token_period"].parse().unwrap(),
            issuer: v["token_issuer"].clone(),
            display_name: v["token_display_name"].clone(),
        },
        v["server_time"].parse().unwrap(),
    )
}

struct Computed {
    values: Vec<(&'static str, String)>,
    start: StartRequest,
    started: StartResponse,
    confirm: ConfirmRequest,
    confirmed: ConfirmResponse,
    ack: AckRequest,
}

/// Runs the vector's inputs through the real handshake.
fn compute(v: &HashMap<String, String>) -> Computed {
    let service = ServiceId::new(&v["service_id"]).unwrap();
    let user = UserId::new(&v["user_id"]).unwrap();
    let pw = ActivationPassword::new(&v["activation_password"]).unwrap();
    let attempt_id = AttemptId::from_bytes(arr(&v["attempt_id"]));
    let client_random = [unhex(&v["client_nonce"]), unhex(&v["client_scalar_entropy"])].concat();
    let server_random = [unhex(&v["server_nonce"]), unhex(&v["server_scalar_entropy"])].concat();

    let mut rng = Script(client_random.clone());
    let (app, start) = ClientHandshake::start_with_rng(&service, &user, &pw, &mut rng).unwrap();
    assert!(rng.0.is_empty(), "the app must draw exactly the documented bytes");
    let mut rng = Script(server_random.clone());
    let (bank, started) =
        ServerHandshake::respond_with_rng(&start, &pw, attempt_id.clone(), &mut rng).unwrap();
    assert!(rng.0.is_empty(), "the bank must draw exactly the documented bytes");
    let (app, confirm) = app.confirm(&started).unwrap();
    assert!(bank.check_client_confirm(&confirm));
    let (token, server_time) = vector_token(v);
    let confirmed = bank.confirm_response(token, server_time);
    let (seed, acked_attempt) = app.verify_bank(&confirmed).unwrap();
    let ack = ack_for(&seed, &acked_attempt);
    assert!(bank.check_ack(&ack));
    assert_eq!(&seed, bank.seed());

    // The intermediate values, which the handshake keeps to itself, recomputed from the parts.
    let id_a = identity_a(&service, &user);
    let id_b = identity_b(&service);
    let (spake, _) = Spake2::<Ed25519Group>::start_a_with_rng(
        &Password::new(pw.expose()),
        &Identity::new(id_a.as_bytes()),
        &Identity::new(id_b.as_bytes()),
        Script(client_random[32..].to_vec()),
    );
    let k = spake.finish(&started.pake.0).unwrap();
    let th = Transcript {
        service: &service,
        user: &user,
        client_nonce: &start.client_nonce.0,
        pake_a: &start.pake.0,
        attempt: &attempt_id,
        server_nonce: &started.server_nonce.0,
        pake_b: &started.pake.0,
    }
    .hash();
    let (prk, hk) = Hkdf::<Sha256>::extract(Some(&th), &k);
    let mut kc = [0u8; 32];
    let mut ks = [0u8; 32];
    hk.expand(CLIENT_CONFIRM_INFO, &mut kc).unwrap();
    hk.expand(SERVER_CONFIRM_INFO, &mut ks).unwrap();

    let values = vec![
        ("identity_a", id_a),
        ("identity_b", id_b),
        ("pake_a", hex(&start.pake.0)),
        ("pake_b", hex(&started.pake.0)),
        ("K", hex(&k)),
        ("th", hex(&th)),
        ("prk", hex(&prk)),
        ("seed", hex(seed.expose())),
        ("kc", hex(&kc)),
        ("ks", hex(&ks)),
        ("client_confirm", hex(&confirm.client_confirm.0)),
        ("server_confirm", hex(&confirmed.server_confirm.0)),
        ("ack", hex(&ack.ack.0)),
    ];
    Computed { values, start, started, confirm, confirmed, ack }
}

#[test]
fn documented_test_vector_is_what_the_code_computes() {
    let v = vector();
    let c = compute(&v);
    for (key, value) in &c.values {
        assert_eq!(v.get(*key), Some(value), "docs/protocol.md test vector: {key}");
    }
}

#[test]
fn documented_json_of_the_vector_exchange_is_what_the_code_sends() {
    let c = compute(&vector());
    let examples: [(&str, serde_json::Value); 6] = [
        ("start_request", serde_json::to_value(&c.start).unwrap()),
        ("start_response", serde_json::to_value(&c.started).unwrap()),
        ("confirm_request", serde_json::to_value(&c.confirm).unwrap()),
        ("confirm_response", serde_json::to_value(&c.confirmed).unwrap()),
        ("ack_request", serde_json::to_value(&c.ack).unwrap()),
        (
            "ack_response",
            serde_json::to_value(AckResponse { state: DeliveryState::Delivered }).unwrap(),
        ),
    ];
    for (name, ours) in examples {
        assert_eq!(json_example(name), ours, "docs/protocol.md JSON example {name}");
    }
    // And the documented bodies parse back under the strict rules.
    let _: StartRequest = serde_json::from_value(json_example("start_request")).unwrap();
    let _: ConfirmResponse = serde_json::from_value(json_example("confirm_response")).unwrap();
    let wrong: ErrorBody = serde_json::from_value(json_example("error_wrong_password")).unwrap();
    assert_eq!(wrong.code, ErrorCode::WrongActivationPassword);
    assert!(wrong.tries_left.is_some());
}

#[test]
fn every_error_code_in_the_code_is_documented_with_its_status() {
    let table = between(DOC, "<!-- error-codes:begin -->", "<!-- error-codes:end -->");
    for code in [
        ErrorCode::InvalidRequest,
        ErrorCode::BodyTooLarge,
        ErrorCode::UnknownRegistration,
        ErrorCode::UnknownAttempt,
        ErrorCode::AttemptExpired,
        ErrorCode::WrongActivationPassword,
        ErrorCode::Locked,
        ErrorCode::Expired,
        ErrorCode::AlreadyDelivered,
        ErrorCode::Ended,
        ErrorCode::Superseded,
        ErrorCode::RateLimited,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ] {
        let row = format!("| `{}` | {} |", code.as_str(), code.http_status());
        assert!(table.contains(&row), "protocol.md error table lacks the row starting {row}");
    }
}

/// Each point refused by both ends: as the app's point it makes the bank refuse the start, and
/// as the bank's point it makes the app refuse the answer, before any SPAKE2 computation.
fn assert_refused_by_both_ends(name: &str, point: &[u8; 32]) {
    let service = ServiceId::new("10112231").unwrap();
    let user = UserId::new("999800000001").unwrap();
    let pw = ActivationPassword::new("4821").unwrap();
    let (_, mut start) = ClientHandshake::start(&service, &user, &pw).unwrap();
    start.pake.0[1..].copy_from_slice(point);
    let at_bank = ServerHandshake::respond(&start, &pw, AttemptId::from_bytes([7; 16]));
    assert!(matches!(at_bank, Err(crate::Error::ProtocolViolation(_))), "{name}: {at_bank:?}");

    let (client, start) = ClientHandshake::start(&service, &user, &pw).unwrap();
    let (_, mut answer) =
        ServerHandshake::respond(&start, &pw, AttemptId::from_bytes([7; 16])).unwrap();
    answer.pake.0[1..].copy_from_slice(point);
    let at_app = client.confirm(&answer).map(|_| ());
    assert!(matches!(at_app, Err(crate::Error::ProtocolViolation(_))), "{name}: {at_app:?}");
}

fn named_points(block: &str) -> Vec<(&str, [u8; 32])> {
    block
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(name, hex)| (name.trim(), arr::<32>(hex.trim())))
        .collect()
}

/// The points §3.2 lists as refused (small order, torsion components).
#[test]
fn documented_small_order_and_torsion_points_are_refused_by_both_ends() {
    let block = between(DOC, "<!-- refused-points:begin -->", "<!-- refused-points:end -->");
    let points = named_points(block);
    assert_eq!(points.len(), 5, "{block}");
    for (name, point) in points {
        assert_refused_by_both_ends(name, &point);
    }
}

/// All 40 non-canonical encodings §3.2 counts (y = p + k for k = 0…18 with either sign bit,
/// and the two points with x = 0 written with the sign bit set), and the ones it lists by name
/// among them, are refused by both ends.
#[test]
fn every_non_canonical_point_encoding_is_refused_by_both_ends() {
    let mut all: Vec<[u8; 32]> = Vec::new();
    for k in 0u8..=18 {
        for top in [0x7f, 0xff] {
            let mut y = [0xff; 32];
            y[0] = 0xed + k;
            y[31] = top;
            all.push(y);
        }
    }
    for x_zero in [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ] {
        let mut p = arr::<32>(x_zero);
        p[31] |= 0x80;
        all.push(p);
    }
    assert_eq!(all.len(), 40);
    for (i, point) in all.iter().enumerate() {
        assert_refused_by_both_ends(&format!("non-canonical #{i}"), point);
    }
    let block =
        between(DOC, "<!-- non-canonical-points:begin -->", "<!-- non-canonical-points:end -->");
    let listed = named_points(block);
    assert_eq!(listed.len(), 6, "{block}");
    for (name, point) in listed {
        assert!(all.contains(&point), "{name} is not one of the 40");
    }
}

/// The document's Python script recomputes the vector with the standard library only (its
/// own Edwards25519 arithmetic, hashlib, hmac): a second implementation sharing nothing
/// with this crate.
#[test]
fn python_recomputes_the_documented_vector_independently() {
    crate::python_check::python_agrees("protocol_vectors.py");
}

/// `cargo test -p softtoken-core --lib print_vector -- --ignored --nocapture` prints what the
/// code computes, for writing the document.
#[test]
#[ignore = "prints the vector for docs/protocol.md"]
fn print_vector() {
    let c = compute(&vector());
    for (k, v) in &c.values {
        println!("{k} = {v}");
    }
    for (name, json) in [
        ("start_request", serde_json::to_string_pretty(&c.start).unwrap()),
        ("start_response", serde_json::to_string_pretty(&c.started).unwrap()),
        ("confirm_request", serde_json::to_string_pretty(&c.confirm).unwrap()),
        ("confirm_response", serde_json::to_string_pretty(&c.confirmed).unwrap()),
        ("ack_request", serde_json::to_string_pretty(&c.ack).unwrap()),
    ] {
        println!("--- {name}\n{json}");
    }
}
