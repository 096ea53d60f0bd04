//! `ui/rules.js` is the web view's copy of every input rule and error kind, generated from
//! core's constants, core's `ErrorKind` and the app's `AppErrorKind`: no rule is typed twice.
//! This test fails when the committed file differs from what Rust would write; run it with
//! `SOFTTOKEN_WRITE_RULES=1` to rewrite the file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use softtoken_app::error::AppErrorKind;
use softtoken_core::error::{ErrorKind, Invalid};
use softtoken_core::ids::{
    ACTIVATION_PASSWORD_MAX_DIGITS, ACTIVATION_PASSWORD_MIN_DIGITS, ADDED_WORDING_MAX_CHARS,
    APP_PIN_DIGITS, DISPLAY_NAME_MAX_CHARS, EMOJI_JOINER, FORBIDDEN_IN_NAME,
    NAME_CODE_POINTS_PER_CHAR, SEPARATORS, SERVICE_ID_DIGITS, USER_ID_DIGITS,
};

const RULES_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/rules.js");

#[derive(Serialize)]
struct Digits {
    min_digits: usize,
    max_digits: usize,
}

#[derive(Serialize)]
struct Chars {
    max_chars: usize,
    max_code_points: usize,
}

/// The document, its keys in the order the file shows them.
#[derive(Serialize)]
struct Rules {
    service_id: Digits,
    user_id: Digits,
    activation_password: Digits,
    app_pin: Digits,
    base_name: Chars,
    added_wording: Chars,
    separators: Vec<String>,
    forbidden_in_name: Vec<[u32; 2]>,
    emoji_joiner: u32,
    invalid_reasons: [&'static str; 5],
    error_kinds: Vec<&'static str>,
}

fn chars(max_chars: usize) -> Chars {
    Chars { max_chars, max_code_points: max_chars * NAME_CODE_POINTS_PER_CHAR }
}

fn rules() -> Rules {
    Rules {
        service_id: Digits { min_digits: SERVICE_ID_DIGITS, max_digits: SERVICE_ID_DIGITS },
        user_id: Digits { min_digits: USER_ID_DIGITS, max_digits: USER_ID_DIGITS },
        activation_password: Digits {
            min_digits: ACTIVATION_PASSWORD_MIN_DIGITS,
            max_digits: ACTIVATION_PASSWORD_MAX_DIGITS,
        },
        app_pin: Digits { min_digits: APP_PIN_DIGITS, max_digits: APP_PIN_DIGITS },
        base_name: chars(DISPLAY_NAME_MAX_CHARS),
        added_wording: chars(ADDED_WORDING_MAX_CHARS),
        separators: SEPARATORS.iter().map(char::to_string).collect(),
        forbidden_in_name: FORBIDDEN_IN_NAME
            .iter()
            .map(|&(first, last)| [u32::from(first), u32::from(last)])
            .collect(),
        emoji_joiner: u32::from(EMOJI_JOINER),
        invalid_reasons: Invalid::CODES,
        error_kinds: ErrorKind::ALL
            .iter()
            .map(|k| k.as_str())
            .chain(AppErrorKind::ALL.iter().map(|k| k.as_str()))
            .collect(),
    }
}

/// JSON with every non-ASCII character as a `\u` escape, so invisible separators stay visible
/// in the file. Outside strings JSON is ASCII, so escaping every such character is safe.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(out, "\\u{unit:04x}").unwrap();
            }
        }
    }
    out
}

fn rules_js() -> String {
    let json = ascii_json(&serde_json::to_string_pretty(&rules()).unwrap());
    format!(
        "// Generated from softtoken-core and softtoken-app by\n\
         // `SOFTTOKEN_WRITE_RULES=1 cargo test -p softtoken-app --test rules_file`. Do not edit.\n\
         export default Object.freeze({json});\n"
    )
}

#[test]
fn the_web_views_rules_file_is_what_rust_would_write() {
    let expected = rules_js();
    let path = Path::new(RULES_FILE);
    if std::env::var("SOFTTOKEN_WRITE_RULES").as_deref() == Ok("1") {
        std::fs::write(path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == expected,
        "ui/rules.js is stale: run `SOFTTOKEN_WRITE_RULES=1 cargo test -p softtoken-app --test \
         rules_file` and commit it.\n--- expected ---\n{expected}"
    );
}

#[test]
fn the_rules_file_is_a_json_document_wrapped_as_a_module() {
    let js = rules_js();
    let json = js
        .split_once("Object.freeze(")
        .and_then(|(_, rest)| rest.strip_suffix(");\n"))
        .expect("export default Object.freeze(<JSON>);");
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(doc["separators"][1], "\u{3000}");
    assert_eq!(doc["forbidden_in_name"][0], serde_json::json!([0, 31]));
    assert_eq!(doc["activation_password"]["min_digits"], 4);
    assert_eq!(doc["app_pin"]["max_digits"], 6);
    let kinds = doc["error_kinds"].as_array().unwrap();
    assert_eq!(kinds[0], "invalid_input");
    for kind in ["wrong_activation_password", "vault_changed", "clipboard_unavailable", "not_kiosk"]
    {
        assert!(kinds.iter().any(|k| k == kind), "{kind}");
    }
}
