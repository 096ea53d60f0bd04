//! The supply-chain policy (deny.toml) refuses what a bank's procurement would: a crate under
//! a licence outside the allow-list, and a second major of a crate nobody explained. Checked by
//! cargo-deny itself on a small workspace of path crates beside the real policy, so the test
//! needs no network; the real workspace is checked by `scripts/supply-chain.sh` in the test
//! command.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::path::Path;
use std::process::Command;

const POLICY: &str = include_str!("../../deny.toml");

/// A crate the bank's workspace would depend on, published under `license`.
fn dependency(dir: &Path, name: &str, version: &str, license: &str) {
    let src = dir.join(name).join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(
        dir.join(name).join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             license = \"{license}\"\ndescription = \"a dependency\"\n"
        ),
    )
    .unwrap();
    fs::write(src.join("lib.rs"), "").unwrap();
}

/// Runs cargo-deny's `check` on a workspace whose app depends on `deps` (name, version, licence).
fn check(which: &str, deps: &[(&str, &str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut wanted = String::new();
    for (i, (name, version, license)) in deps.iter().enumerate() {
        let folder = format!("dep{i}");
        dependency(dir.path(), &folder, version, license);
        // Each folder's package is renamed to `name`, so two majors of one crate can coexist.
        let manifest = dir.path().join(&folder).join("Cargo.toml");
        let text = fs::read_to_string(&manifest).unwrap().replace(&folder, name);
        fs::write(&manifest, text).unwrap();
        wanted.push_str(&format!(
            "{name}{i} = {{ package = \"{name}\", path = \"{folder}\", version = \"={version}\" }}\n"
        ));
    }
    fs::create_dir_all(dir.path().join("app/src")).unwrap();
    fs::write(
        dir.path().join("app/Cargo.toml"),
        format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\
             [dependencies]\n{}",
            wanted.replace("path = \"", "path = \"../")
        ),
    )
    .unwrap();
    fs::write(dir.path().join("app/src/lib.rs"), "").unwrap();
    // The dependencies stay out of the workspace, as crates from a registry would be.
    let outside: Vec<String> = (0..deps.len()).map(|i| format!("\"dep{i}\"")).collect();
    fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[workspace]\nmembers = [\"app\"]\nexclude = [{}]\nresolver = \"2\"\n",
            outside.join(", ")
        ),
    )
    .unwrap();
    fs::write(dir.path().join("deny.toml"), POLICY).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["deny", "--offline", "check", which])
        .current_dir(dir.path())
        .output()
        .expect("cargo-deny runs (scripts/supply-chain.sh installs it)");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn cargo_deny_installed() -> bool {
    let ok = Command::new(env!("CARGO")).args(["deny", "--version"]).output();
    if ok.is_ok_and(|o| o.status.success()) {
        return true;
    }
    softtoken_tests::skip::missing(
        Some("SOFTTOKEN_SUPPLY_CHAIN"),
        "cargo-deny is not installed: run `bash scripts/supply-chain.sh` once",
    );
    false
}

#[test]
fn a_permissively_licensed_dependency_passes_the_licence_policy() {
    if !cargo_deny_installed() {
        return;
    }
    let (ok, out) = check("licenses", &[("permissive", "1.0.0", "MIT OR Apache-2.0")]);
    assert!(ok, "{out}");
}

#[test]
fn a_gpl_dependency_is_refused_by_the_licence_policy() {
    if !cargo_deny_installed() {
        return;
    }
    let (ok, out) = check("licenses", &[("copyleft", "1.0.0", "GPL-3.0-only")]);
    assert!(!ok, "a GPL crate passed: {out}");
    assert!(out.contains("license is not explicitly allowed"), "{out}");
    assert!(out.contains("GPL-3.0-only"), "{out}");
}

#[test]
fn two_majors_of_an_unexplained_crate_are_refused_by_the_bans_policy() {
    if !cargo_deny_installed() {
        return;
    }
    let (ok, out) = check("bans", &[("twice", "1.0.0", "MIT"), ("twice", "2.0.0", "MIT")]);
    assert!(!ok, "two majors passed: {out}");
    assert!(out.contains("duplicate entries for crate 'twice'"), "{out}");
}
