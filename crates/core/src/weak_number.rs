//! Numbers a guesser tries first: the one rule that refuses easy activation passwords at the
//! bank (the server's issuing) and easy app PINs on the device (`vault`'s lock).
//!
//! Four to eight digits chosen by people are far from uniform: the five commonest 4-digit PINs
//! cover about a fifth of real choices. The rules are tried in a fixed order and the first that
//! matches names the reason ([`weakness`]): `repeated`, `sequence`, `year`, `common`. The
//! `common` list is data, `crates/core/data/common-numbers.txt`, compiled in here and published
//! for a bank's web tier to check a password before submitting (`docs/server.md`, "Weak
//! activation passwords", documents the rules and where the file is).

use serde::Serialize;

/// The common list as shipped: one number per line, `#` comments and blank lines ignored.
pub const COMMON_NUMBERS_FILE: &str = include_str!("../data/common-numbers.txt");

/// Why a number is too easy to guess. Serialized in snake_case as the `reason` of the server's
/// `weak_activation_password` answer (so a bank web can word its own "choose another") and of
/// the app's refusal of a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// One digit, or one short group of digits, repeated (`0000`, `1212`, `123123`).
    Repeated,
    /// Consecutive digits up or down, `9` followed by `0` going up (`1234`, `4321`, `7890`).
    Sequence,
    /// A year from 1940 to 2039 as four digits (birth years, this year).
    Year,
    /// On the list of the commonest published PINs and keypad patterns
    /// ([`COMMON_NUMBERS_FILE`]).
    Common,
}

impl Weakness {
    /// The stable snake_case name, as serialized.
    pub fn code(self) -> &'static str {
        match self {
            Weakness::Repeated => "repeated",
            Weakness::Sequence => "sequence",
            Weakness::Year => "year",
            Weakness::Common => "common",
        }
    }

    /// The reason a stable name stands for (the bank's `reason`), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        [Weakness::Repeated, Weakness::Sequence, Weakness::Year, Weakness::Common]
            .into_iter()
            .find(|w| w.code() == code)
    }

    /// What the customer is told, in English (the bank web and the app word their own Japanese
    /// text from [`Weakness::code`]).
    pub fn explain(self) -> &'static str {
        match self {
            Weakness::Repeated => "it repeats the same digits",
            Weakness::Sequence => "its digits follow each other",
            Weakness::Year => "it is a year",
            Weakness::Common => "it is one of the commonest PINs",
        }
    }
}

/// The numbers of the common list, in the file's order.
pub fn common_numbers() -> impl Iterator<Item = &'static str> {
    COMMON_NUMBERS_FILE.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `Some(reason)` when the ASCII digits `digits` are too easy to guess; the first rule that
/// matches, in the order repeated, sequence, year, common.
pub fn weakness(digits: &[u8]) -> Option<Weakness> {
    if is_repeated(digits) {
        Some(Weakness::Repeated)
    } else if is_sequence(digits) {
        Some(Weakness::Sequence)
    } else if is_year(digits) {
        Some(Weakness::Year)
    } else if common_numbers().any(|c| c.as_bytes() == digits) {
        Some(Weakness::Common)
    } else {
        None
    }
}

/// The whole number is a group of 1 to half its length repeated.
fn is_repeated(d: &[u8]) -> bool {
    (1..=d.len() / 2).any(|n| d.len().is_multiple_of(n) && d.chunks(n).all(|c| c == &d[..n]))
}

/// Every digit is the one before plus one (up) or minus one (down), modulo 10.
fn is_sequence(d: &[u8]) -> bool {
    if !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
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
        weakness(p.as_bytes())
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
            ("6969", Weakness::Repeated),
            ("131313", Weakness::Repeated),
            ("520520", Weakness::Repeated),
            ("1234", Weakness::Sequence),
            ("87654321", Weakness::Sequence),
            ("7890", Weakness::Sequence),
            ("3210", Weakness::Sequence),
            ("890123", Weakness::Sequence),
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
        for p in ["4821", "1939", "2040", "0174", "583920", "1235", "12345670", "9753", "294716"] {
            assert_eq!(of(p), None, "{p}");
        }
    }

    #[test]
    fn every_number_on_the_published_list_is_refused_as_common() {
        // A line that an earlier rule catches would be answered with that rule's reason, and
        // the list would say something the code does not do.
        let listed: Vec<&str> = common_numbers().collect();
        assert_eq!(listed.len(), 32);
        for n in &listed {
            assert!((4..=8).contains(&n.len()), "{n}: 4 to 8 digits");
            assert!(n.bytes().all(|b| b.is_ascii_digit()), "{n}: digits only");
            assert_eq!(of(n), Some(Weakness::Common), "{n}");
        }
        let unique: std::collections::HashSet<_> = listed.iter().collect();
        assert_eq!(unique.len(), listed.len(), "a number listed twice");
    }

    /// The section of `docs/server.md` that documents this rule for a bank's web tier.
    fn documented_section() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let start = doc.find("### Weak activation passwords").unwrap();
        let rest = &doc[start + 4..];
        let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
        rest[..end].to_owned()
    }

    /// The `code`-quoted numbers of one piece of the doc.
    fn quoted_numbers(text: &str) -> Vec<&str> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .filter(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()))
            .collect()
    }

    #[test]
    fn every_example_in_the_bank_docs_gets_the_reason_its_row_names() {
        let section = documented_section();
        let mut rows = 0;
        for w in [Weakness::Repeated, Weakness::Sequence, Weakness::Year, Weakness::Common] {
            let head = format!("| `{}` |", w.code());
            let row = section.lines().find(|l| l.starts_with(&head)).unwrap();
            let examples = quoted_numbers(row.rsplit('|').nth(1).unwrap());
            assert!(!examples.is_empty(), "{}: no examples", w.code());
            for n in examples {
                assert_eq!(of(n), Some(w), "{n} in the `{}` row", w.code());
            }
            rows += 1;
        }
        assert_eq!(rows, 4);
    }

    #[test]
    fn the_bank_docs_list_exactly_the_numbers_of_the_data_file() {
        let section = documented_section();
        let mut documented: Vec<&str> = section
            .lines()
            .filter(|l| l.starts_with("- ") && l.contains(" digits: ") || l.starts_with("  `"))
            .flat_map(quoted_numbers)
            .collect();
        let mut listed: Vec<&str> = common_numbers().collect();
        documented.sort_unstable();
        listed.sort_unstable();
        assert_eq!(documented, listed);
    }

    #[test]
    fn the_list_file_starts_with_its_header_comment() {
        assert!(COMMON_NUMBERS_FILE.starts_with("# softtoken: common numbers"));
    }

    #[test]
    fn the_reason_codes_are_what_the_server_and_the_app_answer() {
        for w in [Weakness::Repeated, Weakness::Sequence, Weakness::Year, Weakness::Common] {
            assert_eq!(serde_json::to_string(&w).unwrap(), format!("\"{}\"", w.code()));
        }
    }
}
