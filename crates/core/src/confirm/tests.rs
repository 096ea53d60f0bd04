use super::details::{BankName, BranchName, HolderName, Note};
use super::*;
use crate::totp::Seed;
use zeroize::Zeroizing;

const NOW: u64 = 1_760_000_000;

fn keys(byte: u8) -> ConfirmationKeys {
    ConfirmationKeys::derive(&Seed::new(Zeroizing::new(vec![byte; 32])).unwrap())
}

fn payee() -> Payee {
    Payee {
        bank: BankName::new("みらい信用金庫").unwrap(),
        branch: BranchName::new("本店営業部").unwrap(),
        account_type: AccountType::Ordinary,
        account_number: AccountNumber::new("1234567").unwrap(),
        holder: HolderName::new("ヤマダ　タロウ").unwrap(),
    }
}

fn transfer(yen: u64, match_required: bool) -> Request {
    Request::new(
        ConfirmationId::from_bytes([7; 16]),
        ServiceId::new("10112231").unwrap(),
        UserId::new("999800000001").unwrap(),
        Details::Transfer {
            amount_yen: Amount::new(yen).unwrap(),
            payee: payee(),
            note: Note::empty(),
        },
        NOW,
        DEFAULT_LIFETIME_SECS,
        match_required,
    )
    .unwrap()
}

fn open(signed: SignedRequest, k: &ConfirmationKeys) -> Result<Request> {
    signed.open(k, &ServiceId::new("10112231").unwrap(), &UserId::new("999800000001").unwrap())
}

#[test]
fn the_app_shows_exactly_what_the_bank_signed_and_the_bank_accepts_the_approval() {
    let k = keys(1);
    let request = transfer(50_000, false);
    let shown = open(request.sign(&k), &k).unwrap();
    assert_eq!(shown, request);
    assert_eq!(shown.details().amount().unwrap().grouped(), "¥50,000");
    let answer = shown.answer(&k, Decision::Approve, None).unwrap();
    assert_eq!(request.judge(&k, &answer, None, NOW + 10), Verdict::Approved);
    let deny = shown.answer(&k, Decision::Deny, None).unwrap();
    assert_eq!(request.judge(&k, &deny, None, NOW + 10), Verdict::Denied);
}

/// Every field of the request, changed on the way to the app, makes the app refuse it.
#[test]
fn a_relay_that_changes_any_field_on_the_way_to_the_app_is_caught() {
    let k = keys(1);
    let signed = transfer(50_000, false).sign(&k);
    let mut changed: Vec<SignedRequest> = Vec::new();
    let mut with = |f: &dyn Fn(&mut SignedRequest)| {
        let mut s = signed.clone();
        f(&mut s);
        assert_ne!(s, signed);
        changed.push(s);
    };
    with(&|s| s.id = ConfirmationId::from_bytes([8; 16]));
    with(&|s| s.created_at += 1);
    with(&|s| s.expires_at += 60);
    with(&|s| s.match_required = true);
    with(&|s| s.mac.0[0] ^= 1);
    let details = |d: Details| move |s: &mut SignedRequest| s.details = d.clone();
    let mut p = payee();
    p.account_number = AccountNumber::new("7654321").unwrap();
    with(&details(Details::Transfer {
        amount_yen: Amount::new(50_000).unwrap(),
        payee: p,
        note: Note::empty(),
    }));
    with(&details(Details::Transfer {
        amount_yen: Amount::new(500_000).unwrap(),
        payee: payee(),
        note: Note::empty(),
    }));
    let mut p = payee();
    p.holder = HolderName::new("サギ　ジロウ").unwrap();
    with(&details(Details::Transfer {
        amount_yen: Amount::new(50_000).unwrap(),
        payee: p,
        note: Note::empty(),
    }));
    let mut p = payee();
    p.bank = BankName::new("さくら銀行").unwrap();
    with(&details(Details::Transfer {
        amount_yen: Amount::new(50_000).unwrap(),
        payee: p,
        note: Note::empty(),
    }));
    let mut p = payee();
    p.branch = BranchName::new("新宿支店").unwrap();
    with(&details(Details::Transfer {
        amount_yen: Amount::new(50_000).unwrap(),
        payee: p,
        note: Note::empty(),
    }));
    let mut p = payee();
    p.account_type = AccountType::Current;
    with(&details(Details::Transfer {
        amount_yen: Amount::new(50_000).unwrap(),
        payee: p,
        note: Note::empty(),
    }));
    with(&details(Details::Transfer {
        amount_yen: Amount::new(50_000).unwrap(),
        payee: payee(),
        note: Note::new("家賃").unwrap(),
    }));
    with(&details(Details::NewPayee { payee: payee(), note: Note::empty() }));
    for s in changed {
        assert!(matches!(open(s, &k), Err(Error::BankNotAuthenticated)));
    }
    // Another token's keys, or another registration, do not open it either.
    assert!(matches!(open(signed.clone(), &keys(2)), Err(Error::BankNotAuthenticated)));
    let other_user = signed.open(
        &k,
        &ServiceId::new("10112231").unwrap(),
        &UserId::new("999800000002").unwrap(),
    );
    assert!(matches!(other_user, Err(Error::BankNotAuthenticated)));
}

/// The phishing case: the customer approved what the app showed, but the bank's stored request
/// is for other fields (the relay changed them in front of the bank): the answer fails.
#[test]
fn an_approval_of_other_fields_than_the_bank_stored_is_not_accepted() {
    let k = keys(1);
    let stored = transfer(500_000, false);
    let shown = transfer(50_000, false);
    let answer = shown.answer(&k, Decision::Approve, None).unwrap();
    assert_eq!(stored.judge(&k, &answer, None, NOW + 1), Verdict::NotAuthenticated);
    // Nor is an answer with its decision flipped on the way.
    let mut flipped = stored.answer(&k, Decision::Deny, None).unwrap();
    flipped.decision = Decision::Approve;
    assert_eq!(stored.judge(&k, &flipped, None, NOW + 1), Verdict::NotAuthenticated);
    // Nor one made with another token's key.
    let foreign = stored.answer(&keys(3), Decision::Approve, None).unwrap();
    assert_eq!(stored.judge(&k, &foreign, None, NOW + 1), Verdict::NotAuthenticated);
}

#[test]
fn a_late_answer_is_refused_from_the_second_of_expiry() {
    let k = keys(1);
    let r = transfer(50_000, false);
    let a = r.answer(&k, Decision::Approve, None).unwrap();
    assert_eq!(r.judge(&k, &a, None, r.expires_at() - 1), Verdict::Approved);
    assert_eq!(r.judge(&k, &a, None, r.expires_at()), Verdict::Late);
    assert_eq!(r.seconds_left(r.expires_at() + 5), 0);
    assert_eq!(r.expires_at() - r.created_at(), DEFAULT_LIFETIME_SECS);
}

#[test]
fn lifetimes_outside_thirty_to_three_hundred_seconds_are_refused() {
    for (life, ok) in [(29, false), (30, true), (300, true), (301, false)] {
        let r = Request::new(
            ConfirmationId::from_bytes([1; 16]),
            ServiceId::new("10112231").unwrap(),
            UserId::new("999800000001").unwrap(),
            Details::SignIn { note: Note::new("Windows · 東京").unwrap() },
            NOW,
            life,
            false,
        );
        assert_eq!(r.is_ok(), ok, "{life}");
    }
}

#[test]
fn the_number_to_match_is_checked_by_the_bank_and_never_sent_to_the_app() {
    let k = keys(1);
    let r = transfer(50_000, true);
    let signed = serde_json::to_string(&r.sign(&k)).unwrap();
    assert!(!signed.contains("\"42\""));
    let shown = open(serde_json::from_str(&signed).unwrap(), &k).unwrap();
    assert!(shown.match_required());
    let page = MatchNumber::new("42").unwrap();
    assert!(shown.answer(&k, Decision::Approve, None).is_err(), "an approval needs the number");
    assert!(shown.answer(&k, Decision::Deny, Some(page.clone())).is_err());
    let right = shown.answer(&k, Decision::Approve, Some(page.clone())).unwrap();
    assert_eq!(r.judge(&k, &right, Some(&page), NOW + 1), Verdict::Approved);
    let wrong = shown.answer(&k, Decision::Approve, Some(MatchNumber::new("24").unwrap())).unwrap();
    assert_eq!(r.judge(&k, &wrong, Some(&page), NOW + 1), Verdict::WrongNumber);
    let deny = shown.answer(&k, Decision::Deny, None).unwrap();
    assert_eq!(r.judge(&k, &deny, Some(&page), NOW + 1), Verdict::Denied);
    for bad in ["4", "421", "４２", "a1"] {
        assert!(MatchNumber::new(bad).is_err(), "{bad}");
    }
    for _ in 0..50 {
        let n = MatchNumber::random().unwrap();
        assert!(n.as_str().len() == 2 && n.as_str().bytes().all(|b| b.is_ascii_digit()));
    }
}

#[test]
fn a_fetch_is_accepted_with_its_proof_within_five_minutes_of_the_bank_clock() {
    let k = keys(1);
    let f = FetchRequest::new(
        &k,
        ServiceId::new("10112231").unwrap(),
        UserId::new("999800000001").unwrap(),
        NOW,
    );
    assert!(f.is_authentic(&k, NOW + FETCH_WINDOW_SECS));
    assert!(f.is_authentic(&k, NOW - FETCH_WINDOW_SECS));
    assert!(!f.is_authentic(&k, NOW + FETCH_WINDOW_SECS + 1));
    assert!(!f.is_authentic(&keys(2), NOW));
    let mut other = f.clone();
    other.user_id = UserId::new("999800000002").unwrap();
    assert!(!other.is_authentic(&k, NOW));
}

#[test]
fn the_offline_code_is_bound_to_payee_amount_and_minute_and_works_for_two_minutes() {
    let k = keys(1);
    let account = AccountNumber::new("1234567").unwrap();
    let amount = Amount::new(50_000).unwrap();
    assert_eq!(offline::question(&account, amount), "12345670000050000");
    let c = offline::code(&k, &account, amount, NOW).unwrap();
    assert_eq!(c.len(), 8);
    let step = NOW / 60;
    assert_eq!(offline::accepted_step(&k, &account, amount, &c, NOW).unwrap(), Some(step));
    assert_eq!(offline::accepted_step(&k, &account, amount, &c, NOW + 60).unwrap(), Some(step));
    assert_eq!(offline::accepted_step(&k, &account, amount, &c, NOW + 120).unwrap(), None);
    let other_payee = AccountNumber::new("7654321").unwrap();
    assert_eq!(offline::accepted_step(&k, &other_payee, amount, &c, NOW).unwrap(), None);
    let other_amount = Amount::new(500_000).unwrap();
    assert_eq!(offline::accepted_step(&k, &account, other_amount, &c, NOW).unwrap(), None);
    assert_eq!(offline::accepted_step(&keys(2), &account, amount, &c, NOW).unwrap(), None);
}

#[test]
fn keys_never_print_and_differ_by_purpose() {
    let k = keys(1);
    assert_eq!(format!("{:?}", k.bank), "Key(<redacted>)");
    assert_ne!(k.bank.expose(), k.app.expose());
    assert_ne!(k.app.expose(), k.offline.expose());
    assert_ne!(keys(1).bank.expose(), keys(2).bank.expose());
}

#[test]
fn states_have_stable_names() {
    for s in [
        ConfirmationState::Pending,
        ConfirmationState::Approved,
        ConfirmationState::Denied,
        ConfirmationState::WrongNumber,
        ConfirmationState::Expired,
        ConfirmationState::Cancelled,
    ] {
        assert_eq!(ConfirmationState::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        assert_eq!(s.is_final(), s != ConfirmationState::Pending);
    }
}

#[test]
fn an_end_request_is_the_tokens_only_with_its_own_key_ids_and_time_and_never_a_fetch_proof() {
    let (service, user) =
        (ServiceId::new("10112231").unwrap(), UserId::new("999800000001").unwrap());
    let end = end::EndRequest::new(&keys(1), service.clone(), user.clone(), NOW);
    assert!(end.is_the_tokens(&keys(1)));
    assert!(!end.is_the_tokens(&keys(2)), "another token's key");
    let mut later = end.clone();
    later.time += 1;
    assert!(!later.is_the_tokens(&keys(1)), "the time is bound");
    let mut other = end.clone();
    other.user_id = UserId::new("999800000002").unwrap();
    assert!(!other.is_the_tokens(&keys(1)), "the registration is bound");
    let fetch = FetchRequest::new(&keys(1), service, user, NOW);
    assert_ne!(fetch.proof, end.proof, "a fetch proof cannot be taken for an end");
    assert!(end.is_fresh_at(NOW - 300) && end.is_fresh_at(NOW + 300));
    assert!(!end.is_fresh_at(NOW - 301) && !end.is_fresh_at(NOW + 301));
}
