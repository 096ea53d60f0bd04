use zeroize::Zeroizing;

use super::*;
use crate::totp::{ClockOffset, Seed};

/// The bank's clock in these tests: a minute's first second, so the step is exact.
const NOW: u64 = 1_700_000_040;
const PERIOD: u64 = 60;
const STEP: u64 = NOW / PERIOD;

fn totp(digits: u8) -> Totp {
    let seed = Seed::new(Zeroizing::new(b"12345678901234567890".to_vec())).unwrap();
    let params = TotpParams { digits, ..TotpParams::default() };
    Totp::new(params, &seed, ClockOffset(0)).unwrap()
}

/// The code the token shows at `step`, as the customer enters it.
fn code_of(t: &Totp, step: u64) -> EnteredCode {
    EnteredCode::new(t.code_at_bank_time(step * PERIOD).as_str()).unwrap()
}

fn fresh() -> TokenClock {
    TokenClock::default()
}

fn drifted(drift_steps: i64) -> TokenClock {
    TokenClock { last_step: None, drift_steps }
}

#[test]
fn the_code_of_the_banks_minute_is_accepted_and_shows_no_drift() {
    let t = totp(6);
    let got = accept(&t, &code_of(&t, STEP), NOW, fresh());
    assert_eq!(got, Ok(Accepted { step: STEP, drift_steps: 0 }));
    assert_eq!(got.unwrap().clock(), TokenClock { last_step: Some(STEP), drift_steps: 0 });
    // Any second of the minute is the same step.
    assert_eq!(accept(&t, &code_of(&t, STEP), NOW + 59, fresh()).map(|a| a.step), Ok(STEP));
}

#[test]
fn a_code_one_minute_either_side_is_accepted_and_two_minutes_is_not() {
    let t = totp(6);
    let behind = accept(&t, &code_of(&t, STEP - 1), NOW, fresh());
    assert_eq!(behind, Ok(Accepted { step: STEP - 1, drift_steps: -1 }));
    let ahead = accept(&t, &code_of(&t, STEP + 1), NOW, fresh());
    assert_eq!(ahead, Ok(Accepted { step: STEP + 1, drift_steps: 1 }));
    for step in [STEP - 2, STEP + 2] {
        assert_eq!(accept(&t, &code_of(&t, step), NOW, fresh()), Err(Refusal::WrongCode));
    }
}

#[test]
fn a_phone_resynced_far_ahead_is_accepted_in_one_window_around_its_drift() {
    let t = totp(6);
    let clock = drifted(5);
    // A code may bring the drift back towards the bank's clock, never push it further out.
    for (step, drift) in [(STEP + 4, 4), (STEP + 5, 5), (STEP + 6, 5)] {
        assert_eq!(
            accept(&t, &code_of(&t, step), NOW, clock),
            Ok(Accepted { step, drift_steps: drift })
        );
    }
    // One window of three steps: not the bank's own minute, nothing beyond the drifted one.
    for step in [STEP, STEP + 1, STEP + 3, STEP + 7, STEP - 2] {
        assert_eq!(accept(&t, &code_of(&t, step), NOW, clock), Err(Refusal::WrongCode));
    }
}

#[test]
fn a_phone_resynced_far_behind_is_accepted_in_one_window_around_its_drift() {
    let t = totp(6);
    let clock = drifted(-5);
    for (step, drift) in [(STEP - 6, -5), (STEP - 5, -5), (STEP - 4, -4)] {
        assert_eq!(
            accept(&t, &code_of(&t, step), NOW, clock),
            Ok(Accepted { step, drift_steps: drift })
        );
    }
    for step in [STEP - 7, STEP - 3, STEP, STEP + 1, STEP + 2] {
        assert_eq!(accept(&t, &code_of(&t, step), NOW, clock), Err(Refusal::WrongCode));
    }
}

#[test]
fn codes_alone_move_the_drift_two_steps_from_the_banks_clock_and_no_further() {
    let t = totp(6);
    // A phone whose clock runs away a minute at a time: each code one step further ahead.
    let mut clock = fresh();
    let mut accepted = Vec::new();
    for minutes_ahead in 1..=4 {
        let step = STEP + minutes_ahead;
        match accept(&t, &code_of(&t, step), NOW, clock) {
            Ok(a) => {
                clock = a.clock();
                accepted.push((minutes_ahead, a.drift_steps));
            }
            Err(refusal) => {
                accepted.push((minutes_ahead, if refusal == Refusal::WrongCode { 99 } else { -99 }))
            }
        }
    }
    // +1 and +2 are learnt, +3 is accepted (inside the window around +2) but not learnt, +4
    // is outside the window: only a clerk's resync follows a clock that far off.
    assert_eq!(accepted, vec![(1, 1), (2, 2), (3, 2), (4, 99)]);
}

#[test]
fn a_drift_near_the_start_of_time_saturates_instead_of_wrapping() {
    let t = totp(6);
    // The drifted step would be before step 0: the candidates stop at 0.
    assert_eq!(
        accept(&t, &code_of(&t, 0), NOW, drifted(-(STEP as i64) - 10)),
        Ok(Accepted { step: 0, drift_steps: -(STEP as i64) })
    );
}

#[test]
fn a_code_used_once_is_refused_as_replayed_and_so_is_an_older_one() {
    let t = totp(6);
    let first = accept(&t, &code_of(&t, STEP), NOW, fresh()).unwrap().clock();
    assert_eq!(accept(&t, &code_of(&t, STEP), NOW, first), Err(Refusal::Replayed));
    assert_eq!(accept(&t, &code_of(&t, STEP - 1), NOW, first), Err(Refusal::Replayed));
    // The next minute's code is fresh, and a minute later it is used: replayed.
    let next = accept(&t, &code_of(&t, STEP + 1), NOW, first).unwrap();
    assert_eq!(next, Accepted { step: STEP + 1, drift_steps: 1 });
    assert_eq!(accept(&t, &code_of(&t, STEP + 1), NOW + 60, next.clock()), Err(Refusal::Replayed));
    // A wrong code stays wrong, not replayed.
    assert_eq!(accept(&t, &code_of(&t, STEP + 5), NOW, first), Err(Refusal::WrongCode));
}

#[test]
fn a_code_with_another_number_of_digits_than_the_token_is_a_wrong_code() {
    let six = totp(6);
    let eight = totp(8);
    let eight_digits = code_of(&eight, STEP);
    assert!(!eight_digits.fits(six.params()) && eight_digits.fits(eight.params()));
    assert_eq!(accept(&six, &eight_digits, NOW, fresh()), Err(Refusal::WrongCode));
    assert_eq!(accept(&eight, &code_of(&six, STEP), NOW, fresh()), Err(Refusal::WrongCode));
    assert_eq!(accept(&eight, &eight_digits, NOW, fresh()).map(|a| a.step), Ok(STEP));
}

#[test]
fn only_six_to_eight_ascii_digits_are_a_code_to_check() {
    for good in ["123456", "1234567", "12345678"] {
        assert_eq!(EnteredCode::new(good).unwrap().as_str(), good);
    }
    for bad in ["", "12345", "123456789", "12345a", "123 456", "123-456", "１２３４５６", " 123456"]
    {
        assert_eq!(EnteredCode::new(bad), Err(MalformedCode), "{bad:?}");
    }
    assert_eq!(MalformedCode.to_string(), "the code must be 6 to 8 ASCII digits");
}

#[test]
fn a_code_copied_in_its_grouped_form_drops_only_spaces_and_hyphens() {
    for (typed, plain) in
        [("123 456", "123456"), ("1234-5678", "12345678"), (" 12-34 56 ", "123456")]
    {
        assert_eq!(EnteredCode::typed(typed).unwrap().as_str(), plain, "{typed:?}");
    }
    // Other separators and full-width digits are not dropped or mapped.
    for bad in ["123\u{3000}456", "123\u{2212}456", "１２３４５６", "123_456", "12 34"] {
        assert_eq!(EnteredCode::typed(bad), Err(MalformedCode), "{bad:?}");
    }
    assert_eq!(EnteredCode::without_separators("1 2-3"), "123");
}

#[test]
fn two_consecutive_codes_resync_a_phone_far_ahead_to_the_later_step() {
    let t = totp(6);
    let got = resync(&t, [&code_of(&t, STEP + 10), &code_of(&t, STEP + 11)], NOW, fresh());
    assert_eq!(got, Some(Accepted { step: STEP + 11, drift_steps: 11 }));
    // After it, neither code is accepted again, and the next one is.
    let clock = got.unwrap().clock();
    assert_eq!(accept(&t, &code_of(&t, STEP + 11), NOW, clock), Err(Refusal::Replayed));
    assert_eq!(accept(&t, &code_of(&t, STEP + 12), NOW, clock).map(|a| a.step), Ok(STEP + 12));
}

#[test]
fn two_consecutive_codes_resync_a_phone_far_behind() {
    let t = totp(6);
    let got = resync(&t, [&code_of(&t, STEP - 30), &code_of(&t, STEP - 29)], NOW, drifted(4));
    assert_eq!(got, Some(Accepted { step: STEP - 29, drift_steps: -29 }));
}

#[test]
fn codes_that_are_not_consecutive_or_are_swapped_do_not_resync() {
    let t = totp(6);
    for [a, b] in [[STEP + 10, STEP + 12], [STEP + 11, STEP + 10], [STEP, STEP]] {
        assert_eq!(resync(&t, [&code_of(&t, a), &code_of(&t, b)], NOW, fresh()), None, "{a} {b}");
    }
    let eight = totp(8);
    assert_eq!(
        resync(&t, [&code_of(&eight, STEP), &code_of(&eight, STEP + 1)], NOW, fresh()),
        None,
        "codes with other digits than the token's"
    );
}

#[test]
fn resync_looks_a_day_either_side_and_no_further() {
    let t = totp(6);
    let reach = RESYNC_WINDOW_SECS / PERIOD;
    let pair = |s: u64| [code_of(&t, s), code_of(&t, s + 1)];
    for s in [STEP - reach, STEP + reach] {
        let [a, b] = pair(s);
        assert_eq!(resync(&t, [&a, &b], NOW, fresh()).map(|a| a.step), Some(s + 1), "{s}");
    }
    for s in [STEP - reach - 1, STEP + reach + 1] {
        let [a, b] = pair(s);
        assert_eq!(resync(&t, [&a, &b], NOW, fresh()), None, "{s}");
    }
}

#[test]
fn resync_never_reopens_an_accepted_step() {
    let t = totp(6);
    let [a, b] = [code_of(&t, STEP + 10), code_of(&t, STEP + 11)];
    let at = |last: u64| TokenClock { last_step: Some(last), drift_steps: 0 };
    assert_eq!(resync(&t, [&a, &b], NOW, at(STEP + 10)), None);
    assert_eq!(resync(&t, [&a, &b], NOW, at(STEP + 9)).map(|a| a.step), Some(STEP + 11));
}

#[test]
fn an_entered_code_does_not_print() {
    let c = EnteredCode::new("246802").unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("246802") && shown.contains("<redacted>"), "{shown}");
}
