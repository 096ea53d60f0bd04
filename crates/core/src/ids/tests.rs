use super::*;

fn reason(e: Error) -> (Field, Invalid) {
    match e {
        Error::Invalid { field, reason } => (field, reason),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn customer_typing_full_width_digits_gets_the_same_service_id() {
    assert_eq!(ServiceId::new("１０１１２２３１").unwrap().as_str(), "10112231");
    assert_eq!(ServiceId::new("10112231").unwrap(), ServiceId::new("１０１１２２３１").unwrap());
}

#[test]
fn customer_pasting_with_spaces_and_hyphens_gets_the_digits() {
    assert_eq!(UserId::new(" 9998-0000-0001 ").unwrap().as_str(), "999800000001");
    assert_eq!(UserId::new("9998 0000 0001").unwrap().as_str(), "999800000001");
    assert_eq!(UserId::new("９９９８－００００－０００１").unwrap().as_str(), "999800000001");
    assert_eq!(UserId::new("9998ー0000ー0001").unwrap().as_str(), "999800000001");
    assert_eq!(UserId::new("9998\u{3000}0000\u{3000}0001").unwrap().as_str(), "999800000001");
    assert_eq!(ActivationPassword::new("12-34").unwrap().expose(), b"1234");
}

#[test]
fn letters_in_an_id_are_refused_as_not_digits() {
    assert_eq!(
        reason(ServiceId::new("1011223l").unwrap_err()),
        (Field::ServiceId, Invalid::NotDigits)
    );
    assert_eq!(
        reason(UserId::new("99980000000a").unwrap_err()),
        (Field::UserId, Invalid::NotDigits)
    );
    assert_eq!(reason(ActivationPassword::new("12a4").unwrap_err()).1, Invalid::NotDigits);
    // Other scripts' digits are not the bank's digits.
    assert_eq!(reason(ServiceId::new("١٠١١٢٢٣١").unwrap_err()).1, Invalid::NotDigits);
}

#[test]
fn wrong_lengths_are_refused_with_the_expected_length() {
    assert_eq!(
        reason(ServiceId::new("1011223").unwrap_err()),
        (Field::ServiceId, Invalid::WrongLength { min: 8, max: 8, found: 7 })
    );
    assert_eq!(
        reason(UserId::new("9998000000011").unwrap_err()).1,
        Invalid::WrongLength { min: 12, max: 12, found: 13 }
    );
    assert_eq!(
        reason(ActivationPassword::new("123").unwrap_err()).1,
        Invalid::WrongLength { min: 4, max: 8, found: 3 }
    );
    assert_eq!(
        reason(ActivationPassword::new("123456789").unwrap_err()).1,
        Invalid::WrongLength { min: 4, max: 8, found: 9 }
    );
    assert!(ActivationPassword::new("12345678").is_ok());
}

#[test]
fn empty_input_is_refused_as_empty() {
    for input in ["", "   ", "\u{3000}", "--"] {
        assert_eq!(reason(ServiceId::new(input).unwrap_err()).1, Invalid::Empty, "{input:?}");
        assert_eq!(reason(ActivationPassword::new(input).unwrap_err()).1, Invalid::Empty);
    }
    assert_eq!(
        reason(DisplayName::new(" ", "").unwrap_err()),
        (Field::DisplayName, Invalid::Empty)
    );
}

#[test]
fn error_messages_say_what_is_expected() {
    let msg = UserId::new("123").unwrap_err().to_string();
    assert!(msg.contains("user ID") && msg.contains("12 digits"), "{msg}");
    let msg = ActivationPassword::new("x").unwrap_err().to_string();
    assert!(msg.contains("digits only"), "{msg}");
}

#[test]
fn activation_password_never_prints() {
    let pw = ActivationPassword::new("73914826").unwrap();
    let dbg = format!("{pw:?} {:?}", Some(pw.clone()));
    assert!(!dbg.contains("7391"), "{dbg}");
    assert!(dbg.contains("<redacted>"));
    let err = format!("{:?}", ActivationPassword::new("7391482x").unwrap_err());
    assert!(!err.contains("7391"), "{err}");
}

#[test]
fn activation_passwords_compare_by_value() {
    assert_eq!(
        ActivationPassword::new("１２３４").unwrap(),
        ActivationPassword::new("1234").unwrap()
    );
    assert_ne!(ActivationPassword::new("1234").unwrap(), ActivationPassword::new("12345").unwrap());
}

#[test]
fn customer_names_a_token_in_japanese_with_added_wording() {
    let name = DisplayName::new("しんくみ銀行", "  家計用 ").unwrap();
    assert_eq!(name.to_string(), "しんくみ銀行 家計用");
    assert_eq!(name.added(), "家計用");
    let plain = DisplayName::new("しんくみ銀行", "").unwrap();
    assert_eq!(plain.to_string(), "しんくみ銀行");
}

#[test]
fn display_name_refuses_control_characters_and_overlong_parts() {
    assert_eq!(reason(DisplayName::new("a\nb", "").unwrap_err()).1, Invalid::ControlCharacter);
    assert_eq!(
        reason(DisplayName::new("bank", "x\u{202e}y").unwrap_err()),
        (Field::AddedWording, Invalid::ControlCharacter)
    );
    let long = "あ".repeat(DISPLAY_NAME_MAX_CHARS + 1);
    assert_eq!(reason(DisplayName::new(&long, "").unwrap_err()).1, Invalid::TooLong { max: 32 });
    assert!(DisplayName::new(&"あ".repeat(DISPLAY_NAME_MAX_CHARS), "").is_ok());
}

#[test]
fn customer_names_a_token_with_joined_emoji_counted_as_they_see_them() {
    let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
    let name =
        DisplayName::new(&family.repeat(DISPLAY_NAME_MAX_CHARS), "\u{1f469}\u{200d}\u{1f4bb}");
    assert!(name.is_ok(), "{name:?}");
    assert_eq!(
        reason(DisplayName::new(&family.repeat(DISPLAY_NAME_MAX_CHARS + 1), "").unwrap_err()).1,
        Invalid::TooLong { max: 32 }
    );
    // A joiner that joins no emoji is invisible, as before.
    for hidden in [
        "a\u{200d}b",
        "\u{1f469}\u{200d}",
        "\u{200d}\u{1f4bb}",
        "\u{1f469}\u{200d}\u{200d}\u{1f4bb}",
        "\u{1f469}\u{200d}\u{301}",
    ] {
        assert_eq!(
            reason(DisplayName::new(hidden, "").unwrap_err()).1,
            Invalid::ControlCharacter,
            "{hidden:?}"
        );
    }
    // One letter under hundreds of marks is one character, but not a name.
    let stacked = format!("e{}", "\u{301}".repeat(300));
    assert_eq!(reason(DisplayName::new(&stacked, "").unwrap_err()).1, Invalid::TooLong { max: 32 });
}

#[test]
fn display_name_round_trips_through_json_and_is_revalidated() {
    let name = DisplayName::new("Bank", "travel").unwrap();
    let json = serde_json::to_string(&name).unwrap();
    assert_eq!(json, r#"{"base":"Bank","added":"travel"}"#);
    assert_eq!(serde_json::from_str::<DisplayName>(&json).unwrap(), name);
    assert!(serde_json::from_str::<DisplayName>(r#"{"base":"","added":""}"#).is_err());
    assert!(serde_json::from_str::<ServiceId>(r#""1234""#).is_err());
}

#[test]
fn every_control_character_is_forbidden_in_a_name() {
    for c in (0..=0x10ffff).filter_map(char::from_u32).filter(|c| c.is_control()) {
        assert!(is_forbidden_in_name(c), "U+{:04X}", u32::from(c));
    }
}

#[test]
fn masked_user_id_shows_only_the_last_four_digits() {
    assert_eq!(UserId::new("999800000001").unwrap().masked(), "********0001");
}

#[test]
fn token_ids_are_random_hex_and_parse_back() {
    let a = TokenId::random().unwrap();
    let b = TokenId::random().unwrap();
    assert_ne!(a, b);
    assert_eq!(TokenId::new(a.as_str()).unwrap(), a);
    assert!(TokenId::new("../../etc/passwd").is_err());
    assert!(TokenId::new(&"G".repeat(32)).is_err());
}

#[test]
fn attempt_ids_are_22_characters_and_parse_back() {
    let id = AttemptId::random().unwrap();
    let s = id.to_string();
    assert_eq!(s.len(), 22);
    assert_eq!(AttemptId::parse(&s).unwrap(), id);
    assert_eq!(serde_json::from_str::<AttemptId>(&format!("\"{s}\"")).unwrap(), id);
    assert!(AttemptId::parse(&s[..21]).is_err());
    assert_ne!(AttemptId::random().unwrap(), id);
}

#[test]
fn customer_chooses_a_six_digit_app_pin_and_easy_ones_are_refused_with_the_banks_reason() {
    use crate::weak_number::Weakness;
    assert_eq!(AppPin::new("583920").unwrap().expose(), b"583920");
    assert_eq!(AppPin::new("５８３ ９２０").unwrap().expose(), b"583920");
    for (pin, why) in [
        ("111111", Weakness::Repeated),
        ("123123", Weakness::Repeated),
        ("123456", Weakness::Sequence),
        ("147258", Weakness::Common),
    ] {
        assert!(matches!(AppPin::new(pin), Err(Error::WeakPin(w)) if w == why), "{pin}");
    }
    let wrong_length = |e| match e {
        Error::Invalid {
            field: Field::AppPin,
            reason: Invalid::WrongLength { min, max, found },
        } => (min, max, found),
        other => panic!("{other:?}"),
    };
    assert_eq!(wrong_length(AppPin::new("58392").unwrap_err()), (6, 6, 5));
    assert_eq!(wrong_length(AppPin::new("5839201").unwrap_err()), (6, 6, 7));
    assert!(matches!(
        AppPin::new("58a920"),
        Err(Error::Invalid { field: Field::AppPin, reason: Invalid::NotDigits })
    ));
    let shown = format!("{:?}", AppPin::new("583920").unwrap());
    assert_eq!(shown, "AppPin(<redacted>)");
}
