//! Activation passwords the bank refuses at issue because a guesser tries them first.
//!
//! The rule is core's ([`softtoken_core::weak_number`]), the same one that refuses easy app
//! PINs on the device; its common list is the data file `crates/core/data/common-numbers.txt`
//! that `docs/server.md` ("Weak activation passwords") points a bank web to.

use softtoken_core::ids::ActivationPassword;

use crate::weakness::Weakness;

/// `Some(reason)` when the bank refuses `password` as too easy to guess.
pub fn weakness(password: &ActivationPassword) -> Option<Weakness> {
    softtoken_core::weak_number::weakness(password.expose())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn of(p: &str) -> Option<Weakness> {
        weakness(&ActivationPassword::new(p).unwrap())
    }

    #[test]
    fn a_password_typed_in_full_width_digits_or_with_hyphens_is_judged_by_its_digits() {
        // The bank web may pass what the customer typed; the rule sees the normalised digits.
        assert_eq!(of("２５８０"), Some(Weakness::Common));
        assert_eq!(of("1-2-3-4"), Some(Weakness::Sequence));
        assert_eq!(of("６９６９"), Some(Weakness::Repeated));
        assert_eq!(of("4821"), None);
    }
}
