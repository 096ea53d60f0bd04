//! One window per vault (issue 33): a second start of the app on the same data directory brings
//! the first window forward and ends, instead of opening a second window that can only say
//! "already open"; a start on another data directory (the old and the new phone on one test
//! machine) runs beside it. Same machinery as `app_e2e.rs`: the app under tauri-driver +
//! WebKitWebDriver in Xvfb, the real reference server on 127.0.0.1, the test command's
//! gnome-keyring.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// Shared with the other window-test files; each uses part of it.
#[allow(dead_code, unused_imports)]
mod app_e2e_support;

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use app_e2e_support::*;

const EN: [(&str, &str); 2] = [("LANG", "en_US.UTF-8"), ("LANGUAGE", "en")];

/// The app started again from the launcher, as a customer does, on `world`'s display with the
/// environment `World::launch` gives it (its data directory among it) and then `env`; returns
/// how it ended.
fn start_again(world: &World, env: &[(&str, &str)]) -> ExitStatus {
    let data = world.data.path();
    let mut cmd = Command::new(&binaries().app);
    cmd.env("DISPLAY", &world.xvfb.display)
        .env("SOFTTOKEN_SERVER_URL", &world.bank.url)
        .env("SOFTTOKEN_DATA_DIR", data.join("tokens"))
        .env("XDG_DATA_HOME", data.join("xdg-data"))
        .env("XDG_CONFIG_HOME", data.join("xdg-config"))
        .env("XDG_CACHE_HOME", data.join("xdg-cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in EN.iter().chain(env) {
        cmd.env(k, v);
    }
    step("starting the app a second time, outside the driver");
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            terminate(&mut child);
            panic!("the second start was still running after {STEP_TIMEOUT:?}: it opened a window");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_opens_the_app_again_and_gets_the_window_already_open() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let first = world.launch_with_demo_token(&EN).await;
    let code = first.current_code().await;

    // Started again (from the launcher, say): the start hands over to the first window and
    // ends, without a window of its own, which would still be running.
    let second = start_again(&world, &[]);
    assert!(second.success(), "the second start ended with {second}");
    // The first window is the one on screen, still showing the token and its code.
    assert_eq!(first.token_names().await.len(), 1);
    assert!(first.displayed("screen-list").await);
    let now = first.current_code().await;
    assert_eq!(now.len(), code.len(), "a code is shown: {now}");
    first.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_phone_on_one_machine_each_open_their_own_window() {
    let Some(_serial) = e2e_guard().await else { return };
    let world = World::start().await;
    let old = world.launch_with_demo_token(&EN).await;

    let other = world.data.path().join("new-phone");
    let tokens = other.join("tokens");
    let (xdg_data, xdg_config, xdg_cache) =
        (other.join("xdg-data"), other.join("xdg-config"), other.join("xdg-cache"));
    let new_env = [
        EN[0],
        EN[1],
        ("SOFTTOKEN_DATA_DIR", tokens.to_str().unwrap()),
        ("XDG_DATA_HOME", xdg_data.to_str().unwrap()),
        ("XDG_CONFIG_HOME", xdg_config.to_str().unwrap()),
        ("XDG_CACHE_HOME", xdg_cache.to_str().unwrap()),
    ];
    let new = world.launch(&new_env, &[]).await;
    new.wait_ready().await;
    // The new phone has no token yet; the old one still shows its own.
    assert!(new.token_names().await.is_empty());
    assert!(tokens.join(softtoken_app::ops::INSTANCE_LOCK_FILE).exists());
    assert_eq!(old.token_names().await.len(), 1);
    assert!(old.displayed("screen-list").await);

    // The old phone's app ends first: both apps' `quit` wait for its data directory's lock.
    old.quit().await;
    new.quit().await;
}
