//! Why an activation password is too easy to guess: the reason a `weak_activation_password`
//! refusal carries. A leaf below both the bank, whose rule finds it
//! (`bank/weak_password.rs`), and the error enum, which carries it, so neither imports the
//! other for it.

use serde::Serialize;

/// Why an activation password is too easy to guess. Serialized as the `reason` of a
/// `weak_activation_password` answer so the bank web can word its own "choose another".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// One digit, or one short group of digits, repeated (`0000`, `1212`, `123123`).
    Repeated,
    /// Consecutive digits up or down, `9` followed by `0` going up (`1234`, `4321`, `7890`).
    Sequence,
    /// A year from 1940 to 2039 as four digits (birth years, this year).
    Year,
    /// On the list of the commonest published PINs and keypad patterns.
    Common,
}

impl Weakness {
    /// What the customer is told, in English (the bank web words its own Japanese text from
    /// the `reason`).
    pub fn explain(self) -> &'static str {
        match self {
            Weakness::Repeated => "it repeats the same digits",
            Weakness::Sequence => "its digits follow each other",
            Weakness::Year => "it is a year",
            Weakness::Common => "it is one of the commonest PINs",
        }
    }
}
