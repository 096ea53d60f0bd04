//! Activation passwords the bank refuses at issue because a guesser tries them first.
//!
//! Four to eight digits chosen by people are far from uniform: the five commonest 4-digit
//! PINs cover about a fifth of real choices, so whoever reads the step-6 mail would get a
//! 1-in-5 chance within the five tries. The list below is the one documented in
//! `docs/server.md` ("Weak activation passwords"); change both together.

use softtoken_core::ids::ActivationPassword;

use crate::weakness::Weakness;

/// Common choices that the rules above do not catch: published PIN frequency lists (the top
/// of the DataGenetics 4-digit study and of leaked 6-digit lists) and keypad shapes.
const COMMON: &[&str] = &[
    "1004", "1122", "6969", "2580", "0852", "1470", "0741", "3690", "0963", "1379", "1397", "2468",
    "1357", "5683", "7410", "8520", "9630", "112233", "121314", "147258", "258369", "147852",
    "159753", "159357", "123654", "123321", "654123", "102030", "520520", "131313", "11223344",
    "12344321", "14725836", "12348765", "13579246",
];

/// `Some(reason)` when the bank refuses `password` as too easy to guess.
pub fn weakness(password: &ActivationPassword) -> Option<Weakness> {
    let digits = password.expose();
    if is_repeated(digits) {
        Some(Weakness::Repeated)
    } else if is_sequence(digits) {
        Some(Weakness::Sequence)
    } else if is_year(digits) {
        Some(Weakness::Year)
    } else if COMMON.iter().any(|c| c.as_bytes() == digits) {
        Some(Weakness::Common)
    } else {
        None
    }
}

/// The whole password is a group of 1 to half its length repeated.
fn is_repeated(d: &[u8]) -> bool {
    (1..=d.len() / 2).any(|n| d.len().is_multiple_of(n) && d.chunks(n).all(|c| c == &d[..n]))
}

/// Every digit is the one before plus one (up) or minus one (down), modulo 10.
fn is_sequence(d: &[u8]) -> bool {
    let steps = |by: u8| d.windows(2).all(|w| (w[0] - b'0' + by) % 10 == w[1] - b'0');
    steps(1) || steps(9)
}

fn is_year(d: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(d) else { return false };
    d.len() == 4 && text.parse::<u16>().is_ok_and(|y| (1940..=2039).contains(&y))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn of(p: &str) -> Option<Weakness> {
        weakness(&ActivationPassword::new(p).unwrap())
    }

    #[test]
    fn the_five_commonest_pins_are_refused() {
        for p in ["1234", "1111", "0000", "1212", "7777"] {
            assert!(of(p).is_some(), "{p}");
        }
    }

    #[test]
    fn each_rule_names_its_reason() {
        for (p, why) in [
            ("0000", Weakness::Repeated),
            ("99999999", Weakness::Repeated),
            ("1313", Weakness::Repeated),
            ("123123", Weakness::Repeated),
            ("1234", Weakness::Sequence),
            ("87654321", Weakness::Sequence),
            ("7890", Weakness::Sequence),
            ("3210", Weakness::Sequence),
            ("1940", Weakness::Year),
            ("1987", Weakness::Year),
            ("2039", Weakness::Year),
            ("2580", Weakness::Common),
            ("147258", Weakness::Common),
            ("1004", Weakness::Common),
        ] {
            assert_eq!(of(p), Some(why), "{p}");
        }
    }

    #[test]
    fn ordinary_choices_are_accepted() {
        for p in ["4821", "1939", "2040", "0174", "583920", "1235", "12345670", "9753"] {
            assert_eq!(of(p), None, "{p}");
        }
    }
}
