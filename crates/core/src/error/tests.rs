use super::*;

#[test]
fn every_error_kind_has_one_stable_name_that_serde_agrees_with() {
    let names: std::collections::HashSet<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), ErrorKind::ALL.len(), "two kinds share a name");
    for kind in ErrorKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
    }
    assert_eq!(
        Error::WrongActivationPassword { tries_left: 2 }.kind().as_str(),
        "wrong_activation_password"
    );
    assert_eq!(Error::Io(std::io::ErrorKind::Other.into()).kind(), ErrorKind::StorageIo);
}

#[test]
fn every_invalid_reason_has_its_own_code() {
    let reasons = [
        Invalid::Empty,
        Invalid::NotDigits,
        Invalid::WrongLength { min: 1, max: 2, found: 3 },
        Invalid::ControlCharacter,
        Invalid::TooLong { max: 1 },
    ];
    let codes: Vec<_> = reasons.iter().map(Invalid::code).collect();
    assert_eq!(codes, Invalid::CODES);
}

#[test]
fn the_lock_screen_errors_say_the_tries_and_the_wait_and_nothing_else() {
    let wrong = Error::WrongPin { tries_left_before_wait: 3, wait_secs: 0 };
    assert_eq!(wrong.kind().as_str(), "wrong_pin");
    assert_eq!(wrong.to_string(), "the PIN is wrong (3 tries left before a wait)");
    let waiting = Error::PinBackOff { wait_secs: 60 };
    assert_eq!(waiting.kind().as_str(), "pin_back_off");
    assert_eq!(waiting.to_string(), "too many wrong PINs; try again in 60 seconds");
    let weak = Error::WeakPin(crate::weak_number::Weakness::Sequence);
    assert_eq!(weak.kind().as_str(), "weak_pin");
    assert!(weak.to_string().contains("its digits follow each other"), "{weak}");
    assert_eq!(Error::VaultRolledBack.kind().as_str(), "vault_rolled_back");
    assert_eq!(Field::AppPin.code(), "app_pin");
}
