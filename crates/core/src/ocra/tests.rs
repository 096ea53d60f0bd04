use super::*;

// RFC 6287 Appendix C's keys: the ASCII digits "1234567890" repeated to 20, 32 and 64 bytes.
fn key(len: usize) -> Vec<u8> {
    b"1234567890".iter().copied().cycle().take(len).collect()
}
const PIN_1234_SHA1: &str = "7110eda4d09e062aa5e4a390b0a572ac0d2c0220";
// Appendix C's time: 0x132d0b6 minutes since the epoch.
const RFC_TIME: u64 = 0x132d0b6 * 60;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn respond(suite: &str, key: &[u8], input: OcraInput<'_>) -> String {
    OcraSuite::parse(suite).unwrap().respond(key, &input).unwrap()
}

fn repeated(i: usize, times: usize) -> String {
    i.to_string().repeat(times)
}

#[test]
fn rfc6287_c1_one_way_sha1_qn08() {
    let want = [
        "237653", "243178", "653583", "740991", "608993", "388898", "816933", "224598", "750600",
        "294470",
    ];
    for (i, w) in want.iter().enumerate() {
        let q = repeated(i, 8);
        let got = respond(
            "OCRA-1:HOTP-SHA1-6:QN08",
            &key(20),
            OcraInput { question: &q, ..Default::default() },
        );
        assert_eq!(&got, w, "Q={q}");
    }
}

#[test]
fn rfc6287_c1_counter_and_pin_sha256() {
    let want = [
        "65347737", "86775851", "78192410", "71565254", "10104329", "65983500", "70069104",
        "91771096", "75011558", "08522129",
    ];
    let pin = hex(PIN_1234_SHA1);
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1").unwrap();
    assert_eq!(suite.hash_pin(b"1234").unwrap().as_slice(), pin.as_slice());
    for (c, w) in want.iter().enumerate() {
        let input = OcraInput {
            counter: Some(c as u64),
            question: "12345678",
            pin_hash: Some(&pin),
            ..Default::default()
        };
        assert_eq!(&suite.respond(&key(32), &input).unwrap(), w, "C={c}");
    }
}

#[test]
fn rfc6287_c1_pin_without_counter_sha256() {
    let want = ["83238735", "01501458", "17957585", "86776967", "86807031"];
    let pin = hex(PIN_1234_SHA1);
    for (i, w) in want.iter().enumerate() {
        let q = repeated(i, 8);
        let input = OcraInput { question: &q, pin_hash: Some(&pin), ..Default::default() };
        assert_eq!(&respond("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", &key(32), input), w);
    }
}

#[test]
fn rfc6287_c1_counter_sha512() {
    let want = [
        "07016083", "63947962", "70123924", "25341727", "33203315", "34205738", "44343969",
        "51946085", "20403879", "31409299",
    ];
    for (i, w) in want.iter().enumerate() {
        let q = repeated(i, 8);
        let input = OcraInput { counter: Some(i as u64), question: &q, ..Default::default() };
        assert_eq!(&respond("OCRA-1:HOTP-SHA512-8:C-QN08", &key(64), input), w);
    }
}

#[test]
fn rfc6287_c1_time_sha512() {
    let want = ["95209754", "55907591", "22048402", "24218844", "36209546"];
    for (i, w) in want.iter().enumerate() {
        let q = repeated(i, 8);
        let input = OcraInput { question: &q, unix_time: Some(RFC_TIME), ..Default::default() };
        assert_eq!(&respond("OCRA-1:HOTP-SHA512-8:QN08-T1M", &key(64), input), w);
    }
}

#[test]
fn rfc6287_c2_mutual_challenge_response() {
    let server256 = ["28247970", "01984843", "65387857", "03351211", "83412541"];
    let client256 = ["15510767", "90175646", "33777207", "95285278", "28934924"];
    let server512 = ["79496648", "76831980", "12250499", "90856481", "12761449"];
    let client512 = ["18806276", "70020315", "01600026", "18951020", "32528969"];
    let pin = hex(PIN_1234_SHA1);
    for i in 0..5 {
        let to_server = format!("CLI2222{i}SRV1111{i}");
        let to_client = format!("SRV1111{i}CLI2222{i}");
        fn plain(q: &str) -> OcraInput<'_> {
            OcraInput { question: q, ..Default::default() }
        }
        assert_eq!(respond("OCRA-1:HOTP-SHA256-8:QA08", &key(32), plain(&to_server)), server256[i]);
        assert_eq!(respond("OCRA-1:HOTP-SHA256-8:QA08", &key(32), plain(&to_client)), client256[i]);
        assert_eq!(respond("OCRA-1:HOTP-SHA512-8:QA08", &key(64), plain(&to_server)), server512[i]);
        let with_pin =
            OcraInput { question: &to_client, pin_hash: Some(&pin), ..Default::default() };
        assert_eq!(respond("OCRA-1:HOTP-SHA512-8:QA08-PSHA1", &key(64), with_pin), client512[i]);
    }
}

#[test]
fn rfc6287_c3_plain_signature() {
    let want = ["53095496", "04110475", "31331128", "76028668", "46554205"];
    let timed = ["77537423", "31970405", "10235557", "95213541", "65360607"];
    for i in 0..5 {
        let q = format!("SIG1{i}000");
        let input = OcraInput { question: &q, ..Default::default() };
        assert_eq!(respond("OCRA-1:HOTP-SHA256-8:QA08", &key(32), input), want[i]);
        let q = format!("SIG1{i}00000");
        let input = OcraInput { question: &q, unix_time: Some(RFC_TIME), ..Default::default() };
        assert_eq!(respond("OCRA-1:HOTP-SHA512-8:QA10-T1M", &key(64), input), timed[i]);
    }
}

#[test]
fn suites_outside_the_rfc_or_untruncated_are_refused() {
    for bad in [
        "",
        "OCRA-1:HOTP-SHA1-6",
        "OCRA-2:HOTP-SHA1-6:QN08",
        "OCRA-1:TOTP-SHA1-6:QN08",
        "OCRA-1:HOTP-MD5-6:QN08",
        "OCRA-1:HOTP-SHA1-0:QN08",
        "OCRA-1:HOTP-SHA1-3:QN08",
        "OCRA-1:HOTP-SHA1-11:QN08",
        "OCRA-1:HOTP-SHA1-+6:QN08",
        "OCRA-1:HOTP-SHA1-6:C",
        "OCRA-1:HOTP-SHA1-6:QX08",
        "OCRA-1:HOTP-SHA1-6:QN8",
        "OCRA-1:HOTP-SHA1-6:QN03",
        "OCRA-1:HOTP-SHA1-6:QN65",
        "OCRA-1:HOTP-SHA1-6:QN08-PMD5",
        "OCRA-1:HOTP-SHA1-6:QN08-S64",
        "OCRA-1:HOTP-SHA1-6:QN08-S000",
        "OCRA-1:HOTP-SHA1-6:QN08-T0S",
        "OCRA-1:HOTP-SHA1-6:QN08-T60M",
        "OCRA-1:HOTP-SHA1-6:QN08-T49H",
        "OCRA-1:HOTP-SHA1-6:QN08-T1M-S064",
        "OCRA-1:HOTP-SHA1-6:QN08-X",
        "OCRA-1:HOTP-SHA1-6:PSHA1-QN08",
        "OCRA-1:HOTP-SHA1-6:QN08:",
    ] {
        assert!(OcraSuite::parse(bad).is_err(), "{bad:?}");
    }
    let s = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1-S064-T1M").unwrap();
    assert_eq!((s.digits(), s.question_len(), s.time_step_secs()), (8, 8, Some(60)));
    assert_eq!(
        OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-T24H").unwrap().time_step_secs(),
        Some(86_400)
    );
}

#[test]
fn a_question_of_the_wrong_shape_or_a_missing_input_is_a_typed_error() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08").unwrap();
    let k = key(20);
    let field = |r: Result<String>| match r {
        Err(Error::TotpParameters(m)) => {
            let which = [Input::Counter, Input::Question, Input::Pin, Input::Session, Input::Time];
            which.into_iter().find(|&i| matches!(bad_input(i), Error::TotpParameters(n) if n == m))
        }
        other => panic!("{other:?}"),
    };
    for q in ["", "1234567a", "１２３４５６７８", &"1".repeat(301)] {
        let input = OcraInput { question: q, ..Default::default() };
        assert_eq!(field(suite.respond(&k, &input)), Some(Input::Question), "{q:?}");
    }
    let input = OcraInput { question: "12345678", counter: Some(1), ..Default::default() };
    assert_eq!(field(suite.respond(&k, &input)), Some(Input::Counter));
    let input = OcraInput { question: "12345678", unix_time: Some(1), ..Default::default() };
    assert_eq!(field(suite.respond(&k, &input)), Some(Input::Time));
    let timed = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-T1M").unwrap();
    let input = OcraInput { question: "12345678", ..Default::default() };
    assert_eq!(field(timed.respond(&k, &input)), Some(Input::Time));
    let pinned = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-PSHA1").unwrap();
    let input = OcraInput { question: "12345678", pin_hash: Some(b"short"), ..Default::default() };
    assert_eq!(field(pinned.respond(&k, &input)), Some(Input::Pin));
    let alpha = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QA08").unwrap();
    let input = OcraInput { question: "no space", ..Default::default() };
    assert_eq!(field(alpha.respond(&k, &input)), Some(Input::Question));
}

#[test]
fn session_information_is_zero_filled_on_the_left() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-S064").unwrap();
    let mut padded = [0u8; 64];
    padded[61..].copy_from_slice(b"abc");
    let short = OcraInput { question: "12345678", session: Some(b"abc"), ..Default::default() };
    let full = OcraInput { question: "12345678", session: Some(&padded), ..Default::default() };
    assert_eq!(suite.respond(&key(20), &short).unwrap(), suite.respond(&key(20), &full).unwrap());
    let long = [0u8; 65];
    let too_long = OcraInput { question: "12345678", session: Some(&long), ..Default::default() };
    assert!(suite.respond(&key(20), &too_long).is_err());
}

#[test]
fn numeric_questions_become_their_hexadecimal_digits() {
    assert_eq!(decimal_to_hex_digits("0").as_slice(), &[0]);
    assert_eq!(decimal_to_hex_digits("0000").as_slice(), &[0]);
    assert_eq!(decimal_to_hex_digits("255").as_slice(), &[0xf, 0xf]);
    // 11111111 = 0xA98AC7: the block starts A9 8A C7.
    let block = question_block(QuestionFormat::Numeric, "11111111").unwrap();
    assert_eq!(&block[..4], &[0xa9, 0x8a, 0xc7, 0]);
    // 4096 = 0x1000; 4097 = 0x1001; an odd count of hexadecimal digits (0x100 = 256)
    // fills the high half of the last byte.
    let block = question_block(QuestionFormat::Numeric, "0256").unwrap();
    assert_eq!(&block[..3], &[0x10, 0x00, 0]);
    let block = question_block(QuestionFormat::Numeric, &"9".repeat(64)).unwrap();
    assert_ne!(block[26], 0);
    assert!(block[27..].iter().all(|&b| b == 0));
}
