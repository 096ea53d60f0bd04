//! Every case of `tests/ui/input-cases.json` through `softtoken_core::ids`: what a customer may
//! type in each field and what core makes of it. The web view's own checks (ui/validate.js) run
//! the same file (tests/ui/input_cases.test.mjs), so the screen and core cannot disagree on an
//! input rule without one of the two tests failing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde::Deserialize;
use softtoken_core::error::{Field, Invalid};
use softtoken_core::ids::{
    ActivationPassword, DisplayName, ServiceId, UserId, FORBIDDEN_IN_NAME, SEPARATORS,
};
use softtoken_core::Error;

const CASES: &str = include_str!("../../../tests/ui/input-cases.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rule: String,
    input: String,
    ok: bool,
    value: Option<String>,
    reason: Option<String>,
}

fn cases() -> Vec<Case> {
    serde_json::from_str(CASES).expect("tests/ui/input-cases.json is a JSON array of cases")
}

/// What core makes of `input` under `rule`: the normalised value, or the field and reason of
/// the refusal.
fn run(rule: &str, input: &str) -> Result<String, (Field, Invalid)> {
    let outcome = match rule {
        "service_id" => ServiceId::new(input).map(|v| v.as_str().to_owned()),
        "user_id" => UserId::new(input).map(|v| v.as_str().to_owned()),
        "activation_password" => {
            ActivationPassword::new(input).map(|v| String::from_utf8(v.expose().to_vec()).unwrap())
        }
        "base_name" => DisplayName::new(input, "").map(|v| v.base().to_owned()),
        "added_wording" => DisplayName::new("base", input).map(|v| v.added().to_owned()),
        other => panic!("unknown rule {other:?}"),
    };
    outcome.map_err(|e| match e {
        Error::Invalid { field, reason } => (field, reason),
        other => panic!("{rule} {input:?}: expected an invalid input, got {other:?}"),
    })
}

fn field_of(rule: &str) -> Field {
    match rule {
        "service_id" => Field::ServiceId,
        "user_id" => Field::UserId,
        "activation_password" => Field::ActivationPassword,
        "base_name" => Field::DisplayName,
        "added_wording" => Field::AddedWording,
        other => panic!("unknown rule {other:?}"),
    }
}

#[test]
fn core_treats_every_typed_input_as_the_shared_cases_say() {
    let mut wrong = Vec::new();
    for case in cases() {
        let got = run(&case.rule, &case.input);
        let as_expected = match (&got, case.ok) {
            (Ok(value), true) => case.value.as_deref() == Some(value.as_str()),
            (Err((field, reason)), false) => {
                *field == field_of(&case.rule) && case.reason.as_deref() == Some(reason.code())
            }
            _ => false,
        };
        if !as_expected {
            wrong.push(format!("{case:?} but core gave {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} cases disagree:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn the_cases_cover_every_separator_forbidden_range_end_and_reason() {
    let cases = cases();
    for sep in SEPARATORS {
        assert!(
            cases.iter().any(|c| c.ok && c.rule == "service_id" && c.input.contains(sep)),
            "no accepted service ID with separator U+{:04X}",
            u32::from(sep)
        );
    }
    for (first, last) in FORBIDDEN_IN_NAME {
        for end in [first, last] {
            assert!(
                cases.iter().any(|c| !c.ok && c.rule == "base_name" && c.input.contains(end)),
                "no refused name with U+{:04X}",
                u32::from(end)
            );
        }
    }
    for rule in ["service_id", "user_id", "activation_password", "base_name", "added_wording"] {
        assert!(cases.iter().any(|c| c.rule == rule && c.ok), "{rule}: no accepted case");
        for reason in Invalid::CODES {
            let applies = match rule {
                "base_name" => ["empty", "control", "too_long"].contains(&reason),
                "added_wording" => ["control", "too_long"].contains(&reason),
                _ => ["empty", "not_digits", "wrong_length"].contains(&reason),
            };
            let covered =
                cases.iter().any(|c| c.rule == rule && c.reason.as_deref() == Some(reason));
            assert_eq!(covered, applies, "{rule}: cases with reason {reason}");
        }
    }
    // Characters, not UTF-16 units: a name at the limit made of characters outside the BMP.
    assert!(cases.iter().any(|c| c.ok
        && c.input.chars().count() < c.input.encode_utf16().count()
        && c.input.chars().count() == softtoken_core::ids::DISPLAY_NAME_MAX_CHARS));
}
