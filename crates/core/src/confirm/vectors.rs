//! The test vector of `docs/confirmation.md`, read from the document itself so the two cannot
//! drift: the inputs go through the real code and every printed value must come out exactly;
//! `docs/confirmation_vectors.py` recomputes the same values with Python's standard library.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::details::{BankName, BranchName, HolderName, Note};
use super::*;
use crate::totp::Seed;

const DOC: &str = include_str!("../../../../docs/confirmation.md");
const PROTOCOL: &str = include_str!("../../../../docs/protocol.md");

/// The `key = value` lines of the vector block: `"text"`, a number, or hex (a value may go on
/// over indented lines; spaces in hex are ignored).
fn vector() -> BTreeMap<String, String> {
    let begin = "<!-- confirmation-vector:begin -->";
    let start = DOC.find(begin).expect("confirmation.md lacks its vector") + begin.len();
    let stop = DOC[start..].find("<!-- confirmation-vector:end -->").expect("vector end") + start;
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut last = None;
    for line in DOC[start..stop].lines() {
        if line.starts_with("```") || line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ') {
            let key: &String = last.as_ref().expect("a continuation line comes after a key");
            out.get_mut(key).expect("key").push_str(line.trim());
            continue;
        }
        let (k, v) = line.split_once('=').expect("key = value");
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
        out.insert(k.trim().to_owned(), v.to_owned());
        last = Some(k.trim().to_owned());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

struct Computed {
    values: BTreeMap<&'static str, String>,
    signed: SignedRequest,
    answer: AnswerRequest,
    end: end::EndRequest,
}

fn compute(v: &BTreeMap<String, String>) -> Computed {
    let get = |k: &str| v.get(k).unwrap_or_else(|| panic!("the vector lacks {k}")).as_str();
    let seed = Seed::new(Zeroizing::new(unhex(get("seed")))).unwrap();
    let keys = ConfirmationKeys::derive(&seed);
    let service = ServiceId::new(get("service_id")).unwrap();
    let user = UserId::new(get("user_id")).unwrap();
    let id = ConfirmationId::from_bytes(unhex(get("id")).try_into().unwrap());
    let account = AccountNumber::new(get("payee_account_number")).unwrap();
    let amount = Amount::new(get("amount_yen").parse().unwrap()).unwrap();
    assert_eq!(get("kind"), "transfer", "the vector is a transfer");
    let account_type = serde_json::from_str(&format!("\"{}\"", get("payee_account_type"))).unwrap();
    let details = Details::Transfer {
        amount_yen: amount,
        payee: Payee {
            bank: BankName::new(get("payee_bank")).unwrap(),
            branch: BranchName::new(get("payee_branch")).unwrap(),
            account_type,
            account_number: account.clone(),
            holder: HolderName::new(get("payee_holder")).unwrap(),
        },
        note: Note::new(get("note")).unwrap(),
    };
    let created: u64 = get("created_at").parse().unwrap();
    let lifetime = get("expires_at").parse::<u64>().unwrap() - created;
    let request = Request::new(
        id,
        service.clone(),
        user.clone(),
        details,
        created,
        lifetime,
        get("match_required") == "true",
    )
    .unwrap();
    let typed = MatchNumber::new(get("typed_number")).unwrap();
    let answer = request.answer(&keys, Decision::Approve, Some(typed)).unwrap();
    let deny = request.answer(&keys, Decision::Deny, None).unwrap();
    let fetch_time: u64 = get("fetch_time").parse().unwrap();
    let fetch = FetchRequest::new(&keys, service.clone(), user.clone(), fetch_time);
    let end = end::EndRequest::new(&keys, service, user, get("end_time").parse().unwrap());
    let offline_time: u64 = get("offline_time").parse().unwrap();
    let signed = request.sign(&keys);
    let mut values = BTreeMap::new();
    values.insert("k_bank", hex(keys.bank.expose()));
    values.insert("k_app", hex(keys.app.expose()));
    values.insert("k_offline", hex(keys.offline.expose()));
    let fields = request.fields();
    values.insert("encoding", hex(&fields.encode()));
    values.insert("digest", hex(&request.digest()));
    values.insert("request_mac", hex(signed.mac.as_bytes()));
    values.insert("approve_mac", hex(answer.mac.as_bytes()));
    values.insert("deny_mac", hex(deny.mac.as_bytes()));
    values.insert("fetch_proof", hex(fetch.proof.as_bytes()));
    values.insert("end_proof", hex(end.proof.as_bytes()));
    let server_time: u64 = get("server_time").parse().unwrap();
    values.insert("time_mac", hex(keys.time_mac(&fetch.proof, server_time).as_bytes()));
    values.insert("offline_question", offline::question(&account, amount));
    values.insert("offline_code", offline::code(&keys, &account, amount, offline_time).unwrap());
    Computed { values, signed, answer, end }
}

#[test]
fn the_documented_vector_is_what_the_code_computes() {
    let v = vector();
    let c = compute(&v);
    for (k, want) in &c.values {
        let doc: String = v
            .get(*k)
            .unwrap_or_else(|| panic!("the vector lacks {k}"))
            .split_whitespace()
            .collect();
        assert_eq!(&doc, want, "{k}");
    }
    // The JSON examples of §4 are the vector's own request and answer, protocol.md §4.4's
    // end request the vector's too.
    for (doc, marker, value) in [
        (DOC, "<!-- example:signed-request -->", serde_json::to_value(&c.signed).unwrap()),
        (DOC, "<!-- example:answer -->", serde_json::to_value(&c.answer).unwrap()),
        (PROTOCOL, "<!-- example:end-request -->", serde_json::to_value(&c.end).unwrap()),
    ] {
        let at = doc.find(marker).unwrap_or_else(|| panic!("the document lacks {marker}"));
        let rest = &doc[at..];
        let body = &rest[rest.find("```json").expect("json block") + 7..];
        let body = &body[..body.find("```").expect("end of block")];
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc, value, "{marker}");
    }
    // And the app opens the documented request, the bank accepts the documented answer.
    let seed = Seed::new(Zeroizing::new(unhex(&v["seed"]))).unwrap();
    let keys = ConfirmationKeys::derive(&seed);
    let service = ServiceId::new(&v["service_id"]).unwrap();
    let user = UserId::new(&v["user_id"]).unwrap();
    let request = c.signed.clone().open(&keys, &service, &user).unwrap();
    let page = MatchNumber::new(&v["typed_number"]).unwrap();
    assert_eq!(
        request.judge(&keys, &c.answer, Some(&page), request.created_at()),
        Verdict::Approved
    );
    assert!(c.end.is_the_tokens(&keys) && c.end.is_fresh_at(c.end.time + end::END_WINDOW_SECS));
    assert!(!c.end.is_fresh_at(c.end.time + end::END_WINDOW_SECS + 1));
}

#[test]
fn python_recomputes_the_documented_vector_independently() {
    crate::python_check::python_agrees("confirmation_vectors.py");
}

/// `cargo test -p softtoken-core --lib confirm::vectors::print -- --ignored --nocapture`
/// prints what the code computes, for writing the document.
#[test]
#[ignore = "prints the vector for docs/confirmation.md"]
fn print() {
    let c = compute(&vector());
    for (k, v) in &c.values {
        println!("{k} = {v}");
    }
    println!("{}", serde_json::to_string_pretty(&c.signed).unwrap());
    println!("{}", serde_json::to_string_pretty(&c.answer).unwrap());
}
