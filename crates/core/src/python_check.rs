//! Runs a document's Python script, the second implementation of its test vector (standard
//! library only, sharing no code with this crate), and fails with its output when it disagrees.

use std::process::Command;

use crate::skip;

/// Runs `docs/<script>` (which reads its own document) and asserts it exits 0.
pub(crate) fn python_agrees(script: &str) {
    let path = format!("{}/../../docs/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = match Command::new("python3").arg(&path).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip::missing(None, "python3 is not installed; install it (scripts/test.sh does)");
            return;
        }
        Err(e) => panic!("running {path}: {e}"),
    };
    assert!(
        out.status.success(),
        "{script} disagrees with its document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
