//! The bodies of the fuzz targets over the server's parsers (feature `fuzzing`): every request
//! body of the public and the admin listener and the configuration file, through the same
//! functions the handlers and `serve` use. `fuzz/` (cargo-fuzz, nightly) and the corpus replay
//! test (`tests/tests/fuzz_corpus.rs`, stable) both call them; `docs/FUZZING.md` says what
//! each reaches. A body returns normally for every input: a refusal is a typed error.

use softtoken_core::ids::ActivationPassword;
use softtoken_core::protocol::wire::{AckRequest, ConfirmRequest, StartRequest};
use softtoken_core::protocol::{AttemptId, ServerHandshake};
use softtoken_core::verify::EnteredCode;

use crate::bank::{check_code_shape, Policy};
use crate::credential::AdminToken;
use crate::http::demo::DemoResetRequest;
use crate::http::extract::parse_body;
use crate::http::{ids, IssueBody, OutboxQuery, ResyncBody, VerifyBody};
use crate::sealed::MasterKey;

/// A fuzz target: its name (the directory of its corpus under `fuzz/corpus/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// The server's targets. Core's are in `softtoken_core::fuzzing::TARGETS`.
pub const TARGETS: &[Target] =
    &[("server_request", server_request), ("server_config", server_config)];

/// The endpoints of [`server_request`], picked by the input's first byte (modulo their count).
pub const ENDPOINTS: [&str; 9] = [
    "POST /v1/provision/start",
    "POST /v1/provision/confirm",
    "POST /v1/provision/ack",
    "POST /v1/demo/reset",
    "POST /v1/admin/registrations",
    "POST /v1/admin/verify",
    "POST /v1/admin/registrations/{service_id}/{user_id}/resync",
    "GET /v1/admin/outbox?{query}",
    "/v1/admin/registrations/{service_id}/{user_id}",
];

/// A request to one endpoint: the first byte picks it from [`ENDPOINTS`], the rest is its body
/// (or query, or path). The body goes through the handlers' own path: JSON to the typed body,
/// then the checks the handler and the bank make before touching the database; a start's
/// SPAKE2 message goes through the bank's side of the handshake.
pub fn server_request(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match usize::from(pick) % ENDPOINTS.len() {
        0 => {
            if let (Ok(req), Ok(pw)) =
                (parse_body::<StartRequest>(body), ActivationPassword::new("4391"))
            {
                let _ = ServerHandshake::respond(&req, &pw, AttemptId::from_bytes([3; 16]));
            }
        }
        1 => {
            let _ = parse_body::<ConfirmRequest>(body);
        }
        2 => {
            let _ = parse_body::<AckRequest>(body);
        }
        3 => {
            let _ = parse_body::<DemoResetRequest>(body);
        }
        4 => {
            if let Ok(req) = parse_body::<IssueBody>(body).and_then(IssueBody::into_request) {
                let _ = req.checked(Policy::default().default_expiry_secs);
            }
        }
        5 => {
            if let Ok(b) = parse_body::<VerifyBody>(body) {
                if ids(&b.service_id, &b.user_id).is_ok() {
                    let _ = check_code_shape(&EnteredCode::without_separators(&b.code));
                }
            }
        }
        6 => {
            if let Ok(b) = parse_body::<ResyncBody>(body) {
                let _ = check_code_shape(&EnteredCode::without_separators(&b.code1));
                let _ = check_code_shape(&EnteredCode::without_separators(&b.code2));
            }
        }
        7 => {
            let Ok(query) = std::str::from_utf8(body) else {
                return;
            };
            if let Ok(uri) = format!("/v1/admin/outbox?{query}").parse::<axum::http::Uri>() {
                let _ = axum::extract::Query::<OutboxQuery>::try_from_uri(&uri);
            }
        }
        _ => {
            let Ok(path) = std::str::from_utf8(body) else {
                return;
            };
            let (service, user) = path.split_once('/').unwrap_or((path, ""));
            let _ = ids(service, user);
        }
    }
}

/// A configuration file's text through parsing and every check of `serve`, as the server
/// reads it at start (secrets fixed: the paths in a fuzzed file are not opened); and the same
/// text as the content of a master key or token file.
pub fn server_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::config::resolve_text(text);
    let _ = MasterKey::parse(text);
    let _ = AdminToken::new(text);
}

/// Real examples to start each target's corpus from: the requests of `docs/server.md` and
/// `docs/protocol.md` and the configuration file of `docs/server.md`. Written to
/// `fuzz/corpus/` by `fuzz/examples/seeds.rs`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let request = |endpoint: u8, name: &str, body: &str| {
        ("server_request", name.to_owned(), [&[endpoint][..], body.as_bytes()].concat())
    };
    vec![
        request(
            0,
            "start",
            r#"{"service_id":"10112231","user_id":"999800000001","client_nonce":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE","pake":"QQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"}"#,
        ),
        request(1, "confirm", r#"{"attempt_id":"AwMDAwMDAwMDAwMDAwMDAw","client_confirm":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#),
        request(2, "ack", r#"{"attempt_id":"AwMDAwMDAwMDAwMDAwMDAw","ack":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#),
        request(3, "demo-reset", "{}"),
        request(
            4,
            "issue",
            r#"{"service_id":"10112231","user_id":"999800000001","mail":"taro@example.jp","activation_password":"4391","expires_in_days":14}"#,
        ),
        request(5, "verify", r#"{"service_id":"10112231","user_id":"999800000001","code":"123 456"}"#),
        request(6, "resync", r#"{"code1":"123456","code2":"654-321"}"#),
        request(7, "outbox", "limit=20"),
        request(8, "status-path", "10112231/999800000001"),
        (
            "server_config",
            "proxy-deployment".to_owned(),
            b"bind = \"127.0.0.1:8080\"\nadmin_bind = \"127.0.0.1:8081\"\ndatabase = \"/var/lib/softtoken/bank.db\"\nissuer = \"Example Credit Union\"\ndisplay_name = \"Example OTP\"\ntrusted_proxies = [\"10.0.0.0/8\"]\nbehind_tls_proxy = true\n\n[limits]\nprovision_max_tries = 5\nbody_limit = 16384\nrate_per_address_burst = 10\n".to_vec(),
        ),
        ("server_config", "master-key-hex".to_owned(), "5a".repeat(32).into_bytes()),
    ]
}
