//! The bank's server never stores a token on a device, so it builds softtoken-core without the
//! vault and must not link an OS keychain client (keyring-core, the Secret Service, Apple's or
//! Windows' keychain stores): checked on Cargo's own dependency graph, for every target.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

/// The packages `package` links when built (normal and build dependencies, no dev
/// dependencies), for all targets.
fn linked_packages(package: &str) -> Vec<String> {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--manifest-path", workspace, "-p", package])
        .args(["-e", "normal,build", "--target", "all", "--prefix", "none", "--format", "{p}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    tree.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect()
}

fn keychain_crates(packages: &[String]) -> Vec<&String> {
    packages.iter().filter(|p| p.contains("keyring") || p.contains("secret-service")).collect()
}

#[test]
fn the_banks_server_links_no_os_keychain() {
    let server = linked_packages("softtoken-server");
    assert!(server.iter().any(|p| p == "softtoken-core"), "the server uses core: {server:?}");
    assert_eq!(keychain_crates(&server), Vec::<&String>::new());
}

#[test]
fn the_app_does_link_the_os_keychain() {
    // The same check on the app finds its keychain, so the check above can fail.
    let app = linked_packages("softtoken-app");
    assert!(app.iter().any(|p| p == "keyring-core"), "{app:?}");
    assert!(!keychain_crates(&app).is_empty());
}
