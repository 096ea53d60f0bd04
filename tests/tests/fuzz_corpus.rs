//! The committed fuzz corpus (`fuzz/corpus/<target>/`) replayed through the same target bodies
//! the fuzzers run (`softtoken_core::fuzzing`, `softtoken_server::fuzzing`), on the stable
//! toolchain: an input that once reached new code, or once crashed and was fixed, is read
//! again by every run of the test command, so a regression shows without nightly or libFuzzer.
//! `docs/FUZZING.md` describes the targets and the documented run.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn targets() -> Vec<softtoken_core::fuzzing::Target> {
    softtoken_core::fuzzing::TARGETS
        .iter()
        .chain(softtoken_server::fuzzing::TARGETS)
        .copied()
        .collect()
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn every_input_the_fuzzers_kept_is_read_or_refused_without_a_crash() {
    let targets = targets();
    let names: BTreeSet<String> = targets.iter().map(|(n, _)| (*n).to_owned()).collect();
    // Every target has a corpus and a cargo-fuzz entry point, and nothing else does: a target
    // added on one side only would go unfuzzed or unreplayed.
    assert_eq!(names_in(&fuzz_dir().join("corpus")), names);
    let entry_points: BTreeSet<String> = names_in(&fuzz_dir().join("fuzz_targets"))
        .into_iter()
        .map(|f| f.trim_end_matches(".rs").to_owned())
        .collect();
    assert_eq!(entry_points, names);

    let mut crashed = Vec::new();
    for (name, body) in targets {
        let dir = fuzz_dir().join("corpus").join(name);
        let inputs = names_in(&dir);
        assert!(inputs.len() >= 2, "{name}: the corpus holds only {} inputs", inputs.len());
        for input in inputs {
            let bytes = std::fs::read(dir.join(&input)).unwrap();
            if catch_unwind(AssertUnwindSafe(|| body(&bytes))).is_err() {
                crashed.push(format!("{name}/{input}"));
            }
        }
    }
    assert!(crashed.is_empty(), "inputs that crash their target: {crashed:?}");
}
