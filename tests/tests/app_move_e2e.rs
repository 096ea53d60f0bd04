//! The move to a new phone (機種変更) in real windows: two app instances (two data directories,
//! two XDG profiles; their vault keys share the test command's Secret Service under entries
//! named after each data directory, config.rs) against one real reference server, in Japanese
//! and in English. The old phone starts the move and shows the new IDs; the new phone is set up
//! with them; the old phone learns that its token moved and removes it. Screenshots of the
//! move's screens as the other window tests take them.
//!
//! Runs when `SOFTTOKEN_E2E=1`, as app_e2e.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code, unused_imports)]
mod app_e2e_support;

use app_e2e_support::*;

const DEMO_SERVICE: &str = "10112231";
const CHOSEN: &str = "4826";

async fn customer_moves_the_demo_token_to_a_second_phone(lang_env: &[(&str, &str)], shots: bool) {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let old = world.launch_with_demo_token(lang_env).await;

    step("the old phone: 機種変更 from the token's screen");
    old.click_in_token(0, "show").await;
    old.wait_visible("screen-otp").await;
    old.click("otp-move").await;
    old.wait_visible("move-start").await;
    if shots {
        old.shoot("16-move-start").await;
    }
    old.set_value("move-password", CHOSEN).await;
    old.set_value("move-password-again", "4827").await;
    old.click("move-submit").await;
    old.wait_visible("move-error").await;
    old.set_value("move-password-again", CHOSEN).await;
    old.click("move-submit").await;
    old.wait_visible("move-ids").await;
    let new_user: String =
        old.text("move-new-user").await.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(new_user.len(), 12, "the new user ID in full: {new_user}");
    assert_ne!(new_user, "999800000001");
    assert_eq!(old.text("move-service").await, DEMO_SERVICE);
    if shots {
        old.shoot("16-move-ids").await;
    }
    old.click("move-check").await;
    old.wait_visible("move-status").await;

    step("the new phone: a second instance on its own data directory");
    let other = world.data.path().join("new-phone");
    let dir = |name: &str| other.join(name).to_string_lossy().into_owned();
    let (tokens, data, config, cache) =
        (dir("tokens"), dir("xdg-data"), dir("xdg-config"), dir("xdg-cache"));
    let mut env: Vec<(&str, &str)> = lang_env.to_vec();
    env.extend([
        ("SOFTTOKEN_DATA_DIR", tokens.as_str()),
        ("XDG_DATA_HOME", data.as_str()),
        ("XDG_CONFIG_HOME", config.as_str()),
        ("XDG_CACHE_HOME", cache.as_str()),
    ]);
    let new = world.launch(&env, &[]).await;
    new.phone_size().await;
    new.wait_ready().await;
    new.activate(DEMO_SERVICE, &new_user, CHOSEN).await;
    new.wait_visible("screen-otp").await;

    step("the old phone learns the token moved");
    old.click("move-check").await;
    old.wait_visible("screen-list").await;
    old.wait_until(&format!(
        "return document.getElementById('notice').textContent.includes('{}')",
        &new_user[8..]
    ))
    .await;
    assert!(old.token_names().await.is_empty(), "the old phone no longer holds the token");
    if shots {
        old.shoot("16-moved").await;
    }
    // The old one first: the support's quit waits for the world's data directory to be free.
    old.quit().await;
    new.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_moves_the_token_to_a_new_phone_in_japanese() {
    customer_moves_the_demo_token_to_a_second_phone(
        &[("LANG", "ja_JP.UTF-8"), ("LANGUAGE", "ja")],
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_moves_the_token_to_a_new_phone_in_english() {
    customer_moves_the_demo_token_to_a_second_phone(
        &[("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")],
        false,
    )
    .await;
}
