//! The bank's flows over a real socket on 127.0.0.1, a real SQLite file and the app's real
//! core client: issue, provision, verify, replay, end use, re-issue, refusals, races and
//! interruptions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{code_at, provision_with, shows_number, Server, Setup, SERVICE};
use serde_json::json;
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::{ConfirmResponse, StartResponse};
use softtoken_core::protocol::{ack_for, ClientHandshake};
use softtoken_core::Error;
use softtoken_server::bank::{Demo, Policy};
use softtoken_server::http::HttpOptions;
use softtoken_server::ratelimit::RateLimits;
use std::time::Duration;

#[tokio::test]
async fn customer_sets_up_the_app_and_the_bank_accepts_each_code_once_until_use_ends() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    assert_eq!(user.len(), 12);
    assert_eq!(bank.status(&user).await["state"], "issued");

    let (token, outcome) = bank.provision(&user, "4821").await.unwrap();
    assert!(outcome.is_delivered(), "{:?}", outcome.delivery);
    assert_eq!(bank.status(&user).await["state"], "delivered");

    // Step 12: the customer types the code the app shows; the first one starts use.
    let code = bank.code(&token);
    let (status, answer) = bank.verify(&user, &code).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], true);
    assert_eq!(answer["first_use"], true);
    assert_eq!(answer["state"], "in_use");

    // The same code again, even within its minute, is a replay.
    let (_, again) = bank.verify(&user, &code).await;
    assert_eq!(again["accepted"], false, "{again}");
    assert_eq!(again["reason"], "replayed");

    // The next minute's code is accepted, and the older one stays refused.
    bank.clock.advance(60);
    let (_, next) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(next["accepted"], true, "{next}");
    assert_eq!(next["first_use"], false);
    let (_, old) = bank.verify(&user, &code).await;
    assert_eq!(old["accepted"], false);

    // 利用終了: the old device's codes stop at once.
    let (status, ended) = bank
        .admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/revoke"), json!({}))
        .await;
    assert_eq!((status, ended["state"].as_str()), (200, Some("ended")));
    bank.clock.advance(60);
    let (status, refused) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!((status, refused["code"].as_str()), (410, Some("ended")), "{refused}");
}

#[tokio::test]
async fn bank_accepts_a_code_one_step_either_side_of_its_clock_but_not_two() {
    let bank = Server::start().await;
    let now = bank.now();
    // A phone a minute behind, and one a minute ahead (each its own token: an accepted code
    // moves the token's window with it).
    let behind = bank.issue(None, "4821").await;
    let (behind_token, _) = bank.provision(&behind, "4821").await.unwrap();
    let ahead = bank.issue(None, "4821").await;
    let (ahead_token, _) = bank.provision(&ahead, "4821").await.unwrap();
    let (_, two_behind) = bank.verify(&behind, &code_at(&behind_token, now - 120)).await;
    assert_eq!(two_behind["accepted"], false);
    let (_, one_behind) = bank.verify(&behind, &code_at(&behind_token, now - 60)).await;
    assert_eq!(one_behind["accepted"], true, "{one_behind}");
    let (_, two_ahead) = bank.verify(&ahead, &code_at(&ahead_token, now + 120)).await;
    assert_eq!(two_ahead["accepted"], false);
    let (_, one_ahead) = bank.verify(&ahead, &code_at(&ahead_token, now + 60)).await;
    assert_eq!(one_ahead["accepted"], true, "{one_ahead}");
    // Once step +1 was used, the current step is older than the last accepted one.
    let (_, current) = bank.verify(&ahead, &code_at(&ahead_token, now)).await;
    assert_eq!(current["accepted"], false);
}

#[tokio::test]
async fn a_phone_whose_clock_creeps_ahead_is_followed_by_the_bank_up_to_two_minutes() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    // The phone runs a step ahead; the bank accepts it and remembers the drift.
    let (_, ahead) = bank.verify(&user, &code_at(&token, bank.now() + 60)).await;
    assert_eq!(ahead["accepted"], true, "{ahead}");
    assert_eq!(bank.status(&user).await["drift_steps"], 1);
    // A few minutes later it is two steps ahead: within a step of where it was.
    bank.clock.advance(180);
    let (_, further) = bank.verify(&user, &code_at(&token, bank.now() + 120)).await;
    assert_eq!(further["accepted"], true, "{further}");
    assert_eq!(bank.status(&user).await["drift_steps"], 2);
    // Three steps ahead later: inside the window around the drift, so accepted, but codes
    // alone never move the drift beyond two steps.
    bank.clock.advance(120);
    let (_, three) = bank.verify(&user, &code_at(&token, bank.now() + 180)).await;
    assert_eq!(three["accepted"], true, "{three}");
    assert_eq!(bank.status(&user).await["drift_steps"], 2);
    // Four steps ahead is outside the one window: only a clerk's resync follows that far.
    bank.clock.advance(120);
    let (_, four) = bank.verify(&user, &code_at(&token, bank.now() + 240)).await;
    assert_eq!(four["accepted"], false, "{four}");
    // The phone's clock set right again, a step ahead: the window reaches it, and the drift
    // follows back.
    bank.clock.advance(240);
    let (_, back) = bank.verify(&user, &code_at(&token, bank.now() + 60)).await;
    assert_eq!(back["accepted"], true, "{back}");
    assert_eq!(bank.status(&user).await["drift_steps"], 1);
}

#[tokio::test]
async fn a_phone_whose_clock_was_corrected_after_setup_is_resynced_from_two_consecutive_codes() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    let (_, first) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(first["accepted"], true, "{first}");
    // The customer corrected the phone's clock after setup: the next day the app's codes are
    // ten minutes behind the bank's, too far for verify.
    bank.clock.advance(24 * 3600);
    let behind = |t: u64| code_at(&token, t - 600);
    let (_, refused) = bank.verify(&user, &behind(bank.now())).await;
    assert_eq!(refused["accepted"], false, "{refused}");
    let resync = format!("/v1/admin/registrations/{SERVICE}/{user}/resync");

    // Two codes that do not follow each other, or a wrong one, resync nothing.
    let (status, not_next) = bank
        .admin_post(
            &resync,
            json!({"code1": behind(bank.now()), "code2": behind(bank.now() + 120)}),
        )
        .await;
    assert_eq!((status, &not_next["resynced"]), (200, &json!(false)), "{not_next}");
    assert_eq!(not_next["drift_steps"], 0);

    // The clerk reads the customer two consecutive codes (a minute apart, "123 456" as shown).
    let code1 = behind(bank.now());
    bank.clock.advance(60);
    let code2 = behind(bank.now());
    let grouped = format!("{} {}", &code2[..3], &code2[3..]);
    let (status, done) = bank.admin_post(&resync, json!({"code1": code1, "code2": grouped})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((done["resynced"].as_bool(), done["drift_steps"].as_i64()), (Some(true), Some(-10)));
    assert_eq!(done["drift_secs"], -600);
    assert_eq!(bank.status(&user).await["drift_steps"], -10);

    // Neither code counts again, for a login or another resync; the next one the phone shows
    // is accepted.
    let (_, replay) = bank.verify(&user, &code2).await;
    assert_eq!(replay["accepted"], false, "{replay}");
    let (_, again) = bank.admin_post(&resync, json!({"code1": code1, "code2": code2})).await;
    assert_eq!(again["resynced"], false, "{again}");
    bank.clock.advance(60);
    let (_, next) = bank.verify(&user, &behind(bank.now())).await;
    assert_eq!(next["accepted"], true, "{next}");

    // Codes from further than a day away are never searched for.
    let far = |t: u64| code_at(&token, t - 2 * 86_400);
    let (_, too_far) = bank
        .admin_post(&resync, json!({"code1": far(bank.now()), "code2": far(bank.now() + 60)}))
        .await;
    assert_eq!(too_far["resynced"], false, "{too_far}");
    // Only the bank's admin credential resyncs; bad codes are a 400.
    let (status, bad) =
        bank.admin_post(&resync, json!({"code1": "12ab56", "code2": "123456"})).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_request")), "{bad}");
}

#[tokio::test]
async fn the_same_code_sent_many_times_at_once_is_accepted_exactly_once() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    let code = bank.code(&token);
    let answers = common::join_all((0..32).map(|_| bank.verify(&user, &code))).await;
    let accepted = answers.iter().filter(|(_, a)| a["accepted"] == true).count();
    assert_eq!(accepted, 1, "{answers:?}");
    assert!(answers.iter().all(|(s, a)| *s == 200 || a["code"] == "locked"), "{answers:?}");
}

#[tokio::test]
async fn customer_with_wrong_activation_password_is_locked_after_five_tries() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    for left in (1..=4).rev() {
        match bank.provision(&user, "1111").await {
            Err(Error::WrongActivationPassword { tries_left }) => assert_eq!(tries_left, left),
            other => panic!("expected a wrong password, got {other:?}"),
        }
    }
    assert!(matches!(bank.provision(&user, "1111").await, Err(Error::RegistrationLocked)));
    // The right password no longer helps.
    assert!(matches!(bank.provision(&user, "4821").await, Err(Error::RegistrationLocked)));
    let status = bank.status(&user).await;
    assert_eq!(
        (status["provision_locked"].as_bool(), status["failed_tries"].as_u64()),
        (Some(true), Some(5))
    );

    // The bank unlocks; the customer can try again.
    let (code, _) = bank
        .admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/unlock"), json!({}))
        .await;
    assert_eq!(code, 200);
    assert!(bank.provision(&user, "4821").await.unwrap().1.is_delivered());
}

/// What the app does up to its ack: the password is proven, the seed held, no ack sent.
async fn confirm_without_ack(bank: &Server, user: &str, password: &str) {
    let confirmed = bank
        .client()
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(user).unwrap(),
            &ActivationPassword::new(password).unwrap(),
            softtoken_core::totp::unix_now(),
        )
        .await;
    assert!(confirmed.is_ok(), "{confirmed:?}");
}

#[tokio::test]
async fn a_right_password_before_delivery_gives_a_guesser_no_fresh_tries() {
    let policy = Policy { provision_max_tries: 3, ..Policy::default() };
    let bank = Server::start_with(Setup { policy, ..Setup::default() }).await;
    let user = bank.issue(None, "4821").await;
    assert!(matches!(
        bank.provision(&user, "1111").await,
        Err(Error::WrongActivationPassword { tries_left: 2 })
    ));
    assert!(matches!(
        bank.provision(&user, "1112").await,
        Err(Error::WrongActivationPassword { tries_left: 1 })
    ));
    // The app proves the password but its storage fails: no ack, the registration still
    // takes starts, and the guesser must not get its tries back.
    confirm_without_ack(&bank, &user, "4821").await;
    assert_eq!(bank.status(&user).await["failed_tries"], 2);
    assert!(matches!(bank.provision(&user, "1113").await, Err(Error::RegistrationLocked)));
}

#[tokio::test]
async fn a_second_setup_that_replaces_an_unacknowledged_one_is_mailed_to_the_customer() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    confirm_without_ack(&bank, &user, "4821").await;
    let (_, mails) = bank.admin_get("/v1/admin/outbox").await;
    assert_eq!(mails.as_array().unwrap().len(), 1, "only the step-6 mail: {mails}");
    // Someone else, or the customer's second try, sets it up again.
    bank.provision(&user, "4821").await.unwrap();
    let (_, mails) = bank.admin_get("/v1/admin/outbox").await;
    let notice = &mails[0];
    assert_eq!(notice["to"], "taro@example.jp");
    let body = notice["body"].as_str().unwrap();
    assert!(body.contains("set up again") && body.contains(&user), "{body}");
    assert!(!shows_number(body, "4821"), "{body}");
    assert_eq!(std::fs::read_dir(bank.dir.join("outbox")).unwrap().count(), 2);
}

#[tokio::test]
async fn expired_delivered_and_unknown_registrations_say_so() {
    let bank = Server::start().await;
    let soon = {
        let (status, body) = bank
            .admin_post(
                "/v1/admin/registrations",
                json!({"service_id": SERVICE, "mail": "hanako@example.jp",
                       "activation_password": "5856", "expires_in_days": 1}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["user_id"].as_str().unwrap().to_owned()
    };
    let user = bank.issue(None, "4821").await;
    assert!(bank.provision(&user, "4821").await.unwrap().1.is_delivered());
    assert!(matches!(bank.provision(&user, "4821").await, Err(Error::AlreadyDelivered)));

    bank.clock.advance(24 * 3600);
    assert!(matches!(bank.provision(&soon, "5555").await, Err(Error::RegistrationExpired)));
    assert_eq!(bank.status(&soon).await["expired"], true);

    assert!(matches!(
        bank.provision("123456789012", "5555").await,
        Err(Error::UnknownRegistration)
    ));
    let (status, body) = bank.verify("123456789012", "123456").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_registration")));
    let (status, body) =
        bank.admin_get(&format!("/v1/admin/registrations/{SERVICE}/123456789012")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_registration")));
    let (status, body) = bank.verify(&soon, "123456").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("not_delivered")), "{body}");
}

#[tokio::test]
async fn a_stranger_without_the_bank_credential_cannot_verify_or_lock_a_customer_out() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    let body = json!({"service_id": SERVICE, "user_id": user, "code": "000000"});
    // The app-facing listener has no admin endpoint and no metrics at all.
    for path in ["/v1/admin/verify", "/v1/admin/registrations"] {
        let (status, answer) = bank.post(path, body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")), "{answer}");
    }
    let metrics = bank.http.get(format!("{}/metrics", bank.url)).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 404);
    // On the admin listener, wrong bearers are refused, and after the burst (10) throttled.
    let try_bearer = |bearer: &'static str| {
        let req = bank.http.post(format!("{}/v1/admin/verify", bank.admin_url)).json(&body);
        async move { req.bearer_auth(bearer).send().await.unwrap().status().as_u16() }
    };
    for _ in 0..10 {
        assert_eq!(try_bearer("not-the-bank-token-at-all").await, 401);
    }
    assert_eq!(try_bearer("not-the-bank-token-at-all").await, 429);
    // The bank's own credential is checked first and passes whatever the failures were.
    assert_eq!(try_bearer(common::ADMIN_TOKEN).await, 200);
    let bank_side = bank.state.bank();
    let status = bank_side.status(&sid(SERVICE), &uid(&user), bank.now()).await.unwrap();
    assert_eq!(status.verify_failures, 1, "only the bank's own (wrong) code reached the token");
    let ok = bank_side.verify(&sid(SERVICE), &uid(&user), &bank.code(&token), bank.now()).await;
    assert!(ok.unwrap().accepted);
}

fn sid(s: &str) -> ServiceId {
    ServiceId::new(s).unwrap()
}

fn uid(u: &str) -> UserId {
    UserId::new(u).unwrap()
}

#[tokio::test]
async fn the_web_tiers_verify_token_checks_codes_but_cannot_revoke_or_reissue() {
    const WEB_TIER: &str = "web-tier-verify-only-token-77";
    let http = HttpOptions {
        verify_token: Some(softtoken_server::http::AdminToken::new(WEB_TIER).unwrap()),
        ..Setup::default().http
    };
    let bank = Server::start_with(Setup { http, ..Setup::default() }).await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    let as_web_tier = |method: reqwest::Method, path: String, body: serde_json::Value| {
        let req = bank.http.request(method, format!("{}{path}", bank.admin_url));
        async move {
            let resp = req.bearer_auth(WEB_TIER).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let verify = json!({"service_id": SERVICE, "user_id": user, "code": bank.code(&token)});
    let (status, answer) =
        as_web_tier(reqwest::Method::POST, "/v1/admin/verify".into(), verify).await;
    assert_eq!((status, answer["accepted"].as_bool()), (200, Some(true)), "{answer}");
    let pair = format!("/v1/admin/registrations/{SERVICE}/{user}");
    let takeover = json!({"service_id": SERVICE, "user_id": user, "mail": "x@evil.example",
                          "activation_password": "4829"});
    for (method, path, body) in [
        (reqwest::Method::POST, format!("{pair}/revoke"), json!({})),
        (reqwest::Method::POST, format!("{pair}/unlock"), json!({})),
        (reqwest::Method::POST, "/v1/admin/registrations".to_owned(), takeover),
        (reqwest::Method::GET, pair.clone(), json!({})),
        (reqwest::Method::GET, "/v1/admin/outbox".to_owned(), json!({})),
    ] {
        let (status, answer) = as_web_tier(method, path.clone(), body).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some("unauthorized")), "{path}");
    }
    assert_eq!(bank.status(&user).await["state"], "in_use");
}

#[tokio::test]
async fn ten_wrong_codes_lock_the_token_until_the_bank_unlocks_it() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    let right = bank.code(&token);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    for left in (1..=9).rev() {
        let (_, answer) = bank.verify(&user, wrong).await;
        assert_eq!(
            (answer["accepted"].as_bool(), answer["failures_left"].as_u64()),
            (Some(false), Some(left))
        );
    }
    let (status, answer) = bank.verify(&user, wrong).await;
    assert_eq!((status, answer["code"].as_str()), (423, Some("locked")), "{answer}");
    let (status, _) = bank.verify(&user, &right).await;
    assert_eq!(status, 423);
    let (status, _) = bank
        .admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/unlock"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (_, answer) = bank.verify(&user, &right).await;
    assert_eq!(answer["accepted"], true, "{answer}");
}

/// A wrong code for `token` now: not this minute's code.
fn wrong_code(bank: &Server, token: &softtoken_core::protocol::NewToken) -> &'static str {
    if bank.code(token) == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// `n` wrong codes, then the customer's own login a minute later (which resets only the
/// consecutive count); the answer to the last wrong code.
async fn guesses_then_a_login(
    bank: &Server,
    user: &str,
    token: &softtoken_core::protocol::NewToken,
    n: usize,
) -> (u16, serde_json::Value) {
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..n {
        last = bank.verify(user, wrong_code(bank, token)).await;
        if last.0 != 200 {
            return last;
        }
        assert_eq!(last.1["accepted"], false, "{}", last.1);
    }
    bank.clock.advance(60);
    let (status, login) = bank.verify(user, &bank.code(token)).await;
    assert_eq!((status, &login["accepted"]), (200, &json!(true)), "{login}");
    last
}

#[tokio::test]
async fn nine_guesses_between_each_of_the_customers_logins_lock_the_token_within_a_day() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    // 18 wrong codes in two rounds, each ended by the customer's login, which resets the
    // consecutive count (9 of 10: one left) but not the day's (18 of 20).
    guesses_then_a_login(&bank, &user, &token, 9).await;
    let (_, answer) = guesses_then_a_login(&bank, &user, &token, 9).await;
    assert_eq!(answer["failures_left"], 1, "{answer}");
    // After the login the day's limit is the nearer one ...
    let (_, answer) = bank.verify(&user, wrong_code(&bank, &token)).await;
    assert_eq!(answer["failures_left"], 1, "{answer}");
    // ... and the 20th wrong code of the day locks the token, though none came ten in a row.
    let (status, answer) = bank.verify(&user, wrong_code(&bank, &token)).await;
    assert_eq!((status, answer["code"].as_str()), (423, Some("locked")), "{answer}");
    bank.clock.advance(60);
    let (status, _) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(status, 423, "a locked token takes no code until the bank unlocks it");
}

#[tokio::test]
async fn wrong_codes_of_yesterday_do_not_count_towards_todays_limit() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    guesses_then_a_login(&bank, &user, &token, 9).await;
    guesses_then_a_login(&bank, &user, &token, 9).await;
    bank.clock.advance(86_400);
    let (_, answer) = bank.verify(&user, wrong_code(&bank, &token)).await;
    assert_eq!(
        (answer["accepted"].as_bool(), answer["failures_left"].as_u64()),
        (Some(false), Some(9))
    );
}

#[tokio::test]
async fn a_new_token_can_be_issued_only_after_the_waiting_period() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (old_token, _) = bank.provision(&user, "4821").await.unwrap();
    let body = json!({"service_id": SERVICE, "user_id": user, "mail": "taro@example.jp", "activation_password": "9870"});
    let (status, answer) = bank.admin_post("/v1/admin/registrations", body.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("registration_exists")), "{answer}");

    bank.admin_post(&format!("/v1/admin/registrations/{SERVICE}/{user}/revoke"), json!({})).await;
    bank.clock.advance(3600);
    let (status, answer) = bank.admin_post("/v1/admin/registrations", body.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("reissue_too_soon")), "{answer}");
    assert_eq!(answer["retry_after"], 23 * 3600);

    bank.clock.advance(23 * 3600);
    let (status, answer) = bank.admin_post("/v1/admin/registrations", body).await;
    assert_eq!((status, answer["state"].as_str()), (201, Some("issued")), "{answer}");
    let (new_token, outcome) = bank.provision(&user, "9870").await.unwrap();
    assert!(outcome.is_delivered());
    let (_, old) = bank.verify(&user, &bank.code(&old_token)).await;
    assert_eq!(old["accepted"], false, "the old device's seed must not work: {old}");
    let (_, new) = bank.verify(&user, &bank.code(&new_token)).await;
    assert_eq!(new["accepted"], true, "{new}");
}

#[tokio::test]
async fn failures_from_one_address_beyond_the_limit_are_refused_as_rate_limited() {
    let http = HttpOptions {
        rate_limits: RateLimits {
            per_address_burst: 3,
            per_address_per_minute: 1,
            total_burst: 100,
            total_per_minute: 100,
        },
        ..Setup::default().http
    };
    let bank = Server::start_with(Setup { http, ..Setup::default() }).await;
    let user = bank.issue(None, "4821").await;
    for _ in 0..3 {
        assert!(matches!(
            bank.provision("111122223333", "1234").await,
            Err(Error::UnknownRegistration)
        ));
    }
    match bank.provision(&user, "4821").await {
        Err(Error::RateLimited { retry_after: Some(secs) }) => {
            assert!((1..=60).contains(&secs), "{secs}")
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    let metrics = bank
        .http
        .get(format!("{}/metrics", bank.admin_url))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("softtoken_provision_rate_limited_total{scope=\"address\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("softtoken_provision_failures_total{reason=\"unknown_registration\"} 3"),
        "{metrics}"
    );
    assert!(!metrics.contains(&user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guesser_firing_200_starts_at_once_from_one_address_gets_no_more_than_the_burst() {
    const BURST: u32 = 10;
    const GUESSES: usize = 200;
    let http = HttpOptions {
        rate_limits: RateLimits {
            per_address_burst: BURST,
            per_address_per_minute: 1,
            total_burst: 1_000,
            total_per_minute: 1,
        },
        ..Setup::default().http
    };
    let bank = std::sync::Arc::new(Server::start_with(Setup { http, ..Setup::default() }).await);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(GUESSES));
    let guesses: Vec<_> = (0..GUESSES)
        .map(|i| {
            let (bank, barrier) = (bank.clone(), barrier.clone());
            tokio::spawn(async move {
                // Registrations that do not exist: each guess is a failure read from the database.
                let user = format!("5{i:011}");
                let client = bank.client();
                barrier.wait().await;
                provision_with(&client, &user, "1234", bank.now()).await
            })
        })
        .collect();
    let (mut reached_the_bank, mut limited) = (0, 0);
    for guess in guesses {
        match guess.await.unwrap() {
            Err(Error::UnknownRegistration) => reached_the_bank += 1,
            Err(Error::RateLimited { .. }) => limited += 1,
            other => panic!("expected unknown_registration or rate_limited, got {other:?}"),
        }
    }
    assert!(reached_the_bank <= BURST, "{reached_the_bank} guesses passed a burst of {BURST}");
    assert_eq!(reached_the_bank + limited, GUESSES as u32);
}

#[tokio::test]
async fn two_devices_provisioning_one_registration_at_once_end_with_exactly_one_token() {
    let bank = Server::start().await;
    for _ in 0..5 {
        let user = bank.issue(None, "4821").await;
        let (a, b) = tokio::join!(bank.provision(&user, "4821"), bank.provision(&user, "4821"));
        let outcomes: Vec<_> = [a, b].into_iter().collect();
        let delivered: Vec<_> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .filter(|(_, p)| p.is_delivered())
            .collect();
        assert_eq!(delivered.len(), 1, "{outcomes:?}");
        for o in &outcomes {
            match o {
                Ok((_, p)) if p.is_delivered() => {}
                Ok((_, p)) => assert!(p.must_remove(), "{:?}", p.delivery),
                Err(e) => assert!(matches!(e, Error::AlreadyDelivered), "{e:?}"),
            }
        }
        // Only the delivered token's codes work.
        let (winner, _) = delivered[0];
        for (t, _) in outcomes.iter().flatten().filter(|(_, p)| !p.is_delivered()) {
            let (_, answer) = bank.verify(&user, &bank.code(t)).await;
            assert_eq!(answer["accepted"], false);
        }
        let (_, answer) = bank.verify(&user, &bank.code(winner)).await;
        assert_eq!(answer["accepted"], true, "{answer}");
    }
}

/// Runs start and confirm by hand, as an app that may die between steps.
async fn handshake(
    bank: &Server,
    user: &str,
    password: &str,
) -> (softtoken_core::protocol::NewToken, softtoken_core::protocol::wire::AckRequest) {
    let (app, start) = ClientHandshake::start(
        &ServiceId::new(SERVICE).unwrap(),
        &UserId::new(user).unwrap(),
        &ActivationPassword::new(password).unwrap(),
    )
    .unwrap();
    let (status, started) =
        bank.post("/v1/provision/start", serde_json::to_value(&start).unwrap()).await;
    assert_eq!(status, 200, "{started}");
    let started: StartResponse = serde_json::from_value(started).unwrap();
    let (app, confirm) = app.confirm(&started).unwrap();
    let (status, confirmed) =
        bank.post("/v1/provision/confirm", serde_json::to_value(&confirm).unwrap()).await;
    assert_eq!(status, 200, "{confirmed}");
    // A lost answer: the same confirm again gets the same answer, and counts nothing.
    let (status, again) =
        bank.post("/v1/provision/confirm", serde_json::to_value(&confirm).unwrap()).await;
    assert_eq!((status, &again["server_confirm"]), (200, &confirmed["server_confirm"]));
    let confirmed: ConfirmResponse = serde_json::from_value(confirmed).unwrap();
    app.finish(&confirmed, softtoken_core::totp::unix_now()).unwrap()
}

#[tokio::test]
async fn app_that_dies_after_storing_acks_at_its_next_start_and_nothing_is_duplicated() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (token, ack) = handshake(&bank, &user, "4821").await;
    assert_eq!(bank.status(&user).await["state"], "confirmed");
    // Not delivered yet: the bank does not accept the pending token's codes.
    let (status, _) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(status, 409);

    // The app restarts and sends the ack of its pending token, twice (a lost answer).
    let client = bank.client();
    let pending = ack_for(&token.seed, token.delivery.pending.as_ref().unwrap());
    assert_eq!(pending, ack);
    client.send_ack(&pending).await.unwrap();
    client.send_ack(&pending).await.unwrap();
    assert_eq!(bank.status(&user).await["state"], "delivered");
    let (_, answer) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(answer["accepted"], true);
    assert!(matches!(bank.provision(&user, "4821").await, Err(Error::AlreadyDelivered)));
}

#[tokio::test]
async fn app_that_dies_before_storing_starts_again_and_the_old_attempt_can_never_be_acked() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (lost, lost_ack) = handshake(&bank, &user, "4821").await;
    // The customer starts again; the new attempt wins.
    let (token, outcome) = bank.provision(&user, "4821").await.unwrap();
    assert!(outcome.is_delivered());
    assert!(matches!(bank.client().send_ack(&lost_ack).await, Err(Error::Superseded)));
    let (_, old) = bank.verify(&user, &bank.code(&lost)).await;
    assert_eq!(old["accepted"], false);
    let (_, new) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(new["accepted"], true);
}

#[tokio::test]
async fn a_kiosk_demo_rearms_itself_after_each_visitor_without_any_admin_credential() {
    let setup = Setup {
        demo: Some(Demo { password: ActivationPassword::new("1234").unwrap() }),
        ..Setup::default()
    };
    let bank = Server::start_with(setup).await;
    bank.state.bank().arm_demo(bank.now()).await.unwrap();
    let demo_user = softtoken_server::bank::DEMO_USER_ID;
    let app = softtoken_core::client::ProvisioningClient::new(&bank.url).unwrap();
    let (first, outcome) = provision_with(&app, demo_user, "1234", bank.now()).await.unwrap();
    assert!(outcome.is_delivered());
    let (_, answer) = bank.verify(demo_user, &bank.code(&first)).await;
    assert_eq!(answer["accepted"], true);

    // The next visitor walks the same flow with the same IDs and password.
    let (second, outcome) = provision_with(&app, demo_user, "1234", bank.now()).await.unwrap();
    assert!(outcome.is_delivered());
    assert_ne!(first.seed, second.seed);

    // A reset from this computer re-arms it at once.
    let (status, fresh) = bank.post("/v1/demo/reset", json!({})).await;
    assert_eq!((status, fresh["state"].as_str()), (200, Some("issued")), "{fresh}");
    assert_eq!(fresh["user_id"], demo_user);
    assert!(provision_with(&app, demo_user, "1234", bank.now()).await.unwrap().1.is_delivered());
}

#[tokio::test]
async fn the_step_six_mail_names_the_ids_and_the_download_url_but_never_the_password() {
    let bank = Server::start().await;
    let user = bank.issue(None, "73914826").await;
    let (status, mails) = bank.admin_get("/v1/admin/outbox?limit=5").await;
    assert_eq!(status, 200);
    let body = mails[0]["body"].as_str().unwrap();
    assert!(body.contains(SERVICE) && body.contains(&user) && body.contains("https://"), "{body}");
    assert!(!body.contains("73914826"));
    let files: Vec<_> = std::fs::read_dir(bank.dir.join("outbox")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(
        text.starts_with("To: taro@example.jp\n")
            && text.contains(&user)
            && !text.contains("73914826")
    );
    // Nor is it anywhere in the database file in clear.
    common::close(&bank).await;
    for entry in std::fs::read_dir(&bank.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(8).any(|w| w == b"73914826"), "{}", path.display());
        }
    }
}

#[tokio::test]
async fn a_customer_choosing_a_pin_a_guesser_tries_first_is_asked_to_choose_another() {
    let bank = Server::start().await;
    for (password, reason) in [
        ("1234", "sequence"),
        ("1111", "repeated"),
        ("0000", "repeated"),
        ("1212", "repeated"),
        ("7777", "repeated"),
        ("9876", "sequence"),
        ("1987", "year"),
        ("2580", "common"),
    ] {
        let body = json!({"service_id": SERVICE, "user_id": "999800000042",
                          "mail": "taro@example.jp", "activation_password": password});
        let (status, answer) = bank.admin_post("/v1/admin/registrations", body).await;
        assert_eq!(status, 400, "{password}: {answer}");
        assert_eq!(answer["code"], "weak_activation_password", "{answer}");
        assert_eq!(answer["reason"], reason, "{password}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("choose another"), "{answer}");
        assert!(!answer.to_string().contains(password), "the answer echoes the password");
    }
    // Nothing was stored or mailed for the refusals.
    let (status, _) =
        bank.admin_get(&format!("/v1/admin/registrations/{SERVICE}/999800000042")).await;
    assert_eq!(status, 404);
    let (_, mails) = bank.admin_get("/v1/admin/outbox").await;
    assert_eq!(mails.as_array().unwrap().len(), 0, "{mails}");
    // An ordinary choice is issued.
    assert_eq!(bank.issue(Some("999800000042"), "4821").await, "999800000042");
}

#[tokio::test]
async fn every_wrong_activation_password_is_mailed_to_the_customer_and_the_bank_sets_the_tries() {
    let policy = Policy { provision_max_tries: 3, ..Policy::default() };
    let bank = Server::start_with(Setup { policy, ..Setup::default() }).await;
    let user = bank.issue(None, "4821").await;
    assert!(matches!(
        bank.provision(&user, "5093").await,
        Err(Error::WrongActivationPassword { tries_left: 2 })
    ));
    assert!(matches!(
        bank.provision(&user, "5094").await,
        Err(Error::WrongActivationPassword { tries_left: 1 })
    ));
    assert!(matches!(bank.provision(&user, "5095").await, Err(Error::RegistrationLocked)));

    let (_, mails) = bank.admin_get("/v1/admin/outbox?limit=10").await;
    let mails = mails.as_array().unwrap();
    // Newest first: three notices, then the step-6 mail.
    assert_eq!(mails.len(), 4, "{mails:?}");
    for notice in &mails[..3] {
        let body = notice["body"].as_str().unwrap();
        assert_eq!(notice["to"], "taro@example.jp");
        assert!(body.contains("wrong activation password") && body.contains(&user), "{body}");
        assert!(!["4821", "5093", "5094", "5095"].iter().any(|p| shows_number(body, p)), "{body}");
    }
    assert!(mails[0]["body"].as_str().unwrap().contains("now locked"), "{}", mails[0]["body"]);
    assert!(mails[1]["body"].as_str().unwrap().contains("1 more wrong"), "{}", mails[1]["body"]);
    assert!(mails[2]["body"].as_str().unwrap().contains("2 more wrong"), "{}", mails[2]["body"]);
    assert_eq!(std::fs::read_dir(bank.dir.join("outbox")).unwrap().count(), 4);
}

#[tokio::test]
async fn the_activation_password_leaves_the_database_once_it_can_no_longer_be_used() {
    let bank = Server::start().await;
    let sealed = |user: String| {
        let storage = bank.storage.clone();
        async move {
            storage
                .registration(
                    &sid(SERVICE),
                    &uid(&user),
                    softtoken_server::storage::Freshness::Cached,
                )
                .await
                .unwrap()
                .unwrap()
                .sealed_password
        }
    };
    // Delivered, ended, and expired before the app fetched it.
    let delivered = bank.issue(None, "4821").await;
    let ended = bank.issue(None, "5093").await;
    let expiring = {
        let (status, body) = bank
            .admin_post(
                "/v1/admin/registrations",
                json!({"service_id": SERVICE, "mail": "hanako@example.jp",
                       "activation_password": "6208", "expires_in_days": 1}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["user_id"].as_str().unwrap().to_owned()
    };
    let before = [
        sealed(delivered.clone()).await,
        sealed(ended.clone()).await,
        sealed(expiring.clone()).await,
    ];
    assert!(before.iter().all(|s| s.len() > 16));

    bank.provision(&delivered, "4821").await.unwrap();
    bank.admin_post(&format!("/v1/admin/registrations/{SERVICE}/{ended}/revoke"), json!({})).await;
    bank.clock.advance(2 * 24 * 3600);
    assert_eq!(bank.storage.forget_expired_passwords(bank.now()).await.unwrap(), 1);
    for user in [&delivered, &ended, &expiring] {
        assert!(sealed(user.clone()).await.is_empty(), "{user} still has its password");
    }
    // The status screen still answers.
    assert_eq!(bank.status(&expiring).await["expired"], true);

    // Nor do the old sealed bytes survive in a free page or the WAL.
    common::close(&bank).await;
    for entry in std::fs::read_dir(&bank.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for (i, old) in before.iter().enumerate() {
                let at = bytes.windows(old.len()).position(|w| w == old);
                assert!(at.is_none(), "{i}: {} at {at:?} of {}", path.display(), bytes.len());
            }
        }
    }
}

#[tokio::test]
async fn a_delivered_password_leaves_the_files_once_the_bank_is_quiet_without_waiting_for_maintenance(
) {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let old = bank
        .storage
        .registration(&sid(SERVICE), &uid(&user), softtoken_server::storage::Freshness::Cached)
        .await
        .unwrap()
        .unwrap()
        .sealed_password;
    assert!(old.len() > 16);
    bank.provision(&user, "4821").await.unwrap();

    // No maintenance tick and no shutdown: the writer empties the WAL when it has nothing to
    // do, so the page image of the insert does not wait ten minutes there.
    let found = || {
        std::fs::read_dir(&bank.dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                let bytes = std::fs::read(&path).ok()?;
                bytes.windows(old.len()).any(|w| w == old).then_some(path)
            })
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !found().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        found(),
        Vec::<std::path::PathBuf>::new(),
        "the old sealed password is still on disk"
    );
    assert_eq!(bank.status(&user).await["state"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_20000_starts_leaves_the_database_bounded() {
    const FLOOD: usize = 20_000;
    // The flood comes through the bank's proxy from 20,000 addresses, so no per-address limit
    // stops it: only the cap on open attempts per registration bounds what is stored.
    let http = HttpOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Setup::default().http
    };
    let bank = Server::start_with(Setup { http, ..Setup::default() }).await;
    let user = bank.issue(None, "4821").await;
    let (_, start) = ClientHandshake::start(
        &ServiceId::new(SERVICE).unwrap(),
        &UserId::new(&user).unwrap(),
        &ActivationPassword::new("5093").unwrap(),
    )
    .unwrap();
    let body = serde_json::to_string(&start).unwrap();
    let url = format!("{}/v1/provision/start", bank.url);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (next, http, url, body) =
                (next.clone(), bank.http.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= FLOOD {
                        return ok;
                    }
                    let xff = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
                    if start_from(&http, &url, &body, Some(xff)).await == 200 {
                        ok += 1;
                    }
                }
            })
        })
        .collect();
    let mut answered = 0;
    for w in workers {
        answered += w.await.unwrap();
    }
    assert_eq!(answered, FLOOD, "every start of the flood was answered");
    let count = |sql: &str| bank.count(sql);
    assert_eq!(count("SELECT count(*) FROM attempts"), 5, "the open attempts of one registration");
    if !common::on_postgres() {
        let size = std::fs::metadata(bank.dir.join("bank.db")).unwrap().len();
        assert!(size < 512 * 1024, "the database grew to {size} bytes");
    }

    // From one address, starts are counted even when they succeed.
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(start_from(&bank.http, &url, &body, None).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20, "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");

    // Expired attempts are purged.
    bank.clock.advance(301);
    assert_eq!(bank.storage.purge_attempts(bank.now()).await.unwrap(), 5);
    assert_eq!(count("SELECT count(*) FROM attempts"), 0);
}

/// A provisioning start as a proxy forwards it (with `X-Forwarded-For`) or a client sends it.
async fn start_from(http: &reqwest::Client, url: &str, body: &str, xff: Option<String>) -> u16 {
    let mut req = http.post(url).header("content-type", "application/json").body(body.to_owned());
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap().status().as_u16()
}
