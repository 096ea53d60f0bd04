//! The bank's flows over a real socket on 127.0.0.1, a real SQLite file and the app's real
//! core client: issue, provision, verify, replay, end use, re-issue, refusals, races and
//! interruptions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{code_at, provision_with, Server, Setup, SERVICE};
use serde_json::json;
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::protocol::wire::{ConfirmResponse, StartResponse};
use softtoken_core::protocol::{ack_for, ClientHandshake};
use softtoken_core::Error;
use softtoken_server::bank::{Demo, Policy};
use softtoken_server::http::HttpOptions;
use softtoken_server::ratelimit::RateLimits;

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
    let user = bank.issue(None, "4821").await;
    let (token, _) = bank.provision(&user, "4821").await.unwrap();
    let now = bank.now();
    let (_, two_behind) = bank.verify(&user, &code_at(&token, now - 120)).await;
    assert_eq!(two_behind["accepted"], false);
    let (_, one_behind) = bank.verify(&user, &code_at(&token, now - 60)).await;
    assert_eq!(one_behind["accepted"], true, "{one_behind}");
    let (_, two_ahead) = bank.verify(&user, &code_at(&token, now + 120)).await;
    assert_eq!(two_ahead["accepted"], false);
    let (_, one_ahead) = bank.verify(&user, &code_at(&token, now + 60)).await;
    assert_eq!(one_ahead["accepted"], true, "{one_ahead}");
    // Once step +1 was used, the current step is older than the last accepted one.
    let (_, current) = bank.verify(&user, &code_at(&token, now)).await;
    assert_eq!(current["accepted"], false);
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

#[tokio::test]
async fn a_right_password_resets_the_count_of_wrong_ones() {
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
    // The app stores but dies before its ack; the confirm already proved the password.
    let client = bank.client();
    let confirmed = client
        .handshake(
            &ServiceId::new(SERVICE).unwrap(),
            &UserId::new(&user).unwrap(),
            &ActivationPassword::new("4821").unwrap(),
            softtoken_core::totp::unix_now(),
        )
        .await;
    assert!(confirmed.is_ok(), "{confirmed:?}");
    // Storing fails (phone storage full): nothing is stored, so the ack is never sent.
    drop(confirmed);
    assert_eq!(bank.status(&user).await["failed_tries"], 0);
    assert!(matches!(
        bank.provision(&user, "1111").await,
        Err(Error::WrongActivationPassword { tries_left: 2 })
    ));
}

#[tokio::test]
async fn expired_delivered_and_unknown_registrations_say_so() {
    let bank = Server::start().await;
    let soon = {
        let (status, body) = bank
            .admin_post(
                "/v1/admin/registrations",
                json!({"service_id": SERVICE, "mail": "hanako@example.jp",
                       "activation_password": "5555", "expires_in_days": 1}),
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
    for _ in 0..20 {
        let (status, answer) = bank.post("/v1/admin/verify", body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some("unauthorized")), "{answer}");
    }
    let wrong = bank
        .http
        .post(format!("{}/v1/admin/verify", bank.url))
        .bearer_auth("not-the-bank-token-at-all")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let (status, _) = bank.post("/v1/admin/registrations", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(bank.status(&user).await["verify_failures"], 0);
    let (_, ok) = bank.verify(&user, &bank.code(&token)).await;
    assert_eq!(ok["accepted"], true);
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

#[tokio::test]
async fn a_new_token_can_be_issued_only_after_the_waiting_period() {
    let bank = Server::start().await;
    let user = bank.issue(None, "4821").await;
    let (old_token, _) = bank.provision(&user, "4821").await.unwrap();
    let body = json!({"service_id": SERVICE, "user_id": user, "mail": "taro@example.jp", "activation_password": "9876"});
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
    let (new_token, outcome) = bank.provision(&user, "9876").await.unwrap();
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
    let metrics =
        bank.http.get(format!("{}/metrics", bank.url)).send().await.unwrap().text().await.unwrap();
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
    let pending = ack_for(&token.seed, token.pending_delivery.as_ref().unwrap());
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
