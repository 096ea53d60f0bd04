//! The phone-build rehearsal (scripts/rehearse-native-builds.py, docs/RELEASE.md "The
//! rehearsal"): every command a native build step of the release pipeline runs must be provided
//! by that job's own setup steps at the pinned version. Run here on today's tree, which must
//! pass, on the tree before the nested CLI fix (tests/fixtures/pipeline-before-nested-cli),
//! which must fail for the missing `cargo tauri`, and on today's tree with one mistake put in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use softtoken_tests::skip;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files the rehearsal reads, as paths from a tree's root.
const READ_BY_THE_REHEARSAL: &[&str] = &[
    ".github/workflows/packages.yml",
    ".github/workflows/release.yml",
    ".github/scripts/setup.sh",
    ".github/scripts/build-android.sh",
    ".github/scripts/build-ios.sh",
    "src-tauri/gen/android/buildSrc/src/main/java/jp/softtoken/app/kotlin/BuildTask.kt",
    "src-tauri/gen/android/app/build.gradle.kts",
    "src-tauri/gen/apple/project.yml",
    "scripts/tauri.sh",
    "scripts/tauri-cli/package-lock.json",
];

/// Runs the rehearsal on `root`, or `None` (skipped) without python3 and PyYAML.
fn rehearse(root: &Path) -> Option<Output> {
    let yaml = Command::new("python3").args(["-c", "import yaml"]).output();
    if !yaml.is_ok_and(|out| out.status.success()) {
        skip::missing(None, "python3 with PyYAML is not installed (apt-get install python3-yaml; scripts/test.sh does)");
        return None;
    }
    let out = Command::new("python3")
        .arg(repo().join("scripts/rehearse-native-builds.py"))
        .arg("--root")
        .arg(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the rehearsal: {e}"));
    Some(out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Today's files the rehearsal reads, copied into a fresh tree with `edit` applied to one of them.
fn todays_tree_with(file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let tree = tempfile::tempdir().expect("temporary tree");
    for rel in READ_BY_THE_REHEARSAL {
        let to = tree.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("a file has a folder")).expect("folders");
        let content = std::fs::read_to_string(repo().join(rel)).expect("a file of the tree");
        let content = if *rel == file {
            let edited = edit(&content);
            assert_ne!(edited, content, "the mistake was not put into {rel}");
            edited
        } else {
            content
        };
        std::fs::write(&to, content).expect("copy");
    }
    tree
}

#[test]
fn release_manager_sees_every_phone_job_provide_what_its_native_build_calls() {
    let Some(out) = rehearse(&repo()) else { return };
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "the rehearsal refused today's pipeline:\n{stdout}{stderr}");
    for job in [
        "release.yml: job android:",
        "release.yml: job android-e2e:",
        "release.yml: job ios:",
        "packages.yml: job android:",
        "packages.yml: job ios-simulator:",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.contains(job))
            .unwrap_or_else(|| panic!("{job} not rehearsed:\n{stdout}"));
        assert!(line.ends_with("ok") && line.contains("CLI 2.12"), "{line}");
    }
}

#[test]
fn pipeline_before_the_fix_is_refused_because_nothing_installs_cargo_tauri() {
    let fixture = repo().join("tests/fixtures/pipeline-before-nested-cli");
    let Some(out) = rehearse(&fixture) else { return };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for (job, source) in [
        ("release.yml: job android:", "BuildTask.kt"),
        ("release.yml: job android-e2e:", "BuildTask.kt"),
        ("release.yml: job ios:", "project.yml (Build Rust Code)"),
        ("packages.yml: job android:", "BuildTask.kt"),
    ] {
        assert!(
            stderr.lines().any(|line| line.contains(job)
                && line.contains(source)
                && line.contains(
                    "`cargo tauri` needs cargo-tauri, which no setup step of this job installs"
                )),
            "{job} not refused for {source}'s cargo tauri:\n{stderr}"
        );
    }
}

#[test]
fn nested_cli_installed_at_another_version_than_the_outer_call_is_refused() {
    let tree = todays_tree_with(
        "src-tauri/gen/android/buildSrc/src/main/java/jp/softtoken/app/kotlin/BuildTask.kt",
        |kt| {
            kt.replace(r#"executable("bash")"#, r#"executable("cargo")"#)
                .replace(r#"args(tauriScript.path, "android""#, r#"args("tauri", "android""#)
        },
    );
    let setup = tree.path().join(".github/scripts/setup.sh");
    let script = std::fs::read_to_string(&setup).expect("setup.sh");
    let installed = script.replace(
        "rustup default \"$RUST_VERSION\"\n",
        "rustup default \"$RUST_VERSION\"\ncargo install tauri-cli --version 2.11.0 --locked\n",
    );
    assert_ne!(installed, script, "no cargo install was put into setup.sh");
    std::fs::write(&setup, installed).expect("setup.sh");
    let Some(out) = rehearse(tree.path()) else { return };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("release.yml: job android: src-tauri/gen/android/buildSrc/src/main/java/jp/softtoken/app/kotlin/BuildTask.kt: `cargo tauri android`: the nested Tauri CLI is 2.11.0 (cargo install tauri-cli), the outer call 2.12.5"),
        "{stderr}"
    );
    assert!(!stderr.contains("job ios:"), "only the Android projects were changed:\n{stderr}");
}

#[test]
fn phone_job_that_adds_no_android_rust_targets_is_refused() {
    let tree =
        todays_tree_with(".github/scripts/setup.sh", |sh| sh.replace("i686-linux-android ", ""));
    let Some(out) = rehearse(tree.path()) else { return };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("release.yml: job android: src-tauri/gen/android/buildSrc/src/main/java/jp/softtoken/app/kotlin/BuildTask.kt: `bash scripts/tauri.sh android`: the nested CLI compiles for i686-linux-android, which no setup step adds"),
        "{stderr}"
    );
}

#[test]
fn phone_job_that_pins_no_rust_toolchain_is_refused() {
    let tree = todays_tree_with(".github/scripts/setup.sh", |sh| {
        sh.replace("rustup default \"$RUST_VERSION\"", "rustup default stable")
    });
    let Some(out) = rehearse(tree.path()) else { return };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("release.yml: job ios: src-tauri/gen/apple/project.yml (Build Rust Code)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the nested CLI runs cargo, but the job pins no Rust toolchain"),
        "{stderr}"
    );
}
