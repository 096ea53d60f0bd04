//! Why an activation password is too easy to guess: the reason a `weak_activation_password`
//! refusal carries. Core's type ([`softtoken_core::weak_number::Weakness`]), named here as a
//! leaf below both the bank, whose rule finds it (`bank/weak_password.rs`), and the error enum,
//! which carries it, so neither imports the other for it.

pub use softtoken_core::weak_number::Weakness;
