//! The bodies of the fuzz targets over core's parsers (feature `fuzzing`): each takes the raw
//! bytes a peer, a file or a fuzzer hands over and runs them through the same functions the app
//! and the bank use. `fuzz/` (cargo-fuzz, nightly) calls them per input; the corpus replay test
//! (`tests/tests/fuzz_corpus.rs`, stable) calls them per committed corpus file, so the two can
//! never test different code. `docs/FUZZING.md` lists what each reaches.
//!
//! A body returns normally for every input: a refusal is a typed error, which is the point. It
//! panics only where the code under test broke a rule (an `assert!` below), and that panic is
//! what the fuzzer reports.

use rand_core::{CryptoRng, RngCore};

use crate::base64url::{b64_decode, b64_encode};
use crate::ids::{ActivationPassword, AttemptId, DisplayName, ServiceId, TokenId, UserId};
use crate::protocol::handshake::check_peer_point;
use crate::protocol::wire::{Bytes, StartRequest, StartResponse, PAKE_MSG_LEN};
use crate::protocol::{ClientHandshake, ServerHandshake};

/// A fuzz target: its name (the directory of its corpus under `fuzz/corpus/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Core's targets. The server's are in `softtoken_server::fuzzing::TARGETS`.
pub const TARGETS: &[Target] = &[
    ("wire_fields", wire_fields),
    ("spake2_point", spake2_point),
    #[cfg(feature = "client")]
    ("client_answer", client_answer),
    #[cfg(feature = "vault")]
    ("vault_file", vault_file),
    #[cfg(feature = "vault")]
    ("vault_body", vault_body),
];

/// The registration every target speaks for.
const SERVICE: &str = "10112231";
const USER: &str = "999800000001";
/// Not on the bank's weak list.
const PASSWORD: &str = "4391";

/// Counts up from a start byte: the targets' only source of "randomness", so an input always
/// takes the same path.
struct FixedRng(u8);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Only fuzz targets and their seeds draw from it; nothing they make is kept.
impl CryptoRng for FixedRng {}

fn registration() -> Option<(ServiceId, UserId, ActivationPassword)> {
    Some((
        ServiceId::new(SERVICE).ok()?,
        UserId::new(USER).ok()?,
        ActivationPassword::new(PASSWORD).ok()?,
    ))
}

/// The text fields of the wire and of the customer's typing: base64url binary fields of each
/// length, attempt IDs, service and user IDs, activation passwords, display names, token IDs.
/// Checks that an accepted base64url field is canonical (it encodes back to the same text).
pub fn wire_fields(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(b) = b64_decode::<16>(text) {
        assert_eq!(b64_encode(&b), text, "a 16-byte field decoded from non-canonical text");
    }
    if let Ok(b) = b64_decode::<32>(text) {
        assert_eq!(b64_encode(&b), text, "a 32-byte field decoded from non-canonical text");
    }
    if let Ok(b) = b64_decode::<33>(text) {
        assert_eq!(b64_encode(&b), text, "a 33-byte field decoded from non-canonical text");
    }
    let _ = AttemptId::parse(text);
    let _ = ServiceId::new(text);
    let _ = UserId::new(text);
    let _ = ActivationPassword::new(text);
    let _ = TokenId::new(text);
    let (base, added) =
        text.split_at(text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i));
    let _ = DisplayName::new(base, added);
}

/// A SPAKE2 message from a peer (33 bytes: side byte and compressed point), as the bank reads
/// it in `start` and the app reads it in the start answer. Checks that both ends accept
/// exactly the points [`check_peer_point`] accepts, with the right side byte.
pub fn spake2_point(data: &[u8]) {
    let Ok(msg) = <[u8; PAKE_MSG_LEN]>::try_from(data) else {
        return;
    };
    let Some((service, user, pw)) = registration() else {
        return;
    };
    let point_ok = check_peer_point(&msg, "peer point").is_ok();
    let start = StartRequest {
        service_id: service.clone(),
        user_id: user.clone(),
        client_nonce: Bytes([1; 32]),
        pake: Bytes(msg),
    };
    let bank = ServerHandshake::respond_with_rng(
        &start,
        &pw,
        AttemptId::from_bytes([3; 16]),
        &mut FixedRng(0),
    );
    assert_eq!(
        bank.is_ok(),
        point_ok && msg[0] == 0x41,
        "the bank's start disagrees with the point check"
    );
    // The app's side costs a SPAKE2 start per input: run it only where it can succeed, which is
    // where a disagreement would matter.
    if point_ok && msg[0] == 0x42 {
        let Ok((app, _)) = ClientHandshake::start_with_rng(&service, &user, &pw, &mut FixedRng(9))
        else {
            return;
        };
        let answer = StartResponse {
            attempt_id: AttemptId::from_bytes([3; 16]),
            server_nonce: Bytes([2; 32]),
            pake: Bytes(msg),
            attempt_expires_in: 300,
        };
        assert!(app.confirm(&answer).is_ok(), "the app refused a point the check accepts");
    }
}

/// The bank's answers as the app reads them (`client::read_answer`), then what the app does
/// with a start or confirm answer. The first byte picks the answer and its HTTP status; for a
/// confirm answer its top bit puts the right `server_confirm` in place (a bank that holds the
/// password, or a broken one), so the checks of the token parameters behind the MAC are
/// reached.
#[cfg(feature = "client")]
pub fn client_answer(data: &[u8]) {
    use crate::client::{read_answer, retry_after_header};
    use crate::protocol::wire::{AckResponse, ConfirmResponse};
    use reqwest::header::HeaderValue;
    use reqwest::StatusCode;

    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    const REFUSALS: [u16; 9] = [400, 401, 404, 409, 410, 423, 429, 500, 503];
    let status = if pick & 0x04 == 0 {
        StatusCode::OK
    } else {
        let code = REFUSALS[usize::from(pick >> 3) % REFUSALS.len()];
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    };
    let Some((service, user, pw)) = registration() else {
        return;
    };
    match pick & 0x03 {
        0 => {
            let Ok(answer) = read_answer::<StartResponse>(status, body, None) else {
                return;
            };
            if let Ok((app, _)) =
                ClientHandshake::start_with_rng(&service, &user, &pw, &mut FixedRng(9))
            {
                let _ = app.confirm(&answer);
            }
        }
        1 => {
            let Ok(mut answer) = read_answer::<ConfirmResponse>(status, body, None) else {
                return;
            };
            let attempt = AttemptId::from_bytes([3; 16]);
            let Ok((app, mac)) =
                crate::protocol::handshake::fuzzing_confirmed(&service, &user, &attempt)
            else {
                return;
            };
            if pick & 0x80 != 0 {
                answer.server_confirm = Bytes(mac(&answer.token, answer.server_time));
            }
            let _ = app.finish(&answer, 1_700_000_000);
        }
        2 => {
            let _ = read_answer::<AckResponse>(status, body, Some(30));
        }
        _ => {
            if let Ok(v) = HeaderValue::from_bytes(body) {
                let _ = retry_after_header(Some(&v));
            }
        }
    }
}

#[cfg(feature = "vault")]
fn ciphers() -> &'static crate::vault::format::Ciphers {
    use crate::vault::format::{Ciphers, VaultKey, KEY_BYTES};
    use std::sync::OnceLock;
    static CIPHERS: OnceLock<Ciphers> = OnceLock::new();
    CIPHERS.get_or_init(|| {
        // A fixed key, so a target can seal its input and reach past the envelope.
        let key = VaultKey::from_bytes(&[0x5a; KEY_BYTES]);
        Ciphers::new(&key.unwrap_or_else(|| unreachable!("the fixed key has the right length")))
    })
}

/// A vault file's bytes as the app reads them from disk, under a fixed key: the magic, version,
/// header and length checks and the envelope's authentication.
#[cfg(feature = "vault")]
pub fn vault_file(data: &[u8]) {
    let _ = crate::vault::format::claimed_version(data);
    let _ = crate::vault::format::read_header(data);
    let _ = crate::vault::format::decode(data.to_vec(), ciphers());
}

/// The decrypted body of a vault file: the input is sealed as a file of the current version under the fixed
/// key (as only the key holder could), then read as the app reads every file. Checks that what
/// opens can be written and opened again.
#[cfg(feature = "vault")]
pub fn vault_body(data: &[u8]) {
    use crate::vault::format::{decode, encode, seal_body, CURRENT_VERSION};
    let Ok(file) = seal_body(CURRENT_VERSION, data, [0; 12], ciphers()) else {
        return;
    };
    if let Ok(records) = decode(file, ciphers()) {
        let again = encode(&records, ciphers(), 0, None).and_then(|f| decode(f, ciphers()));
        assert!(
            again.is_ok_and(|r| r.len() == records.len()),
            "a vault that opened did not save and open again"
        );
    }
}

/// Real examples to start each target's corpus from: IDs and fields as the wire carries them,
/// the points and answers of one real exchange, a real vault file and its body. Written to
/// `fuzz/corpus/` by `fuzz/examples/seeds.rs`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        out.push((target, name.to_owned(), bytes))
    };
    for (name, text) in [
        ("nonce", b64_encode(&[0xfb; 32])),
        ("pake", b64_encode(&[0x41; 33])),
        ("attempt-id", b64_encode(&[7; 16])),
        ("service-id-full-width", "１０１１-２２３１".to_owned()),
        ("user-id", "9998 0000 0001".to_owned()),
        ("password", "4391".to_owned()),
        ("display-name", "しんきん👩‍💻".to_owned()),
        ("token-id", "0123456789abcdef0123456789abcdef".to_owned()),
    ] {
        add("wire_fields", name, text.into_bytes());
    }
    let Some((service, user, pw)) = registration() else {
        return out;
    };
    let Ok((_, start)) = ClientHandshake::start_with_rng(&service, &user, &pw, &mut FixedRng(9))
    else {
        return out;
    };
    add("spake2_point", "app-message-a", start.pake.0.to_vec());
    let mut identity = [0u8; PAKE_MSG_LEN];
    identity[0] = 0x41;
    identity[1] = 1;
    add("spake2_point", "identity", identity.to_vec());
    // The point of order 2 (y = -1).
    let mut order_two = [0xffu8; PAKE_MSG_LEN];
    order_two[0] = 0x41;
    order_two[1] = 0xec;
    order_two[32] = 0x7f;
    add("spake2_point", "order-two", order_two.to_vec());
    let Ok((_, started)) = ServerHandshake::respond_with_rng(
        &start,
        &pw,
        AttemptId::from_bytes([3; 16]),
        &mut FixedRng(0),
    ) else {
        return out;
    };
    add("spake2_point", "bank-message-b", started.pake.0.to_vec());
    #[cfg(feature = "client")]
    {
        let json = |v: serde_json::Result<Vec<u8>>| v.unwrap_or_default();
        add(
            "client_answer",
            "start-200",
            [&[0u8][..], &json(serde_json::to_vec(&started))].concat(),
        );
        let token = crate::protocol::wire::TokenInfo {
            algorithm: crate::totp::Algorithm::Sha1,
            digits: 6,
            period: 60,
            issuer: "Example Credit Union".into(),
            display_name: "しんきん OTP".into(),
        };
        let confirm = crate::protocol::wire::ConfirmResponse {
            server_confirm: Bytes([0; 32]),
            token,
            server_time: 1_700_000_030,
        };
        add(
            "client_answer",
            "confirm-200-right-mac",
            [&[0x81u8][..], &json(serde_json::to_vec(&confirm))].concat(),
        );
        add("client_answer", "ack-200", [&[2u8][..], br#"{"state":"delivered"}"#].concat());
        add(
            "client_answer",
            "wrong-password-401",
            [
                &[0x0cu8][..],
                br#"{"code":"wrong_activation_password","message":"wrong","tries_left":3}"#,
            ]
            .concat(),
        );
        add("client_answer", "retry-after", [&[3u8][..], b"120"].concat());
    }
    #[cfg(feature = "vault")]
    if let Some((body, file)) = vault_example(&service, &user) {
        add("vault_body", "one-token", body);
        add("vault_file", "one-token", file);
    }
    #[cfg(feature = "vault")]
    if let Ok(empty) = crate::vault::format::encode(&[], ciphers(), 0, None) {
        add("vault_body", "no-token", br#"{"tokens":[]}"#.to_vec());
        add("vault_file", "no-token", empty);
    }
    out
}

/// One token's record as the app stores it, sealed under the fixed key: the decrypted body and
/// the whole file.
#[cfg(feature = "vault")]
fn vault_example(service: &ServiceId, user: &UserId) -> Option<(Vec<u8>, Vec<u8>)> {
    use crate::token::{Delivery, IssuedToken, TokenSummary};
    use crate::totp::{ClockOffset, Seed, TotpParams};
    use crate::vault::format::{encode, Record};
    use zeroize::Zeroizing;
    let id = TokenId::new("0123456789abcdef0123456789abcdef").ok()?;
    let seed = Seed::new(Zeroizing::new(vec![0x33; 32])).ok()?;
    let record = Record {
        seed: Record::seal_seed(ciphers(), &id, service, user, &seed).ok()?,
        summary: TokenSummary {
            id,
            issued: IssuedToken {
                service_id: service.clone(),
                user_id: user.clone(),
                display_name: DisplayName::new("しんきん", "給与").ok()?,
                issuer: "Example Credit Union".into(),
                params: TotpParams::default(),
                offset: ClockOffset(-12),
            },
            created_at: 1_700_000_000,
            delivery: Delivery { pending: Some(AttemptId::from_bytes([3; 16])) },
            pending_move: None,
        },
    };
    let file = encode(std::slice::from_ref(&record), ciphers(), 0, None).ok()?;
    let body = serde_json::to_vec(&serde_json::json!({ "tokens": [record] })).ok()?;
    Some((body, file))
}
